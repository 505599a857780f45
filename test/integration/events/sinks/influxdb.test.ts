/**
 * The influxdb sink against a real InfluxDB 1.6.7 (`influxd`, started here on a free port): heapster's
 * two schemas as InfluxDB stores them, points at their records' times, redelivery overwriting instead of
 * adding, the database created when missing, escaping that round-trips, and a record InfluxDB refuses
 * found among good ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { influxdbSink as influxdb } from '../../../../functions/events/sinks/influxdb.ts';
import type { Sink } from '../../../../functions/events/sinks/sink.ts';
import { freePort } from '../../../../sim/processes.ts';
import { type Influxd, rows, startInfluxd } from '../../../helpers/influxd.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

let server: Influxd;
let dbSerial = 0;

before(async () => {
  server = await startInfluxd();
});
after(async () => {
  await server?.stop();
});

/** A sink on a database of its own (not created yet). */
function sinkFor(options: string) {
  const db = `k8s_${++dbSerial}`;
  const { log, lines } = captureLog();
  const sink = influxdb.create('influxdb', influxdb.parse(`${server.url}?db=${db}&${options}`), { log });
  return { sink, db, lines };
}

const select = async (db: string, q: string) => rows(await server.query(q, db));

describe('influxdb sink, heapster schema (default)', () => {
  test('writes one log/events point per record at the record time, into a database it creates', async () => {
    const { sink, db, lines } = sinkFor('cluster_name=prod');
    const pod = eventRecord({ time: '2024-05-01T10:00:00Z', host: 'node-1' });
    const micro = eventRecord({ time: '2024-05-01T10:00:01.123456Z', reason: 'Pulled' });
    const node = eventRecord({ kind: 'Node', involvedName: 'node-2', host: 'node-2', reason: 'NodeReady' });
    const delivery = await sink.deliver(batchOf([pod, micro, node]), never);
    assert.deepEqual(delivery.rejected, []);
    assert.ok(
      lines.some((l) => l.includes('Created InfluxDB database') && l.includes(db)),
      lines.join('\n'),
    );

    const got = await select(db, 'SELECT * FROM "log/events" GROUP BY *');
    const byUid = new Map(got.map((r) => [r.uid, r]));
    assert.equal(got.length, 3);
    const p = byUid.get(pod.event.metadata.uid)!;
    assert.equal(p.time, '2024-05-01T10:00:00Z');
    assert.deepEqual(
      { cluster_name: p.cluster_name, hostname: p.hostname, pod_id: p.pod_id, pod_name: p.pod_name },
      {
        cluster_name: 'prod',
        hostname: 'node-1',
        pod_id: '51b4a0e2-3c1d-4f6e-8a7b-9c0d1e2f3a4b',
        pod_name: 'web-6d4cf56db6-x2x7k',
      },
    );
    assert.deepEqual(JSON.parse(String(p.value)), pod.event);
    assert.equal(byUid.get(micro.event.metadata.uid)!.time, '2024-05-01T10:00:01.123456Z');
    // Not a pod: heapster writes no pod tags (InfluxDB answers an absent tag as "").
    const n = byUid.get(node.event.metadata.uid)!;
    assert.equal(n.pod_id, '');
    assert.equal(n.pod_name, '');
    await sink.close();
  });

  test('a redelivered batch overwrites its points; a count bump at a later time adds one', async () => {
    const { sink, db } = sinkFor('');
    const first = eventRecord({ time: '2024-05-01T10:00:00Z', count: 1 });
    const other = eventRecord({ time: '2024-05-01T10:00:00Z' });
    const batch = batchOf([first, other]);
    await sink.deliver(batch, never);
    await sink.deliver(batch, never);
    await sink.deliver(batchOf([first]), never);
    assert.equal((await select(db, 'SELECT * FROM "log/events"')).length, 2);

    const bump = eventRecord({
      uid: first.event.metadata.uid,
      resourceVersion: '9001',
      count: 2,
      time: '2024-05-01T10:05:00Z',
      verb: 'UPDATED',
    });
    await sink.deliver(batchOf([bump]), never);
    const points = await select(db, `SELECT * FROM "log/events" WHERE uid = '${first.event.metadata.uid}'`);
    assert.deepEqual(
      points.map((r) => [r.time, (JSON.parse(String(r.value)) as { count: number }).count]),
      [
        ['2024-05-01T10:00:00Z', 1],
        ['2024-05-01T10:05:00Z', 2],
      ],
    );
  });
});

