/**
 * `/metrics`: this replica's process metrics and freshness histogram, and the scraper's figures as it
 * stored them in Redis (shared/metrics.ts), in Prometheus' text format. Like metrics-server's, it is not
 * an always-allow path: the app's authorization decides who may read it.
 *
 * Freshness (`metrics_server_api_metric_freshness_seconds`) is observed by the resource routes for every
 * object they return, through `freshnessObserver(app)` (or `freshnessBatchObserver(app)` for many at once).
 */
import type { Hono } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { createMetricsRegistry, type MetricsRegistry, type StoredStats } from '../../shared/metrics.ts';
import type { MetricsReader } from '../../shared/store/reader.ts';

export const METRICS_PATH = '/metrics';

/** One registry per app: every test's app, and every replica, counts on its own. */
const registries = new WeakMap<Hono, MetricsRegistry>();

interface StatsSource {
  scrapeStats(): Promise<StoredStats>;
}

const hasStats = (r: MetricsReader): r is MetricsReader & StatsSource =>
  typeof (r as Partial<StatsSource>).scrapeStats === 'function';

/** Records a returned object's age on `app`'s freshness histogram (a no-op before installMetrics). */
export function freshnessObserver(app: Hono): (timestampMs: number) => void {
  return (timestampMs) => registries.get(app)?.observeFreshness(timestampMs);
}

/** The same for many objects at once (a namespace's items served as bytes): one lookup, one clock read. */
export function freshnessBatchObserver(app: Hono): (timestampsMs: ArrayLike<number>) => void {
  return (timestampsMs) => registries.get(app)?.observeFreshnessAll(timestampsMs);
}

export function installMetrics(app: Hono, o: { reader: MetricsReader; log: Logger }): string[] {
  const { reader, log } = o;
  const registry = createMetricsRegistry({
    freshness: true,
    ...(hasStats(reader) ? { scrapeStats: () => reader.scrapeStats() } : {}),
  });
  registries.set(app, registry);
  app.get(METRICS_PATH, async () => {
    const { contentType, body, scrapeError } = await registry.render();
    if (scrapeError) log.debug(2, 'Scraper metrics left out: Redis did not answer', { err: scrapeError });
    return new Response(body, { status: 200, headers: { 'content-type': contentType } });
  });
  return [METRICS_PATH];
}
