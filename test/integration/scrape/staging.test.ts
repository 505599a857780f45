/**
 * A cycle's streamed writes (CycleStaging) against the real Redis: each cycle builds its served hashes
 * under staging keys of its own, so two overlapping cycles never mix, and a cycle that dies before its
 * renames leaves nothing behind once its staging keys expire.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, cycleChannel, keys } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { connect, createRedis, StoreUnavailableError } from '../../../shared/store/redis.ts';
import { commandBuffers } from '../../../shared/store/resp.ts';
import { type CycleStaging, RedisMetricsWriter, type StagedEnd } from '../../../shared/store/writer.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
let writer: RedisMetricsWriter;
before(async () => {
  db = await leaseTestDb();
  writer = new RedisMetricsWriter(db.redis);
});
after(() => db.release());
beforeEach(() => db.redis.flushdb());

const expiresAt = () => Date.now() + 60_000;
const entry = (name: string) =>
  encodeEntry({
    expiresAt: expiresAt(),
    timestamp: 1,
    labels: '{}',
    item: `{"metadata":{"name":"${name}"}}`,
  });

/** The end of a cycle that streamed `pods` into namespace `shop` and one node. */
function end(pods: string[]): StagedEnd {
  return {
    nodes: { fields: [], size: 1, expireAt: expiresAt() },
    namespaces: new Map([
      ['shop', { fields: [], size: pods.length, expireAt: expiresAt(), labelIndex: new Map([['{}', pods]]) }],
    ]),
    previousNamespaces: [],
  };
}

/** Streams one node entry and these pods, each sent at once (a pipeline per write). */
async function stream(staging: CycleStaging, node: string, pods: string[]) {
  staging.nodeEntry(node, entry(node));
  await staging.flushIfFull();
  for (const p of pods) {
    staging.podEntry('shop', p, entry(p));
    await staging.flushIfFull();
  }
}

const stagingKeys = () => db.redis.keys('*:next:*');

