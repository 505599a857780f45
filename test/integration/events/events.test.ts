/**
 * The events function as its entry points use it (events.ts): a pass reads, journals and delivers every
 * sink; a sink that is down is reported behind without holding up the others; one instance reads and
 * delivers at a time, a second --loop instance stands by and takes over when the first dies; /metrics
 * and the probes say what is happening. The API server is the simulator's Events storage through the
 * narrow EventSource (test/helpers/sim-event-source.ts, watches time-scaled), Redis is real.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createEvents, type EventsFunction, passSucceeded } from '../../../functions/events/events.ts';
import { ALL } from '../../../functions/events/routing.ts';
import type { ConfiguredSink } from '../../../functions/events/sink-config.ts';
import { loadEventsConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { createRedis, type RedisClient } from '../../../shared/store/redis.ts';
import { waitFor } from '../../../sim/processes.ts';
import { RecordingSink } from '../../helpers/recording-sink.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { SimEvents } from '../../helpers/sim-event-source.ts';
import { idOf } from '../../helpers/sim-events.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());

const SECOND_MS = 40;
const LEASE = { durationMs: 1500, renewEveryMs: 300 };
let store: SimEvents;
let lines: string[];
const opened: { events: EventsFunction; redis: RedisClient }[] = [];

beforeEach(async () => {
  await db.redis.flushdb();
  store = new SimEvents();
  lines = [];
});

const configured = (sinks: RecordingSink[]): ConfiguredSink[] =>
  sinks.map((s) => ({ name: s.name, kind: 'test', uri: 'test', route: ALL, create: () => s }));

function instance(sinks: RecordingSink[], name = 'a', flags: string[] = []) {
  const redis = createRedis({ mode: 'single', url: db.url }, { commandTimeoutMs: 2000 });
  const config = loadEventsConfig(['--sink', 'stdout', '--flush-interval', '50ms', ...flags], {});
  const log = createLogger({ format: 'json', write: (l) => lines.push(l) }).with({ instance: name });
  const events = createEvents(config, log, configured(sinks), {
    source: store.source(SECOND_MS),
    redis,
    lease: LEASE,
  });
  opened.push({ events, redis });
  return { events, redis };
}

after(async () => {
  for (const o of opened) {
    await o.events.close().catch(() => {});
    o.redis.disconnect();
  }
});

describe('a pass', () => {
  test('journals what is new and delivers it to every sink; the next pass has nothing to send', async () => {
    const made = [store.add(), store.add({ newStyle: true }), store.add()];
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const { events } = instance([a, b]);
    const r = await events.pass();
    assert.equal(passSucceeded(r), true);
    assert.deepEqual(r.read && [r.read.journaled, r.read.relists], [3, 1]);
    const ids = made.map(idOf);
    assert.deepEqual(new Set(a.ids()), new Set(ids));
    assert.deepEqual(b.ids(), a.ids(), 'the same order for every sink: journal order');
    const again = await events.pass();
    assert.equal(passSucceeded(again), true);
    assert.deepEqual(
      again.sinks.map((s) => s.delivered),
      [0, 0],
    );
    assert.equal(a.batches.length, 1);
  });

  test('reports a sink that is down as behind, delivers the others, and loses nothing for it', async () => {
    store.add();
    store.add();
    const down = new RecordingSink('down');
    const up = new RecordingSink('up');
    down.down = true;
    const { events } = instance([down, up]);
    const r = await events.pass();
    assert.equal(passSucceeded(r), false);
    const [d, u] = r.sinks;
    assert.deepEqual([d?.caughtUp, u?.caughtUp, u?.delivered], [false, true, 2]);
    assert.match(d?.error ?? '', /down is down/);
    const s = await events.status();
    assert.deepEqual(
      s.sinks.map((x) => [x.name, x.backlog]),
      [
        ['down', 2],
        ['up', 0],
      ],
    );
    assert.ok(s.sinks[0]!.lagSeconds >= 0);
    down.down = false;
    assert.equal(passSucceeded(await events.pass()), true);
    assert.equal(down.accepted.length, 2);
    assert.equal((await events.status()).sinks[0]!.backlog, 0);
  });

  test('does not run while another instance holds the lease, and names it', async () => {
    const { events } = instance([new RecordingSink('a')]);
    await db.redis.set(eventKeys(eventsScope('')).lease, 'host-b/42/xyz', 'PX', 10_000);
    const r = await events.pass();
    assert.deepEqual([r.ran, r.holder], [false, 'host-b/42/xyz']);
    assert.equal(passSucceeded(r), false);
    assert.ok(lines.some((l) => l.includes('Pass skipped: another instance holds the events lease')));
  });

  for (const waitForLease of [false, true])
    test(`that loses the lease mid-pass ${waitForLease ? 'takes it again and finishes (--once)' : 'says so and fails (a trigger)'}`, async () => {
      const made = [store.add(), store.add(), store.add()];
      const a = new RecordingSink('a', 1);
      const { events } = instance([a]);
      const leaseKey = eventKeys(eventsScope('')).lease;
      // During the first batch another instance takes the lease (this one paused past it), briefly.
      a.onBatch = async () => {
        a.onBatch = null;
        await db.redis.set(leaseKey, 'host-b/42/xyz', 'PX', 1000);
        await waitFor('the loss to be seen', 5000, async () =>
          lines.some((l) => l.includes('Lost the events lease')),
        );
      };
      const r = await events.pass({ waitForLease });
      if (!waitForLease) {
        assert.equal(passSucceeded(r), false);
        assert.match(r.leaseLost ?? '', /another instance holds it now/);
        return;
      }
      assert.equal(passSucceeded(r), true, JSON.stringify(r));
      assert.ok(
        lines.some((l) => l.includes('Lost the events lease during the pass; waiting to take it again')),
      );
      assert.deepEqual(new Set(a.ids()), new Set(made.map(idOf)), 'everything, once the lease was back');
      // The batch in flight when the lease went was not acknowledged: it is sent again, the same batch
      // under the same key, so a sink that deduplicates (every sink but stdout) takes it once.
      const byKey = new Map<string, string>();
      for (const b of a.batches) {
        const seen = byKey.get(b.key);
        if (seen !== undefined)
          assert.equal(seen, b.ids.join(), `batch ${b.key} sent again with other records`);
        byKey.set(b.key, b.ids.join());
      }
      assert.deepEqual([...byKey.values()].sort(), made.map(idOf).sort(), 'each record in one batch');
    });

  test('that cannot read the API server still delivers what is journaled, and says it could not read', async () => {
    store.add();
    const a = new RecordingSink('a');
    const { events } = instance([a]);
    await events.pass();
    store.failNext.list = 503;
    const r = await events.pass();
    assert.match(r.readError ?? '', /HTTP 503/);
    assert.equal(passSucceeded(r), false);
  });
});

describe('--loop', () => {
  test('one instance reads and delivers, a second stands by, and takes over when the first dies', async () => {
    const sink = new RecordingSink('out', 5); // one sink the two instances share, as they would a real one
    const first = instance([sink], 'first');
    const stopFirst = new AbortController();
    const firstLoop = first.events.loop(stopFirst.signal);
    await waitFor('the first to lead', 5000, async () =>
      lines.some((l) => l.includes('"instance":"first"') && l.includes('Holding the events lease')),
    );
    const second = instance([sink], 'second');
    const stopSecond = new AbortController();
    const secondLoop = second.events.loop(stopSecond.signal);
    await waitFor('the second to stand by', 5000, async () =>
      lines.some((l) => l.includes('"instance":"second"') && l.includes('Standing by')),
    );
    assert.equal(second.events.live(), null);

    const made: string[] = [];
    const add = () => {
      const e = store.add();
      made.push(idOf(e));
    };
    for (let i = 0; i < 12; i++) add();
    await waitFor('delivery by the first', 10_000, async () => sink.accepted.length >= 12);

    // The first dies: no release, no more renewals (its Redis connection gone), its work stopped.
    first.redis.disconnect();
    stopFirst.abort();
    for (let i = 0; i < 8; i++) add();
    await waitFor('the second to take over', 10_000, async () =>
      lines.some((l) => l.includes('"instance":"second"') && l.includes('Holding the events lease')),
    );
    await waitFor('delivery by the second', 10_000, async () => new Set(sink.ids()).size >= 20);
    stopSecond.abort();
    await Promise.all([firstLoop, secondLoop]);

    // Everything once, in order; a record seen twice only as a whole batch sent again with its key.
    assert.deepEqual([...new Set(sink.ids())], made);
    const keys = new Map<string, string>();
    for (const b of sink.batches) {
      const k = b.ids.join(',');
      if (keys.has(k)) assert.equal(keys.get(k), b.key);
      keys.set(k, b.key);
    }
  });

  test('delivers as events arrive, and /metrics shows backlog, lag, checkpoint age, journal length and the lease', async () => {
    const sink = new RecordingSink('out', 100);
    const { events } = instance([sink]);
    const stop = new AbortController();
    const loop = events.loop(stop.signal);
    store.add();
    store.add();
    await waitFor('delivery', 10_000, async () => sink.accepted.length === 2);
    const { body } = await events.metrics();
    // POST / beside --loop runs no pass of its own (it would share, then release, the loop's lease).
    const beside = await events.pass();
    assert.deepEqual([beside.ran, beside.holder], [false, 'this instance (--loop)']);
    store.add();
    await waitFor('delivery after the refused pass', 10_000, async () => sink.accepted.length === 3);
    stop.abort();
    await loop;
    assert.match(body, /^events_sink_delivered_records_total\{sink="out"\} 2$/m);
    assert.match(body, /^events_sink_backlog_records\{sink="out"\} 0$/m);
    assert.match(body, /^events_sink_lag_seconds\{sink="out"\} 0$/m);
    assert.match(body, /^events_journal_records 2$/m);
    assert.match(body, /^events_journaled_records_total 2$/m);
    assert.match(body, /^events_checkpoint_age_seconds \d/m);
    assert.match(body, /^events_lease_held 1$/m);
    assert.match(body, /^events_relists_total 1$/m);
  });
});

describe('the probes', () => {
  test('ready while Redis answers, not while it is gone; live outside --loop', async () => {
    const { events, redis } = instance([new RecordingSink('a')]);
    assert.equal(await events.ready(), null);
    assert.equal(events.live(), null);
    redis.disconnect();
    assert.match((await events.ready()) ?? '', /redis unavailable/);
  });
});
