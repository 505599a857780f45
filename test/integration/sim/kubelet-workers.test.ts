/**
 * The benchmark's kubelets in worker processes (bench/kubelet-workers.ts): each worker builds its
 * nodes' share of the cluster and serves it with the real kubelets, so what a scraper reads from them
 * must be exactly what the simulator's own process would render, with the same authentication and the
 * faults the simulator sets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kubeletWorkers } from '../../../bench/kubelet-workers.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { renderResourceMetrics } from '../../../sim/resource-metrics.ts';
import { renderSummary } from '../../../sim/summary.ts';
import { fetchHttps } from './https.ts';

let sim: Sim;
let clock = Date.now();
const workers = kubeletWorkers(2);

before(async () => {
  sim = await startSim({
    nodes: 5,
    podsPerNode: 6,
    seed: 'kubelet-workers-it',
    housekeepingMs: 1000,
    servedHistory: 0,
    kubeletClock: () => clock,
    startKubelets: workers.start,
  });
});
after(() => sim.stop());

const kubeletUrl = (node: string, path: string) => `https://127.0.0.1:${sim.kubelets.ports.get(node)}${path}`;
const scrape = (node: string, path = '/metrics/resource', token: string | null = sim.tokens.scraper) =>
  fetchHttps(kubeletUrl(node, path), { ca: sim.kubeletCaPem, ...(token === null ? {} : { token }) });

describe('kubelets in worker processes', () => {
  test('given 5 nodes at 2 per worker, 3 workers serve every node, on the ports its node status names', async () => {
    assert.equal(workers.count(), 3);
    for (const n of sim.cluster.nodes()) {
      assert.equal(sim.cluster.node(n.name)!.kubeletPort, sim.kubelets.ports.get(n.name));
      assert.equal((await scrape(n.name, '/healthz')).status, 200);
    }
  });

  test('each answers byte for byte what the simulator renders from its own model, at the clock it was sent', async () => {
    for (const round of [0, 1]) {
      clock = Date.now() + round * 2500;
      await workers.advance('resource', false);
      for (const n of sim.cluster.nodes()) {
        const view = sim.cluster.kubeletView(n.name, clock);
        const resource = await scrape(n.name);
        assert.equal(resource.status, 200);
        assert.equal(
          resource.text,
          renderResourceMetrics(view),
          `${n.name} /metrics/resource, round ${round}`,
        );
        const summary = await scrape(n.name, '/stats/summary?only_cpu_and_memory=true');
        assert.equal(
          summary.text,
          renderSummary(view, { onlyCpuAndMemory: true }),
          `${n.name} /stats/summary`,
        );
      }
    }
  });

  test('they authenticate and authorize with the simulator users: 401 without a token, 403 for a viewer', async () => {
    assert.equal((await scrape('sim-node-0001', '/metrics/resource', null)).status, 401);
    const viewer = await scrape('sim-node-0001', '/metrics/resource', sim.tokens.viewer);
    assert.equal(viewer.status, 403);
    assert.match(
      viewer.text,
      /^Forbidden \(user=viewer, verb=get, resource=nodes, subresource\(s\)=\[metrics\]\)/,
    );
  });

  test('a fault the simulator sets reaches the worker serving that node, and only that node', async () => {
    sim.cluster.setFault('sim-node-0004', 'status-500');
    try {
      let status = 0;
      for (let i = 0; i < 50 && status !== 500; i++) {
        status = (await scrape('sim-node-0004')).status;
        if (status !== 500) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 500);
      assert.equal((await scrape('sim-node-0003')).status, 200);
    } finally {
      sim.cluster.setFault('sim-node-0004', 'none');
    }
  });

  test('their CPU and memory are reported per worker', async () => {
    const u = await workers.usage();
    assert.equal(u.workers.length, 3);
    assert.ok(u.cpuMs > 0);
    for (const w of u.workers) assert.ok(w.rssMiB > 10 && w.peakRssMiB >= w.rssMiB - 1, JSON.stringify(w));
  });
});
