/**
 * The project's own metrics, with metrics-server's names, types, labels and buckets
 * (metrics-server-behaviour.md §1.9), served in Prometheus' text format by prom-client.
 *
 * The scraper is stateless between invocations, so what it measures goes to Redis at the end of each
 * cycle (`statsWrite`, written by the store), and every serve replica (and the scraper's own /metrics)
 * renders it from there (`scrapeMetricFamilies`). Counters and histogram buckets are HINCRBY'd, so they
 * only ever grow, whichever scraper instance ran the cycle and whichever replica answers; gauges are
 * the last cycle's values. Per-node series (the kubelet request histogram, the last-request gauge) live
 * only as long as their node is in the cluster: the store forgets a node's fields (`nodeStatsFields`) at
 * the first cycle that no longer lists it. Freshness is the serve replica's own histogram, observed per
 * returned object.
 */
import { collectDefaultMetrics, exponentialBuckets, type Metric, Registry } from 'prom-client';

export const METRIC_NAMES = {
  kubeletRequestDuration: 'metrics_server_kubelet_request_duration_seconds',
  kubeletRequestTotal: 'metrics_server_kubelet_request_total',
  kubeletLastRequestTime: 'metrics_server_kubelet_last_request_time_seconds',
  tickDuration: 'metrics_server_manager_tick_duration_seconds',
  storagePoints: 'metrics_server_storage_points',
  freshness: 'metrics_server_api_metric_freshness_seconds',
} as const;

/** client_golang's prometheus.DefBuckets. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** metrics-server's freshness buckets: ExponentialBuckets(1, 1.364, 20), 1 s … about 364 s. */
export const FRESHNESS_BUCKETS: readonly number[] = exponentialBuckets(1, 1.364, 20);

/**
 * The tick histogram: the default buckets plus some around the resolution (metrics-server adds buckets
 * near its resolution so that "a tick took most of the interval" is visible).
 */
export function tickBuckets(resolutionSeconds: number): number[] {
  const around = [0.5, 0.75, 0.9, 1, 1.25, 1.5, 2].map(
    (f) => Math.round(f * resolutionSeconds * 1000) / 1000,
  );
  return [...new Set([...DEFAULT_BUCKETS, ...around])].sort((a, b) => a - b);
}

/** The smallest bucket bound an observation counts in (`+Inf` beyond the last). */
export function bucketFor(bounds: readonly number[], value: number): string {
  for (const b of bounds) if (value <= b) return String(b);
  return '+Inf';
}

// ---- the scraper's side: a cycle's figures as Redis commands -------------------------------------------

/** One kubelet request, as the kubelet client reports it. */
export interface RequestFigure {
  node: string;
  durationSeconds: number;
  /** Unix seconds. */
  startedAt: number;
  success: boolean;
}

export interface CycleFigures {
  requests: readonly RequestFigure[];
  tickSeconds: number;
  resolutionSeconds: number;
  points: { nodes: number; containers: number };
}

/** Increments and assignments to one hash. */
export interface HashUpdate {
  incr: [field: string, by: number][];
  incrFloat: [field: string, by: number][];
  set: [field: string, value: string][];
}

export interface StatsWrite {
  /** ms:{scrape}:stats */
  stats: HashUpdate;
  /**
   * ms:{scrape}:stats:kubelet, node by node: the store writes each node's fields together with the
   * node's registration, so that whatever names a node is forgotten when the node leaves the cluster.
   */
  kubelet: Map<string, HashUpdate>;
}

const bucketField = (le: string, node: string) => `b:${le}:${node}`;

/** Every field ms:{scrape}:stats:kubelet can hold for a node: what goes when the node leaves. */
export function nodeStatsFields(node: string): string[] {
  return [
    ...DEFAULT_BUCKETS.map((b) => bucketField(String(b), node)),
    bucketField('+Inf', node),
    `sum:${node}`,
    `count:${node}`,
    `last:${node}`,
  ];
}

/**
 * A cycle's figures as hash updates. Histogram buckets are counted per bucket (`b:<le>`), not
 * cumulatively, so that one HINCRBY records an observation; rendering accumulates them.
 */
