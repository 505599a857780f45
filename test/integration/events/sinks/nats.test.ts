/**
 * The nats sink against real NATS servers with JetStream: the machine's (127.0.0.1:4222, a stream and
 * subject of this test's own so parallel runs never meet) and, for credentials, a private nats-server
 * with a user and password. Each record is stored once, with Nats-Msg-Id = its id; a redelivery is
 * dropped by the stream itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { EventRecord } from '../../../../functions/events/record.ts';
import { natsSink as nats } from '../../../../functions/events/sinks/nats.ts';
import { freePort, waitFor } from '../../../../sim/processes.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

const SERVER = 'nats://127.0.0.1:4222';
const run = `${process.pid}_${Date.now().toString(36)}`;
let serial = 0;
let nc: NatsConnection;
let jsm: JetStreamManager;
const streams: string[] = [];

/** A stream name and subject no other test (or run) uses. */
function unique() {
  const n = ++serial;
  const stream = `SINKTEST_${run}_${n}`;
  streams.push(stream);
  return { stream, subject: `sinktest.${run}.${n}.events` };
}

before(async () => {
  nc = await connect({ servers: SERVER, timeout: 5000 });
  jsm = await jetstreamManager(nc);
});
after(async () => {
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc?.drain();
});

async function stored(stream: string): Promise<{ id: string | undefined; record: EventRecord }[]> {
  const n = (await jsm.streams.info(stream)).state.messages;
  const out = [];
  for (let seq = 1; seq <= n; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    out.push({ id: m!.header.get('Nats-Msg-Id'), record: m!.json<EventRecord>() });
  }
  return out;
}

describe('nats sink', () => {
  test('publishes each record to the subject, in order, with Nats-Msg-Id = its id', async () => {
    const { stream, subject } = unique();
    await jsm.streams.add({ name: stream, subjects: [subject] });
    const sink = nats.create('nats', nats.parse(`${SERVER}?subject=${subject}`), captureLog());
    const records = [eventRecord(), eventRecord({ verb: 'UPDATED' }), eventRecord()];
    assert.deepEqual((await sink.deliver(batchOf(records), never)).rejected, []);
    assert.deepEqual(
      await stored(stream),
      records.map((record) => ({ id: record.id, record })),
    );
    await sink.close();
  });

  test('a redelivered batch is dropped by the stream: every record is stored once', async () => {
    const { stream, subject } = unique();
    await jsm.streams.add({ name: stream, subjects: [subject] });
    const sink = nats.create(
      'nats',
      nats.parse(`${SERVER}?subject=${subject}&stream=${stream}`),
      captureLog(),
    );
    const records = [eventRecord(), eventRecord(), eventRecord()];
    await sink.deliver(batchOf(records), never);
    await sink.deliver(batchOf(records), never);
    await sink.deliver(batchOf([records[1]!, eventRecord({ reason: 'Pulled' })]), never);
    const got = await stored(stream);
    assert.equal(got.length, 4);
    assert.equal(new Set(got.map((m) => m.id)).size, 4);
    await sink.close();
  });

  test('with stream=, a missing stream is created on the subject with the duplicate window asked for', async () => {
    const { stream, subject } = unique();
    const { log, lines } = captureLog();
    const sink = nats.create(
      'nats',
      nats.parse(`${SERVER}?subject=${subject}&stream=${stream}&duplicate_window=5m`),
      {
        log,
      },
    );
    await sink.deliver(batchOf([eventRecord()]), never);
    const info = await jsm.streams.info(stream);
    assert.deepEqual(info.config.subjects, [subject]);
    assert.equal(info.config.duplicate_window, 5 * 60e9);
    assert.equal(info.state.messages, 1);
    assert.ok(
      lines.some((l) => l.includes('Created JetStream stream') && l.includes(stream)),
      lines.join('\n'),
    );
    await sink.close();
  });

  test('no stream for the subject is a retryable SinkError that says so', async () => {
    const { subject } = unique();
    const sink = nats.create('nats', nats.parse(`${SERVER}?subject=${subject}&timeout=2s`), captureLog());
    try {
      await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: new RegExp(`no stream captures subject ${subject.replaceAll('.', '\\.')}`),
      });
    } finally {
      await sink.close();
    }
  });

  test("a record larger than the stream's max_msg_size is rejected alone; the others are stored", async () => {
    const { stream, subject } = unique();
    await jsm.streams.add({ name: stream, subjects: [subject], max_msg_size: 4096 });
    const sink = nats.create('nats', nats.parse(`${SERVER}?subject=${subject}`), captureLog());
    const big = eventRecord({ message: 'x'.repeat(8000) });
    const records = [eventRecord(), big, eventRecord()];
    const { rejected } = await sink.deliver(batchOf(records), never);
    assert.deepEqual(
      rejected.map((r) => r.id),
      [big.id],
    );
    assert.match(rejected[0]!.reason, /message size exceeds maximum/);
    // Past the server's max_payload (1 MiB here) the client refuses it before sending.
    const huge = eventRecord({ message: 'y'.repeat(1_100_000) });
    const again = await sink.deliver(batchOf([huge]), never);
    assert.deepEqual(again.rejected, [{ id: huge.id, reason: "larger than the server's max_payload" }]);
    assert.deepEqual(
      (await stored(stream)).map((m) => m.id),
      [records[0]!.id, records[2]!.id],
    );
    await sink.close();
  });

  test('a server that is down is a SinkError; the next delivery connects once it is back', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'nats-'));
    const { subject, stream } = unique();
    const sink = nats.create(
      'nats',
      nats.parse(`nats://127.0.0.1:${port}?subject=${subject}&stream=${stream}&timeout=2s`),
      captureLog(),
    );
    await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: new RegExp(`nats://127\\.0\\.0\\.1:${port}`),
    });
    const server = await startNatsServer(port, dir, []);
    try {
      assert.deepEqual((await sink.deliver(batchOf([eventRecord()]), never)).rejected, []);
    } finally {
      await sink.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a server that never speaks is a SinkError after the timeout; the caller's abort ends it at once", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const { subject } = unique();
    const slow = nats.create(
      'nats',
      nats.parse(`nats://127.0.0.1:${port}?subject=${subject}&timeout=300ms`),
      captureLog(),
    );
    const waiting = nats.create(
      'nats',
      nats.parse(`nats://127.0.0.1:${port}?subject=${subject}&timeout=1h`),
      captureLog(),
    );
    try {
      await assert.rejects(slow.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: /TIMEOUT|timeout/i,
      });
      const ac = new AbortController();
      const pending = waiting.deliver(batchOf([eventRecord()]), ac.signal);
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(pending, { name: 'SinkError', message: /aborted/ });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await Promise.all([slow.close(), waiting.close()]);
    }
  });
});

