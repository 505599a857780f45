/** Choosing Redis: one server by URL, Sentinel, or Cluster; exactly one mode; the same rules in both functions. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfigError,
  loadScrapeConfig,
  loadServeConfig,
  parseHostPort,
} from '../../../shared/config/index.ts';

const programs = { scrape: loadScrapeConfig, serve: loadServeConfig };

for (const [name, load] of Object.entries(programs)) {
  const failure = (argv: string[], env: Record<string, string> = {}): string => {
    try {
      load(argv, env);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      return err.message;
    }
    assert.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be rejected`);
  };

  describe(`${name}: --redis-url`, () => {
    test('accepts redis:// and rediss:// with credentials, a port and a database index', () => {
      for (const url of [
        'redis://redis',
        'redis://redis:6379',
        'redis://redis:6379/',
        'redis://redis:6379/2',
        'rediss://user:p%40ss@redis.example:6380/15',
        'redis://:secret@10.0.0.7',
        'redis://[::1]:6379/0',
      ]) {
        assert.equal(load([`--redis-url=${url}`], {}).redisUrl, url);
      }
    });

    test('refuses anything else, saying what is allowed', () => {
      const allowed =
        'must be a redis:// or rediss:// URL with an optional numeric database path, such as redis://127.0.0.1:6379/0';
      for (const url of [
        'localhost:6379',
        'http://redis:6379',
        'redis://',
        'redis://redis/db1',
        'redis://redis/0/1',
        'redis://redis:99999',
        'redis://redis/0?family=6',
      ]) {
        assert.equal(
          failure([`--redis-url=${url}`]),
          `invalid value "${url}" for --redis-url (REDIS_URL): ${allowed}`,
        );
      }
    });

    test('never echoes a password', () => {
      const message = failure([], { REDIS_URL: 'redis://app:hunter2@redis/x' });
      assert.equal(
        message,
        'invalid value "redis://app:***@redis/x" for --redis-url from environment variable REDIS_URL: must be a redis:// or rediss:// URL with an optional numeric database path, such as redis://127.0.0.1:6379/0',
      );
      assert.doesNotMatch(message, /hunter2/);
    });
  });

  describe(`${name}: Sentinel and Cluster`, () => {
    test('take host:port lists', () => {
      const s = load(['--redis-sentinels=s-0:26379,s-1:26379', '--redis-sentinel-name=mymaster'], {});
      assert.deepEqual(s.redisSentinels, ['s-0:26379', 's-1:26379']);
      assert.equal(s.redisSentinelName, 'mymaster');
      const c = load([], { REDIS_CLUSTER_NODES: '10.0.0.1:7000,[fd00::2]:7001' });
      assert.deepEqual(c.redisClusterNodes, ['10.0.0.1:7000', '[fd00::2]:7001']);
    });

    test('name the entry that is not host:port', () => {
      assert.equal(
        failure(['--redis-cluster-nodes=a:7000,b']),
        'invalid value "a:7000,b" for --redis-cluster-nodes (REDIS_CLUSTER_NODES): "b" is not host:port with a port from 1 to 65535 (IPv6 as [::1]:6379)',
      );
      assert.equal(
        failure(['--redis-sentinels=a:0', '--redis-sentinel-name=m']),
        'invalid value "a:0" for --redis-sentinels (REDIS_SENTINELS): "a:0" is not host:port with a port from 1 to 65535 (IPv6 as [::1]:6379)',
      );
    });

    test('Sentinels need the master name, and the name needs Sentinels', () => {
      assert.equal(
        failure(['--redis-sentinels=s-0:26379']),
        '--redis-sentinels requires --redis-sentinel-name',
      );
      assert.equal(
        failure(['--redis-sentinel-name=mymaster']),
        '--redis-sentinel-name requires --redis-sentinels',
      );
    });

    test('only one mode at a time', () => {
      assert.equal(
        failure(['--redis-sentinels=s:26379', '--redis-sentinel-name=m', '--redis-cluster-nodes=c:7000']),
        'cannot use both --redis-sentinels and --redis-cluster-nodes: choose one Redis mode',
      );
      assert.equal(
        failure(['--redis-url=redis://r', '--redis-sentinels=s:26379', '--redis-sentinel-name=m']),
        'cannot use both --redis-url and --redis-sentinels: choose one Redis mode (credentials: --redis-username, --redis-password-file)',
      );
      assert.equal(
        failure(['--redis-cluster-nodes=c:7000'], { REDIS_URL: 'redis://r' }),
        'cannot use both --redis-url from environment variable REDIS_URL and --redis-cluster-nodes: choose one Redis mode (credentials: --redis-username, --redis-password-file)',
      );
    });

    test('the default --redis-url does not count as a choice', () => {
      assert.deepEqual(load(['--redis-cluster-nodes=c:7000'], {}).redisClusterNodes, ['c:7000']);
    });
  });

  describe(`${name}: credentials, in every mode`, () => {
    test('a user and a password file with one server, Sentinel or Cluster', () => {
      const login = ['--redis-username=app', '--redis-password-file=/secrets/redis-password'];
      for (const mode of [
        [],
        ['--redis-sentinels=s:26379', '--redis-sentinel-name=m'],
        ['--redis-cluster-nodes=c:7000'],
      ]) {
        const c = load([...mode, ...login], {});
        assert.equal(c.redisUsername, 'app');
        assert.equal(c.redisPasswordFile, '/secrets/redis-password');
      }
      assert.equal(
        load([], { REDIS_PASSWORD_FILE: '/var/openfaas/secrets/redis' }).redisPasswordFile,
        '/var/openfaas/secrets/redis',
      );
    });

    test('a user needs a password; there is no flag that takes a password itself', () => {
      assert.equal(failure(['--redis-username=app']), '--redis-username requires --redis-password-file');
      assert.match(
        failure(['--redis-password=hunter2']),
        /^unknown flag --redis-password \(did you mean --redis-password-file\?\)$/,
      );
    });

    test('credentials are given once: in the URL or by the flags', () => {
      assert.equal(
        failure(['--redis-url=redis://:secret@r', '--redis-password-file=/p']),
        '--redis-url has credentials and --redis-password-file is given too: give them once',
      );
      assert.equal(
        failure(['--redis-username=app', '--redis-password-file=/p'], { REDIS_URL: 'redis://app@r' }),
        '--redis-url from environment variable REDIS_URL has credentials and --redis-username is given too: give them once',
      );
    });

    test("the Sentinels' own credentials need Sentinels, and a Sentinel user its password", () => {
      assert.equal(
        failure(['--redis-sentinel-password-file=/p']),
        '--redis-sentinel-password-file requires --redis-sentinels',
      );
      assert.equal(
        failure([
          '--redis-sentinels=s:26379',
          '--redis-sentinel-name=m',
          '--redis-sentinel-username=sentinel',
        ]),
        '--redis-sentinel-username requires --redis-sentinel-password-file',
      );
      const c = load(
        [
          '--redis-sentinels=s:26379',
          '--redis-sentinel-name=m',
          '--redis-sentinel-username=s',
          '--redis-sentinel-password-file=/sp',
        ],
        {},
      );
      assert.equal(c.redisSentinelPasswordFile, '/sp');
    });
  });

  describe(`${name}: TLS, in every mode`, () => {
    test('--redis-tls for Sentinel and Cluster; rediss:// or --redis-tls for one server', () => {
      assert.equal(load(['--redis-cluster-nodes=c:7000', '--redis-tls'], {}).redisTls, true);
      assert.equal(load(['--redis-tls', '--redis-tls-ca-file=/ca.crt'], {}).redisTlsCaFile, '/ca.crt');
      assert.equal(
        load(['--redis-url=rediss://r', '--redis-tls-server-name=redis.internal'], {}).redisTlsServerName,
        'redis.internal',
      );
    });

    test('TLS options without TLS are refused, naming how to turn it on', () => {
      for (const option of [
        '--redis-tls-ca-file=/ca.crt',
        '--redis-tls-server-name=r',
        '--redis-tls-insecure-skip-verify',
      ]) {
        assert.equal(
          failure([option]),
          `${option.split('=')[0]} needs TLS: add --redis-tls (or use a rediss:// --redis-url)`,
        );
      }
      assert.equal(
        failure(['--redis-url=redis://r', '--redis-tls']),
        '--redis-tls contradicts --redis-url (redis://): use a rediss:// URL',
      );
    });

    test('a CA and skipping verification contradict; a certificate needs its key and the key its certificate', () => {
      assert.equal(
        failure(['--redis-tls', '--redis-tls-ca-file=/ca', '--redis-tls-insecure-skip-verify']),
        'cannot use both --redis-tls-ca-file and --redis-tls-insecure-skip-verify',
      );
      assert.equal(
        failure(['--redis-tls', '--redis-tls-cert-file=/c']),
        '--redis-tls-cert-file requires --redis-tls-key-file',
      );
      assert.equal(
        failure(['--redis-tls', '--redis-tls-key-file=/k']),
        '--redis-tls-key-file requires --redis-tls-cert-file',
      );
    });
  });
}

describe('parseHostPort', () => {
  test('splits host and port, unbracketing IPv6', () => {
    assert.deepEqual(parseHostPort('redis-0.redis:6379'), { host: 'redis-0.redis', port: 6379 });
    assert.deepEqual(parseHostPort('[fd00::1]:26379'), { host: 'fd00::1', port: 26379 });
  });

  test('refuses a missing or out-of-range port and a bare IPv6 address', () => {
    for (const text of ['redis', 'redis:', ':6379', 'redis:65536', 'redis:0', 'fd00::1:6379', '[nope]:1']) {
      assert.equal(parseHostPort(text), undefined, text);
    }
  });
});
