/**
 * Delivery (delivery.ts, cursors.ts) against a real Redis journal: each sink from its own cursor, in
 * journal order and in batches, acknowledged only when accepted; a sink down holds up no other and
 * loses nothing; a batch in flight at a crash is sent again exactly (same records, same Batch.key);
 * malformed records are logged and passed over; routing; trimming; removed sinks forgotten.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SinkPositions } from '../../../functions/events/cursors.ts';
import { backoffDelay, SinkDelivery, Wake } from '../../../functions/events/delivery.ts';
import { Journal } from '../../../functions/events/journal.ts';
import { isLeaseLost } from '../../../functions/events/lua.ts';
import { EventsMetrics } from '../../../functions/events/metrics.ts';
import type { KubeEvent } from '../../../functions/events/record.ts';
import { ALL, type Route, Rule } from '../../../functions/events/routing.ts';
import { batchKey } from '../../../functions/events/sinks/sink.ts';
import { createLogger } from '../../../shared/log.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { waitFor } from '../../../sim/processes.ts';
import { RecordingSink } from '../../helpers/recording-sink.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());

const keys = eventKeys(eventsScope(''));
const TOKEN = 'holder';
const lines: string[] = [];
const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
const NO_DEADLINE = Number.POSITIVE_INFINITY;
const never = new AbortController().signal;
let journal: Journal;
let positions: SinkPositions;
let metrics: EventsMetrics;

beforeEach(async () => {
  await db.redis.flushdb();
  await db.redis.set(keys.lease, TOKEN);
  lines.length = 0;
  journal = new Journal(db.redis, keys, { eventTtlMs: 3600_000 });
  positions = new SinkPositions(db.redis, keys);
  metrics = new EventsMetrics({
    sinks: ['a', 'b'],
    processMetrics: false,
    status: async () => ({ checkpointAgeSeconds: 0, journalRecords: 0, sinks: [] }),
  });
});

let rv = 100;
const ev = (o: Record<string, unknown> = {}): KubeEvent =>
  ({
    metadata: { uid: `uid-${++rv}`, resourceVersion: String(rv), name: `e${rv}`, namespace: 'shop' },
    involvedObject: { kind: 'Pod', name: 'web' },
    reason: 'Pulled',
    type: 'Normal',
    ...o,
  }) as KubeEvent;

/** Journals `n` events (or these), returning their record ids in order. */
async function journalEvents(n: number | KubeEvent[]): Promise<string[]> {
  const events = typeof n === 'number' ? Array.from({ length: n }, () => ev()) : n;
  await journal.append(events, events.at(-1)!.metadata.resourceVersion, TOKEN);
  return events.map((e) => `${e.metadata.uid}/${e.metadata.resourceVersion}`);
}

const delivery = (sink: RecordingSink, route: Route = ALL) =>
  new SinkDelivery({ sink, route }, { journal, positions, log, metrics }, { baseMs: 10, maxMs: 40 });

