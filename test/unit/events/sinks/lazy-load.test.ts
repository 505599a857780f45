/**
 * A sink kind's module, and the SDK behind it, is loaded when a URI names that kind, not at start: an
 * events function writing to stdout does not pay for S3's, Kafka's or NATS' client. Checked in a fresh
 * process that records every module resolved (require and import alike).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const registry = new URL('../../../../functions/events/sinks/registry.ts', import.meta.url).href;
const SDKS = /^(@aws-sdk\/client-s3|kafkajs|@nats-io\/.*)$/;

function resolvedAfter(uris: string[][]): string[][] {
  const code = `
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(s, c, next) { seen.push(s); return next(s, c); } });
const { parseSinkUri } = await import(${JSON.stringify(registry)});
const out = [];
for (const step of ${JSON.stringify(uris)}) {
  for (const uri of step) parseSinkUri(uri);
  out.push([...new Set(seen.filter((s) => ${SDKS}.test(s)))].sort());
}
process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  );
}

test('no SDK is loaded by the registry itself, nor by the sinks that need none', () => {
  const [atStart, plain] = resolvedAfter([
    [],
    ['stdout', 'webhook:http://127.0.0.1:1/events', 'redis:?stream=s', 'influxdb:http://127.0.0.1:1?db=k8s'],
  ]);
  assert.deepEqual(atStart, []);
  assert.deepEqual(plain, []);
});

test("each SDK is loaded once a URI names its kind, and only that kind's", () => {
  const [s3, kafka, nats] = resolvedAfter([
    ['s3:?bucket=b'],
    ['kafka:?brokers=127.0.0.1:9092&topic=t'],
    ['nats:nats://127.0.0.1:4222?subject=k8s.events'],
  ]);
  assert.deepEqual(s3, ['@aws-sdk/client-s3']);
  assert.deepEqual(kafka, ['@aws-sdk/client-s3', 'kafkajs']);
  assert.ok(
    nats?.some((s) => s.startsWith('@nats-io/')),
    `NATS' client loaded: ${nats?.join(', ')}`,
  );
});
