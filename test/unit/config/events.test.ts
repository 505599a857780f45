/**
 * The events function's configuration (DESIGN.md, *Events*): defaults, `--sink` repeatable without
 * splitting URIs at commas, and the one-line refusals.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, eventsSpec, helpText, loadEventsConfig } from '../../../shared/config/index.ts';

function failure(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadEventsConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be refused`);
}

describe('the events function', () => {
  test("uses DESIGN.md's defaults", () => {
    const c = loadEventsConfig(['--sink', 'stdout'], {});
    assert.deepEqual(
      {
        sink: c.sink,
        sinkConfig: c.sinkConfig,
        namespace: c.namespace,
        journalMaxAgeMs: c.journalMaxAgeMs,
        flushIntervalMs: c.flushIntervalMs,
        eventTtlMs: c.eventTtlMs,
        passTimeoutMs: c.passTimeoutMs,
        port: c.port,
        once: c.once,
        loop: c.loop,
        redisUrl: c.redisUrl,
      },
      {
        sink: ['stdout'],
        sinkConfig: '',
        namespace: '',
        journalMaxAgeMs: 24 * 3600_000,
        flushIntervalMs: 5000,
        eventTtlMs: 3600_000,
        passTimeoutMs: 240_000,
        port: 8080,
        once: false,
        loop: false,
        redisUrl: 'redis://127.0.0.1:6379',
      },
    );
  });

  test('takes --sink repeatedly, each whole (commas in a URI stay), and $SINK separated by spaces', () => {
    const kafka = 'kafka:?brokers=h1:9092,h2:9092&topic=k8s-events';
    assert.deepEqual(loadEventsConfig(['--sink', 'stdout', `--sink=${kafka}`], {}).sink, ['stdout', kafka]);
    assert.deepEqual(loadEventsConfig([], { SINK: `stdout ${kafka}\nredis:?stream=x` }).sink, [
      'stdout',
      kafka,
      'redis:?stream=x',
    ]);
  });

  test('needs a sink, from --sink or --sink-config', () => {
    assert.equal(
      failure([]),
      'no sink: give at least one --sink (such as --sink stdout) or a --sink-config file',
    );
    assert.equal(loadEventsConfig(['--sink-config', 'sinks.yaml'], {}).sinkConfig, 'sinks.yaml');
  });

  test('refuses a --sink that is not KIND or KIND:OPTIONS', () => {
    assert.match(
      failure(['--sink', '?stream=x']),
      /^invalid value "\?stream=x" for --sink \(SINK\): "\?stream=x" is not KIND or KIND:OPTIONS/,
    );
  });

  test('refuses --once with --loop, a bad namespace, and durations out of range', () => {
    assert.equal(failure(['--sink', 'stdout', '--once', '--loop']), 'cannot use both --once and --loop');
    assert.match(
      failure(['--sink', 'stdout', '--namespace', 'Kube_System']),
      /for --namespace .*must be a namespace name/,
    );
    assert.match(failure(['--sink', 'stdout', '--flush-interval', '0s']), /greater than 0/);
    assert.match(failure(['--sink', 'stdout', '--journal-max-age', '30s']), /at least 1m/);
  });

  test('--help lists its own flags with their variables, and the shared ones', () => {
    const text = helpText(eventsSpec, 'events');
    for (const [flag, env] of [
      ['sink stringArray', 'SINK'],
      ['sink-config string', 'SINK_CONFIG'],
      ['namespace string', 'NAMESPACE'],
      ['journal-max-age duration', 'JOURNAL_MAX_AGE'],
      ['flush-interval duration', 'FLUSH_INTERVAL'],
      ['event-ttl duration', 'EVENT_TTL'],
      ['pass-timeout duration', 'PASS_TIMEOUT'],
      ['once', 'ONCE'],
      ['loop', 'LOOP'],
      ['port int', 'PORT'],
      ['kubeconfig string', 'KUBECONFIG'],
      ['redis-url string', 'REDIS_URL'],
      ['log-format text|json', 'LOG_FORMAT'],
    ]) {
      const line = text.split('\n').find((l) => l.includes(`--${flag} `));
      assert.ok(line?.endsWith(`[$${env}]`), `--${flag}: ${line}`);
    }
    assert.match(text, /--journal-max-age duration .*\(default 24h\)/);
    assert.match(text, /--flush-interval duration .*\(default 5s\)/);
    assert.doesNotMatch(text, /metric-resolution/);
  });
});