describe('influxdb sink, withfields=true', () => {
  test("writes heapster's events measurement: message and count fields, its tags, no empty tag", async () => {
    const { sink, db } = sinkFor('withfields=true&cluster_name=prod');
    const r = eventRecord({
      namespace: 'shop',
      reason: 'BackOff',
      component: '',
      message: 'Back-off "web"\nrestarting, failed = yes',
      count: 7,
    });
    assert.deepEqual((await sink.deliver(batchOf([r]), never)).rejected, []);
    const [p] = await select(db, 'SELECT * FROM events GROUP BY *');
    assert.deepEqual(p, {
      time: '2024-05-01T10:00:00Z',
      cluster_name: 'prod',
      hostname: 'node-1',
      kind: 'Pod',
      namespace_name: 'shop',
      object_name: 'web-6d4cf56db6-x2x7k',
      pod_id: '51b4a0e2-3c1d-4f6e-8a7b-9c0d1e2f3a4b',
      reason: 'BackOff',
      type: 'Warning',
      uid: r.event.metadata.uid,
      // The line break is written as the two characters \n: line protocol has no raw line breaks.
      message: 'Back-off "web"\\nrestarting, failed = yes',
      count: 7,
    });
    const keys = rows(await server.query('SHOW TAG KEYS FROM events', db)).map((k) => k.tagKey);
    assert.ok(!keys.includes('component'), `an empty tag is omitted, got ${keys}`);
  });

  test('tag values and messages round-trip through InfluxDB, whatever characters they hold', async () => {
    const { sink, db } = sinkFor('withfields=true');
    const tricky = fc.string({
      unit: fc.constantFrom('a', 'Z', '0', ',', '=', ' ', '"', "'", '\\', '#', 'é', '😀', '\t', '/'),
      minLength: 1,
      maxLength: 12,
    });
    await fc.assert(
      fc.asyncProperty(tricky, tricky, tricky, async (reason, host, message) => {
        const r = eventRecord({ reason, host, message });
        assert.deepEqual((await sink.deliver(batchOf([r]), never)).rejected, []);
        const [p] = await select(db, `SELECT * FROM events WHERE uid = '${r.event.metadata.uid}' GROUP BY *`);
        // A backslash that would escape the next separator of a tag cannot be written (it is dropped).
        const tag = (s: string) => s.replace(/\\+(?=[,= ]|$)/g, '');
        assert.equal(p?.message, message);
        assert.equal(p?.reason ?? '', tag(reason));
        assert.equal(p?.hostname ?? '', tag(host));
      }),
      { numRuns: 60 },
    );
  });
});

describe('influxdb sink, refused records', () => {
  test('a record InfluxDB refuses is rejected with its reason; the others of its batch are written', async () => {
    const { sink, db } = sinkFor('withfields=true');
    // `count` already holds strings in the shard of 2024-01 (another writer's), so an integer count
    // there is a field type conflict; other weeks are separate shards and take integers.
    await server.query(`CREATE DATABASE ${db}`);
    const other = await fetch(`${server.url}/write?db=${db}`, {
      method: 'POST',
      body: 'events,uid=someone-else count="many" 1704412800000000000',
    });
    assert.equal(other.status, 204);
    const good = [0, 1, 2, 4, 5, 6].map((i) => eventRecord({ time: `2024-05-0${i + 1}T10:00:00Z` }));
    const bad = eventRecord({ time: '2024-01-05T12:00:00Z' });
    const batch = [...good.slice(0, 3), bad, ...good.slice(3)];
    const { rejected } = await sink.deliver(batchOf(batch), never);
    assert.deepEqual(
      rejected.map((x) => x.id),
      [bad.id],
    );
    assert.match(rejected[0]!.reason, /HTTP 400: .*field type conflict/);
    const written = await select(db, 'SELECT "message" FROM events WHERE uid != \'someone-else\'');
    assert.equal(written.length, good.length);
  });

  test('a record whose time InfluxDB cannot store is rejected before anything is sent', async () => {
    const { sink, db } = sinkFor('');
    const far = eventRecord({ time: '2300-01-01T00:00:00Z' });
    const ok = eventRecord();
    const { rejected } = await sink.deliver(batchOf([far, ok]), never);
    assert.deepEqual(
      rejected.map((x) => x.id),
      [far.id],
    );
    assert.match(rejected[0]!.reason, /outside the times InfluxDB stores/);
    assert.equal((await select(db, 'SELECT * FROM "log/events"')).length, 1);
  });

  test('an InfluxDB that is gone is a retryable SinkError naming the cause', async () => {
    const nobody = await freePort();
    const s: Sink = influxdb.create(
      'influxdb',
      influxdb.parse(`http://127.0.0.1:${nobody}?db=x`),
      captureLog(),
    );
    await assert.rejects(s.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /ECONNREFUSED/,
    });
  });
});
