/**
 * The cycle's lease against the real Redis: a runner that dies or stalls mid-cycle loses its lease
 * once it lapses, another instance (the next trigger, a --loop standby, a trigger server that was
 * told a cycle is in progress) retakes the cycle at once, before its due time, and the runner that lost
 * it publishes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CycleDeps, type CycleResult, runCycle } from '../../../functions/scrape/cycle.ts';
import { LeaseLostError } from '../../../functions/scrape/lease.ts';
import { createTrigger } from '../../../functions/scrape/trigger.ts';
import type { NodeObject } from '../../../shared/kube.ts';
import { createLogger } from '../../../shared/log.ts';
import { CYCLE_FIELD, keys } from '../../../shared/store/keys.ts';
import { RedisMetricsWriter } from '../../../shared/store/writer.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

const RESOLUTION = 15_000;
/** Short, so a lapsed lease is seen soon; the due time stays far. */
const LEASE = 300;

let db: TestDb;
let writer: RedisMetricsWriter;
before(async () => {
  db = await leaseTestDb();
  writer = new RedisMetricsWriter(db.redis);
});
after(() => db.release());
beforeEach(() => db.redis.flushdb());

const NODE: NodeObject = { name: 'node-a', labels: {}, annotations: {}, addresses: [], kubeletPort: 0 };

/**
 * An instance of the scraper: one node, whose kubelet answers at once unless `hold` is set (then only
 * once `release()` is called), and a store whose lease renewals can be made to fail (`renewals:
 * 'fail'`, as from a process cut off from Redis) or to hang until resumed (`'stall'`, as a process
 * stopped by the kernel or a long pause).
 */
function instance(holder: string, o: { hold?: boolean } = {}) {
  const lines: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let fetching = 0;
  let renewals: 'pass' | 'fail' | 'stall' = 'pass';
  let resume!: () => void;
  const resumed = new Promise<void>((r) => {
    resume = r;
  });
  let tick = 0;
  /** What Redis answered to each renewal: still held or not. */
  const answered: boolean[] = [];
  const store: CycleDeps['store'] = {
    acquireCycle: (r) => writer.acquireCycle(r),
    renewCycle: async (...args) => {
      if (renewals === 'fail') throw new Error('connection lost');
      if (renewals === 'stall') await resumed;
      const r = await writer.renewCycle(...args);
      answered.push(r.held);
      return r;
    },
    endCycle: (...args) => writer.endCycle(...args),
    readKnownNodes: () => writer.readKnownNodes(),
    recordCycle: (r) => writer.recordCycle(r),
    readState: (n) => writer.readState(n),
    readStates: (n) => writer.readStates(n),
    readNamespaces: () => writer.readNamespaces(),
    stageCycle: (s) => writer.stageCycle(s),
  };
  const deps: CycleDeps = {
    api: { listNodes: async () => [NODE], listRunningPods: async () => [] },
    kubelet: {
      scrape: async () => {
        fetching++;
        if (o.hold) await gate;
        const ts = Date.now() - 1000 + tick++;
        return { node: { timestamp: ts, cpu: 1e9 * tick, memory: 1 << 20 }, pods: [], dropped: [] };
      },
      endpoint: () => '127.0.0.1:10250',
    },
    store,
    log: createLogger({ write: (l) => lines.push(l) }),
  };
  const cfg = {
    resolutionMs: RESOLUTION,
    kubeletTimeoutMs: 1000,
    concurrency: 4,
    nodeSelector: null,
    holder,
  };
  return {
    lines,
    deps,
    cfg: { ...cfg, leaseMs: LEASE },
    run: (kind: 'once' | 'trigger') => runCycle(deps, { ...cfg, leaseMs: LEASE }, kind),
    fetching: () => fetching,
    answered,
    release: () => release(),
    renewals: (r: 'pass' | 'fail' | 'stall') => {
      renewals = r;
      if (r === 'pass') resume();
    },
  };
}

/**
 * An instance that takes the cycle and, mid-cycle (fetching its kubelet), stops renewing its lease as
 * `renewals` says; `cycle` is its runCycle, which settles once `release()` lets its kubelet answer.
 */
