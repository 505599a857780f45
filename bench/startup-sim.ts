/**
 * The start-up benchmark's simulated cluster, in its own process: a few HTTPS kubelets and the
 * development API server, with the files each function is started with (kubeconfigs, the kubelet CA,
 * the front-proxy CA, a serving certificate).
 *
 *   node bench/startup-sim.ts <nodes> <pods per node> <dir>
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, issueLoopbackServerCertificate } from '../shared/pki.ts';
import { startSim } from '../sim/index.ts';
import { answer } from './ipc.ts';

const [nodesArg, podsArg, dir] = process.argv.slice(2);
const nodes = Number(nodesArg);
const podsPerNode = Number(podsArg);
if (!dir || !(nodes > 0) || !(podsPerNode > 0))
  throw new Error('usage: startup-sim.ts <nodes> <pods per node> <dir>');

const sim = await startSim({ nodes, podsPerNode, housekeepingMs: 1000, servedHistory: 0, seed: 'startup' });
const files = {
  scraperKubeconfig: join(dir, 'startup-scraper.kubeconfig'),
  serveKubeconfig: join(dir, 'startup-serve.kubeconfig'),
  eventsKubeconfig: join(dir, 'startup-events.kubeconfig'),
  kubeletCa: join(dir, 'startup-kubelet-ca.crt'),
  frontProxyCa: join(dir, 'startup-front-proxy-ca.crt'),
  servingCert: join(dir, 'startup-serving.crt'),
  servingKey: join(dir, 'startup-serving.key'),
};
const ca = await createCA('startup-bench-serving-ca');
const serving = await issueLoopbackServerCertificate(ca, 'metrics-server');
await Promise.all([
  sim.writeKubeconfig(files.scraperKubeconfig, 'scraper'),
  sim.writeKubeconfig(files.serveKubeconfig, 'serve'),
  sim.writeKubeconfig(files.eventsKubeconfig, 'events'),
  writeFile(files.kubeletCa, sim.kubeletCaPem),
  writeFile(files.frontProxyCa, sim.frontProxyCaPem),
  writeFile(files.servingCert, serving.certPem),
  writeFile(files.servingKey, serving.keyPem, { mode: 0o600 }),
]);

answer(
  async (r) => {
    if (r.cmd === 'info') return { files, nodes, pods: nodes * podsPerNode };
    throw new Error(`unknown command ${r.cmd}`);
  },
  () => sim.stop(),
);