describe('streamed cycle writes', () => {
  test('two overlapping cycles each write only their own staging keys; the older, finishing last, replaces nothing newer', async () => {
    const slow = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000, flushCommands: 1 });
    const fast = writer.stageCycle({ cycle: 2_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(slow, 'node-slow', ['slow-1']);
    // The next cycle starts while the slow one is still going (its runner stalled past its lease), and
    // finishes first.
    await stream(fast, 'node-fast', ['fast-1', 'fast-2']);
    assert.equal((await stagingKeys()).length, 4, 'each cycle has its own staging keys');
    await fast.finish(end(['fast-1', 'fast-2']));
    const reader = new RedisMetricsReader(db.redis);
    const served = async () => ({
      pods: (await reader.namespacePods('shop')).map((e) => e.name),
      podsCycle: await db.redis.hget(keys.pods('shop'), CYCLE_FIELD),
      nodes: (await db.redis.hkeys(keys.nodes)).sort(),
      nodesCycle: await db.redis.hget(keys.nodes, CYCLE_FIELD),
      labels: await db.redis.hgetall(keys.podLabels('shop')),
    });
    const fastServed = await served();
    assert.deepEqual(fastServed, {
      pods: ['fast-1', 'fast-2'],
      podsCycle: '2000',
      nodes: [CYCLE_FIELD, 'node-fast'],
      nodesCycle: '2000',
      labels: { '{}': 'fast-1\nfast-2', [CYCLE_FIELD]: '2000' },
    });

    await stream(slow, 'node-slow-2', ['slow-2']);
    await slow.finish(end(['slow-1', 'slow-2']));
    assert.deepEqual(await served(), fastServed, 'the newer cycle stays served');
    assert.deepEqual(await stagingKeys(), [], 'the older cycle’s staging keys are gone');
  });

  test('an older cycle that finds nothing to serve does not delete a newer cycle’s hashes', async () => {
    const newer = writer.stageCycle({ cycle: 2_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(newer, 'node-a', ['a-1']);
    await newer.finish(end(['a-1']));
    const older = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000 });
    await older.finish({
      nodes: { fields: [], size: 0, expireAt: 0 },
      namespaces: new Map(),
      previousNamespaces: ['shop'],
    });
    assert.equal(await db.redis.hget(keys.pods('shop'), CYCLE_FIELD), '2000');
    assert.equal(await db.redis.hget(keys.nodes, CYCLE_FIELD), '2000');
  });

  test('the served hashes are untouched until the cycle renames its staging hashes', async () => {
    const staging = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(staging, 'node-1', ['p-1']);
    assert.equal(await db.redis.exists(keys.pods('shop'), keys.nodes, keys.namespaces), 0);
    await staging.finish(end(['p-1']));
    assert.equal(await db.redis.exists(keys.pods('shop'), keys.nodes, keys.namespaces), 3);
  });

  test('streamed values keep every character (UTF-8), however many share a pipeline', async () => {
    // Several pipelines, and values spread over several encoding chunks (1 MiB each).
    const staging = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000, flushCommands: 500 });
    staging.nodeEntry('node-1', entry('node-1'));
    const values = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      const value = encodeEntry({
        expiresAt: expiresAt(),
        timestamp: i,
        labels: `{"team":"équipe-${i}","emoji":"🚀","cjk":"日本"}`,
        item: `{"metadata":{"name":"p-${i}"}}${'x'.repeat(i % 700)}`,
      });
      values.set(`p-${i}`, value);
      staging.podEntry('shop', `p-${i}`, value);
      await staging.flushIfFull();
    }
    await staging.finish(end([...values.keys()]));
    const stored = await db.redis.hgetall(keys.pods('shop'));
    delete stored[CYCLE_FIELD];
    assert.deepEqual(stored, Object.fromEntries(values));
  });

  test('a cycle builds its commands in the buffers an earlier one gave back, and stores what it was given', async () => {
    // Entries, items and states over several sends, as a cycle streams them; the same again next cycle.
    const PODS = 2000;
    const cycle = async (start: number, tag: string) => {
      const staging = writer.stageCycle({ cycle: start, ttlMs: 60_000, flushCommands: 200 });
      for (let i = 0; i < PODS; i++) {
        staging.nodeEntry(`node-${i}`, entry(`node-${i}-${tag}`));
        staging.podItem(
          'shop',
          `p-${i}`,
          { expiresAt: expiresAt(), timestamp: i, labels: '{}' },
          `{"i":"${tag}-${i}"}`,
        );
        staging.setState(`node-${i}`, Buffer.from(`state ${tag} ${i} ${'s'.repeat(i)}`), 60_000);
        await staging.flushIfFull();
      }
      await staging.finish(end(Array.from({ length: PODS }, (_, i) => `p-${i}`)));
    };
    await cycle(1_000, 'first');
    const [taken, allocated] = [commandBuffers.takenBytes, commandBuffers.allocatedBytes];
    await cycle(2_000, 'second');
    const second = {
      taken: commandBuffers.takenBytes - taken,
      allocated: commandBuffers.allocatedBytes - allocated,
    };
    // How many sends are in flight at once follows Redis' answers, so the second cycle may need a buffer
    // or two more than the first did at its busiest; given nothing back, it would allocate all it takes.
    assert.ok(second.taken > 1 << 20, `the second cycle took ${second.taken} bytes`);
    assert.ok(
      second.allocated < second.taken / 4,
      `the second cycle allocated ${second.allocated} of the ${second.taken} bytes it took`,
    );
    const items = (await new RedisMetricsReader(db.redis).namespacePods('shop')).map((e) => e.item);
    assert.equal(items.length, PODS);
    assert.deepEqual(new Set(items), new Set(Array.from({ length: PODS }, (_, i) => `{"i":"second-${i}"}`)));
    assert.equal(await db.redis.get(keys.state('node-1999')), `state second 1999 ${'s'.repeat(1999)}`);
  });

  test('a send that fails fails the cycle: the next flush says so (StoreUnavailableError)', async () => {
    const redis = createRedis({ mode: 'single', url: db.url }, { commandTimeoutMs: 1000 });
    await connect(redis);
    const staging = new RedisMetricsWriter(redis).stageCycle({
      cycle: 1_000,
      ttlMs: 60_000,
      flushCommands: 1,
    });
    await stream(staging, 'node-1', ['p-1']);
    redis.disconnect();
    staging.podEntry('shop', 'p-2', entry('p-2'));
    await assert.rejects(
      (async () => {
        // The failed send is reported by this flush or, once it has completed, by the next one.
        for (let i = 0; i < 5; i++) {
          staging.podEntry('shop', `p-${i + 3}`, entry('p'));
          await staging.flushIfFull();
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      StoreUnavailableError,
    );
  });

  test('a crashed cycle’s staging keys carry a TTL from their first write and expire', async () => {
    const crashed = writer.stageCycle({ cycle: 1_000, ttlMs: 300, flushCommands: 1 });
    await stream(crashed, 'node-1', ['p-1', 'p-2']);
    crashed.setState('node-1', 'state', 60_000);
    await crashed.flushIfFull();
    // The process dies here: no finish, no abandon.
    const staged = await stagingKeys();
    assert.deepEqual(
      staged.sort(),
      [keys.staging(keys.nodes, 1_000), keys.staging(keys.pods('shop'), 1_000)].sort(),
    );
    for (const key of staged) {
      const ttl = await db.redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 300, `${key}: ${ttl}`);
    }
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await stagingKeys(), []);
    assert.equal(await db.redis.exists(keys.pods('shop'), keys.nodes, keys.namespaces), 0);
  });

  test('while the cycle goes on, every staging key it wrote is kept, even one written only at the start', async () => {
    // A TTL that a loaded machine's pauses between sends (a timer late by a few hundred ms) cannot
    // outlast: renewals come a third of the TTL apart, so only a pause of two thirds of it would lose a key.
    const staging = writer.stageCycle({ cycle: 1_000, ttlMs: 1_500, flushCommands: 1 });
    staging.nodeEntry('node-1', entry('node-1'));
    await staging.flushIfFull();
    // 3 s of sends to the pods hash only: twice the TTL the node hash got with its only write.
    for (let i = 0; i < 12; i++) {
      staging.podEntry('shop', `p-${i}`, entry(`p-${i}`));
      await staging.flushIfFull();
      await new Promise((r) => setTimeout(r, 250));
    }
    await staging.finish(end(Array.from({ length: 12 }, (_, i) => `p-${i}`)));
    assert.deepEqual(await db.redis.hkeys(keys.nodes), ['node-1', CYCLE_FIELD]);
    assert.equal((await db.redis.hkeys(keys.pods('shop'))).length, 13);
  });

  test('a staging hash that lost writes (a failover mid-cycle) never replaces a served one; the cycle fails', async () => {
    const before = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(before, 'node-1', ['p-1', 'p-2', 'p-3']);
    await before.finish(end(['p-1', 'p-2', 'p-3']));
    const staging = writer.stageCycle({ cycle: 2_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(staging, 'node-1', ['p-1', 'p-2', 'p-3']);
    // What a new master lacks when its old one died before passing a write on.
    await db.redis.hdel(keys.staging(keys.pods('shop'), 2_000), 'p-2');
    await assert.rejects(staging.finish(end(['p-1', 'p-2', 'p-3'])), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.match(err.message, /holds 3 of the 4 fields its cycle wrote/);
      return true;
    });
    assert.deepEqual((await db.redis.hkeys(keys.pods('shop'))).sort(), [CYCLE_FIELD, 'p-1', 'p-2', 'p-3']);
    assert.equal(
      await db.redis.hget(keys.pods('shop'), CYCLE_FIELD),
      '1000',
      'the previous cycle still served',
    );
    assert.equal(await db.redis.get(keys.latestCycle), '1000', 'the failed cycle is not announced');
  });

  test('a part of pod items that lost writes (a gap, or its end) never replaces a served list; the cycle fails', async () => {
    const head = { expiresAt: expiresAt(), timestamp: 1, labels: '{}' };
    const write = async (cycle: number) => {
      const staging = writer.stageCycle({ cycle, ttlMs: 60_000, flushCommands: 1 });
      staging.nodeEntry('node-1', entry('node-1'));
      for (const p of ['p-1', 'p-2', 'p-3']) {
        staging.podItem('shop', p, head, `{"metadata":{"name":"${p}"},"cycle":${cycle}}`);
        await staging.flushIfFull();
      }
      return staging;
    };
    await (await write(1_000)).finish(end(['p-1', 'p-2', 'p-3']));
    const reader = new RedisMetricsReader(db.redis);
    const served = async () => (await reader.namespacePods('shop')).map((e) => e.item);
    const before = await served();
    assert.equal(before.length, 3);
    assert.ok(before.every((i) => i.endsWith('"cycle":1000}')));

    // The middle SETRANGE lost: Redis zero-fills up to the next one's offset.
    const gap = await write(2_000);
    const part = keys.podItems('shop', '2000');
    const length = await db.redis.strlen(part);
    await db.redis.setrange(part, 40, Buffer.alloc(10));
    await assert.rejects(gap.finish(end(['p-1', 'p-2', 'p-3'])), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.match(err.message, /or a gap \(a failover lost writes\)/);
      return true;
    });
    assert.deepEqual(await served(), before, 'the previous cycle still served');

    // The last one lost.
    const short = await write(3_000);
    const shortPart = keys.podItems('shop', '3000');
    await db.redis.set(shortPart, (await db.redis.getBuffer(shortPart))!.subarray(0, length - 5));
    await assert.rejects(
      short.finish(end(['p-1', 'p-2', 'p-3'])),
      /holds \d+ of the \d+ bytes its cycle wrote/,
    );
    assert.deepEqual(await served(), before);

    // A whole cycle replaces it, and deletes the part the replaced hash named.
    await (await write(4_000)).finish(end(['p-1', 'p-2', 'p-3']));
    assert.ok((await served()).every((i) => i.endsWith('"cycle":4000}')));
    assert.equal(await db.redis.exists(keys.podItems('shop', '1000')), 0);
  });

  test('a cycle that fails deletes its staging keys (abandon)', async () => {
    const failed = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000, flushCommands: 1 });
    await stream(failed, 'node-1', ['p-1']);
    failed.podEntry('shop', 'p-2', entry('p-2'));
    await failed.abandon();
    assert.deepEqual(await stagingKeys(), []);
    assert.equal(await db.redis.exists(keys.pods('shop'), keys.nodes), 0);
  });
});

