/**
 * The events function's promise (issue 10.7), end to end: `npm run events` as child processes against
 * the simulated API server and a real Redis, delivering to real sinks (stdout, a redis stream, a webhook
 * receiver over HTTP), checked against every event version the simulator wrote. A restart replays
 * nothing; a resync (watches reopened, a re-list, a rewrite of the same content) adds no ghost; count
 * and series.count bumps come as UPDATED with old_event; 410 Gone loses nothing and doubles nothing;
 * two instances deliver each record once; a sink that is down gets everything in order when it is back,
 * and the others were never held up. SIGKILL is events-sigkill.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventRecord } from '../../functions/events/record.ts';
import type { SimEvent } from '../../sim/index.ts';
import { waitFor } from '../../sim/processes.ts';
import type { EventsProgram } from '../helpers/events-program.ts';
import { type Recorder, startRecorder } from '../helpers/http-recorder.ts';
import { elsewhere, idOf, kubeletEvent, schedulerEvent } from '../helpers/sim-events.ts';
import {
  type EventsCluster,
  logged,
  metric,
  printed,
  serverAddress,
  startEventsCluster,
  waitForAll,
} from './events-harness.ts';

const SINKS = ['--sink', 'stdout', '--sink', 'redis:?stream=delivered'];
const LOOP = ['--loop', '--flush-interval', '100ms', ...SINKS];

const ids = (records: readonly EventRecord[]) => records.map((r) => r.id);
const allIds = (c: EventsCluster) => c.versions.map((v) => v.id);

/** Each id at most once. */
function once(what: string, list: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of list) {
    assert.ok(!seen.has(id), `${what}: ${id} twice`);
    seen.add(id);
  }
}

/** What several processes printed, each record compared with any earlier print of the same id. */
function printedByAll(programs: readonly EventsProgram[]): Map<string, EventRecord> {
  const out = new Map<string, EventRecord>();
  for (const p of programs) {
    for (const r of printed(p)) {
      const before = out.get(r.id);
      if (before) assert.deepEqual(r, before, `a record printed again is the same record (${r.id})`);
      out.set(r.id, r);
    }
  }
  return out;
}

/** Starts a --loop run and waits until it holds the lease and has read from the checkpoint. */
async function leading(c: EventsCluster, ...extra: string[]): Promise<EventsProgram> {
  const p = c.start(...LOOP, ...extra);
  await waitFor('the lease', 20_000, async () => logged(p, 'Holding the events lease').length > 0);
  await waitFor('a checkpoint', 20_000, async () => (await c.checkpoint()) !== null);
  return p;
}

