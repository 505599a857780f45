/**
 * A long-lived scraper's memory of the states it wrote (functions/scrape/state-memory.ts), through the
 * real cycle and Redis: its next cycle takes them from memory (no GET), and the served rates are those a
 * read from Redis gives; after another instance ran a cycle, after a cycle of its own that failed, for a
 * node its last cycle did not write, and when its last cycle is too old, it reads Redis again.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CycleDeps, runCycle } from '../../../functions/scrape/cycle.ts';
import { rememberingStates } from '../../../functions/scrape/state-memory.ts';
import type { NodeObject } from '../../../shared/kube.ts';
import { createLogger } from '../../../shared/log.ts';
import { keys } from '../../../shared/store/keys.ts';
import { RedisMetricsWriter } from '../../../shared/store/writer.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
let writer: RedisMetricsWriter;
before(async () => {
  db = await leaseTestDb();
  writer = new RedisMetricsWriter(db.redis);
});
after(() => db.release());
beforeEach(() => db.redis.flushdb());

const node = (name: string): NodeObject => ({
  name,
  labels: {},
  annotations: {},
  addresses: [],
  kubeletPort: 0,
});
const NODES = [node('node-a'), node('node-b')];

let clock = Date.now() - 100_000;

/** An instance: its own memory over the shared writer; every node's kubelet counts up one core-second. */
function instance(holder: string, resolutionMs = 60_000) {
  const failing = new Set<string>();
  /** When set, the cycle's last writes fail (as when Redis goes away at the end of a cycle). */
  const broken = { finish: false };
  /** States read from Redis (a GET each). */
  const reads = { count: 0 };
  const inner: CycleDeps['store'] = {
    acquireCycle: (r) => writer.acquireCycle(r),
    renewCycle: (...a) => writer.renewCycle(...a),
    endCycle: (...a) => writer.endCycle(...a),
    readKnownNodes: () => writer.readKnownNodes(),
    recordCycle: (r) => writer.recordCycle(r),
    readState: (n) => {
      reads.count++;
      return writer.readState(n);
    },
    readStates: (n) => writer.readStates(n),
    readNamespaces: () => writer.readNamespaces(),
    stageCycle: (o) => {
      const s = writer.stageCycle(o);
      return {
        setState: (...a) => s.setState(...a),
        podEntry: (...a) => s.podEntry(...a),
        podItem: (...a) => s.podItem(...a),
        podItemBytes: (...a) => s.podItemBytes(...a),
        part: s.part,
        itemBytes: () => s.itemBytes(),
        nodeEntry: (...a) => s.nodeEntry(...a),
        flushIfFull: () => s.flushIfFull(),
        flush: () => s.flush(),
        finish: (e) => (broken.finish ? Promise.reject(new Error('Redis went away')) : s.finish(e)),
        abandon: () => s.abandon(),
      };
    },
  };
  const store = rememberingStates(inner);
  const deps: CycleDeps = {
    api: { listNodes: async () => NODES, listRunningPods: async () => [] },
    kubelet: {
      scrape: async (n) => {
        if (failing.has(n.name)) throw new Error('kubelet down');
        clock += 1000;
        return { node: { timestamp: clock, cpu: clock * 1e6, memory: 1 << 20 }, pods: [], dropped: [] };
      },
      endpoint: (n) => `${n.name}:10250`,
    },
    store,
    log: createLogger({ write: () => {} }),
  };
  const cfg = { resolutionMs, kubeletTimeoutMs: 1000, concurrency: 2, nodeSelector: null, holder };
  return { store, failing, broken, gets: async () => reads.count, run: () => runCycle(deps, cfg, 'once') };
}

const served = async () =>
  Object.keys(await db.redis.hgetall(keys.nodes))
    .filter((k) => k !== '#cycle')
    .sort();

describe('the state memory', () => {
  test('a second cycle of the same instance reads no state from Redis and serves the same nodes', async () => {
    const a = instance('a');
    await a.run();
    assert.equal(a.store.remembered, 0, 'a fresh instance has nothing to remember');
    const before = await a.gets();
    await a.run();
    assert.equal(a.store.remembered, 2);
    assert.equal((await a.gets()) - before, 0, 'no GET of a state');
    // Two samples each: both nodes are served, their rates from the remembered states.
    assert.deepEqual(await served(), ['node-a', 'node-b']);
    // And what Redis holds is what was remembered: the state written by the last cycle.
    const stored = await db.redis.getBuffer(keys.state('node-a'));
    assert.equal(stored?.[0], 3, 'a binary state (version 3)');
  });

  test('after another instance ran a cycle, every state is read from Redis again', async () => {
    const a = instance('a');
    const b = instance('b');
    await a.run();
    await b.run();
    const before = await a.gets();
    await a.run();
    assert.equal(a.store.remembered, 0);
    assert.equal((await a.gets()) - before, 2, 'both states read from Redis');
  });

  test("a node the last cycle did not write (its kubelet failed) is read from Redis; a failed cycle's states are not trusted", async () => {
    const a = instance('a');
    await a.run();
    a.failing.add('node-b');
    await a.run();
    a.failing.clear();
    const before = await a.gets();
    const remembered = a.store.remembered;
    await a.run();
    assert.equal(a.store.remembered - remembered, 1, 'node-a from memory');
    assert.equal((await a.gets()) - before, 1, 'node-b from Redis');

    // A cycle that fails at its end (its states were sent, its publication was not) leaves nothing trusted.
    a.broken.finish = true;
    await assert.rejects(a.run(), /Redis went away/);
    a.broken.finish = false;
    const afterFailure = await a.gets();
    const rememberedBefore = a.store.remembered;
    await a.run();
    assert.equal(a.store.remembered, rememberedBefore);
    assert.equal((await a.gets()) - afterFailure, 2);
  });

  test('a last cycle older than two resolutions is not trusted', async () => {
    const a = instance('a', 200);
    await a.run();
    await new Promise((r) => setTimeout(r, 450));
    const before = await a.gets();
    await a.run();
    assert.equal(a.store.remembered, 0);
    assert.equal((await a.gets()) - before, 2);
  });
});
