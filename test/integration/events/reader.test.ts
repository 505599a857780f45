/**
 * Reading (reader.ts) through its narrow EventSource, over the simulator's own Events storage and
 * history (test/helpers/sim-event-source.ts: resourceVersions, paged LIST, WATCH with bookmarks, 410
 * Gone, time-scaled), into the real journal in Redis: the failures every prior tool has
 * (reference/events.md §8) do not happen here.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Journal } from '../../../functions/events/journal.ts';
import { isLeaseLost } from '../../../functions/events/lua.ts';
import { PAGE, Reader } from '../../../functions/events/reader.ts';
import { createLogger } from '../../../shared/log.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { eventObject } from '../../../sim/objects.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { SimEvents } from '../../helpers/sim-event-source.ts';
import { idOf } from '../../helpers/sim-events.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());

const keys = eventKeys(eventsScope(''));
const TOKEN = 'reader';
/** Watches scaled: one "second" is 40 ms, so a pass's 5 s watch lasts 200 ms. */
const SECOND_MS = 40;
const lines: string[] = [];
const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
const never = new AbortController().signal;
const soon = () => performance.now() + 60_000;
let store: SimEvents;
let journal: Journal;

beforeEach(async () => {
  await db.redis.flushdb();
  await db.redis.set(keys.lease, TOKEN);
  store = new SimEvents();
  journal = new Journal(db.redis, keys, { eventTtlMs: 3600_000 });
  lines.length = 0;
});

const reader = () => new Reader(store.source(SECOND_MS), journal, log);

async function journaled() {
  return (await journal.after('0-0', 100_000)).map((e) => e.record!);
}

describe('a pass with no checkpoint', () => {
  test('lists every event in pages, journals each once as ADDED, and checkpoints the list', async () => {
    const made = Array.from({ length: PAGE * 2 + 7 }, (_, i) =>
      store.add({ name: `e-${String(i).padStart(5, '0')}` }),
    );
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.deepEqual([r.journaled, r.duplicates, r.relists, r.caughtUp], [made.length, 0, 1, true]);
    assert.deepEqual(store.requests, [
      'list limit=1',
      `list limit=${PAGE}`,
      `list limit=${PAGE} continue`,
      `list limit=${PAGE} continue`,
    ]);
    const records = await journaled();
    assert.deepEqual(new Set(records.map((x) => x.id)), new Set(made.map(idOf)));
    assert.ok(
      records.every((x) => x.verb === 'ADDED' && x.event.kind === 'Event' && x.event.apiVersion === 'v1'),
    );
    assert.equal((await journal.checkpoint()).rv, store.resourceVersion);
  });
});

