/**
 * `<NAME>_FILE`: a variable's value read from a file, as function platforms mount secrets (OpenFaaS
 * under /var/openfaas/secrets/<key>, Kubernetes and Docker Secrets as files).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  ConfigError,
  loadScrapeConfig,
  loadServeConfig,
  scrapeSpec,
  serveSpec,
} from '../../../shared/config/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'env-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function secret(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('a variable read from the file <NAME>_FILE names', () => {
  test('given REDIS_URL_FILE naming a mounted secret, the URL is its content without the trailing newline', () => {
    const path = secret('redis-url', 'redis://:s3cret@redis.metrics:6379/2\n');
    const c = loadServeConfig([], { REDIS_URL_FILE: path });
    assert.equal(c.redisUrl, 'redis://:s3cret@redis.metrics:6379/2');
  });

  test('any flag can come from a file: the scraper resolution from METRIC_RESOLUTION_FILE', () => {
    const path = secret('resolution', '15s');
    assert.equal(loadScrapeConfig([], { METRIC_RESOLUTION_FILE: path }).metricResolutionMs, 15_000);
  });

  test('a flag on the command line beats the file, which is then not read at all', () => {
    const c = loadServeConfig(['--redis-url', 'redis://other:6379'], {
      REDIS_URL_FILE: join(dir, 'does-not-exist'),
    });
    assert.equal(c.redisUrl, 'redis://other:6379');
  });

  test('an empty REDIS_URL_FILE counts as unset, as an empty variable does', () => {
    assert.equal(loadServeConfig([], { REDIS_URL_FILE: '' }).redisUrl, 'redis://127.0.0.1:6379');
  });

  test('given both REDIS_URL and REDIS_URL_FILE, loading stops naming both', () => {
    const path = secret('both', 'redis://a:6379');
    assert.throws(
      () => loadServeConfig([], { REDIS_URL: 'redis://b:6379', REDIS_URL_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === 'set only one of REDIS_URL and REDIS_URL_FILE for --redis-url',
    );
  });

  test('given a file that cannot be read, loading stops naming the variable, the path and the cause', () => {
    const path = join(dir, 'missing');
    assert.throws(
      () => loadServeConfig([], { REDIS_URL_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.startsWith(`cannot read REDIS_URL_FILE ${path} for --redis-url: `) &&
        err.message.includes('ENOENT'),
    );
  });

  test('a bad value from a file names the file, and a password in it stays hidden', () => {
    const path = secret('bad-url', 'http://user:hunter2@redis:6379\n');
    assert.throws(
      () => loadServeConfig([], { REDIS_URL_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(`for --redis-url from file ${path} (REDIS_URL_FILE)`) &&
        !err.message.includes('hunter2'),
    );
  });

  test('a rule across flags names the file too', () => {
    const path = secret('sentinel-name', 'mymaster');
    assert.throws(
      () => loadServeConfig([], { REDIS_SENTINEL_NAME_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message ===
          `--redis-sentinel-name from file ${path} (REDIS_SENTINEL_NAME_FILE) requires --redis-sentinels`,
    );
  });

  test("no flag's <NAME>_FILE is another flag's variable, so the convention is never ambiguous", () => {
    for (const spec of [scrapeSpec, serveSpec]) {
      const variables = new Set(spec.flags.flatMap((f) => (f.env === undefined ? [] : [f.env])));
      for (const v of variables)
        assert.ok(!variables.has(`${v}_FILE`), `${v}_FILE is also a flag's variable`);
    }
  });
});
