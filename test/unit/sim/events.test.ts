import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EventSpec, EventStore } from '../../../sim/events.ts';
import { History } from '../../../sim/history.ts';
import { eventField, eventObject } from '../../../sim/objects.ts';
import { eventCells } from '../../../sim/tables.ts';

const T0 = Date.parse('2025-06-01T10:00:00.000Z');

function setup(opts: { ttlMs?: number; seed?: string } = {}) {
  let rv = 1000;
  let now = T0;
  const history = new History({ currentRv: () => rv, now: () => now });
  const events = new EventStore({
    history,
    nextResourceVersion: () => ++rv,
    now: () => now,
    seed: opts.seed ?? 'events-unit',
    ...(opts.ttlMs === undefined ? {} : { ttlMs: opts.ttlMs }),
  });
  const changes: string[] = [];
  history.subscribe('events', (c) => changes.push(`${c.type} ${c.key} ${c.rv}`));
  return {
    history,
    events,
    changes,
    advance: (ms: number) => {
      now += ms;
    },
    get now() {
      return now;
    },
    close: () => events.close(),
  };
}

const pod = {
  kind: 'Pod',
  namespace: 'shop',
  name: 'cart-7d4b9c-x2x4z',
  uid: '0d7e3a1c-0000-4000-8000-000000000001',
  apiVersion: 'v1',
  resourceVersion: '777',
};
const backOff: EventSpec = {
  involvedObject: { ...pod, fieldPath: 'spec.containers{cart}' },
  source: { component: 'kubelet', host: 'sim-node-0002' },
  type: 'Warning',
  reason: 'BackOff',
  message: 'Back-off restarting failed container cart in pod cart-7d4b9c-x2x4z_shop(0d7e3a1c)',
};
const scheduled: EventSpec = {
  style: 'new',
  involvedObject: pod,
  reportingController: 'default-scheduler',
  reportingInstance: 'default-scheduler-sim-node-0001',
  action: 'Binding',
  reason: 'Scheduled',
  message: 'Successfully assigned shop/cart-7d4b9c-x2x4z to sim-node-0002',
};