test('a restart replays nothing, and count and series.count bumps come as UPDATED with the previous version as old_event', {
  timeout: 180_000,
}, async () => {
  const c = await startEventsCluster();
  try {
    const backOff = c.sim.events.emit(kubeletEvent(c.sim, 'BackOff', 'Warning'));
    const failed = c.sim.events.emit(schedulerEvent(c.sim));
    c.sim.events.emit(kubeletEvent(c.sim, 'Pulled'));

    const first = await c.once(...SINKS);
    assert.equal(first.code, 0, first.stderr.join('\n'));
    assert.deepEqual(new Set(ids(printed(first))), new Set(allIds(c)));
    assert.ok(printed(first).every((r) => r.verb === 'ADDED' && r.old_event === null));

    const again = await c.once(...SINKS);
    assert.equal(again.code, 0, again.stderr.join('\n'));
    assert.deepEqual(printed(again), [], 'a second --once replays nothing');

    // --loop, stopped and started again while the cluster goes on.
    const loop1 = await leading(c);
    const seen = c.sim.events.emit(kubeletEvent(c.sim, 'Created'));
    await waitForAll(
      'the first loop to print',
      () => [idOf(seen)],
      () => ids(printed(loop1)),
    );
    assert.equal(await loop1.stop(), 0);
    const whileDown = c.sim.events.emit(kubeletEvent(c.sim, 'Started'));
    const loop2 = await leading(c);
    await waitForAll(
      'the second loop to print',
      () => [idOf(whileDown)],
      () => ids(printed(loop2)),
    );
    assert.deepEqual(ids(printed(loop1)), [idOf(seen)], 'the first loop replayed nothing');
    assert.deepEqual(ids(printed(loop2)), [idOf(whileDown)], 'the second loop replayed nothing');

    // Repeats folded into the events: old-style count, new-style series.count.
    const b2 = c.sim.events.bump(backOff);
    const f2 = c.sim.events.bump(failed);
    const b3 = c.sim.events.bump(b2);
    await waitForAll(
      'the bumps',
      () => [b2, f2, b3].map(idOf),
      () => ids(printed(loop2)),
    );
    const updates = printed(loop2).slice(1);
    assert.deepEqual(ids(updates), [b2, f2, b3].map(idOf), 'in the order they happened');
    const seenAs = (r: EventRecord) => ({
      verb: r.verb,
      uid: r.event.metadata.uid,
      count:
        (r.event as { count?: number }).count ?? (r.event as { series?: { count: number } }).series?.count,
      old: r.old_event?.metadata.resourceVersion,
    });
    assert.deepEqual(updates.map(seenAs), [
      { verb: 'UPDATED', uid: backOff.uid, count: 2, old: String(backOff.resourceVersion) },
      { verb: 'UPDATED', uid: failed.uid, count: 2, old: String(failed.resourceVersion) },
      { verb: 'UPDATED', uid: backOff.uid, count: 3, old: String(b2.resourceVersion) },
    ]);
    // A new-style repeat's time is its series.lastObservedTime (its lastTimestamp is null).
    const newStyle = updates[1]!.event as { series?: { lastObservedTime: string }; lastTimestamp?: unknown };
    assert.equal(updates[1]!.time, newStyle.series?.lastObservedTime);
    assert.equal(newStyle.lastTimestamp, null);

    // The redis sink holds every version once: the first three in the LIST's order, then as they happened.
    const stream = await c.streamIds('delivered');
    once('the redis sink', stream);
    assert.deepEqual(new Set(stream.slice(0, 3)), new Set(allIds(c).slice(0, 3)));
    assert.deepEqual(stream.slice(3), allIds(c).slice(3));
  } finally {
    await c.stop();
  }
});

test('a resync adds no ghost: watches reopened, a re-list of what is journaled, a rewrite of the same content', {
  timeout: 180_000,
}, async () => {
  const c = await startEventsCluster();
  try {
    const made = [
      c.sim.events.emit(kubeletEvent(c.sim, 'Pulled')),
      c.sim.events.emit(schedulerEvent(c.sim)),
      c.sim.events.emit(kubeletEvent(c.sim, 'Killing')),
    ];
    const loop = await leading(c);
    const address = await serverAddress(loop);
    await waitForAll(
      'the first delivery',
      () => allIds(c),
      () => ids(printed(loop)),
    );

    // The API server ends every watch, three times (as at an apiserver restart): each reopens from the checkpoint.
    for (let i = 0; i < 3; i++) {
      await waitFor('a watch', 10_000, async () => c.sim.watches.active > 0);
      c.sim.watches.closeAll();
    }
    // A storage migration rewrites every event: new resourceVersions, the same content.
    const rewritten = made.map((e) => c.sim.events.rewrite(e));
    await waitFor('the rewrites read', 20_000, async () => {
      return (await metric(address, 'events_skipped_versions_total{reason="unchanged"}')) === 3;
    });
    // A re-list of everything journaled: the watch ends, the cluster moves on, and the history is
    // compacted past the checkpoint before the watch is opened again (410 Gone).
    c.sim.watches.closeAll();
    elsewhere(c.sim);
    c.sim.history.compact();
    await waitFor('the re-list', 20_000, async () => (await metric(address, 'events_relists_total')) === 2);
    assert.ok(logged(loop, '410 Gone').length > 0, loop.stderr.join('\n'));
    assert.equal(await metric(address, 'events_skipped_versions_total{reason="duplicate"}'), 3);

    // Something new after all that: it alone is delivered.
    const fresh = c.sim.events.emit(kubeletEvent(c.sim, 'Started'));
    await waitForAll(
      'the new event',
      () => [idOf(fresh)],
      () => ids(printed(loop)),
    );
    const want = [...made, fresh].map(idOf);
    assert.deepEqual(new Set(ids(printed(loop))), new Set(want));
    once('stdout', ids(printed(loop)));
    assert.deepEqual(new Set(await c.streamIds('delivered')), new Set(want));
    once('the redis sink', await c.streamIds('delivered'));
    assert.ok(!rewritten.some((e) => ids(printed(loop)).includes(idOf(e))), 'no record of a rewrite');
  } finally {
    await c.stop();
  }
});

