/**
 * The line-protocol encoder and heapster's points: escaping per reference/events.md §7.1, sorted tags,
 * empty tags left out, nanosecond times computed exactly from RFC 3339.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pointOf } from '../../../../functions/events/sinks/influxdb.ts';
import {
  encodePoint,
  escapeKey,
  escapeMeasurement,
  quoteString,
  unixNanos,
} from '../../../../functions/events/sinks/line-protocol.ts';
import { eventRecord } from '../../../helpers/sink-records.ts';

describe('line protocol', () => {
  test('tag keys and values escape comma, equals and space; measurements comma and space', () => {
    assert.equal(escapeKey('a,b=c d'), 'a\\,b\\=c\\ d');
    assert.equal(escapeMeasurement('log/events, x=y'), 'log/events\\,\\ x=y');
  });

  test('string fields are quoted with " and \\ escaped; line breaks become the text \\n', () => {
    assert.equal(quoteString('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
    assert.equal(quoteString('one\ntwo\r\nthree\rfour'), '"one\\ntwo\\nthree\\rfour"');
    assert.equal(escapeKey('one\ntwo'), 'one\\ntwo');
  });

  test('a backslash that would escape the next separator of a tag is dropped', () => {
    assert.equal(escapeKey('C:\\'), 'C:');
    assert.equal(escapeKey('a\\ b'), 'a\\ b');
    assert.equal(escapeKey('a\\b'), 'a\\b');
  });

  test('tags are sorted by key in byte order; empty and absent tags are left out', () => {
    const line = encodePoint({
      measurement: 'm',
      tags: { b: '2', a: '1', B: '0', empty: '', none: undefined },
      fields: { value: 'x' },
      time: 5n,
    });
    assert.equal(line, 'm,B=0,a=1,b=2 value="x" 5');
  });

  test('fields: strings quoted, bigints as integers, floats and booleans bare, sorted by key', () => {
    const line = encodePoint({
      measurement: 'm',
      tags: {},
      fields: { s: 'x', i: 7n, f: 1.5, t: true },
      time: 1n,
    });
    assert.equal(line, 'm f=1.5,i=7i,s="x",t=true 1');
    assert.throws(
      () => encodePoint({ measurement: 'm', tags: {}, fields: {}, time: 1n }),
      /at least one field/,
    );
    assert.throws(
      () => encodePoint({ measurement: 'm', tags: {}, fields: { f: Number.NaN }, time: 1n }),
      /finite/,
    );
  });

  test('RFC 3339 times become exact Unix nanoseconds, offsets and MicroTime included', () => {
    assert.equal(unixNanos('1970-01-01T00:00:00Z'), 0n);
    assert.equal(unixNanos('2024-05-01T10:00:00Z'), 1714557600000000000n);
    assert.equal(unixNanos('2024-05-01T10:00:00.123456Z'), 1714557600123456000n);
    assert.equal(unixNanos('2024-05-01T10:00:00.123456789Z'), 1714557600123456789n);
    assert.equal(unixNanos('2024-05-01T12:00:00+02:00'), 1714557600000000000n);
    assert.throws(() => unixNanos('2024-05-01'), /not an RFC 3339 time/);
    assert.throws(() => unixNanos('2024-13-01T00:00:00Z'), /not an RFC 3339 time/);
    assert.throws(() => unixNanos('2262-04-12T00:00:00Z'), /outside the times InfluxDB stores/);
  });
});

describe("heapster's points", () => {
  test('default: log/events, the Event as JSON in value, uid, hostname, cluster_name and pod tags', () => {
    const r = eventRecord({ uid: 'e-1', host: 'node-7', time: '2024-05-01T10:00:00Z' });
    const p = pointOf(r, { withFields: false, clusterName: 'prod' });
    assert.equal(p.measurement, 'log/events');
    assert.deepEqual(p.fields, { value: JSON.stringify(r.event) });
    assert.deepEqual(p.tags, {
      uid: 'e-1',
      hostname: 'node-7',
      cluster_name: 'prod',
      pod_id: '51b4a0e2-3c1d-4f6e-8a7b-9c0d1e2f3a4b',
      pod_name: 'web-6d4cf56db6-x2x7k',
    });
    assert.equal(p.time, 1714557600000000000n);
  });

  test('withfields: events, message and count fields, the nine tags, pod_id only for a Pod', () => {
    const r = eventRecord({
      uid: 'e-2',
      kind: 'Node',
      involvedName: 'node-2',
      namespace: 'default',
      count: 3,
    });
    const p = pointOf(r, { withFields: true, clusterName: 'default' });
    assert.equal(p.measurement, 'events');
    assert.deepEqual(p.fields, { message: r.event.message, count: 3n });
    assert.deepEqual(p.tags, {
      uid: 'e-2',
      hostname: 'node-1',
      cluster_name: 'default',
      pod_id: undefined,
      object_name: 'node-2',
      type: 'Warning',
      kind: 'Node',
      component: 'kubelet',
      reason: 'BackOff',
      namespace_name: 'default',
    });
  });

  test("withfields counts a new-style event's series.count; a measurement option renames it", () => {
    const r = eventRecord();
    (r.event as Record<string, unknown>).series = {
      count: 12,
      lastObservedTime: '2024-05-01T10:00:00.000000Z',
    };
    delete (r.event as Record<string, unknown>).count;
    const p = pointOf(r, { withFields: true, clusterName: 'c', measurement: 'k8s_events' });
    assert.equal(p.fields.count, 12n);
    assert.equal(p.measurement, 'k8s_events');
  });
});