describe('the newest cycle, announced once its hashes are in place', () => {
  test('ms:{cycle} moves forward and each move is published; an older cycle finishing late moves nothing', async () => {
    const heard: string[] = [];
    const sub = db.redis.duplicate();
    await sub.subscribe(cycleChannel(db.redis.options.db ?? 0));
    sub.on('message', (_channel: string, message: string) => heard.push(message));
    try {
      const older = writer.stageCycle({ cycle: 1_000, ttlMs: 60_000 });
      const newer = writer.stageCycle({ cycle: 2_000, ttlMs: 60_000 });
      await stream(older, 'node-a', ['a-1']);
      await stream(newer, 'node-a', ['a-1']);
      await newer.finish(end(['a-1']));
      assert.equal(await db.redis.get(keys.latestCycle), '2000');
      assert.equal(await db.redis.hget(keys.pods('shop'), CYCLE_FIELD), '2000', 'renamed before announced');
      await older.finish(end(['a-1']));
      assert.equal(await db.redis.get(keys.latestCycle), '2000');
      await waitFor('the announcement', 2000, async () => heard.length > 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(heard, ['2000']);
      assert.ok((await db.redis.pttl(keys.latestCycle)) > 0, 'expires with what it names');
    } finally {
      sub.disconnect();
    }
  });
});
