/**
 * The journal against a real Redis: each event version appended once with the checkpoint moved in the
 * same script, what it knows of each event bounded by --event-ttl, its keys on one Cluster slot and
 * safe from any name, and nothing written by an instance that no longer holds the lease.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { EVENT_MEMORY_MARGIN_MS, Journal } from '../../../functions/events/journal.ts';
import { isLeaseLost } from '../../../functions/events/lua.ts';
import type { KubeEvent } from '../../../functions/events/record.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());

const keys = eventKeys(eventsScope(''));
const TOKEN = 'test-holder';
const journal = () => new Journal(db.redis, keys, { eventTtlMs: 3600_000 });

const v = (uid: string, rv: string, count = 1, extra: Record<string, unknown> = {}): KubeEvent =>
  ({
    kind: 'Event',
    apiVersion: 'v1',
    metadata: {
      uid,
      resourceVersion: rv,
      name: `n-${uid}`,
      namespace: 'shop',
      managedFields: [{ manager: 'x' }],
    },
    reason: 'BackOff',
    count,
    lastTimestamp: '2026-03-01T10:00:00Z',
    ...extra,
  }) as KubeEvent;

beforeEach(async () => {
  await db.redis.flushdb();
  await db.redis.set(keys.lease, TOKEN);
});

async function records() {
  const j = journal();
  return (await j.after('0-0', 1000)).map((e) => ({ n: e.n, id: e.record?.id, verb: e.record?.verb }));
}

describe('appending to the journal', () => {
  test('journals each new version in order, numbered from 1, and moves the checkpoint with it', async () => {
    const j = journal();
    const r = await j.append([v('a', '10'), v('b', '11'), v('a', '12', 2)], '12', TOKEN);
    assert.deepEqual([r.journaled, r.duplicates, r.unchanged], [3, 0, 0]);
    assert.deepEqual(await records(), [
      { n: 1, id: 'a/10', verb: 'ADDED' },
      { n: 2, id: 'b/11', verb: 'ADDED' },
      { n: 3, id: 'a/12', verb: 'UPDATED' },
    ]);
    const cp = await j.checkpoint();
    assert.equal(cp.rv, '12');
    assert.equal(cp.appended, 3);
    assert.ok(cp.at !== null && Math.abs(cp.at - Date.now()) < 60_000);
    const [entry] = await j.after('0-0', 1);
    assert.equal(r.lastId, (await j.newest())?.id);
    assert.equal(entry?.record?.old_event, null);
    assert.equal('managedFields' in (entry?.record?.event.metadata ?? {}), false);
  });

  test('appends nothing for versions it has (a replayed watch, a re-list), and the next update names the last one as old_event', async () => {
    const j = journal();
    await j.append([v('a', '10'), v('b', '11')], '11', TOKEN);
    const replay = await j.append([v('a', '10'), v('b', '11')], '11', TOKEN);
    assert.deepEqual([replay.journaled, replay.duplicates], [0, 2]);
    await j.append([v('a', '15', 2)], '15', TOKEN);
    const all = await j.after('0-0', 10);
    assert.equal(all.length, 3);
    assert.equal(all[2]!.record?.verb, 'UPDATED');
    assert.equal(all[2]!.record?.old_event?.metadata.resourceVersion, '10');
    assert.equal(all[2]!.record?.old_event?.count, 1);
  });

  test('remembers a new resourceVersion that changed nothing else, without a record', async () => {
    const j = journal();
    await j.append([v('a', '10')], '10', TOKEN);
    const r = await j.append([v('a', '11')], '11', TOKEN);
    assert.deepEqual([r.journaled, r.unchanged], [0, 1]);
    assert.equal((await j.checkpoint()).rv, '11');
    assert.equal(await j.length(), 1);
  });

  test('with no versions, only moves the checkpoint (a bookmark)', async () => {
    const j = journal();
    await j.append([], '99', TOKEN);
    assert.equal((await j.checkpoint()).rv, '99');
    assert.equal(await j.length(), 0);
  });

  test("a list's pages before the last leave the checkpoint where it was", async () => {
    const j = journal();
    await j.append([], '5', TOKEN);
    await j.append([v('a', '10')], null, TOKEN);
    assert.equal((await j.checkpoint()).rv, '5');
  });

  test('writes nothing at all for an instance whose lease was taken over (fencing)', async () => {
    const j = journal();
    await j.append([v('a', '10')], '10', TOKEN);
    await db.redis.set(keys.lease, 'someone-else');
    await assert.rejects(j.append([v('b', '11')], '11', TOKEN), (err) => isLeaseLost(err));
    assert.equal(await j.length(), 1);
    assert.equal((await j.checkpoint()).rv, '10');
    assert.equal(await db.redis.exists(keys.event('b')), 0);
  });

  test('a batch planned on stale knowledge is refused whole, then planned again: still each version once', async () => {
    const j = journal();
    await j.append([v('a', '10')], '10', TOKEN);
    // Another writer (only possible without the lease) changed what the journal knows of `a` between
    // the plan and the script: the script refuses, and the retry plans on what is there now.
    const original = db.redis.evalsha.bind(db.redis);
    let raced = false;
    (db.redis as unknown as { evalsha: typeof original }).evalsha = (async (
      ...args: Parameters<typeof original>
    ) => {
      if (!raced) {
        raced = true;
        await db.redis.hset(keys.event('a'), 'rv', '12', 'v:12', '1');
      }
      return original(...args);
    }) as typeof original;
    try {
      const r = await j.append([v('a', '12', 2), v('c', '13')], '13', TOKEN);
      assert.deepEqual([r.journaled, r.duplicates], [1, 1]);
    } finally {
      (db.redis as unknown as { evalsha: typeof original }).evalsha = original;
    }
    assert.deepEqual(
      (await records()).map((x) => x.id),
      ['a/10', 'c/13'],
    );
  });
});

describe("the journal's keys", () => {
  test("expire what it knows of an event --event-ttl plus the margin after that event's last version", async () => {
    const j = new Journal(db.redis, keys, { eventTtlMs: 60_000 });
    await j.append([v('a', '10')], '10', TOKEN);
    const ttl = await db.redis.pttl(keys.event('a'));
    assert.ok(
      ttl > 60_000 + EVENT_MEMORY_MARGIN_MS - 5000 && ttl <= 60_000 + EVENT_MEMORY_MARGIN_MS,
      String(ttl),
    );
  });

  test('carry one hash tag per scope (one Cluster slot), and no uid or namespace can add a key pattern or tag', async () => {
    const weird = 'u*{x}:?[a] \n';
    const ns = eventKeys(eventsScope('kube-system'));
    for (const k of [...Object.values(keys), ...Object.values(ns)].filter((x) => typeof x === 'string')) {
      assert.match(k, /^ms:\{ev:(all|ns:kube-system)\}:[a-z]+$/);
    }
    assert.match(keys.event(weird), /^ms:\{ev:all\}:event:[A-Za-z0-9.%-]+$/);
    const j = journal();
    await j.append([v(weird, '10')], '10', TOKEN);
    assert.equal(await db.redis.exists(keys.event(weird)), 1);
    assert.deepEqual(
      (await records()).map((x) => x.id),
      [`${weird}/10`],
    );
  });
});
