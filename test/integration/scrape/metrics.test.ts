/**
 * The scraper's own metrics and TLS sessions through the real Redis: what one cycle (or one scraper
 * instance) stores, the next adds to, and every serve replica reads back the same growing figures.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createScraper } from '../../../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { scrapeMetricFamilies, statsWrite } from '../../../shared/metrics.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { type CycleRecord, RedisMetricsWriter } from '../../../shared/store/writer.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
let second: Redis;
before(async () => {
  db = await leaseTestDb();
  second = new Redis(db.url, { maxRetriesPerRequest: 1 });
});
after(async () => {
  second.disconnect();
  await db.release();
});

/** One cycle's record: two listed nodes, and their kubelets' figures. */
const cycle = (success: boolean, seconds: number, startedAt: number): CycleRecord => ({
  endpoints: new Map([
    ['node-a', '127.0.0.1:10250'],
    ['node-b', '127.0.0.2:10250'],
  ]),
  stats: statsWrite({
    requests: [
      { node: 'node-a', durationSeconds: seconds, startedAt, success },
      { node: 'node-b', durationSeconds: 0.004, startedAt, success: true },
    ],
    tickSeconds: 1.5,
    resolutionSeconds: 15,
    points: { nodes: 2, containers: 40 + startedAt - 1000 },
  }),
});

describe('stored scrape metrics', () => {
  test('two scraper instances add to the same counters and histograms; gauges hold the last cycle', async () => {
    // Instance one, then instance two on its own connection (as after a restart or on another pod).
    await new RedisMetricsWriter(db.redis).recordCycle(cycle(true, 0.02, 1000));
    await new RedisMetricsWriter(second).recordCycle(cycle(false, 0.2, 1001));

    // Any replica reads the same.
    const families = scrapeMetricFamilies(await new RedisMetricsReader(second).scrapeStats());
    const values = (name: string) => families.find((f) => f.name === name)!.values;

    assert.deepEqual(
      values('metrics_server_kubelet_request_total').map((v) => [v.labels.success, v.value]),
      [
        ['false', 1],
        ['true', 3],
      ],
    );
    const a = values('metrics_server_kubelet_request_duration_seconds').filter(
      (v) => v.labels.node === 'node-a',
    );
    const bucket = (le: string) => a.find((v) => v.labels.le === le)!.value;
    assert.equal(bucket('0.01'), 0);
    assert.equal(bucket('0.025'), 1);
    assert.equal(bucket('0.25'), 2);
    assert.equal(a.find((v) => v.metricName?.endsWith('_count'))!.value, 2);
    assert.ok(Math.abs(a.find((v) => v.metricName?.endsWith('_sum'))!.value - 0.22) < 1e-9);
    assert.deepEqual(
      values('metrics_server_kubelet_last_request_time_seconds').map((v) => [v.labels.node, v.value]),
      [
        ['node-a', 1001],
        ['node-b', 1001],
      ],
    );
    const tick = values('metrics_server_manager_tick_duration_seconds');
    assert.equal(tick.find((v) => v.metricName?.endsWith('_count'))!.value, 2);
    assert.equal(tick.find((v) => v.labels.le === '2.5')!.value, 2);
    assert.equal(tick.find((v) => v.labels.le === '1')!.value, 0);
    assert.deepEqual(
      values('metrics_server_storage_points').map((v) => [v.labels.type, v.value]),
      [
        ['container', 41],
        ['node', 2],
      ],
    );
  });

  test('kubelet TLS sessions come back byte for byte, and the hash expires', async () => {
    const w = new RedisMetricsWriter(db.redis);
    const session = Buffer.from([0, 1, 2, 250, 251, 255, 10, 13]);
    await w.recordCycle({
      endpoints: new Map([['node-a', '127.0.0.1:10250']]),
      sessions: [['127.0.0.1:10250', session]],
      sessionsTtlMs: 60_000,
    });
    assert.deepEqual(await w.readTlsSessions(), [['127.0.0.1:10250', session]]);
    const ttl = await db.redis.pttl('ms:{scrape}:tls');
    assert.ok(ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
  });
});

describe("the scraper's own /metrics", () => {
  test('shows its process metrics and the figures stored in Redis, before it ran any cycle itself', async () => {
    await db.redis.del('ms:{scrape}:stats', 'ms:{scrape}:stats:kubelet');
    await new RedisMetricsWriter(db.redis).recordCycle(cycle(true, 0.02, 1000));
    const dir = await mkdtemp(join(tmpdir(), 'ms-scraper-metrics-'));
    const kubeconfig = join(dir, 'kubeconfig');
    // An API server that is never called: /metrics needs only Redis.
    await writeFile(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n',
    );
    const scraper = createScraper(
      loadScrapeConfig([`--kubeconfig=${kubeconfig}`, `--redis-url=${db.url}`], {}),
      createLogger({ write: () => {} }),
    );
    try {
      const { contentType, body } = await scraper.metrics();
      assert.match(contentType, /^text\/plain; version=0\.0\.4/);
      assert.match(body, /^metrics_server_kubelet_request_total\{success="true"\} 2$/m);
      assert.match(body, /^metrics_server_storage_points\{type="container"\} 40$/m);
      assert.match(body, /^process_cpu_user_seconds_total /m);
    } finally {
      await scraper.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
