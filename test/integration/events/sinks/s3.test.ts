/**
 * The s3 sink through @aws-sdk/client-s3 against s3rver (a real S3 API over HTTP): one NDJSON object
 * per batch under `<prefix>/YYYY/MM/DD/`, a name that makes a retried upload replace itself, and
 * failures (no bucket, no server, no answer) that are retried, never dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Sink as s3 } from '../../../../functions/events/sinks/s3.ts';
import { freePort } from '../../../../sim/processes.ts';
import { startRecorder } from '../../../helpers/http-recorder.ts';
import { type S3Server, startS3rver, useS3rverCredentials } from '../../../helpers/s3rver.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

let server: S3Server;

before(async () => {
  useS3rverCredentials();
  server = await startS3rver(['events', 'other']);
});
after(async () => {
  await server?.stop();
});

const sinkFor = (query: string) => s3.create('s3', s3.parse(`?${query}`), captureLog());

async function keys(bucket: string, prefix: string) {
  const list = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (list.Contents ?? []).map((o) => o.Key!);
}

async function read(bucket: string, key: string) {
  const o = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { text: await o.Body!.transformToString(), type: o.ContentType };
}

describe('s3 sink', () => {
  test('uploads each batch as NDJSON under prefix/YYYY/MM/DD/ of its first record, zero-padded', async () => {
    const sink = sinkFor(`bucket=events&prefix=k8s/prod&endpoint=${server.endpoint}&region=eu-west-1`);
    const records = [
      eventRecord({ time: '2024-01-05T07:08:09Z' }),
      eventRecord({ time: '2024-01-05T07:08:10.5Z', verb: 'UPDATED' }),
    ];
    const batch = batchOf(records);
    assert.deepEqual((await sink.deliver(batch, never)).rejected, []);
    assert.deepEqual(await keys('events', 'k8s/prod/'), [`k8s/prod/2024/01/05/070809Z-${batch.key}.ndjson`]);
    const { text, type } = await read('events', `k8s/prod/2024/01/05/070809Z-${batch.key}.ndjson`);
    assert.equal(type, 'application/x-ndjson');
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(
      text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      records,
    );
    await sink.close();
  });

  test('a batch uploaded again replaces its object; another batch is another object', async () => {
    const sink = sinkFor(`bucket=events&prefix=replay&endpoint=${server.endpoint}`);
    const records = [eventRecord({ time: '2024-11-30T23:59:59Z' }), eventRecord()];
    await sink.deliver(batchOf(records), never);
    await sink.deliver(batchOf([...records]), never);
    assert.equal((await keys('events', 'replay/')).length, 1);
    await sink.deliver(batchOf([eventRecord({ time: '2024-12-01T00:00:00Z' })]), never);
    const all = await keys('events', 'replay/');
    assert.equal(all.length, 2);
    assert.deepEqual(
      all.map((k) => k.split('/').slice(1, 4).join('-')),
      ['2024-11-30', '2024-12-01'],
    );
    await sink.close();
  });

  test('without a prefix, objects start with the year', async () => {
    const sink = sinkFor(`bucket=other&endpoint=${server.endpoint}`);
    const batch = batchOf([eventRecord({ time: '2025-03-04T05:06:07Z' })]);
    await sink.deliver(batch, never);
    assert.deepEqual(await keys('other', ''), [`2025/03/04/050607Z-${batch.key}.ndjson`]);
    await sink.close();
  });

  test('a missing bucket is a retryable SinkError naming it; nothing is rejected', async () => {
    const sink = sinkFor(`bucket=nowhere&endpoint=${server.endpoint}`);
    await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /bucket nowhere at 127\.0\.0\.1:\d+: NoSuchBucket \(HTTP 404\)/,
    });
    await sink.close();
  });

  test('no server, or one that never answers, is a SinkError; so is the caller aborting', async () => {
    const down = sinkFor(`bucket=events&endpoint=http://127.0.0.1:${await freePort()}`);
    await assert.rejects(down.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /ECONNREFUSED/,
    });
    await down.close();

    const silent = await startRecorder(() => 'hang');
    try {
      const slow = sinkFor(`bucket=events&endpoint=${silent.url}&timeout=300ms`);
      await assert.rejects(slow.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: /no answer within 300 ms/,
      });
      const ac = new AbortController();
      const waiting = sinkFor(`bucket=events&endpoint=${silent.url}`);
      const pending = waiting.deliver(batchOf([eventRecord()]), ac.signal);
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(pending, { name: 'SinkError', message: /aborted/ });
      await waiting.close();
      await slow.close();
    } finally {
      await silent.close();
    }
  });
});
