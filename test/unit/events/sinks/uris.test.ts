/**
 * Sink URIs as DESIGN.md and heapster write them, parsed once at start: each kind's options validated,
 * and every mistake one InvalidSink line naming the option and what is allowed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { influxdbSink as influxdb } from '../../../../functions/events/sinks/influxdb.ts';
import { kafkaSink as kafka } from '../../../../functions/events/sinks/kafka.ts';
import { natsSink as nats } from '../../../../functions/events/sinks/nats.ts';
import { s3Sink as s3 } from '../../../../functions/events/sinks/s3.ts';
import { InvalidSink, type SinkKind } from '../../../../functions/events/sinks/sink.ts';
import { webhookSink as webhook } from '../../../../functions/events/sinks/webhook.ts';
import { captureLog } from '../../../helpers/sink-records.ts';

/** Parsing `rest` fails with one InvalidSink line matching `message`. */
function refuses(kind: SinkKind<unknown>, rest: string, message: RegExp) {
  assert.throws(
    () => kind.parse(rest),
    (err: Error) => {
      assert.ok(err instanceof InvalidSink, `${err.name}: ${err.message}`);
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      assert.match(err.message, new RegExp(`^${kind.kind} sink: `));
      assert.match(err.message, message);
      return true;
    },
    `${kind.kind}:${rest}`,
  );
}