describe('delivering to a sink', () => {
  test('sends every record in journal order, in batches of its maxBatch, and moves its cursor', async () => {
    const ids = await journalEvents(25);
    const sink = new RecordingSink('a', 10);
    const r = await delivery(sink).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.deepEqual(r, { sink: 'a', caughtUp: true, delivered: 25, rejected: 0, failures: 0 });
    assert.deepEqual(sink.ids(), ids);
    assert.deepEqual(
      sink.batches.map((b) => b.ids.length),
      [10, 10, 5],
    );
    for (const b of sink.batches) assert.equal(b.key, batchKey(b.ids.map((id) => ({ id }) as never)));
    const state = (await positions.load(['a'])).get('a')!;
    assert.equal(state.cursor.n, 25);
    assert.equal(state.inflight, null);
    // A second pass has nothing to send.
    assert.equal((await delivery(sink).drain(TOKEN, never, NO_DEADLINE, 3)).delivered, 0);
    assert.equal(sink.batches.length, 3);
  });

  test('a sink that is down holds up no other, loses nothing, and gets everything in order when back', async () => {
    const ids = await journalEvents(12);
    const down = new RecordingSink('a', 5);
    const up = new RecordingSink('b', 5);
    down.down = true;
    const [rDown, rUp] = await Promise.all([
      delivery(down).drain(TOKEN, never, NO_DEADLINE, 3),
      delivery(up).drain(TOKEN, never, NO_DEADLINE, 3),
    ]);
    assert.equal(rUp.caughtUp, true);
    assert.deepEqual(up.ids(), ids);
    assert.equal(rDown.caughtUp, false);
    assert.equal(rDown.failures, 3);
    assert.match(rDown.error ?? '', /a is down/);
    // Every attempt was the same batch, and nothing was acknowledged.
    assert.equal(new Set(down.batches.map((b) => b.key)).size, 1);
    assert.equal((await positions.load(['a'])).get('a')!.cursor.n, 0);
    assert.ok(lines.some((l) => l.includes('Sink did not take the batch') && l.includes('"sink":"a"')));

    const more = await journalEvents(3);
    down.down = false;
    const back = await delivery(down).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.equal(back.caughtUp, true);
    assert.deepEqual(down.ids(), [...ids, ...more]);
    const body = (await metrics.render()).body;
    assert.match(body, /events_sink_failed_deliveries_total\{sink="a"\} 3/);
    assert.match(body, /events_sink_delivered_records_total\{sink="a"\} 15/);
    assert.match(body, /events_sink_delivered_records_total\{sink="b"\} 12/);
  });

  test('a sink that answers with a Retry-After is not asked again sooner, whatever the backoff says', async () => {
    await journalEvents(2);
    const busy = new RecordingSink('a', 5);
    busy.down = true;
    busy.retryAfterMs = 5000;
    const s = await delivery(busy).step(TOKEN, never);
    assert.equal(s.kind, 'failed');
    assert.ok(s.kind === 'failed' && s.retryInMs >= 5000, JSON.stringify(s));
    busy.retryAfterMs = undefined;
    const t = await delivery(busy).step(TOKEN, never);
    assert.ok(t.kind === 'failed' && t.retryInMs <= 40, 'the backoff alone (10 ms to 40 ms here)');
  });

  test('after a crash between sending and acknowledging, sends exactly the batch in flight again, same key, before anything newer', async () => {
    const first = await journalEvents(4);
    const sink = new RecordingSink('a', 10);
    // The instance sends its batch, then loses the lease before it can acknowledge (as if killed).
    sink.onBatch = async () => {
      await db.redis.set(keys.lease, 'next-holder');
    };
    await assert.rejects(delivery(sink).drain(TOKEN, never, NO_DEADLINE, 3), (err) => isLeaseLost(err));
    assert.deepEqual(
      sink.batches.map((b) => b.ids),
      [first],
    );

    // The next holder journals more, then delivers from what Redis says.
    sink.onBatch = null;
    await db.redis.set(keys.lease, 'next-holder');
    const more = await journal.append([ev(), ev()], null, 'next-holder');
    assert.equal(more.journaled, 2);
    await new SinkDelivery({ sink, route: ALL }, { journal, positions, log, metrics }).drain(
      'next-holder',
      never,
      NO_DEADLINE,
      3,
    );
    assert.equal(sink.batches.length, 3);
    assert.deepEqual(sink.batches[1], sink.batches[0], 'the same records, the same key');
    assert.equal(sink.batches[2]!.ids.length, 2);
  });

  test('does not wait past its deadline for a sink that never answers, and acknowledges nothing of it', async () => {
    await journalEvents(2);
    const hung = new RecordingSink('a');
    hung.onBatch = () => new Promise(() => {});
    const r = await delivery(hung).drain(TOKEN, never, performance.now() + 300, 3);
    assert.equal(r.caughtUp, false);
    assert.match(r.error ?? '', /delivery stopped/);
    assert.equal((await positions.load(['a'])).get('a')!.cursor.n, 0);
    assert.notEqual(
      (await positions.load(['a'])).get('a')!.inflight,
      null,
      'recorded, to be sent again as it was',
    );
  });

  test('logs a record the sink rejects as malformed with its id, counts it, and does not send it again', async () => {
    const ids = await journalEvents(3);
    const sink = new RecordingSink('a');
    sink.refuse.add(ids[1]!);
    const r = await delivery(sink).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.deepEqual([r.caughtUp, r.delivered, r.rejected], [true, 2, 1]);
    assert.equal(sink.batches.length, 1);
    await delivery(sink).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.equal(sink.batches.length, 1);
    assert.ok(lines.some((l) => l.includes('rejected a record as malformed') && l.includes(ids[1]!)));
    assert.match((await metrics.render()).body, /events_sink_rejected_records_total\{sink="a"\} 1/);
  });

  test('sends a sink only what its routing gives it; the rest is acknowledged without sending', async () => {
    const warning = ev({ type: 'Warning', reason: 'BackOff' });
    const ids = await journalEvents([
      ev(),
      warning,
      ev(),
      ev({ type: 'Warning', involvedObject: { kind: 'PodDisruptionBudget' } }),
    ]);
    const sink = new RecordingSink('a');
    const route = { match: [Rule.parse({ type: 'Warning', kind: 'Pod' })], drop: [] };
    const r = await delivery(sink, route).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.equal(r.caughtUp, true);
    assert.deepEqual(sink.ids(), [ids[1]]);
    assert.equal((await positions.load(['a'])).get('a')!.cursor.n, 4);
    // Nothing routed at all: acknowledged, never sent.
    await journalEvents(3);
    await delivery(sink, route).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.equal(sink.batches.length, 1);
    assert.equal((await positions.load(['a'])).get('a')!.cursor.n, 7);
  });

  test('under --loop, waits up to the flush interval for a batch to fill, and sends a full one at once', async () => {
    const sink = new RecordingSink('a', 5);
    const d = delivery(sink);
    await journalEvents(2);
    const s = await d.step(TOKEN, never, 60_000);
    assert.equal(s.kind, 'waiting');
    assert.equal(sink.batches.length, 0);
    await journalEvents(3);
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'done');
    assert.deepEqual(
      sink.batches.map((b) => b.ids.length),
      [5],
    );
    await journalEvents(1);
    assert.equal((await d.step(TOKEN, never, 30)).kind, 'waiting');
    await new Promise((r) => setTimeout(r, 40));
    assert.equal((await d.step(TOKEN, never, 30)).kind, 'done');
  });

  test('a batch that fills over several steps, with more read than it takes, sends every record once, in order', async () => {
    const sink = new RecordingSink('a', 5);
    const d = delivery(sink);
    const ids = await journalEvents(2);
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'waiting');
    ids.push(...(await journalEvents(9)));
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'done');
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'done');
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'waiting');
    ids.push(...(await journalEvents(4)));
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'done');
    assert.equal((await d.step(TOKEN, never, 0)).kind, 'idle');
    assert.deepEqual(
      sink.batches.map((b) => b.ids.length),
      [5, 5, 5],
    );
    assert.deepEqual(sink.ids(), ids);
    // A new holder of the lease (reset) reads from the cursor in Redis, not from what was read before.
    d.reset();
    const more = await journalEvents(5);
    assert.equal((await d.step(TOKEN, never, 60_000)).kind, 'done');
    assert.deepEqual(sink.ids(), [...ids, ...more]);
  });

  test('under --loop, delivers what is journaled while it runs', async () => {
    const sink = new RecordingSink('a', 5);
    const wake = new Wake();
    const stop = new AbortController();
    const running = delivery(sink).run(TOKEN, stop.signal, 20, wake);
    const ids = await journalEvents(7);
    wake.notify();
    await waitFor('delivery', 5000, async () => sink.accepted.length === 7);
    const more = await journalEvents(2);
    wake.notify();
    await waitFor('delivery', 5000, async () => sink.accepted.length === 9);
    stop.abort();
    await running;
    assert.deepEqual(sink.ids(), [...ids, ...more]);
  });
});