test('410 Gone loses nothing and doubles nothing: across a restart, and while running', {
  timeout: 180_000,
}, async () => {
  const c = await startEventsCluster();
  try {
    const [a, b, d, gone] = ['Pulled', 'BackOff', 'Unhealthy', 'Killing'].map((r) =>
      c.sim.events.emit(kubeletEvent(c.sim, r, 'Warning')),
    ) as [SimEvent, SimEvent, SimEvent, SimEvent];
    const run1 = await leading(c);
    await waitForAll(
      'the first delivery',
      () => allIds(c),
      () => ids(printed(run1)),
    );
    assert.equal(await run1.stop(), 0);

    // Down for a while: new events, repeats (one twice), a deletion; then etcd compacts past the checkpoint.
    const e = c.sim.events.emit(kubeletEvent(c.sim, 'Created'));
    const f = c.sim.events.emit(schedulerEvent(c.sim));
    const b2 = c.sim.events.bump(b);
    const d2 = c.sim.events.bump(d);
    const d3 = c.sim.events.bump(d2);
    c.sim.events.delete(`${gone.namespace}/${gone.name}`);
    c.sim.history.compact();

    const run2 = await leading(c);
    // What the API server still has that was not delivered: each event's latest version (d's middle
    // version no longer exists anywhere; the deleted event has nothing to deliver).
    const latest = [e, f, b2, d3].map(idOf);
    await waitForAll(
      'the re-list',
      () => latest,
      () => ids(printed(run2)),
    );
    assert.ok(logged(run2, '410 Gone').length > 0, run2.stderr.join('\n'));
    assert.deepEqual(new Set(ids(printed(run2))), new Set(latest), 'nothing delivered before came again');
    const byId = new Map(printed(run2).map((r) => [r.id, r]));
    assert.deepEqual(
      [e, f, b2, d3].map((x) => [
        byId.get(idOf(x))!.verb,
        byId.get(idOf(x))!.old_event?.metadata.resourceVersion,
      ]),
      [
        ['ADDED', undefined],
        ['ADDED', undefined],
        ['UPDATED', String(b.resourceVersion)],
        ['UPDATED', String(d.resourceVersion)],
      ],
    );

    // While running: the watch ends, events arrive and the history is compacted past the checkpoint
    // before the watch is opened again.
    c.sim.watches.closeAll();
    const g = c.sim.events.emit(kubeletEvent(c.sim, 'Pulling'));
    const e2 = c.sim.events.bump(e);
    c.sim.history.compact();
    await waitForAll(
      'after the compaction',
      () => [g, e2].map(idOf),
      () => ids(printed(run2)),
    );
    assert.equal(logged(run2, '410 Gone').length, 2, 'this was a second 410 Gone');
    const after = await c.streamIds('delivered');
    once('the redis sink', after);
    once('stdout', ids(printed(run2)));
    once('the journal', await c.journalIds());
    assert.deepEqual(new Set(after), new Set([a, b, d, gone, e, f, b2, d3, g, e2].map(idOf)));
  } finally {
    await c.stop();
  }
});

