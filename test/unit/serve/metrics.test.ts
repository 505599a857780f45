/**
 * The serve function's /metrics: Prometheus text with the freshness of every object it returned, the
 * scraper's stored figures when the reader has them, and process metrics.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StoredStats } from '../../../shared/metrics.ts';
import { appWith, entry, FakeReader, NGINX, NODE_A, NODE_C, V1BETA1, WEB_1 } from './fake-reader.ts';

/** A reader whose objects were sampled `ageMs` ago, and which holds the scraper's figures. */
class ReaderWithStats extends FakeReader {
  stats: StoredStats = { stats: { 'total:true': '12', 'points:node': '2' }, kubelet: {} };
  async scrapeStats(): Promise<StoredStats> {
    return this.stats;
  }
}

function aged(ageMs: number): ReaderWithStats {
  const t = Date.now() - ageMs;
  const e = (name: string, item: string) => ({ ...entry(name, item), timestamp: t });
  return new ReaderWithStats(
    [e('node-a', NODE_A), e('node-c', NODE_C)],
    [{ namespace: 'default', entries: [e('nginx', NGINX), e('web-1', WEB_1)] }],
  );
}

function count(body: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}+"]/g, '\\$&')} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : Number.NaN;
}

describe('/metrics on the serve function', () => {
  test('is Prometheus text with process metrics and the scraper figures the reader holds', async () => {
    const { app } = appWith(aged(0));
    const r = await app.request('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const body = await r.text();
    assert.equal(count(body, 'metrics_server_kubelet_request_total{success="true"}'), 12);
    assert.equal(count(body, 'metrics_server_storage_points{type="node"}'), 2);
    assert.match(body, /^process_resident_memory_bytes /m);
  });

  test('freshness counts every object a list returned, by its age', async () => {
    const { app } = appWith(aged(3000));
    assert.equal((await app.request(`${V1BETA1}/nodes`)).status, 200);
    assert.equal((await app.request(`${V1BETA1}/namespaces/default/pods`)).status, 200);
    const body = await (await app.request('/metrics')).text();
    // Two nodes and two pods, each sampled 3 s ago: none within 1 s or 2.54 s (1.364³), all within 3.46 s (1.364⁴).
    assert.equal(count(body, 'metrics_server_api_metric_freshness_seconds_count'), 4);
    assert.equal(count(body, 'metrics_server_api_metric_freshness_seconds_bucket{le="1"}'), 0);
    assert.equal(count(body, 'metrics_server_api_metric_freshness_seconds_bucket{le="+Inf"}'), 4);
    const sum = count(body, 'metrics_server_api_metric_freshness_seconds_sum');
    assert.ok(sum >= 12 && sum < 12.5, `sum ${sum}`);
  });

  test('single objects and the all-pods stream count too; objects without metrics do not', async () => {
    const { app } = appWith(aged(0));
    await app.request(`${V1BETA1}/nodes/node-a`);
    await app.request(`${V1BETA1}/namespaces/default/pods/nginx`);
    await (await app.request(`${V1BETA1}/pods`)).text();
    const body = await (await app.request('/metrics')).text();
    assert.equal(count(body, 'metrics_server_api_metric_freshness_seconds_count'), 4);
  });

  test('each app counts on its own (one registry per app, not a process-wide one)', async () => {
    const a = appWith(aged(0)).app;
    const b = appWith(aged(0)).app;
    await a.request(`${V1BETA1}/nodes`);
    const body = await (await b.request('/metrics')).text();
    assert.equal(count(body, 'metrics_server_api_metric_freshness_seconds_count'), 0);
  });

  test('a reader without stored figures still serves the rest', async () => {
    const { app } = appWith(new FakeReader());
    const body = await (await app.request('/metrics')).text();
    assert.match(body, /metrics_server_api_metric_freshness_seconds_count 0/);
    assert.doesNotMatch(body, /metrics_server_kubelet_request_total/);
  });

  test('other methods are a 405 Status', async () => {
    const { app } = appWith(new FakeReader());
    assert.equal((await app.request('/metrics', { method: 'POST' })).status, 405);
  });
});