describe('the journal is trimmed', () => {
  test('to what every configured sink acknowledged; a sink added later starts from the oldest record held', async () => {
    const ids = await journalEvents(6);
    const a = new RecordingSink('a', 4);
    await delivery(a).step(TOKEN, never); // a acknowledged 4
    await positions.maintain(['a'], 24 * 3600_000, TOKEN);
    assert.equal(await journal.length(), 2);
    const late = new RecordingSink('late');
    await delivery(late).drain(TOKEN, never, NO_DEADLINE, 3);
    assert.deepEqual(late.ids(), ids.slice(4));
  });

  test('to --journal-max-age even for a sink that never caught up; a sink without a cursor holds everything younger', async () => {
    await journalEvents(3);
    await positions.maintain(['a', 'b'], 24 * 3600_000, TOKEN);
    assert.equal(await journal.length(), 3, 'no cursor yet: nothing acknowledged, nothing trimmed');
    await new Promise((r) => setTimeout(r, 30));
    const r = await positions.maintain(['a', 'b'], 10, TOKEN);
    assert.equal(r.trimmed, 3);
    assert.equal(await journal.length(), 0);
  });

  test("and a removed sink's cursor is forgotten after --journal-max-age, not before; it never holds the journal", async () => {
    await journalEvents(3);
    const gone = new RecordingSink('gone');
    await delivery(gone).drain(TOKEN, never, NO_DEADLINE, 3);
    await positions.maintain(['gone', 'a'], 24 * 3600_000, TOKEN);
    // Configuration changed: `gone` removed. Its position stays for the max age.
    let r = await positions.maintain(['a'], 24 * 3600_000, TOKEN);
    assert.deepEqual(r.forgotten, []);
    assert.equal(await db.redis.hexists(keys.cursors, 'gone'), 1);
    await db.redis.hset(keys.sinks, 'gone', String(Date.now() - 25 * 3600_000));
    r = await positions.maintain(['a'], 24 * 3600_000, TOKEN);
    assert.deepEqual(r.forgotten, ['gone']);
    assert.equal(await db.redis.hexists(keys.cursors, 'gone'), 0);
    assert.equal(await db.redis.hexists(keys.sinks, 'gone'), 0);
  });

  test('only by the lease holder', async () => {
    await journalEvents(1);
    await assert.rejects(positions.maintain(['a'], 1, 'not-the-holder'), (err) => isLeaseLost(err));
    assert.equal(await journal.length(), 1);
  });
});

describe('retry backoff', () => {
  test('doubles from its base to its ceiling, with the upper half of each wait random', () => {
    const b = { baseMs: 1000, maxMs: 60_000 };
    assert.deepEqual(
      [1, 2, 3, 7, 8, 20].map((f) => backoffDelay(b, f, () => 1)),
      [1000, 2000, 4000, 60_000, 60_000, 60_000],
    );
    assert.deepEqual(
      [1, 2, 3].map((f) => backoffDelay(b, f, () => 0)),
      [500, 1000, 2000],
    );
  });
});