async function runnerThatStops(holder: string, renewals: 'fail' | 'stall') {
  const runner = instance(holder, { hold: true });
  const cycle = runner.run('trigger');
  cycle.catch(() => undefined);
  await waitFor('the cycle to fetch its kubelet', 5000, async () => runner.fetching() > 0);
  runner.renewals(renewals);
  return { ...runner, cycle };
}

describe('a runner that dies mid-cycle', () => {
  test('stops renewing: once its lease lapses the next trigger retakes the cycle at once, keeping its due time; back, the runner publishes nothing', async () => {
    const dead = await runnerThatStops('dead', 'fail');
    const next = instance('next');
    // While the lease lasts the trigger is skipped; once it has lapsed, the trigger retakes the cycle.
    let r: CycleResult;
    for (;;) {
      r = await next.run('trigger');
      if (r.ran) break;
      assert.equal(r.skipped?.reason, 'running');
      assert.equal(r.skipped?.by, 'dead');
      await new Promise((done) => setTimeout(done, r.wakeInMs));
    }
    assert.ok(
      next.lines.some((l) =>
        /"Retaking the scrape cycle of an instance that stopped renewing its lease" holder="dead"/.test(l),
      ),
      next.lines.join('\n'),
    );
    const lock = await db.redis.get(keys.scrapeLock);
    assert.match(lock ?? '', / done next$/);
    assert.ok(
      r.nextDue - r.start > RESOLUTION / 2,
      'the retaken cycle keeps the due time of the one it replaces',
    );
    // The dead runner, should it come back, hears from Redis that the cycle is another's, and publishes nothing.
    dead.renewals('pass');
    dead.release();
    await assert.rejects(
      dead.cycle,
      (err: unknown) =>
        err instanceof LeaseLostError && /another instance holds it \(next\)/.test(err.message),
    );
    assert.equal(await db.redis.hget(keys.nodes, CYCLE_FIELD), String(r.start));
    assert.deepEqual(await db.redis.keys('*:next:*'), [], 'its staging keys are gone');
  });

  test('a runner stalled past its lease learns from Redis that another instance holds the cycle, and publishes nothing', async () => {
    const stalled = await runnerThatStops('stalled', 'stall');
    const other = instance('other');
    await waitFor(
      'the lease to lapse and the cycle to be retaken',
      5000,
      async () => (await other.run('trigger')).ran,
    );
    const served = await db.redis.hget(keys.nodes, CYCLE_FIELD);
    stalled.renewals('pass');
    await waitFor('the stalled renewal to be answered', 5000, async () => stalled.answered.at(-1) === false);
    stalled.release();
    await assert.rejects(
      stalled.cycle,
      (err: unknown) =>
        err instanceof LeaseLostError && /another instance holds it \(other\)/.test(err.message),
    );
    assert.equal(await db.redis.hget(keys.nodes, CYCLE_FIELD), served, 'the newer cycle stays served');
  });
});

describe('standbys', () => {
  for (const loop of [true, false]) {
    test(`${loop ? 'a --loop instance' : 'a trigger server told a cycle is in progress'} retakes the cycle as soon as the runner’s lease lapses, before its due time`, async () => {
      const dead = await runnerThatStops('dead', 'fail');
      const standby = instance('standby');
      const results: CycleResult[] = [];
      const trigger = createTrigger(
        async () => {
          const r = await standby.run('trigger');
          results.push(r);
          return r;
        },
        standby.deps.log,
        { loop, resolutionMs: RESOLUTION },
      );
      try {
        if (loop) trigger.start();
        else await trigger.run('http');
        await waitFor('the standby to retake the cycle', 5000, async () => results.some((r) => r.ran));
      } finally {
        trigger.stop();
        dead.release();
      }
      const skipped = standby.lines.find((l) =>
        l.includes('"Scrape cycle skipped: another instance is running the cycle"'),
      );
      assert.match(
        skipped ?? '',
        /holder="dead" started="[^"]+" leaseUntil="[^"]+" nextDue="[^"]+"/,
        standby.lines.join('\n'),
      );
      const ran = results.find((r) => r.ran)!;
      assert.ok(ran.nextDue - ran.start > RESOLUTION / 2, 'retaken long before the due time');
      // Cut off from Redis, it cannot confirm its lease before publishing: it publishes nothing.
      await assert.rejects(dead.cycle, /connection lost/);
      assert.equal(await db.redis.hget(keys.nodes, CYCLE_FIELD), String(ran.start));
    });
  }
});