describe('the Event store: old-style and new-style events', () => {
  test('an old-style event: source, first/last timestamps, count 1, eventTime null, reporting fields from the source', () => {
    const s = setup();
    const e = s.events.emit(backOff);
    assert.equal(e.namespace, 'shop');
    assert.match(e.name, /^cart-7d4b9c-x2x4z\.[0-9a-f]{16}$/);
    assert.deepEqual(eventObject(e), {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: {
        name: e.name,
        namespace: 'shop',
        uid: e.uid,
        resourceVersion: '1001',
        creationTimestamp: '2025-06-01T10:00:00Z',
      },
      involvedObject: {
        kind: 'Pod',
        namespace: 'shop',
        name: 'cart-7d4b9c-x2x4z',
        uid: pod.uid,
        apiVersion: 'v1',
        resourceVersion: '777',
        fieldPath: 'spec.containers{cart}',
      },
      reason: 'BackOff',
      message: backOff.message,
      source: { component: 'kubelet', host: 'sim-node-0002' },
      firstTimestamp: '2025-06-01T10:00:00Z',
      lastTimestamp: '2025-06-01T10:00:00Z',
      count: 1,
      type: 'Warning',
      eventTime: null,
      reportingComponent: 'kubelet',
      reportingInstance: 'sim-node-0002',
    });
    s.close();
  });

  test('a new-style event: eventTime in microseconds, action, null first/last timestamps, no count, empty source', () => {
    const s = setup();
    s.advance(0.123456 * 1000);
    const e = eventObject(s.events.emit(scheduled));
    assert.equal(e.eventTime, '2025-06-01T10:00:00.123456Z');
    assert.equal(e.firstTimestamp, null);
    assert.equal(e.lastTimestamp, null);
    assert.equal('count' in e, false);
    assert.equal('series' in e, false);
    assert.deepEqual(e.source, {});
    assert.equal(e.action, 'Binding');
    assert.equal(e.reportingComponent, 'default-scheduler');
    assert.equal(e.reportingInstance, 'default-scheduler-sim-node-0001');
    s.close();
  });

  test('rewrite: a new resourceVersion and nothing else, MODIFIED to watchers', () => {
    const s = setup();
    const e = s.events.emit(backOff);
    s.advance(1000);
    const r = s.events.rewrite(e);
    assert.ok(r.resourceVersion > e.resourceVersion);
    const { metadata: a, ...restA } = eventObject(e);
    const { metadata: b, ...restB } = eventObject(r);
    assert.deepEqual(restB, restA);
    assert.deepEqual({ ...(b as object), resourceVersion: '' }, { ...(a as object), resourceVersion: '' });
    assert.deepEqual(s.changes.at(-1), `MODIFIED ${e.namespace}/${e.name} ${r.resourceVersion}`);
    assert.throws(() => s.events.rewrite('shop/none'), /no event "shop\/none" to rewrite/);
    s.close();
  });

  test('bump: old-style count and lastTimestamp; new-style series (2 on the first repeat); each a new resourceVersion', () => {
    const s = setup();
    const old = s.events.emit(backOff);
    s.advance(10_000);
    const bumped = s.events.bump(old);
    assert.equal(bumped.name, old.name);
    assert.equal(bumped.uid, old.uid);
    assert.equal(bumped.count, 2);
    assert.ok(bumped.resourceVersion > old.resourceVersion);
    assert.equal(eventObject(bumped).lastTimestamp, '2025-06-01T10:00:10Z');
    assert.equal(eventObject(bumped).firstTimestamp, '2025-06-01T10:00:00Z');

    const fresh = s.events.emit(scheduled);
    s.advance(5_000);
    const second = s.events.bump(fresh);
    s.advance(5_000);
    const third = s.events.bump(second);
    assert.deepEqual(eventObject(second).series, {
      count: 2,
      lastObservedTime: '2025-06-01T10:00:15.000000Z',
    });
    assert.deepEqual(eventObject(third).series, {
      count: 3,
      lastObservedTime: '2025-06-01T10:00:20.000000Z',
    });
    assert.equal(eventObject(third).lastTimestamp, null);
    assert.deepEqual(
      s.changes.map((c) => c.split(' ')[0]),
      ['ADDED', 'MODIFIED', 'ADDED', 'MODIFIED', 'MODIFIED'],
    );
    s.close();
  });

  test('record folds a repeat of the same report into the event it made; a different message is a new event', () => {
    const s = setup();
    const first = s.events.record(backOff);
    const again = s.events.record(backOff);
    assert.equal(again.name, first.name);
    assert.equal(again.count, 2);
    const other = s.events.record({ ...backOff, message: 'something else' });
    assert.notEqual(other.name, first.name);
    assert.equal(s.events.size, 2);
    s.close();
  });

  test('events expire one TTL after their last write, each as a DELETED change with its own resourceVersion', () => {
    const s = setup({ ttlMs: 60_000 });
    const a = s.events.emit(backOff);
    s.advance(30_000);
    const b = s.events.emit(scheduled);
    s.advance(20_000);
    s.events.bump(a); // a's lease starts again
    s.advance(20_000); // 70 s after a was created, 40 s after b
    assert.equal(s.events.expire(), 0);
    s.advance(20_000); // b is 60 s old
    assert.equal(s.events.expire(), 1);
    assert.equal(s.events.get(b.namespace, b.name), undefined);
    assert.ok(s.events.get(a.namespace, a.name));
    const last = s.changes.at(-1)!.split(' ');
    assert.deepEqual(last.slice(0, 2), ['DELETED', `shop/${b.name}`]);
    s.advance(20_000);
    assert.equal(s.events.expire(), 1);
    assert.equal(s.events.size, 0);
    s.close();
  });

  test('the TTL applies to writes from when it is set', () => {
    const s = setup({ ttlMs: 3_600_000 });
    s.events.emit(backOff);
    s.events.ttlMs = 1000;
    const short = s.events.emit(scheduled);
    s.advance(1000);
    assert.equal(s.events.expire(), 1);
    assert.equal(s.events.get(short.namespace, short.name), undefined);
    assert.equal(s.events.size, 1);
    assert.throws(() => {
      s.events.ttlMs = 0;
    }, /TTL must be > 0/);
    s.close();
  });

  test('the TTL timer deletes expired events by itself', async () => {
    let rv = 1;
    const history = new History({ currentRv: () => rv, now: Date.now });
    const events = new EventStore({
      history,
      nextResourceVersion: () => ++rv,
      now: Date.now,
      seed: 1,
      ttlMs: 50,
    });
    events.emit(backOff);
    const deleted = new Promise<string>((resolve) => history.subscribe('events', (c) => resolve(c.type)));
    assert.equal(await deleted, 'DELETED');
    assert.equal(events.size, 0);
    events.close();
  });

  test('the same seed and clock give the same events (names and uids)', () => {
    const a = setup({ seed: 'same' });
    const b = setup({ seed: 'same' });
    const run = (s: ReturnType<typeof setup>) =>
      [s.events.emit(backOff), s.events.emit(scheduled)].map((e) => [e.name, e.uid]);
    assert.deepEqual(run(a), run(b));
    const c = setup({ seed: 'other' });
    assert.notDeepEqual(run(c)[0]![1], run(a)[0]![1]);
    for (const s of [a, b, c]) s.close();
  });

  test('names stay unique when events of one object come in the same instant', () => {
    const s = setup();
    const names = new Set(Array.from({ length: 50 }, () => s.events.emit(backOff).name));
    assert.equal(names.size, 50);
    s.close();
  });

  test('delete removes an event now (DELETED); bumping a deleted event is an error', () => {
    const s = setup();
    const e = s.events.emit(backOff);
    assert.equal(s.events.delete(`shop/${e.name}`), true);
    assert.equal(s.events.delete(`shop/${e.name}`), false);
    assert.throws(() => s.events.bump(e), /no event/);
    s.close();
  });
});