test('two instances deliver each record once: two --once at a time, a --loop and its standby, then a hand-over', {
  timeout: 240_000,
}, async () => {
  const c = await startEventsCluster();
  try {
    for (let i = 0; i < 20; i++) c.sim.events.emit(kubeletEvent(c.sim, 'Pulled'));
    const [x, y] = await Promise.all([c.once(...SINKS), c.once(...SINKS)]);
    assert.deepEqual([x.code, y.code], [0, 0], [...x.stderr, ...y.stderr].join('\n'));
    assert.deepEqual(new Set(printedByAll([x, y]).keys()), new Set(allIds(c)));
    once('two --once runs', [...ids(printed(x)), ...ids(printed(y))]);

    const first = c.start(...LOOP);
    const second = c.start(...LOOP);
    await waitFor('a leader and a standby', 20_000, async () =>
      [first, second].some((p) => logged(p, 'Standing by').length > 0),
    );
    const [leader, standby] = logged(first, 'Standing by').length > 0 ? [second, first] : [first, second];
    const load = c.sim.startEventLoad(50);
    await waitFor('a steady stream', 60_000, async () => c.versions.length >= 120);
    load.stop();
    await waitForAll(
      'the leader to deliver',
      () => allIds(c),
      () => c.streamIds('delivered'),
    );
    // What the --once runs delivered is not delivered again.
    const byLoops = () => allIds(c).slice(20);
    await waitForAll('stdout', byLoops, () => ids(printed(leader)));
    assert.deepEqual(printed(standby), [], 'the standby delivered nothing');
    once('both instances together', [...ids(printed(leader)), ...ids(printed(standby))]);

    // The leader stops mid-stream (SIGTERM releases the lease): the standby carries on at once.
    const more = c.sim.startEventLoad(50);
    const before = c.versions.length;
    await waitFor('more events', 60_000, async () => c.versions.length >= before + 30);
    assert.equal(await leader.stop(), 0, leader.stderr.slice(-20).join('\n'));
    await waitFor(
      'the standby to take over',
      20_000,
      async () => logged(standby, 'Holding the events lease').length > 0,
    );
    await waitFor('more events after the hand-over', 60_000, async () => c.versions.length >= before + 90);
    more.stop();
    await waitForAll(
      'every version in the redis sink',
      () => allIds(c),
      () => c.streamIds('delivered'),
    );
    await waitForAll('every version on stdout', byLoops, () => printedByAll([leader, standby]).keys());
    const stream = await c.streamIds('delivered');
    once('the redis sink', stream);
    assert.equal(stream.length, c.versions.length);
    assert.ok(ids(printed(standby)).length > 0, 'the standby delivered after the hand-over');
    assert.deepEqual(
      new Set(printedByAll([leader, standby]).keys()),
      new Set(byLoops()),
      'none of what the --once runs delivered',
    );
  } finally {
    await c.stop();
  }
});

test('a sink that is down gets everything, in order, when it is back; the others were never held up', {
  timeout: 240_000,
}, async () => {
  const c = await startEventsCluster();
  // A receiver that keeps Idempotency-Keys (as Stripe-style APIs do): a repeated key is answered, not taken again.
  const taken = new Map<string, string[]>();
  const receive = (r: { headers: Record<string, unknown>; body: string }) => {
    const key = String(r.headers['idempotency-key']);
    if (!taken.has(key))
      taken.set(
        key,
        (JSON.parse(r.body) as EventRecord[]).map((x) => x.id),
      );
    return { status: 200 };
  };
  let hook: Recorder = await startRecorder(receive);
  const port = new URL(hook.url).port;
  const webhookIds = () => [...taken.values()].flat();
  try {
    const loop = await leading(c, '--sink', `webhook:${hook.url}/events?max_batch=20&timeout=2s`);
    const address = await serverAddress(loop);
    const load = c.sim.startEventLoad(30);
    await waitFor('some delivered to the webhook', 60_000, async () => webhookIds().length >= 30);

    await hook.close();
    const atOutage = c.versions.length;
    // Down for a while: refused three times, backing off longer each time.
    const failures = () =>
      loop.stderr.filter((l) => l.includes('Sink did not take the batch') && l.includes('sink="webhook"'));
    await waitFor('the webhook failing', 60_000, async () => failures().length >= 3);
    assert.match(failures()[0]!, /ECONNREFUSED/);
    // While it is down, the other sinks take every new version as it comes.
    await waitFor('events during the outage', 60_000, async () => c.versions.length >= atOutage + 90);
    await waitForAll(
      'the redis sink during the outage',
      () => allIds(c),
      () => c.streamIds('delivered'),
    );
    await waitForAll(
      'stdout during the outage',
      () => allIds(c),
      () => ids(printed(loop)),
    );
    load.stop();
    assert.ok(webhookIds().length < c.versions.length, 'the webhook is behind');
    await waitFor('the redis sink to have everything', 20_000, async () => {
      const backlog = (sink: string) => metric(address, `events_sink_backlog_records{sink="${sink}"}`);
      return (await backlog('redis')) === 0 && (await backlog('webhook')) > 0;
    });

    hook = await startRecorder(receive, undefined, Number(port));
    await waitForAll('the webhook to catch up', () => allIds(c), webhookIds, 120_000);
    const stream = await c.streamIds('delivered');
    assert.deepEqual(webhookIds(), stream, 'the webhook got every record once, in journal order');
    assert.equal(stream.length, c.versions.length);
    once('the redis sink', stream);
    await waitFor('the backlog gone', 20_000, async () => {
      return (await metric(address, 'events_sink_backlog_records{sink="webhook"}')) === 0;
    });
    assert.ok(logged(loop, 'Sink is taking batches again').length > 0);
  } finally {
    await hook.close();
    await c.stop();
  }
});