export function statsWrite(c: CycleFigures): StatsWrite {
  const stats: HashUpdate = { incr: [], incrFloat: [], set: [] };
  const kubelet = new Map<string, HashUpdate>();
  let ok = 0;
  let failed = 0;
  for (const r of c.requests) {
    if (r.success) ok++;
    else failed++;
    let u = kubelet.get(r.node);
    if (u === undefined) {
      u = { incr: [], incrFloat: [], set: [] };
      kubelet.set(r.node, u);
    }
    u.incr.push([bucketField(bucketFor(DEFAULT_BUCKETS, r.durationSeconds), r.node), 1]);
    u.incr.push([`count:${r.node}`, 1]);
    u.incrFloat.push([`sum:${r.node}`, r.durationSeconds]);
    u.set.push([`last:${r.node}`, String(r.startedAt)]);
  }
  if (ok > 0) stats.incr.push(['total:true', ok]);
  if (failed > 0) stats.incr.push(['total:false', failed]);
  const bounds = tickBuckets(c.resolutionSeconds);
  stats.incr.push([`tick:b:${bucketFor(bounds, c.tickSeconds)}`, 1], ['tick:count', 1]);
  stats.set.push(['tick:bounds', bounds.join(',')]);
  stats.incrFloat.push(['tick:sum', c.tickSeconds]);
  stats.set.push(['points:node', String(c.points.nodes)], ['points:container', String(c.points.containers)]);
  return { stats, kubelet };
}

// ---- the reader's side: hashes back to metric families -------------------------------------------------

/** The two stats hashes as Redis returns them (HGETALL). */
export interface StoredStats {
  stats: Record<string, string>;
  kubelet: Record<string, string>;
}

type Labels = Record<string, string>;

export interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A metric family as prom-client's registry renders it (what a metric's `get()` returns). */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

const HELP = {
  kubeletRequestDuration: '[ALPHA] Duration of requests to Kubelet API in seconds',
  kubeletRequestTotal: '[ALPHA] Number of requests sent to Kubelet API',
  kubeletLastRequestTime: '[ALPHA] Time of last request performed to Kubelet API since unix epoch in seconds',
  tickDuration: '[ALPHA] The total time spent collecting and storing metrics in seconds.',
  storagePoints: '[ALPHA] Number of metrics points stored.',
  freshness:
    '[ALPHA] Time since the metric was generated to the time it was returned by the API, in seconds.',
} as const;

interface HistogramData {
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

const leNumber = (le: string) => (le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));

function histogramValues(name: string, h: HistogramData, labels: Labels): MetricValue[] {
  const out: MetricValue[] = [];
  let cumulative = 0;
  for (const le of [...h.buckets.keys()].filter(Number.isFinite).sort((a, b) => a - b)) {
    cumulative += h.buckets.get(le) ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: cumulative });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

/** Every bucket of `bounds` present (at zero) so that a fresh histogram still shows its layout. */
function withBounds(bounds: readonly number[]): HistogramData {
  return { buckets: new Map(bounds.map((b) => [b, 0])), sum: 0, count: 0 };
}

/** The scraper's five metric families from the stored hashes (fields it does not know are ignored). */
export function scrapeMetricFamilies(s: StoredStats): MetricFamily[] {
  const family = (
    key: keyof typeof HELP,
    type: MetricFamily['type'],
    values: MetricValue[],
  ): MetricFamily => ({
    name: METRIC_NAMES[key],
    help: HELP[key],
    type,
    values,
    aggregator: 'sum',
  });
  const num = (v: string | undefined) => {
    const n = Number(v);
    return Number.isFinite(n) ? n : 0;
  };

  const tickBounds = (s.stats['tick:bounds'] ?? '')
    .split(',')
    .filter((b) => b !== '')
    .map(Number);
  const tick = withBounds(tickBounds.length > 0 ? tickBounds : DEFAULT_BUCKETS);
  const totals: MetricValue[] = [];
  const points: MetricValue[] = [];
  for (const [field, value] of Object.entries(s.stats)) {
    if (field.startsWith('tick:b:')) tick.buckets.set(leNumber(field.slice(7)), num(value));
    else if (field === 'tick:sum') tick.sum = num(value);
    else if (field === 'tick:count') tick.count = num(value);
    else if (field.startsWith('total:'))
      totals.push({ labels: { success: field.slice(6) }, value: num(value) });
    else if (field.startsWith('points:'))
      points.push({ labels: { type: field.slice(7) }, value: num(value) });
  }

  const perNode = new Map<string, HistogramData>();
  const last: MetricValue[] = [];
  const nodeData = (node: string) => {
    let h = perNode.get(node);
    if (!h) {
      h = withBounds(DEFAULT_BUCKETS);
      perNode.set(node, h);
    }
    return h;
  };
  for (const [field, value] of Object.entries(s.kubelet)) {
    const colon = field.indexOf(':');
    const kind = field.slice(0, colon);
    const rest = field.slice(colon + 1);
    if (kind === 'b') {
      const c = rest.indexOf(':');
      if (c > 0) nodeData(rest.slice(c + 1)).buckets.set(leNumber(rest.slice(0, c)), num(value));
    } else if (kind === 'sum') nodeData(rest).sum = num(value);
    else if (kind === 'count') nodeData(rest).count = num(value);
    else if (kind === 'last') last.push({ labels: { node: rest }, value: num(value) });
  }
  const byLabel = (k: string) => (a: MetricValue, b: MetricValue) =>
    (a.labels[k] ?? '') < (b.labels[k] ?? '') ? -1 : (a.labels[k] ?? '') > (b.labels[k] ?? '') ? 1 : 0;
  const nodes = [...perNode.keys()].sort();
  return [
    family(
      'kubeletRequestDuration',
      'histogram',
      nodes.flatMap((n) =>
        histogramValues(METRIC_NAMES.kubeletRequestDuration, perNode.get(n)!, { node: n }),
      ),
    ),
    family('kubeletRequestTotal', 'counter', totals.sort(byLabel('success'))),
    family('kubeletLastRequestTime', 'gauge', last.sort(byLabel('node'))),
    family('tickDuration', 'histogram', histogramValues(METRIC_NAMES.tickDuration, tick, {})),
    family('storagePoints', 'gauge', points.sort(byLabel('type'))),
  ];
}