describe('nats sink credentials', () => {
  test('user and pw_file authenticate; a wrong password is a SinkError naming the refusal', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'nats-auth-'));
    const server = await startNatsServer(port, dir, ['--user', 'events', '--pass', 'n4ts-s3cret']);
    try {
      await writeFile(join(dir, 'pw'), 'n4ts-s3cret\n');
      await writeFile(join(dir, 'wrong'), 'guess\n');
      const { subject, stream } = unique();
      const base = `nats://127.0.0.1:${port}?subject=${subject}&stream=${stream}&user=events&timeout=3s`;
      const wrong = nats.create('nats', nats.parse(`${base}&pw_file=${join(dir, 'wrong')}`), captureLog());
      await assert.rejects(wrong.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: /authorization violation/i,
      });
      await wrong.close();
      const right = nats.create('nats', nats.parse(`${base}&pw_file=${join(dir, 'pw')}`), captureLog());
      assert.deepEqual((await right.deliver(batchOf([eventRecord()]), never)).rejected, []);
      await right.close();
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A private nats-server with JetStream on `port`, its store in `dir`. */
async function startNatsServer(port: number, dir: string, args: string[]) {
  const child = spawn(
    '/usr/sbin/nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...args],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(`nats-server on ${port}`, 10_000, async () => {
    if (child.exitCode !== null) throw new Error('nats-server exited');
    const probe = await connect({
      servers: `nats://127.0.0.1:${port}`,
      timeout: 500,
      reconnect: false,
    }).catch((err: Error) => (/authorization/i.test(err.message) ? 'up' : undefined));
    if (probe === undefined) return false;
    if (probe !== 'up') await probe.close();
    return true;
  });
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
