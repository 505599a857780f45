/**
 * The record every sink receives (DESIGN.md, *Events*): one pure function from an event version and the
 * previous journaled version to `{id, verb, time, event, old_event}`, tested as metrics-server tests its
 * decoders: every branch of the time fallback chain, the pre-1970 values prior tools wrote (year 1,
 * year 1754), and fuzzed inputs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  buildRecord,
  EventRecord,
  eventTime,
  type KubeEvent,
  sameContent,
  withoutManagedFields,
} from '../../../functions/events/record.ts';

function event(over: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): KubeEvent {
  return {
    kind: 'Event',
    apiVersion: 'v1',
    metadata: {
      name: 'web-1.17f3a',
      namespace: 'shop',
      uid: '5c1e7e0e-6c1f-4a57-9a8e-0f1b8d1d2c3a',
      resourceVersion: '4711',
      creationTimestamp: '2026-03-01T10:00:00Z',
      ...meta,
    },
    involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web-1' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    type: 'Warning',
    count: 3,
    firstTimestamp: '2026-03-01T10:00:00Z',
    lastTimestamp: '2026-03-01T10:05:00Z',
    ...over,
  } as KubeEvent;
}

describe('a record', () => {
  test("of an event's first version is ADDED, with the id <uid>/<resourceVersion> and no old_event", () => {
    const r = buildRecord(event(), null);
    assert.deepEqual(
      { id: r.id, verb: r.verb, time: r.time, old_event: r.old_event },
      {
        id: '5c1e7e0e-6c1f-4a57-9a8e-0f1b8d1d2c3a/4711',
        verb: 'ADDED',
        time: '2026-03-01T10:05:00Z',
        old_event: null,
      },
    );
    assert.equal(r.event.reason, 'BackOff');
  });

  test('of a later version (a count bump) is UPDATED and carries the previous version as old_event', () => {
    const before = event({ count: 3 }, { resourceVersion: '4711' });
    const after = event({ count: 4, lastTimestamp: '2026-03-01T10:10:00Z' }, { resourceVersion: '4790' });
    const r = buildRecord(after, before);
    assert.equal(r.verb, 'UPDATED');
    assert.equal(r.id, '5c1e7e0e-6c1f-4a57-9a8e-0f1b8d1d2c3a/4790');
    assert.equal(r.time, '2026-03-01T10:10:00Z');
    assert.equal(r.event.count, 4);
    assert.equal(r.old_event?.count, 3);
  });

  test('has the keys of eventrouter extended, in that order, and passes its own schema', () => {
    const r = buildRecord(event(), null);
    assert.deepEqual(Object.keys(r), ['id', 'verb', 'time', 'event', 'old_event']);
    assert.ok(EventRecord.safeParse(JSON.parse(JSON.stringify(r))).success);
  });

  test('leaves out managedFields from the event and from old_event, and nothing else', () => {
    const managed = { managedFields: [{ manager: 'kubelet', operation: 'Update' }] };
    const e = event({}, managed);
    const r = buildRecord(e, event({}, { ...managed, resourceVersion: '4700' }));
    assert.equal('managedFields' in r.event.metadata, false);
    assert.equal('managedFields' in (r.old_event?.metadata ?? {}), false);
    assert.deepEqual(r.event, { ...e, metadata: { ...withoutManagedFields(e).metadata } });
    assert.equal('managedFields' in e.metadata, true, 'the input is not changed');
  });

  test('is the same for the same inputs (a redelivery carries the same id and time)', () => {
    const e = event();
    assert.deepEqual(buildRecord(e, null), buildRecord(structuredClone(e), null));
  });
});

describe("a record's time", () => {
  const base = event({ lastTimestamp: null, firstTimestamp: null, count: undefined });
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    [
      'lastTimestamp first',
      { lastTimestamp: '2026-03-01T10:05:00Z', eventTime: '2026-03-01T09:00:00.000001Z' },
      {},
      '2026-03-01T10:05:00Z',
    ],
    [
      "series.lastObservedTime when lastTimestamp is null (a new-style event's repeat)",
      {
        series: { count: 7, lastObservedTime: '2026-03-01T11:00:00.123456Z' },
        eventTime: '2026-03-01T09:00:00.000001Z',
      },
      {},
      '2026-03-01T11:00:00.123456Z',
    ],
    [
      'eventTime for a new-style event seen once',
      { eventTime: '2026-03-01T09:00:00.000001Z' },
      {},
      '2026-03-01T09:00:00.000001Z',
    ],
    ['creationTimestamp when nothing else is set', {}, {}, '2026-03-01T10:00:00Z'],
    [
      "Go's zero time (year 1) is skipped, not written",
      { lastTimestamp: '0001-01-01T00:00:00Z', eventTime: '2026-03-01T09:00:00.5Z' },
      {},
      '2026-03-01T09:00:00.5Z',
    ],
    [
      'a year-1754 time (a wrapped zero) is skipped',
      { lastTimestamp: '1754-08-30T22:43:41Z' },
      {},
      '2026-03-01T10:00:00Z',
    ],
    ['a time before 1970 is skipped', { lastTimestamp: '1969-12-31T23:59:59Z' }, {}, '2026-03-01T10:00:00Z'],
    [
      '1970-01-01T00:00:00Z itself is kept',
      { lastTimestamp: '1970-01-01T00:00:00Z' },
      {},
      '1970-01-01T00:00:00Z',
    ],
    ['an empty string is skipped', { lastTimestamp: '' }, {}, '2026-03-01T10:00:00Z'],
    [
      'text that is not RFC 3339 is skipped',
      { lastTimestamp: 'yesterday', eventTime: '2026-13-45T99:00:00Z' },
      {},
      '2026-03-01T10:00:00Z',
    ],
    ['a number is skipped', { lastTimestamp: 1700000000 }, {}, '2026-03-01T10:00:00Z'],
    [
      'a series without lastObservedTime falls through',
      { series: { count: 2 }, eventTime: '2026-03-01T09:30:00.000001Z' },
      {},
      '2026-03-01T09:30:00.000001Z',
    ],
    [
      'another zone is written in UTC',
      { lastTimestamp: '2026-03-01T12:05:00+02:00' },
      {},
      '2026-03-01T10:05:00.000Z',
    ],
    ['a lower-case z is written as Z', { lastTimestamp: '2026-03-01T10:05:00z' }, {}, '2026-03-01T10:05:00Z'],
    [
      'no valid time at all gives the epoch, never a made-up reading',
      {},
      { creationTimestamp: null },
      '1970-01-01T00:00:00Z',
    ],
  ];
  for (const [what, over, meta, expected] of cases) {
    test(what, () => {
      const e = { ...base, ...over, metadata: { ...base.metadata, ...meta } } as KubeEvent;
      assert.equal(eventTime(e), expected);
      assert.equal(buildRecord(e, null).time, expected);
    });
  }

  test('is never before 1970 and always RFC 3339, whatever the four fields hold (fuzzed)', () => {
    const anyTime = fc.oneof(
      fc.constant(null),
      fc.constant(undefined),
      fc.string(),
      fc.integer(),
      fc
        .date({ min: new Date(-62135596800000), max: new Date(253402300799000), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.constantFrom('0001-01-01T00:00:00Z', '1754-08-30T22:43:41Z', '2026-03-01T10:05:00.123456Z'),
    );
    fc.assert(
      fc.property(anyTime, anyTime, anyTime, anyTime, (last, observed, eventTimeValue, created) => {
        const e = {
          ...base,
          lastTimestamp: last,
          series: { count: 2, lastObservedTime: observed },
          eventTime: eventTimeValue,
          metadata: { ...base.metadata, creationTimestamp: created },
        } as KubeEvent;
        const t = eventTime(e);
        assert.match(t, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
        assert.ok(Date.parse(t) >= 0, t);
      }),
    );
  });
});

describe('two versions of an event', () => {
  test('say the same thing when only resourceVersion and managedFields differ, in any key order', () => {
    const a = event({}, { resourceVersion: '1', managedFields: [{ manager: 'a' }] });
    const { reason, message, ...rest } = event({}, { resourceVersion: '2' });
    const b = { message, ...rest, reason } as KubeEvent;
    assert.equal(sameContent(a, b), true);
  });

  test('differ when count, series.count, lastTimestamp or message changed', () => {
    const a = event();
    assert.equal(sameContent(a, event({ count: 4 })), false);
    assert.equal(sameContent(a, event({ series: { count: 2 } })), false);
    assert.equal(sameContent(a, event({ lastTimestamp: '2026-03-01T10:06:00Z' })), false);
    assert.equal(sameContent(a, event({ message: 'other' })), false);
  });
});
