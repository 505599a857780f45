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
        'cannot use both --redis-url and --redis-sentinels: choose one Redis mode',
      );
      assert.equal(
        failure(['--redis-cluster-nodes=c:7000'], { REDIS_URL: 'redis://r' }),
        'cannot use both --redis-url from environment variable REDIS_URL and --redis-cluster-nodes: choose one Redis mode',
      );
    });

    test('the default --redis-url does not count as a choice', () => {
      assert.deepEqual(load(['--redis-cluster-nodes=c:7000'], {}).redisClusterNodes, ['c:7000']);
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
