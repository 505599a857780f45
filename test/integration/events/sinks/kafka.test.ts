/**
 * The kafka sink through kafkajs against the minimal Kafka broker of the test helpers, over TCP: the
 * client's real ApiVersions, Metadata and Produce requests, their record batches decoded (gzip too) and
 * CRC-checked. Keys are event uids, values the records, every write waits for all replicas, and the
 * broker's answers are told apart: a record it will never take is rejected, everything else retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventRecord } from '../../../../functions/events/record.ts';
import { createKafkaSink, kafkaSink as kafka } from '../../../../functions/events/sinks/kafka.ts';
import { freePort, waitFor } from '../../../../sim/processes.ts';
import { type Broker, crc32c, startBroker } from '../../../helpers/kafka-broker.ts';
import { batchOf, captureLog, eventRecord, never } from '../../../helpers/sink-records.ts';

let broker: Broker;

before(async () => {
  broker = await startBroker({ 'k8s-events': 3, small: 1 });
});
after(async () => {
  await broker?.close();
});

const sinkFor = (query: string) =>
  kafka.create('kafka', kafka.parse(`?brokers=${broker.address}&${query}`), captureLog());

describe('kafka test broker', () => {
  test('checks record batches with CRC-32C (the check value of "123456789" is 0xE3069283)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });
});

describe('kafka sink', () => {
  test('writes each record keyed by its event uid, valued by its JSON, with acks=-1, id and verb headers', async () => {
    const sink = sinkFor('topic=k8s-events&client_id=events-prod');
    const records = [
      eventRecord({ time: '2024-05-01T10:00:00Z' }),
      eventRecord({ time: '2024-05-01T10:00:01.25Z', verb: 'UPDATED' }),
    ];
    const from = broker.records.length;
    assert.deepEqual((await sink.deliver(batchOf(records), never)).rejected, []);
    assert.deepEqual(broker.errors, []);
    // Order holds within a partition (the next test); these two may land on different ones.
    const got = broker.records.slice(from).sort((a, b) => a.headers.id!.localeCompare(b.headers.id!));
    assert.deepEqual(
      got.map((m) => ({
        topic: m.topic,
        key: m.key,
        value: JSON.parse(m.value!) as EventRecord,
        headers: m.headers,
        timestamp: m.timestamp,
      })),
      records.map((r) => ({
        topic: 'k8s-events',
        key: r.event.metadata.uid,
        value: r,
        headers: { id: r.id, verb: r.verb },
        timestamp: Date.parse(r.time),
      })),
    );
    assert.ok(got.every((m) => m.acks === -1 && m.compression === 'none'));
    assert.equal(broker.produces.at(-1)!.clientId, 'events-prod');
    await sink.close();
  });

  test("an event's versions share a partition (the key decides it); other events spread over the topic", async () => {
    const sink = sinkFor('topic=k8s-events');
    const uid = 'a3c1f2e4-0000-4b7e-9d3a-000000000001';
    const versions = [1, 2, 3].map((n) => eventRecord({ uid, resourceVersion: String(n), count: n }));
    const others = Array.from({ length: 30 }, () => eventRecord());
    const from = broker.records.length;
    await sink.deliver(batchOf([...versions, ...others]), never);
    const got = broker.records.slice(from);
    const mine = got.filter((m) => m.key === uid);
    assert.equal(new Set(mine.map((m) => m.partition)).size, 1);
    assert.deepEqual(
      mine.map((m) => m.headers.id),
      versions.map((v) => v.id),
      'in journal order',
    );
    assert.equal(new Set(got.map((m) => m.partition)).size, 3);
    await sink.close();
  });

  test('compression=gzip sends gzip record batches that decode to the same records', async () => {
    const sink = sinkFor('topic=k8s-events&compression=gzip');
    const records = [eventRecord(), eventRecord()];
    const from = broker.records.length;
    await sink.deliver(batchOf(records), never);
    assert.deepEqual(broker.errors, []);
    const got = broker.records.slice(from);
    assert.ok(got.every((m) => m.compression === 'gzip'));
    assert.deepEqual(got.map((m) => m.headers.id).sort(), records.map((r) => r.id).sort());
    await sink.close();
  });

  test("heapster's form carries over: repeated brokers= and eventstopic=", async () => {
    const sink = kafka.create(
      'kafka',
      kafka.parse(`?brokers=${broker.address}&brokers=127.0.0.1:${await freePort()}&eventstopic=small`),
      captureLog(),
    );
    const from = broker.records.length;
    await sink.deliver(batchOf([eventRecord()]), never);
    assert.equal(broker.records.slice(from)[0]?.topic, 'small');
    await sink.close();
  });

  test('a record the broker calls too large is rejected alone; the others are written', async () => {
    const sink = sinkFor('topic=small');
    const big = eventRecord({ reason: 'Huge' });
    const records = [eventRecord(), eventRecord(), big, eventRecord()];
    broker.onProduce = (_t, _p, recs) => (recs.some((r) => r.value?.includes('"Huge"')) ? 10 : 0);
    try {
      const from = broker.records.length;
      const { rejected } = await sink.deliver(batchOf(records), never);
      assert.deepEqual(
        rejected.map((r) => r.id),
        [big.id],
      );
      assert.match(rejected[0]!.reason, /^MESSAGE_TOO_LARGE: /);
      assert.deepEqual(
        broker.records.slice(from).map((m) => m.headers.id),
        records.filter((r) => r !== big).map((r) => r.id),
      );
    } finally {
      broker.onProduce = () => 0;
      await sink.close();
    }
  });

  test('a record over max_message_bytes is rejected before anything is sent', async () => {
    const sink = sinkFor('topic=small&max_message_bytes=4096');
    const big = eventRecord({ message: 'x'.repeat(5000) });
    const ok = eventRecord();
    const from = broker.records.length;
    const { rejected } = await sink.deliver(batchOf([big, ok]), never);
    assert.deepEqual(
      rejected.map((r) => r.id),
      [big.id],
    );
    assert.match(rejected[0]!.reason, /more than max_message_bytes=4096/);
    assert.deepEqual(
      broker.records.slice(from).map((m) => m.headers.id),
      [ok.id],
    );
    await sink.close();
  });

  test('a leader that is not there (a retriable broker error) is a SinkError; the retry goes through', async () => {
    const sink = sinkFor('topic=small');
    broker.onProduce = () => 6; // NOT_LEADER_FOR_PARTITION
    try {
      await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: /topic small: .*leader/i,
      });
      broker.onProduce = () => 0;
      const retried = eventRecord();
      assert.deepEqual(
        (await sink.deliver(batchOf([retried]), never)).rejected,
        [],
        'the retry goes through',
      );
      assert.equal(broker.records.at(-1)?.headers.id, retried.id);
    } finally {
      broker.onProduce = () => 0;
      await sink.close();
    }
  });

  test('a topic the broker does not have is a SinkError naming it', async () => {
    const sink = sinkFor('topic=nowhere&timeout=2s');
    await assert.rejects(sink.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: /topic nowhere/,
    });
    await sink.close();
  });

  test('no broker is a SinkError naming the address; one that never answers, after the timeout', async () => {
    const port = await freePort();
    const down = kafka.create('kafka', kafka.parse(`?brokers=127.0.0.1:${port}&topic=small`), captureLog());
    await assert.rejects(down.deliver(batchOf([eventRecord()]), never), {
      name: 'SinkError',
      message: new RegExp(
        `127\\.0\\.0\\.1:${port}.*ECONNREFUSED|ECONNREFUSED.*127\\.0\\.0\\.1:${port}|Connection error`,
      ),
    });
    await down.close();

    const mute = await startBroker({ small: 1 });
    mute.silent = true;
    try {
      const slow = kafka.create(
        'kafka',
        kafka.parse(`?brokers=${mute.address}&topic=small&timeout=500ms`),
        captureLog(),
      );
      await assert.rejects(slow.deliver(batchOf([eventRecord()]), never), {
        name: 'SinkError',
        message: /timed? ?out/i,
      });
      await slow.close();
    } finally {
      await mute.close();
    }
  });

  test('an idle sink closes its connections, and opens them again for the next delivery', async () => {
    const own = await startBroker({ small: 1 });
    const sink = createKafkaSink(
      'kafka',
      kafka.parse(`?brokers=${own.address}&topic=small`),
      captureLog(),
      200,
    );
    try {
      await sink.deliver(batchOf([eventRecord()]), never);
      assert.ok(own.connections() > 0);
      await waitFor('idle connections closed', 5000, async () => own.connections() === 0);
      assert.deepEqual((await sink.deliver(batchOf([eventRecord()]), never)).rejected, []);
      assert.equal(own.records.length, 2);
    } finally {
      await sink.close();
      await own.close();
    }
  });

  test("the caller's abort ends a delivery at once", async () => {
    const mute = await startBroker({ small: 1 });
    mute.silent = true;
    const sink = kafka.create(
      'kafka',
      kafka.parse(`?brokers=${mute.address}&topic=small&timeout=1h`),
      captureLog(),
    );
    try {
      const ac = new AbortController();
      const pending = sink.deliver(batchOf([eventRecord()]), ac.signal);
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(pending, { name: 'SinkError', message: /aborted/ });
    } finally {
      await mute.close();
      await sink.close();
    }
  });
});
