/**
 * The project's own metrics (metrics-server-behaviour.md §1.9): a cycle's figures become hash updates
 * that only add to counters, and stored hashes become metric families with metrics-server's names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bucketFor,
  createMetricsRegistry,
  DEFAULT_BUCKETS,
  FRESHNESS_BUCKETS,
  nodeStatsFields,
  scrapeMetricFamilies,
  statsWrite,
  tickBuckets,
} from '../../../shared/metrics.ts';

/** The sample lines of one family in a text exposition, `name{labels} value` → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('bucket layouts', () => {
  test("the request histogram uses client_golang's default buckets", () => {
    assert.deepEqual(DEFAULT_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  test('freshness has 20 buckets growing by 1.364 from 1 s (ExponentialBuckets(1, 1.364, 20))', () => {
    assert.equal(FRESHNESS_BUCKETS.length, 20);
    assert.equal(FRESHNESS_BUCKETS[0], 1);
    assert.ok(Math.abs(FRESHNESS_BUCKETS[1]! - 1.364) < 1e-9);
    // 1.364^19 ≈ 364 s, as the reference says.
    assert.ok(Math.abs(FRESHNESS_BUCKETS[19]! - 364) < 1);
  });

  test('the tick histogram adds buckets around a 60 s resolution to the default ones', () => {
    const b = tickBuckets(60);
    for (const d of DEFAULT_BUCKETS) assert.ok(b.includes(d));
    for (const around of [30, 45, 54, 60, 75, 90, 120]) assert.ok(b.includes(around), `${around}`);
    assert.deepEqual(
      b,
      [...b].sort((x, y) => x - y),
    );
  });

  test('an observation counts in the smallest bucket that holds it, +Inf past the last', () => {
    assert.equal(bucketFor(DEFAULT_BUCKETS, 0.005), '0.005');
    assert.equal(bucketFor(DEFAULT_BUCKETS, 0.3), '0.5');
    assert.equal(bucketFor(DEFAULT_BUCKETS, 11), '+Inf');
  });
});

describe("a cycle's figures as hash updates", () => {
  const w = statsWrite({
    requests: [
      { node: 'node-a', durationSeconds: 0.02, startedAt: 1700000000.5, success: true },
      { node: 'node-b', durationSeconds: 0.3, startedAt: 1700000001, success: true },
      { node: 'node-c', durationSeconds: 10.2, startedAt: 1700000002, success: false },
    ],
    tickSeconds: 3.2,
    resolutionSeconds: 60,
    points: { nodes: 2, containers: 57 },
  });

  test('successes and failures are increments of the request counter (HINCRBY, never a reset)', () => {
    assert.deepEqual(
      w.stats.incr.filter(([f]) => f.startsWith('total:')),
      [
        ['total:true', 2],
        ['total:false', 1],
      ],
    );
  });

  test('each node adds one to its duration bucket and count, its duration to its sum, and its last time', () => {
    /** Each node's updates, flat: the fields Redis receives. */
    const flat = [...w.kubelet].map(([node, u]) => [node, ...u.incr, ...u.incrFloat, ...u.set]);
    assert.deepEqual(flat, [
      [
        'node-a',
        ['b:0.025:node-a', 1],
        ['count:node-a', 1],
        ['sum:node-a', 0.02],
        ['last:node-a', '1700000000.5'],
      ],
      [
        'node-b',
        ['b:0.5:node-b', 1],
        ['count:node-b', 1],
        ['sum:node-b', 0.3],
        ['last:node-b', '1700000001'],
      ],
      [
        'node-c',
        ['b:+Inf:node-c', 1],
        ['count:node-c', 1],
        ['sum:node-c', 10.2],
        ['last:node-c', '1700000002'],
      ],
    ]);
    // Counters are increments, the last request time an assignment.
    assert.deepEqual(
      [...w.kubelet.values()].map((u) => [u.incr.length, u.incrFloat.length, u.set.length]),
      [
        [2, 1, 1],
        [2, 1, 1],
        [2, 1, 1],
      ],
    );
  });

  test("a node's fields are all among nodeStatsFields, whatever its requests took", () => {
    for (const seconds of [0, 0.005, 0.0051, 0.3, 10, 10.01, 1e9]) {
      const u = statsWrite({
        requests: [{ node: 'n:1', durationSeconds: seconds, startedAt: 1, success: seconds < 1 }],
        tickSeconds: 1,
        resolutionSeconds: 60,
        points: { nodes: 1, containers: 1 },
      }).kubelet.get('n:1')!;
      const fields = new Set(nodeStatsFields('n:1'));
      for (const [f] of [...u.incr, ...u.incrFloat, ...u.set]) assert.ok(fields.has(f), `${f} (${seconds}s)`);
    }
    assert.equal(new Set(nodeStatsFields('n')).size, DEFAULT_BUCKETS.length + 4);
  });

  test('the tick is one observation in the 5 s bucket; the points are gauges', () => {
    assert.deepEqual(w.stats.incr.slice(-2), [
      ['tick:b:5', 1],
      ['tick:count', 1],
    ]);
    assert.deepEqual(w.stats.incrFloat, [['tick:sum', 3.2]]);
    assert.deepEqual(
      w.stats.set.filter(([f]) => f.startsWith('points:')),
      [
        ['points:node', '2'],
        ['points:container', '57'],
      ],
    );
  });
});

