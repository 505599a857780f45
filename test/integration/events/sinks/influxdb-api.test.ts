/**
 * The influxdb sink's requests for InfluxDB 2.x and 3.x (no such server can be installed here, so a
 * loopback HTTP server records what the sink sends), and what it makes of answers a 1.6.7 server never
 * gives: throttling, outages, InfluxDB 3's named partial writes, silence.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { influxdbSink as influxdb } from '../../../../functions/events/sinks/influxdb.ts';
import { type Recorder, startRecorder } from '../../../helpers/http-recorder.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

let server: Recorder;
let secrets: string;

before(async () => {
  server = await startRecorder();
  secrets = await mkdtemp(join(tmpdir(), 'influx-secrets-'));
  await writeFile(join(secrets, 'token'), 'tok-3n5Q\n');
  await writeFile(join(secrets, 'pw'), 's3cret\n');
});
after(async () => {
  await server?.close();
});

const sink = (query: string) =>
  influxdb.create('influxdb', influxdb.parse(`${server.url}?${query}`), captureLog());

async function lastRequestFor(query: string) {
  server.respond = () => ({ status: 204 });
  const records = [eventRecord({ time: '2024-05-01T10:00:00.5Z' }), eventRecord()];
  assert.deepEqual((await sink(query).deliver(batchOf(records), never)).rejected, []);
  return { request: server.requests.at(-1)!, records };
}

describe('influxdb sink, request shapes', () => {
  test('v2: /api/v2/write with org, bucket, ns precision and the token from its file', async () => {
    const { request, records } = await lastRequestFor(
      `api=v2&org=acme&bucket=events&token_file=${join(secrets, 'token')}`,
    );
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/v2/write');
    assert.deepEqual(Object.fromEntries(request.query), { org: 'acme', bucket: 'events', precision: 'ns' });
    assert.equal(request.headers.authorization, 'Token tok-3n5Q');
    assert.equal(request.headers['content-type'], 'text/plain; charset=utf-8');
    const lines = request.body.split('\n');
    assert.equal(lines.length, 2);
    assert.match(
      lines[0]!,
      /^log\/events,cluster_name=default,hostname=node-1,pod_id=[^ ]+,pod_name=[^ ]+,uid=[^ ]+ value="/,
    );
    assert.ok(lines[0]!.endsWith(' 1714557600500000000'), lines[0]);
    assert.ok(lines[1]!.includes(records[1]!.event.metadata.uid));
  });

  test('v2 on InfluxDB 1.8: bucket db/rp and the token user:password, as its compatibility API takes', async () => {
    const { request } = await lastRequestFor(
      `api=v2&db=k8s&rp=week&user=heapster&pw_file=${join(secrets, 'pw')}`,
    );
    assert.deepEqual(Object.fromEntries(request.query), { bucket: 'k8s/week', precision: 'ns' });
    assert.equal(request.headers.authorization, 'Token heapster:s3cret');
  });

  test('v3: /api/v3/write_lp with db, nanosecond precision, partial writes and a bearer token', async () => {
    const { request } = await lastRequestFor(`api=v3&db=k8s&token_file=${join(secrets, 'token')}`);
    assert.equal(request.path, '/api/v3/write_lp');
    assert.deepEqual(Object.fromEntries(request.query), {
      db: 'k8s',
      precision: 'nanosecond',
      accept_partial: 'true',
    });
    assert.equal(request.headers.authorization, 'Bearer tok-3n5Q');
  });

  test('v1: /write with db, rp and ns precision, the password as Basic auth (never in the URL)', async () => {
    const { request } = await lastRequestFor(`db=k8s&rp=week&user=heapster&pw_file=${join(secrets, 'pw')}`);
    assert.equal(request.path, '/write');
    assert.deepEqual(Object.fromEntries(request.query), { db: 'k8s', rp: 'week', precision: 'ns' });
    assert.equal(request.headers.authorization, `Basic ${Buffer.from('heapster:s3cret').toString('base64')}`);
  });
});

describe('influxdb sink, answers', () => {
  test('v3 names the lines it refused: exactly those records are rejected, nothing is sent again', async () => {
    const records = [eventRecord(), eventRecord(), eventRecord()];
    server.respond = () => ({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        error: 'partial write of line protocol occurred',
        data: [{ original_line: '…', line_number: 2, error_message: 'invalid column type for column count' }],
      }),
    });
    const before = server.requests.length;
    const { rejected } = await sink('api=v3&db=k8s').deliver(batchOf(records), never);
    assert.deepEqual(rejected, [{ id: records[1]!.id, reason: 'invalid column type for column count' }]);
    assert.equal(server.requests.length - before, 1);
  });

  test('v1: a missing database it may not create is a SinkError naming the database and the refusal', async () => {
    server.respond = (r) =>
      r.path === '/write'
        ? { status: 404, body: '{"error":"database not found: \\"k8s\\""}' }
        : { status: 200, body: '{"results":[{"statement_id":0,"error":"requires admin privilege"}]}' };
    const from = server.requests.length;
    await assert.rejects(
      sink(`db=k8s&retention=7d&user=heapster&pw_file=${join(secrets, 'pw')}`).deliver(
        batchOf([eventRecord()]),
        never,
      ),
      {
        name: 'SinkError',
        message:
          /database k8s not found, and CREATE DATABASE "k8s" WITH DURATION 7d failed: HTTP 200: .*admin privilege/,
      },
    );
    const create = server.requests.slice(from).find((r) => r.path === '/query')!;
    assert.equal(new URLSearchParams(create.body).get('q'), 'CREATE DATABASE "k8s" WITH DURATION 7d');
    assert.equal(create.headers.authorization, `Basic ${Buffer.from('heapster:s3cret').toString('base64')}`);
  });

  test('throttling (429 with Retry-After) and outages (503) are retryable SinkErrors', async () => {
    server.respond = () => ({
      status: 429,
      headers: { 'retry-after': '7' },
      body: '{"code":"too many requests"}',
    });
    await assert.rejects(sink('api=v2&bucket=b').deliver(batchOf([eventRecord()]), never), (err: Error) => {
      assert.equal(err.name, 'SinkError');
      assert.match(err.message, /HTTP 429/);
      assert.equal((err as { retryAfterMs?: number }).retryAfterMs, 7000);
      return true;
    });
    server.respond = () => ({ status: 503, body: 'shutting down' });
    await assert.rejects(sink('').deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /HTTP 503: shutting down/,
    });
  });

  test('bad credentials (401) are retried, not rejected: the records wait until they are fixed', async () => {
    server.respond = () => ({ status: 401, body: '{"error":"authorization failed"}' });
    await assert.rejects(sink('').deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /HTTP 401 \(refused until the sink configuration is fixed\): .*authorization failed/,
    });
  });

  test('a server that does not answer is a SinkError after the timeout', async () => {
    server.respond = () => 'hang';
    await assert.rejects(sink('timeout=300ms').deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /no answer within 300 ms/,
    });
  });

  test("the caller's abort ends a write at once", async () => {
    server.respond = () => 'hang';
    const ac = new AbortController();
    const pending = sink('timeout=1h').deliver(batchOf([eventRecord()]), ac.signal);
    ac.abort();
    await assert.rejects(pending, { name: 'SinkError', message: /aborted/ });
  });
});