// ---- the registry ------------------------------------------------------------------------------------

export interface MetricsRegistryOptions {
  /** Reads the scraper's stored figures; omitted, the scraper's families are not served. */
  scrapeStats?: () => Promise<StoredStats>;
  /** Observe freshness (the serve function). */
  freshness?: boolean;
  /** Process metrics (prom-client's default collectors); default true. */
  processMetrics?: boolean;
}

export interface MetricsRegistry {
  /** Records how old a returned object's metrics are (no-op without `freshness`). */
  observeFreshness(timestampMs: number, nowMs?: number): void;
  /** The same for many objects returned at once (one clock read for all). */
  observeFreshnessAll(timestampsMs: ArrayLike<number>, nowMs?: number): void;
  /** The whole exposition; the scraper's families are left out (with `scrapeError` set) when Redis fails. */
  render(): Promise<{ contentType: string; body: string; scrapeError: unknown }>;
}

/**
 * A histogram kept as plain bucket counters. Freshness is observed once per returned object (150,000 for
 * one all-pods list), so an observation must cost a few comparisons; prom-client's Histogram (label
 * hashing per call) cost about 5 % of that request. Rendered through the registry like any metric.
 */
class LocalHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    this.#sum += v;
    this.#count++;
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.#counts[i]!++;
        return;
      }
    }
  }

  async get(): Promise<MetricFamily> {
    const buckets = new Map<number, number>();
    this.#bounds.forEach((b, i) => {
      buckets.set(b, this.#counts[i]!);
    });
    const values = histogramValues(this.name, { buckets, sum: this.#sum, count: this.#count }, {});
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

/**
 * A metric whose values are set before each render: prom-client's registry renders any object with a
 * name and `get()`, which is how figures that live in Redis reach its text format.
 */
class StoredFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricFamily['type'];
  readonly aggregator = 'sum' as const;
  current: MetricFamily;

  constructor(f: MetricFamily) {
    this.name = f.name;
    this.help = f.help;
    this.type = f.type;
    this.current = f;
  }

  async get(): Promise<MetricFamily> {
    return this.current;
  }
}

export function createMetricsRegistry(o: MetricsRegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  // Started on the first render: an app that is never scraped (a test's) starts no collectors.
  let processMetrics = o.processMetrics ?? true;
  let freshness: LocalHistogram | null = null;
  if (o.freshness) {
    freshness = new LocalHistogram(METRIC_NAMES.freshness, HELP.freshness, FRESHNESS_BUCKETS);
    registry.registerMetric(freshness as unknown as Metric);
  }
  const stored = new Map<string, StoredFamily>();
  return {
    observeFreshness(timestampMs, nowMs = Date.now()) {
      freshness?.observe(Math.max(0, (nowMs - timestampMs) / 1000));
    },
    observeFreshnessAll(timestampsMs, nowMs = Date.now()) {
      if (freshness === null) return;
      for (let i = 0; i < timestampsMs.length; i++)
        freshness.observe(Math.max(0, (nowMs - timestampsMs[i]!) / 1000));
    },
    async render() {
      if (processMetrics) {
        processMetrics = false;
        collectDefaultMetrics({ register: registry });
      }
      let scrapeError: unknown = null;
      if (o.scrapeStats) {
        let families: MetricFamily[] = [];
        try {
          families = scrapeMetricFamilies(await o.scrapeStats());
        } catch (err) {
          scrapeError = err;
        }
        for (const f of families) {
          let m = stored.get(f.name);
          if (!m) {
            m = new StoredFamily(f);
            stored.set(f.name, m);
            registry.registerMetric(m as unknown as Metric);
          }
          m.current = f;
        }
        if (scrapeError !== null) {
          for (const m of stored.values()) m.current = { ...m.current, values: [] };
        }
      }
      return { contentType: registry.contentType, body: await registry.metrics(), scrapeError };
    },
  };
}
