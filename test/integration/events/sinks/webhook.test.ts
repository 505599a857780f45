/**
 * The webhook sink against a loopback receiver over real HTTP and HTTPS: one POST of a JSON array per
 * batch, an Idempotency-Key that is the same whenever the same records are sent again, malformed records
 * found and rejected alone, every other failure retried, a private CA trusted through ca_file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventRecord } from '../../../../functions/events/record.ts';
import { webhookSink as webhook } from '../../../../functions/events/sinks/webhook.ts';
import { createCA, issueLoopbackServerCertificate } from '../../../../shared/pki.ts';
import { type Recorder, startRecorder } from '../../../helpers/http-recorder.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

let receiver: Recorder;
let dir: string;

before(async () => {
  receiver = await startRecorder();
  dir = await mkdtemp(join(tmpdir(), 'webhook-'));
});
after(async () => {
  await receiver?.close();
});

const sinkAt = (url: string) => webhook.create('webhook', webhook.parse(url), captureLog());
const ids = (body: string) => (JSON.parse(body) as EventRecord[]).map((r) => r.id);

describe('webhook sink', () => {
  test('POSTs the batch as a JSON array with an Idempotency-Key that is the same when it is sent again', async () => {
    receiver.respond = () => ({ status: 200, body: 'ok' });
    const sink = sinkAt(`${receiver.url}/hooks/k8s?source=cluster-a&timeout=5s`);
    const records = [eventRecord(), eventRecord({ verb: 'UPDATED' })];
    const first = receiver.requests.length;
    assert.deepEqual((await sink.deliver(batchOf(records), never)).rejected, []);
    assert.deepEqual((await sink.deliver(batchOf([...records]), never)).rejected, []);
    await sink.deliver(batchOf([records[0]!]), never);
    const [a, b, c] = receiver.requests.slice(first);
    assert.equal(a!.method, 'POST');
    assert.equal(a!.path, '/hooks/k8s');
    assert.deepEqual(Object.fromEntries(a!.query), { source: 'cluster-a' }, 'options are not sent on');
    assert.equal(a!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(a!.body), records);
    assert.match(String(a!.headers['idempotency-key']), /^[0-9a-f]{32}$/);
    assert.equal(b!.headers['idempotency-key'], a!.headers['idempotency-key']);
    assert.notEqual(c!.headers['idempotency-key'], a!.headers['idempotency-key']);
    await sink.close();
  });

  test('a record the receiver refuses (400) is rejected alone; the others are delivered, under stable keys', async () => {
    const poison = eventRecord({ reason: 'Poison' });
    const records = [eventRecord(), eventRecord(), eventRecord(), poison, eventRecord(), eventRecord()];
    receiver.respond = (r) =>
      r.body.includes('"Poison"')
        ? { status: 400, body: '{"error":"unknown reason Poison"}' }
        : { status: 202, body: '' };
    const sink = sinkAt(`${receiver.url}/hooks`);
    const deliverOnce = async () => {
      const from = receiver.requests.length;
      const { rejected } = await sink.deliver(batchOf(records), never);
      return { rejected, sent: receiver.requests.slice(from) };
    };
    const one = await deliverOnce();
    assert.deepEqual(one.rejected, [
      { id: poison.id, reason: 'HTTP 400: {"error":"unknown reason Poison"}' },
    ]);
    const accepted = one.sent.filter((r) => !r.body.includes('"Poison"')).flatMap((r) => ids(r.body));
    assert.deepEqual(
      accepted.sort(),
      records
        .filter((r) => r !== poison)
        .map((r) => r.id)
        .sort(),
    );
    const two = await deliverOnce();
    assert.deepEqual(
      two.sent.map((r) => r.headers['idempotency-key']),
      one.sent.map((r) => r.headers['idempotency-key']),
      'a redelivered batch is split the same way, each part under the same key',
    );
    await sink.close();
  });

  test('5xx, 429 and 408 are retryable SinkErrors, with the wait of Retry-After', async () => {
    const sink = sinkAt(`${receiver.url}/hooks`);
    for (const [status, retryAfter] of [
      [503, '2'],
      [429, '30'],
      [408, undefined],
      [500, undefined],
    ] as const) {
      receiver.respond = () => ({
        status,
        headers: retryAfter ? { 'retry-after': retryAfter } : ({} as Record<string, string>),
        body: 'busy',
      });
      await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), (err: Error) => {
        assert.equal(err.name, 'SinkError');
        assert.match(err.message, new RegExp(`^HTTP ${status}: busy`));
        assert.equal(
          (err as { retryAfterMs?: number }).retryAfterMs,
          retryAfter ? Number(retryAfter) * 1000 : undefined,
        );
        return true;
      });
    }
    await sink.close();
  });

  test('401, 403 and 404 mean the sink is misconfigured: retried (nothing is lost), never rejected', async () => {
    const sink = sinkAt(`${receiver.url}/hooks`);
    for (const status of [401, 403, 404]) {
      receiver.respond = () => ({ status, body: 'nope' });
      await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: new RegExp(`HTTP ${status} \\(refused until the sink configuration is fixed\\)`),
      });
    }
    await sink.close();
  });

  test('a receiver that does not answer is a SinkError after the timeout; a dropped connection too', async () => {
    receiver.respond = () => 'hang';
    const slow = sinkAt(`${receiver.url}/hooks?timeout=250ms`);
    await assert.rejects(slow.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /no answer within 250 ms/,
    });
    receiver.respond = () => 'reset';
    await assert.rejects(slow.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /socket hang up|ECONNRESET/,
    });
    await slow.close();
  });

  test("the caller's abort ends a POST at once", async () => {
    receiver.respond = () => 'hang';
    const sink = sinkAt(`${receiver.url}/hooks?timeout=1h`);
    const ac = new AbortController();
    const pending = sink.deliver(batchOf([eventRecord()]), ac.signal);
    setImmediate(() => ac.abort());
    await assert.rejects(pending, { name: 'SinkError', message: /aborted/ });
    await sink.close();
  });

  test('credentials come from files: a bearer token and extra headers', async () => {
    receiver.respond = () => ({ status: 204 });
    await writeFile(join(dir, 'token'), 'abc.def\n');
    await writeFile(join(dir, 'headers'), '# a Secret\nX-Api-Key: k-123\n\nX-Tenant: blue\n');
    const sink = sinkAt(
      `${receiver.url}/hooks?bearer_token_file=${join(dir, 'token')}&headers_file=${join(dir, 'headers')}`,
    );
    await sink.deliver(batchOf([eventRecord()]), never);
    const r = receiver.requests.at(-1)!;
    assert.equal(r.headers.authorization, 'Bearer abc.def');
    assert.equal(r.headers['x-api-key'], 'k-123');
    assert.equal(r.headers['x-tenant'], 'blue');
    await sink.close();
  });
});

describe('webhook sink over TLS', () => {
  test('trusts the receiver signed by the CA of ca_file, and no other', async () => {
    const ca = await createCA('receiver-ca');
    const cert = await issueLoopbackServerCertificate(ca, 'receiver');
    const tls = await startRecorder(() => ({ status: 200 }), cert);
    try {
      await writeFile(join(dir, 'ca.pem'), ca.certPem);
      const trusting = sinkAt(`${tls.url}/hooks?ca_file=${join(dir, 'ca.pem')}`);
      assert.deepEqual((await trusting.deliver(batchOf([eventRecord()]), never)).rejected, []);
      assert.equal(tls.requests.length, 1);
      await trusting.close();

      const other = await createCA('someone-else');
      await writeFile(join(dir, 'other.pem'), other.certPem);
      for (const query of ['', `?ca_file=${join(dir, 'other.pem')}`]) {
        const doubting = sinkAt(`${tls.url}/hooks${query}`);
        await assert.rejects(doubting.deliver(batchOf([eventRecord()]), never), {
          name: 'SinkError',
          message: /certificate/,
        });
        await doubting.close();
      }
      assert.equal(tls.requests.length, 1);
    } finally {
      await tls.close();
    }
  });
});