describe('a pass from a checkpoint', () => {
  test('after a restart replays nothing: it watches from the checkpoint and journals only what is new', async () => {
    store.add();
    store.add();
    await reader().catchUp(TOKEN, never, soon());
    store.requests.length = 0;
    const fresh = store.add({ reason: 'Scheduled', newStyle: true });
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.deepEqual([r.journaled, r.duplicates, r.relists], [1, 0, 0]);
    assert.ok(store.requests[1]?.startsWith('watch rv='), store.requests.join());
    const records = await journaled();
    assert.equal(records.length, 3);
    assert.equal(records[2]!.id, idOf(fresh));
    assert.equal(records[2]!.time, eventObject(fresh).eventTime);
  });

  test('journals count bumps and series.count bumps as UPDATED with the previous version as old_event', async () => {
    const old = store.add();
    const neu = store.add({ newStyle: true });
    await reader().catchUp(TOKEN, never, soon());
    store.bump(old);
    store.bump(neu);
    store.bump(old);
    await reader().catchUp(TOKEN, never, soon());
    const updates = (await journaled()).filter((x) => x.verb === 'UPDATED');
    assert.deepEqual(
      updates.map((u) => [
        u.event.metadata.uid,
        u.event.count ?? (u.event.series as { count: number }).count,
        u.old_event?.metadata.resourceVersion,
      ]),
      [
        [old.uid, 2, String(old.resourceVersion)],
        [neu.uid, 2, String(neu.resourceVersion)],
        [old.uid, 3, updates[0]!.event.metadata.resourceVersion],
      ],
    );
    assert.equal(
      updates[1]!.time,
      (updates[1]!.event.series as { lastObservedTime: string }).lastObservedTime,
    );
  });

  test('does not journal a rewrite that changes only the resourceVersion (no ghost UPDATED)', async () => {
    const e = store.add();
    await reader().catchUp(TOKEN, never, soon());
    store.rewrite(e);
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.deepEqual([r.journaled, r.unchanged], [0, 1]);
    assert.equal((await journaled()).length, 1);
  });

  test('produces no record for a deleted event (TTL expiry), and its checkpoint moves past it', async () => {
    const e = store.add();
    await reader().catchUp(TOKEN, never, soon());
    store.remove(e);
    await reader().catchUp(TOKEN, never, soon());
    assert.equal((await journaled()).length, 1);
    assert.equal((await journal.checkpoint()).rv, store.resourceVersion);
  });

  test('with nothing new ends after one short watch, its checkpoint moved to the present by the bookmark', async () => {
    store.add();
    await reader().catchUp(TOKEN, never, soon());
    for (let i = 0; i < 5; i++) store.elsewhere(); // the cluster moves on; no Event changes
    store.requests.length = 0;
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.equal(r.caughtUp, true);
    assert.deepEqual(store.requests.filter((x) => x.startsWith('watch')).length, 1);
    assert.equal((await journal.checkpoint()).rv, store.resourceVersion);
  });

  test('ends once it reached where the API server was at its start, while events keep coming', async () => {
    store.add();
    await reader().catchUp(TOKEN, never, soon());
    const target = Number(store.resourceVersion) + 3;
    for (let i = 0; i < 3; i++) store.add();
    const stream = setInterval(() => store.add(), 5);
    try {
      const r = await reader().catchUp(TOKEN, never, soon());
      assert.equal(r.caughtUp, true);
      assert.ok(Number((await journal.checkpoint()).rv) >= target);
    } finally {
      clearInterval(stream);
    }
  });

  test('after 410 Gone lists again: what happened meanwhile is journaled once, nothing twice', async () => {
    const kept = store.add();
    const bumped = store.add();
    const deleted = store.add();
    await reader().catchUp(TOKEN, never, soon());
    // Down for a while: new events, a bump, a deletion, then etcd compacted past the checkpoint.
    const fresh = store.add();
    store.bump(bumped);
    store.remove(deleted);
    store.compact();
    store.requests.length = 0;
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.equal(r.relists, 1);
    assert.ok(lines.some((l) => l.includes('410 Gone')));
    const records = await journaled();
    const ids = records.map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, 'nothing doubled');
    assert.deepEqual(
      records
        .slice(3)
        .map((x) => [x.event.metadata.uid, x.verb])
        .sort(),
      [
        [bumped.uid, 'UPDATED'],
        [fresh.uid, 'ADDED'],
      ].sort(),
    );
    assert.equal(records.filter((x) => x.event.metadata.uid === kept.uid).length, 1);
  });

  test('lists again when the checkpoint is ahead of the API server (etcd restored, or another cluster)', async () => {
    const kept = store.add();
    await reader().catchUp(TOKEN, never, soon());
    // What a restored etcd looks like from here: the checkpoint names a revision the server never reached.
    await journal.append([], String(Number(store.resourceVersion) + 10_000), TOKEN);
    const fresh = store.add();
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.deepEqual([r.journaled, r.duplicates, r.relists, r.caughtUp], [1, 1, 1, true]);
    assert.ok(lines.some((l) => l.includes('The checkpoint is ahead of the API server')));
    assert.deepEqual(
      (await journaled()).map((x) => x.event.metadata.uid),
      [kept.uid, fresh.uid],
    );
    assert.equal((await journal.checkpoint()).rv, store.resourceVersion, 'the checkpoint went back');
  });

  test('a list interrupted by an expired continue token starts over; what it journaled is not journaled again', async () => {
    for (let i = 0; i < PAGE + 10; i++) store.add({ name: `e-${String(i).padStart(5, '0')}` });
    const realList = store.list.bind(store);
    let pages = 0;
    store.list = (o) => {
      // The second page's continue token has expired (compaction while paging).
      if (o.continue && pages++ === 0) {
        store.failNext.list = 410;
      }
      return realList(o);
    };
    const r = await reader().catchUp(TOKEN, never, soon());
    assert.equal(r.journaled, PAGE + 10);
    assert.equal(r.duplicates, PAGE, 'the first page, seen again');
    assert.ok(lines.some((l) => l.includes('continue token expired')));
  });
});

describe('reading under --loop', () => {
  test('journals events as they arrive, re-watching from the checkpoint when a watch ends', async () => {
    const stop = new AbortController();
    const fast = new Reader(
      {
        ...store.source(SECOND_MS),
        // Watches of a few scaled seconds, so several are opened during the test.
        watch: (o) => store.source(1).watch({ ...o, timeoutSeconds: 100 }),
      },
      journal,
      log,
    );
    let turns = 0;
    const following = fast.follow(TOKEN, stop.signal, () => turns++, isLeaseLost);
    const made = [];
    for (let i = 0; i < 30; i++) {
      made.push(store.add());
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor('all journaled', 10_000, async () => (await journal.length()) === 30);
    stop.abort();
    await following;
    assert.ok(store.requests.filter((x) => x.startsWith('watch')).length >= 2, store.requests.join());
    assert.deepEqual(
      (await journaled()).map((x) => x.id),
      made.map(idOf),
    );
    assert.ok(turns > 0);
  });

  test('under --loop too: a checkpoint ahead of the API server makes it list, not wait for that revision', async () => {
    store.add();
    await reader().catchUp(TOKEN, never, soon());
    await journal.append([], String(Number(store.resourceVersion) + 10_000), TOKEN);
    const fresh = store.add();
    const stop = new AbortController();
    const following = reader().follow(TOKEN, stop.signal, () => {}, isLeaseLost);
    await waitFor('the new event journaled', 10_000, async () => (await journal.length()) === 2);
    stop.abort();
    await following;
    assert.equal((await journaled())[1]!.event.metadata.uid, fresh.uid);
  });

  test('keeps trying when the API server fails, and stops at once when the lease is lost', async () => {
    store.add();
    store.failNext.list = 500;
    const stop = new AbortController();
    const following = reader().follow(TOKEN, stop.signal, () => {}, isLeaseLost);
    await waitFor('recovery', 10_000, async () => (await journal.length()) === 1);
    assert.ok(lines.some((l) => l.includes('Reading events failed; retrying') && l.includes('HTTP 500')));
    await db.redis.set(keys.lease, 'someone-else');
    store.add();
    await assert.rejects(following, (err) => isLeaseLost(err));
    stop.abort();
  });
});
