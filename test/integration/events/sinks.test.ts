/**
 * The stdout and redis sinks over real connections: records as lines on a stream; records XADDed to a
 * real Redis stream, in the function's own Redis or another database, a redelivered batch adding
 * nothing, a failure a retryable SinkError.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { buildRecord, type EventRecord, type KubeEvent } from '../../../functions/events/record.ts';
import { redisSink } from '../../../functions/events/sinks/redis.ts';
import { batchOf, SinkError } from '../../../functions/events/sinks/sink.ts';
import { StreamSink } from '../../../functions/events/sinks/stdout.ts';
import { createLogger } from '../../../shared/log.ts';
import { startRedisServer } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
let other: TestDb;
before(async () => {
  db = await leaseTestDb();
  other = await leaseTestDb();
});
after(async () => {
  await db.release();
  await other.release();
});
beforeEach(async () => {
  await db.redis.flushdb();
  await other.redis.flushdb();
});

const log = createLogger({ write: () => {} });
const never = new AbortController().signal;
let rv = 1;
const record = (over: Record<string, unknown> = {}): EventRecord =>
  buildRecord(
    {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: { uid: `u${++rv}`, resourceVersion: String(rv), name: `e${rv}`, namespace: 'shop' },
      reason: 'Pulled',
      message: 'line one\nline "two"',
      lastTimestamp: '2026-03-01T10:00:00Z',
      ...over,
    } as KubeEvent,
    null,
  );

describe('the stdout sink', () => {
  test('writes one record per line, as JSON with the keys id, verb, time, event, old_event', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const sink = new StreamSink('stdout', out);
    const records = [record(), record()];
    assert.deepEqual(await sink.deliver(batchOf(records), never), { rejected: [] });
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.deepEqual(JSON.parse(lines[0]!), records[0]);
    assert.deepEqual(Object.keys(JSON.parse(lines[1]!)), ['id', 'verb', 'time', 'event', 'old_event']);
  });

  test('fails the batch (retried) when its stream cannot be written', async () => {
    const broken = new Writable({
      write: (_c, _e, cb) => cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })),
    });
    broken.on('error', () => {});
    const sink = new StreamSink('stdout', broken);
    await assert.rejects(
      sink.deliver(batchOf([record()]), never),
      (err) => err instanceof SinkError && /EPIPE/.test(err.message),
    );
  });
});

type Entry = [string, string[]];
const fields = (e: Entry) =>
  Object.fromEntries(e[1].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));

describe('the redis sink', () => {
  test("XADDs each record to the user's stream in the function's own Redis: id, verb, time and the record", async () => {
    const sink = redisSink.create('redis', redisSink.parse('?stream=k8s-events'), { log, redis: db.redis });
    const records = [record(), record()];
    await sink.deliver(batchOf(records), never);
    const entries = (await db.redis.xrange('k8s-events', '-', '+')) as Entry[];
    assert.deepEqual(
      entries.map((e) => {
        const f = fields(e);
        return [f.id, f.verb, f.time, JSON.parse(String(f.record))];
      }),
      records.map((r) => [r.id, r.verb, r.time, r]),
    );
    await sink.close();
    assert.equal(await db.redis.ping(), 'PONG', "the function's own client is not closed by the sink");
  });

  test('adds nothing when a batch is delivered again (after a crash), and only the new records of an overlapping one', async () => {
    const sink = redisSink.create('redis', redisSink.parse(''), { log, redis: db.redis });
    const [a, b, c] = [record(), record(), record()];
    await sink.deliver(batchOf([a!, b!]), never);
    await sink.deliver(batchOf([a!, b!]), never);
    await sink.deliver(batchOf([b!, c!]), never);
    const ids = ((await db.redis.xrange('k8s-events', '-', '+')) as Entry[]).map((e) => fields(e).id);
    assert.deepEqual(ids, [a!.id, b!.id, c!.id]);
  });

  test('writes to another Redis database given by URL, capped by maxlen', async () => {
    const url = `${other.url}?stream=audit&maxlen=3`;
    const sink = redisSink.create('redis', redisSink.parse(url), { log, redis: db.redis });
    for (let i = 0; i < 5; i++) await sink.deliver(batchOf([record(), record()]), never);
    assert.equal(await db.redis.exists('audit'), 0);
    const len = await other.redis.xlen('audit');
    // MAXLEN ~ trims whole macro nodes: the cap is approximate, never far above.
    assert.ok(len >= 3 && len <= 10, String(len));
    await sink.close();
  });

  test('logs in to another Redis with the password read from password_file', async () => {
    const server = await startRedisServer();
    const admin = new Redis({ port: server.port, lazyConnect: true });
    await admin.connect();
    await admin.config('SET', 'requirepass', 'evt-s3cret');
    admin.disconnect();
    const dir = mkdtempSync(join(tmpdir(), 'redis-sink-'));
    try {
      writeFileSync(join(dir, 'password'), 'evt-s3cret\n');
      const sink = redisSink.create(
        'redis',
        redisSink.parse(`redis://127.0.0.1:${server.port}/0?stream=s&password_file=${join(dir, 'password')}`),
        { log },
      );
      const r = record();
      await sink.deliver(batchOf([r]), never);
      await sink.close();
      const check = new Redis({ port: server.port, password: 'evt-s3cret', lazyConnect: true });
      await check.connect();
      const [entry] = (await check.xrange('s', '-', '+')) as Entry[];
      assert.equal(fields(entry!).id, r.id);
      check.disconnect();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
    }
  });

  test('fails the batch as retryable when the stream cannot take it, naming the stream', async () => {
    await db.redis.set('not-a-stream', 'x');
    const sink = redisSink.create('redis', redisSink.parse('?stream=not-a-stream'), { log, redis: db.redis });
    await assert.rejects(
      sink.deliver(batchOf([record()]), never),
      (err) => err instanceof SinkError && /stream not-a-stream on this Redis: .*WRONGTYPE/.test(err.message),
    );
  });

  test('fails as retryable while its Redis is unreachable', async () => {
    const sink = redisSink.create('redis', redisSink.parse('redis://127.0.0.1:1/0?stream=x'), { log });
    await assert.rejects(sink.deliver(batchOf([record()]), never), (err) => err instanceof SinkError);
    await sink.close();
  });
});