describe('influxdb URIs', () => {
  test("DESIGN.md's example and heapster's defaults parse", () => {
    const o = influxdb.parse('http://host:8086?db=k8s&withfields=true&cluster_name=prod');
    assert.equal(o.url, 'http://host:8086');
    assert.equal(o.db, 'k8s');
    assert.equal(o.withfields, true);
    assert.equal(o.cluster_name, 'prod');
    assert.equal(o.api, 'v1');
    const heapster = influxdb.parse(
      'http://monitoring-influxdb:8086?user=root&db=k8s&retention=0&secure=false&insecuressl=false' +
        '&withfields=false&cluster_name=default&disable_counter_metrics=false&concurrency=1',
    );
    assert.equal(heapster.user, 'root');
    assert.equal(heapster.retention, '0');
    assert.equal(influxdb.parse('').url, 'http://localhost:8086', "heapster's default server");
    assert.equal(influxdb.parse('?db=x').db, 'x');
    assert.equal(
      influxdb.parse('https://influx.example/proxy/?api=v3&db=e').url,
      'https://influx.example/proxy',
    );
  });

  test('secrets are files, never URI values', () => {
    refuses(influxdb, 'http://h:8086?user=root&pw=root', /option "pw" would put a secret .* pw_file=PATH/);
    refuses(influxdb, 'http://h:8086?api=v2&token=abc', /option "token" .* token_file=PATH/);
    refuses(influxdb, 'http://root:root@h:8086', /credentials do not go in the URL/);
    refuses(influxdb, 'http://h:8086?pw_file=/s/pw', /option "user" is required with pw_file/);
  });

  test('a bad option names itself and what is allowed', () => {
    refuses(influxdb, 'http://h:8086?dbname=k8s', /unknown option "dbname"; allowed: .*\bdb\b.*withfields/);
    refuses(influxdb, 'http://h:8086?api=v4', /option "api": expected one of v1, v2, v3/);
    refuses(influxdb, 'http://h:8086?withfields=yes', /option "withfields": expected true or false/);
    refuses(influxdb, 'http://h:8086?timeout=5', /option "timeout": invalid duration "5": missing unit/);
    refuses(influxdb, 'http://h:8086?timeout=0s', /option "timeout": must be more than 0/);
    refuses(influxdb, 'http://h:8086?retention=a week', /option "retention": expected an InfluxQL duration/);
    refuses(
      influxdb,
      'http://h:8086?insecuressl=true',
      /option "insecuressl": certificate verification cannot/,
    );
    refuses(influxdb, 'http://h:8086?db=a&db=b', /option "db" is given more than once/);
    refuses(
      influxdb,
      'http://h:8086?max_batch=0',
      /option "max_batch": expected a whole number from 1 to 10000/,
    );
    refuses(influxdb, 'ftp://h', /must start with http:\/\/ or https:\/\//);
    refuses(influxdb, 'host:8086', /must start with http:\/\//);
  });
});

describe('kafka URIs', () => {
  test("DESIGN.md's example, and heapster's repeated brokers and eventstopic", () => {
    const o = kafka.parse('?brokers=h1:9092,h2:9092&topic=k8s-events');
    assert.deepEqual(o.brokers, ['h1:9092', 'h2:9092']);
    assert.equal(o.topic, 'k8s-events');
    assert.equal(o.compression, 'none');
    const h = kafka.parse('?brokers=h1:9092&brokers=[::1]:9093&eventstopic=events&compression=gzip');
    assert.deepEqual(h.brokers, ['h1:9092', '[::1]:9093']);
    assert.equal(h.topic, 'events');
    assert.equal(h.compression, 'gzip');
  });

  test('a bad option names itself and what is allowed', () => {
    refuses(kafka, '?brokers=h1:9092', /option "topic" is required/);
    refuses(kafka, '?topic=t', /option "brokers" is required/);
    refuses(kafka, '?brokers=h1&topic=t', /option "brokers": "h1" is not host:port/);
    refuses(kafka, '?brokers=h:1&topic=no/slash', /option "topic": expected a topic name/);
    refuses(kafka, '?brokers=h:1&topic=t&compression=snappy', /snappy is not available .*use gzip or none/);
    refuses(
      kafka,
      '?brokers=h:1&topic=t&compression=brotli',
      /option "compression": expected one of none, gzip/,
    );
    refuses(kafka, '?brokers=h:1&topic=t&sasl=plain&user=u', /option "sasl": needs user= and pw_file=/);
    refuses(kafka, '?brokers=h:1&topic=t&password=x', /option "password" would put a secret/);
    refuses(kafka, '?brokers=h:1&topic=t&eventstopic=u', /topic or eventstopic, not both/);
    refuses(
      kafka,
      '?brokers=h:1&topic=t&tls=true&cert_file=/c.pem',
      /^kafka sink: cert_file and key_file go together$/,
    );
    refuses(kafka, 'h1:9092', /expected kafka:\?brokers=/);
  });
});

describe('s3 URIs', () => {
  test("DESIGN.md's example parses", () => {
    const o = s3.parse('?bucket=B&prefix=events&region=R&endpoint=http://minio:9000');
    assert.deepEqual(
      { bucket: o.bucket, prefix: o.prefix, region: o.region, endpoint: o.endpoint },
      { bucket: 'B', prefix: 'events', region: 'R', endpoint: 'http://minio:9000' },
    );
    assert.equal(s3.parse('?bucket=B').prefix, '');
  });

  test('a bad option names itself and what is allowed', () => {
    refuses(s3, '?prefix=events', /option "bucket" is required/);
    refuses(
      s3,
      '?bucket=B&endpoint=minio:9000',
      /option "endpoint": expected an http:\/\/ or https:\/\/ URL/,
    );
    refuses(s3, '?bucket=B&prefix=/events/', /option "prefix": must not begin or end with \//);
    refuses(s3, '?bucket=B&access_key=x', /unknown option "access_key"; allowed: /);
    refuses(s3, 'B', /expected s3:\?bucket=NAME/);
  });
});

describe('webhook URIs', () => {
  test('the URL is the receiver; its own options are taken out, other query parameters stay', () => {
    const o = webhook.parse('https://hooks.example/k8s?team=a&timeout=3s&ca_file=/etc/ca.pem');
    assert.equal(o.url, 'https://hooks.example/k8s?team=a');
    assert.equal(o.timeout, 3000);
    assert.equal(o.ca_file, '/etc/ca.pem');
  });

  test('a bad URL or option names itself', () => {
    refuses(webhook, 'hooks.example/k8s', /is not a URL/);
    refuses(webhook, 'ftp://hooks.example/k8s', /must start with https:\/\/ or http:\/\//);
    refuses(webhook, 'https://u:p@hooks.example/', /credentials do not go in the URL/);
    refuses(webhook, 'https://h/?timeout=soon', /option "timeout": invalid duration/);
    refuses(webhook, 'https://h/?timeout=1s&timeout=2s', /option "timeout" is given more than once/);
  });
});

describe('nats URIs', () => {
  test("DESIGN.md's example, and a list of servers", () => {
    const o = nats.parse('nats://host:4222?subject=k8s.events');
    assert.deepEqual(o.servers, ['nats://host:4222']);
    assert.equal(o.subject, 'k8s.events');
    const many = nats.parse('nats://a:4222,tls://b:4222?subject=e&stream=EVENTS&duplicate_window=1h');
    assert.deepEqual(many.servers, ['nats://a:4222', 'tls://b:4222']);
    assert.equal(many.duplicate_window, 3_600_000);
  });

  test('a bad server, subject or option names itself', () => {
    refuses(nats, 'nats://host:4222', /option "subject" is required/);
    refuses(nats, 'nats://host:4222?subject=k8s.*', /option "subject": expected a subject to publish to/);
    refuses(nats, 'nats://host:4222?subject=k8s..events', /option "subject"/);
    refuses(nats, 'http://host:4222?subject=e', /is not a server URL such as nats:\/\/nats:4222/);
    refuses(nats, 'nats://host:4222?subject=e&stream=a.b', /option "stream": expected a stream name/);
    refuses(
      nats,
      'nats://host:4222?subject=e&duplicate_window=5m',
      /option "duplicate_window": only applies to a stream/,
    );
    refuses(
      nats,
      'nats://host:4222?subject=e&token=t',
      /option "token" would put a secret .* token_file=PATH/,
    );
    refuses(nats, 'nats://u:p@host:4222?subject=e', /credentials do not go in the URL/);
  });
});

describe('secret files', () => {
  test('a secret file that cannot be read stops the sink at start, naming the option and the file', () => {
    const { log } = captureLog();
    const cases: [SinkKind<unknown>, string][] = [
      [influxdb, 'http://h:8086?user=u&pw_file=/nonexistent/pw'],
      [webhook, 'https://h/?bearer_token_file=/nonexistent/pw'],
      [nats, 'nats://h:4222?subject=e&token_file=/nonexistent/pw'],
      [kafka, '?brokers=h:1&topic=t&sasl=plain&user=u&pw_file=/nonexistent/pw'],
    ];
    for (const [kind, rest] of cases) {
      assert.throws(() => kind.create(kind.kind, kind.parse(rest), { log }), {
        name: 'InvalidSink',
        message: /option "(pw_file|bearer_token_file|token_file)": cannot read \/nonexistent\/pw: ENOENT/,
      });
    }
  });
});
