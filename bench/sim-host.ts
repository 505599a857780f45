/**
 * The simulated cluster in its own process (so its CPU is its own): the development API server here,
 * and N HTTPS kubelets on loopback in worker processes of their own (`kubelet-workers.ts`, 1,000 kubelets
 * each), whose CPU and memory are reported with it. Its kubelets' clock stands still while a cycle is measured: `advance` moves it
 * to now and renders every payload ahead, so during the cycle the simulator only sends ready bytes,
 * while every cycle still sees new samples (housekeeping every second) and real, moving rates.
 *
 *   node bench/sim-host.ts <nodes> <pods per node> <namespaces> <dir>
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSim } from '../sim/index.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';
import { kubeletWorkers } from './kubelet-workers.ts';

const [nodesArg, podsArg, namespacesArg, dir] = process.argv.slice(2);
const nodes = Number(nodesArg);
const podsPerNode = Number(podsArg);
const namespaceCount = Number(namespacesArg);
if (!dir || !(nodes > 0) || !(podsPerNode > 0) || !(namespaceCount > 0)) {
  throw new Error('usage: sim-host.ts <nodes> <pods per node> <namespaces> <dir>');
}

/** Application namespaces, so that one namespace holds about as many pods as a real team's does. */
function namespaceNames(count: number): string[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `team-${String(i + 1).padStart(width, '0')}`);
}

// The orchestrator died while the cluster was still starting (minutes at 10,000 nodes): do not linger,
// nor leave the kubelet workers behind (they end when their channel to this process closes).
process.once('disconnect', () => process.exit(0));

let clock = Date.now();
const started = performance.now();
const workers = kubeletWorkers();
const sim = await startSim({
  nodes,
  podsPerNode,
  namespaces: namespaceNames(namespaceCount),
  housekeepingMs: 1000,
  servedHistory: 0,
  kubeletClock: () => clock,
  seed: 'bench',
  startKubelets: workers.start,
});
const startupMs = performance.now() - started;

/** The simulator's CPU (ms) and memory (MiB): this process and its kubelet workers. */
async function usage() {
  const k = await workers.usage();
  const own = process.memoryUsage().rss / 2 ** 20;
  return {
    cpuMs: cpuMs() + k.cpuMs,
    rssMiB: own + k.workers.reduce((sum, w) => sum + w.rssMiB, 0),
    peakRssMiB: Math.max(peakRssMiB(), ...k.workers.map((w) => w.peakRssMiB)),
    apiServerRssMiB: own,
    kubeletWorkers: k.workers,
  };
}

const files = {
  scraperKubeconfig: join(dir, 'scraper.kubeconfig'),
  serveKubeconfig: join(dir, 'serve.kubeconfig'),
  kubeletCa: join(dir, 'kubelet-ca.crt'),
  frontProxyCa: join(dir, 'front-proxy-ca.crt'),
  frontProxyCert: join(dir, 'front-proxy-client.crt'),
  frontProxyKey: join(dir, 'front-proxy-client.key'),
};
await Promise.all([
  sim.writeKubeconfig(files.scraperKubeconfig, 'scraper'),
  sim.writeKubeconfig(files.serveKubeconfig, 'serve'),
  writeFile(files.kubeletCa, sim.kubeletCaPem),
  writeFile(files.frontProxyCa, sim.frontProxyCaPem),
  writeFile(files.frontProxyCert, sim.frontProxyClient.certPem),
  writeFile(files.frontProxyKey, sim.frontProxyClient.keyPem, { mode: 0o600 }),
]);

/** The HPA's query: the first app namespace, and the labels of one Deployment's pods in it. */
function hpaQuery() {
  const namespace = namespaceNames(namespaceCount)[0]!;
  const pods = sim.cluster.pods().filter((p) => p.namespace === namespace && p.phase === 'Running');
  const app = pods.find((p) => p.labels.app !== undefined)?.labels.app;
  if (app === undefined) throw new Error(`no Deployment pod in namespace ${namespace}`);
  return {
    namespace,
    labelSelector: `app=${app}`,
    podsInNamespace: pods.length,
    matching: pods.filter((p) => p.labels.app === app).length,
  };
}

answer(
  async (r) => {
    switch (r.cmd) {
      case 'info':
        return {
          startupMs,
          apiServer: sim.apiServer.url,
          files,
          pods: sim.cluster.pods().filter((p) => p.phase === 'Running').length,
          kubelets: [...sim.kubelets.ports.values()].map((port) => `https://127.0.0.1:${port}`),
          token: sim.tokens.scraper,
          hpa: hpaQuery(),
          ...(await usage()),
          kubeletWorkerCount: workers.count(),
        };
      case 'advance': {
        // A new instant for every kubelet, and each one's payload rendered now rather than mid-cycle.
        const t = performance.now();
        clock = Date.now();
        await workers.advance('resource', r.gzip === true);
        return { ms: performance.now() - t };
      }
      case 'usage':
        return usage();
      default:
        throw new Error(`unknown command ${r.cmd}`);
    }
  },
  () => sim.stop(),
);