describe('events as kubectl get events prints them (printEvent) and as field selectors read them', () => {
  test('old-style: LAST SEEN from lastTimestamp, FIRST SEEN, COUNT, SOURCE "component, host"', () => {
    const s = setup();
    const e = s.events.emit(backOff);
    s.advance(90_000);
    const b = s.events.bump(e);
    assert.deepEqual(eventCells(b, s.now + 5_000), [
      '5s',
      'Warning',
      'BackOff',
      'pod/cart-7d4b9c-x2x4z',
      'spec.containers{cart}',
      'kubelet, sim-node-0002',
      backOff.message,
      '95s',
      2,
      e.name,
    ]);
    s.close();
  });

  test('new-style: eventTime for both times, series for LAST SEEN and COUNT, reportingController as SOURCE', () => {
    const s = setup();
    const e = s.events.emit(scheduled);
    assert.deepEqual(eventCells(e, s.now + 3_000).slice(0, 9), [
      '3s',
      'Normal',
      'Scheduled',
      'pod/cart-7d4b9c-x2x4z',
      '',
      'default-scheduler, default-scheduler-sim-node-0001',
      scheduled.message,
      '3s',
      1,
    ]);
    s.advance(60_000);
    const again = s.events.bump(e);
    const cells = eventCells(again, s.now + 1_000);
    assert.deepEqual([cells[0], cells[7], cells[8]], ['1s', '61s', 2]);
    s.close();
  });

  test("field selectors: involvedObject.*, reason, type, and source (the reporting controller's for new-style)", () => {
    const s = setup();
    const old = s.events.emit(backOff);
    const neu = s.events.emit(scheduled);
    assert.equal(eventField(old, 'involvedObject.name'), 'cart-7d4b9c-x2x4z');
    assert.equal(eventField(old, 'involvedObject.fieldPath'), 'spec.containers{cart}');
    assert.equal(eventField(old, 'source'), 'kubelet');
    assert.equal(eventField(neu, 'source'), 'default-scheduler');
    assert.equal(eventField(neu, 'reportingComponent'), 'default-scheduler');
    assert.equal(eventField(neu, 'type'), 'Normal');
    assert.equal(eventField(neu, 'spec.nothing'), undefined);
    s.close();
  });
});