describe('stored hashes as metric families', () => {
  const families = scrapeMetricFamilies({
    stats: {
      'total:true': '10',
      'total:false': '3',
      'tick:bounds': '1,5,60',
      'tick:b:1': '2',
      'tick:b:60': '1',
      'tick:sum': '31.5',
      'tick:count': '3',
      'points:node': '4',
      'points:container': '120',
    },
    kubelet: {
      'b:0.01:node-a': '5',
      'b:0.5:node-a': '2',
      'count:node-a': '7',
      'sum:node-a': '1.25',
      'last:node-a': '1700000000',
    },
  });
  const byName = new Map(families.map((f) => [f.name, f]));

  test("the five scraper families carry metrics-server's names and types", () => {
    assert.deepEqual(
      families.map((f) => [f.name, f.type]),
      [
        ['metrics_server_kubelet_request_duration_seconds', 'histogram'],
        ['metrics_server_kubelet_request_total', 'counter'],
        ['metrics_server_kubelet_last_request_time_seconds', 'gauge'],
        ['metrics_server_manager_tick_duration_seconds', 'histogram'],
        ['metrics_server_storage_points', 'gauge'],
      ],
    );
  });

  test('histogram buckets are cumulative; +Inf and _count are the count', () => {
    const v = byName.get('metrics_server_kubelet_request_duration_seconds')!.values;
    const bucket = (le: string) =>
      v.find((x) => x.metricName?.endsWith('_bucket') && x.labels.le === le)?.value;
    assert.equal(bucket('0.005'), 0);
    assert.equal(bucket('0.01'), 5);
    assert.equal(bucket('0.25'), 5);
    assert.equal(bucket('0.5'), 7);
    assert.equal(bucket('10'), 7);
    assert.equal(bucket('+Inf'), 7);
    assert.equal(v.find((x) => x.metricName?.endsWith('_sum'))?.value, 1.25);
    assert.ok(v.every((x) => x.labels.node === 'node-a'));
  });

  test('the tick histogram uses the bounds the scraper stored', () => {
    const v = byName.get('metrics_server_manager_tick_duration_seconds')!.values;
    const buckets = v.filter((x) => x.metricName?.endsWith('_bucket')).map((x) => [x.labels.le, x.value]);
    assert.deepEqual(buckets, [
      ['1', 2],
      ['5', 2],
      ['60', 3],
      ['+Inf', 3],
    ]);
  });

  test('requests by success, points by type, last request time by node', () => {
    assert.deepEqual(
      byName.get('metrics_server_kubelet_request_total')!.values.map((x) => [x.labels.success, x.value]),
      [
        ['false', 3],
        ['true', 10],
      ],
    );
    assert.deepEqual(
      byName.get('metrics_server_storage_points')!.values.map((x) => [x.labels.type, x.value]),
      [
        ['container', 120],
        ['node', 4],
      ],
    );
    assert.deepEqual(byName.get('metrics_server_kubelet_last_request_time_seconds')!.values, [
      { labels: { node: 'node-a' }, value: 1700000000 },
    ]);
  });
});

describe('the registry', () => {
  test('renders freshness per observation, the stored families and process metrics in text format', async () => {
    const r = createMetricsRegistry({
      freshness: true,
      scrapeStats: async () => ({ stats: { 'total:true': '4' }, kubelet: {} }),
    });
    const now = 1_700_000_000_000;
    r.observeFreshness(now - 3000, now);
    r.observeFreshness(now - 500, now);
    r.observeFreshnessAll(Float64Array.from([now - 200, now - 4000, now + 50]), now);
    const { body, contentType, scrapeError } = await r.render();
    assert.equal(scrapeError, null);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(body, /# TYPE metrics_server_api_metric_freshness_seconds histogram/);
    const f = samples(body, 'metrics_server_api_metric_freshness_seconds');
    // 3 s, 0.5 s, then at once 0.2 s, 4 s and a timestamp ahead of the clock (0 s).
    assert.equal(f.get('metrics_server_api_metric_freshness_seconds_bucket{le="1"}'), 3);
    assert.equal(f.get('metrics_server_api_metric_freshness_seconds_bucket{le="+Inf"}'), 5);
    assert.equal(f.get('metrics_server_api_metric_freshness_seconds_sum'), 7.7);
    assert.equal(
      samples(body, 'metrics_server_kubelet_request_total').get(
        'metrics_server_kubelet_request_total{success="true"}',
      ),
      4,
    );
    assert.match(body, /^process_cpu_user_seconds_total /m);
    assert.match(body, /^nodejs_heap_size_used_bytes /m);
  });

  test('when the stored figures cannot be read, the rest is still served and the error is reported', async () => {
    const r = createMetricsRegistry({
      processMetrics: false,
      freshness: true,
      scrapeStats: async () => {
        throw new Error('redis unavailable');
      },
    });
    const { body, scrapeError } = await r.render();
    assert.ok(scrapeError instanceof Error);
    assert.match(body, /metrics_server_api_metric_freshness_seconds_count 0/);
    assert.doesNotMatch(body, /metrics_server_kubelet_request_total\{/);
  });
});
