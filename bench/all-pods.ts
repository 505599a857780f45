/**
 * The all-pods list (`kubectl top pods -A`) against its floor, alone and repeatably: the serve benchmark
 * measures it once per `npm run bench`, after minutes of scraping, five requests each; this measures only
 * it, in alternating rounds, with the server's CPU per request beside the wall time (on a shared machine
 * the CPU is the steadier figure).
 *
 * The store is filled by the real writer (two cycles of the simulator's payloads through CycleRender and
 * CycleStaging, published as a scraper publishes), kept for an hour; then the serve program and the
 * floor (bench/floor-serve.ts, streaming the serve function's own answer kept as 64 KiB chunks) each get
 * `--requests` requests per round on one keep-alive connection, rounds alternating.
 *
 *   node bench/all-pods.ts --redis redis://HOST:PORT [--nodes 5000] [--pods-per-node 30] [--rounds 4]
 *                          [--requests 5]
 *
 * BENCH_SERVE_NODE_ARGS gives the serve process and the floor Node flags (the serve's NODE_OPTIONS), e.g.
 * for a profiler;
 * BENCH_SERVE_LOG names a file its output is appended to (e.g. with --trace-gc).
 *
 * It writes under the store's own keys: give it a Redis of its own (the keys expire within the hour).
 */
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeResource } from '../functions/scrape/decode/index.ts';
import { CycleRender } from '../functions/scrape/render.ts';
import { advanceState } from '../functions/scrape/state.ts';
import { createCA, issueCertificate } from '../shared/pki.ts';
import { connect, createRedis } from '../shared/store/redis.ts';
import { RedisMetricsWriter } from '../shared/store/writer.ts';
import { freePort, startProgram, waitFor } from '../sim/processes.ts';
import { renderResourceMetrics } from '../sim/resource-metrics.ts';
import { spawnChild } from './ipc.ts';
import { processCpuMs } from './proc.ts';
import { FLOOR_STREAM_KEY, fetchBody, storeChunks } from './serve-bench.ts';
import { benchCluster } from './sim-cluster.ts';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    nodes: { type: 'string', default: '5000' },
    'pods-per-node': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '4' },
    requests: { type: 'string', default: '5' },
  },
});
if (!values.redis) throw new Error('usage: all-pods.ts --redis redis://HOST:PORT [--nodes N] …');
const nodes = Number(values.nodes);
const podsPerNode = Number(values['pods-per-node']);
const RESOLUTION = 15_000;
const KEEP_MS = 3_600_000;
const PATH = '/apis/metrics.k8s.io/v1beta1/pods';

const redis = createRedis({ mode: 'single', url: values.redis }, { commandTimeoutMs: 30_000 });
await connect(redis);

// Two cycles a resolution apart (rates need two samples), the second ending now.
const now = Date.now();
const { cluster, nodeList, podInfos } = benchCluster(nodes, podsPerNode, now);
const writer = new RedisMetricsWriter(redis);
let states = new Map<string, Buffer>();
let namespaces: string[] = [];
for (const at of [now - RESOLUTION, now]) {
  const staging = writer.stageCycle({ cycle: at, ttlMs: 600_000 });
  const render = new CycleRender(
    { now: at, expiresAt: at + KEEP_MS, nodes: nodeList, pods: podInfos, ordered: true },
    staging,
  );
  const next = new Map<string, Buffer>();
  for (const n of cluster.nodes()) {
    const batch = decodeResource(renderResourceMetrics(cluster.kubeletView(n.name, at)), 0);
    const { state, bytes } = advanceState(states.get(n.name) ?? null, batch, {
      startedAt: at,
      expiresAt: at + KEEP_MS,
      resolutionMs: RESOLUTION,
    });
    render.add(n.name, state);
    next.set(n.name, bytes);
    await staging.flushIfFull();
  }
  const rendered = render.finish();
  await staging.finish({
    nodes: rendered.nodes,
    namespaces: rendered.namespaces,
    previousNamespaces: namespaces,
  });
  namespaces = [...rendered.namespaces.keys()];
  states = next;
}
process.stdout.write(`stored ${podInfos.length} pods of ${nodes} nodes\n`);

const dir = await mkdtemp(join(tmpdir(), 'all-pods-'));
const ca = await createCA('all-pods-ca');
const proxyCa = await createCA('all-pods-front-proxy-ca');
const server = await issueCertificate(ca, {
  commonName: 'metrics-serve',
  dnsNames: ['localhost'],
  ipAddresses: ['127.0.0.1'],
  usage: 'server',
});
const client = await issueCertificate(proxyCa, { commonName: 'front-proxy-client', usage: 'client' });
const file = async (name: string, text: string) => {
  await writeFile(join(dir, name), text, { mode: 0o600 });
  return join(dir, name);
};
const [certFile, keyFile, proxyCaFile, clientCertFile, clientKeyFile] = await Promise.all([
  file('serve.crt', server.certPem),
  file('serve.key', server.keyPem),
  file('proxy-ca.crt', proxyCa.certPem),
  file('client.crt', client.certPem),
  file('client.key', client.keyPem),
]);
const headers = { Accept: 'application/json', 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' };

const port = await freePort();
const lines: string[] = [];
const serve = startProgram(
  'serve',
  [
    `--redis-url=${values.redis}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${certFile}`,
    `--tls-private-key-file=${keyFile}`,
    `--requestheader-client-ca-file=${proxyCaFile}`,
    `--authorization-always-allow-paths=${PATH}`,
    `--metric-resolution=${RESOLUTION / 1000}s`,
    '--shutdown-delay-duration=0s',
  ],
  (l) => {
    lines.push(l);
    if (process.env.BENCH_SERVE_LOG) appendFileSync(process.env.BENCH_SERVE_LOG, `${l}\n`);
    if (/^[EW]/.test(l) && !l.includes('kubeconfig')) process.stderr.write(`  serve: ${l}\n`);
  },
  process.env.BENCH_SERVE_NODE_ARGS ? { NODE_OPTIONS: process.env.BENCH_SERVE_NODE_ARGS } : {},
);

const floor = spawnChild(
  'floor-serve.ts',
  [values.redis, 'bench:floor:hpa', certFile, keyFile, FLOOR_STREAM_KEY, PATH],
  (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
);
const load = spawnChild('load.ts');
try {
  await Promise.all([floor.ready, load.ready]);
  await waitFor('the serve function to listen', 30_000, async () =>
    lines.some((l) => l.includes('Serving metrics.k8s.io')),
  );
  const body = await waitFor('the serve function to answer', 30_000, () =>
    fetchBody(`https://127.0.0.1:${port}${PATH}`, client.certPem, client.keyPem, headers),
  );
  const items = (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items.length;
  if (items === 0) throw new Error('all pods: no items served');
  await storeChunks(redis, FLOOR_STREAM_KEY, body);
  const floorPort = (await floor.ask<{ port: number }>('info')).port;
  process.stdout.write(`serve pid ${serve.child.pid}, floor pid ${floor.pid}: measuring…\n`);
  const servers = [
    { name: 'serve', pid: serve.child.pid ?? 0, port, ms: [] as number[], cpu: [] as number[] },
    { name: 'floor', pid: floor.pid, port: floorPort, ms: [] as number[], cpu: [] as number[] },
  ];
  const requests = Number(values.requests);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
      const cpu0 = processCpuMs(s.pid);
      const r = await load.ask<{ ms: number[]; bytes: number; status: number }>('sequential', {
        host: '127.0.0.1',
        port: s.port,
        certFile: clientCertFile,
        keyFile: clientKeyFile,
        headers,
        path: PATH,
        times: requests,
      });
      if (r.status !== 200 || r.bytes !== body.length)
        throw new Error(`${s.name}: status ${r.status}, ${r.bytes} bytes (expected ${body.length})`);
      s.ms.push(...r.ms);
      s.cpu.push((processCpuMs(s.pid) - cpu0) / requests);
    }
  }
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
  const median = (a: number[]) => sorted(a)[Math.floor(a.length / 2)]!;
  const [sv, fl] = servers as [(typeof servers)[0], (typeof servers)[0]];
  for (const s of servers)
    process.stdout.write(
      `${s.name}: best ${sorted(s.ms)[0]!.toFixed(0)} ms, median ${median(s.ms).toFixed(0)} ms, CPU per request by round ${s.cpu.map((c) => c.toFixed(0)).join(', ')} ms\n`,
    );
  process.stdout.write(
    `${items} pods, ${(body.length / 2 ** 20).toFixed(1)} MiB: best ${(sorted(sv.ms)[0]! / sorted(fl.ms)[0]!).toFixed(2)}×, median ${(median(sv.ms) / median(fl.ms)).toFixed(2)}×, CPU ${(median(sv.cpu) / median(fl.cpu)).toFixed(2)}×\n`,
  );
} finally {
  await Promise.all([floor.stop(3000), load.stop(3000)]);
  await serve.stop();
  await redis.del(FLOOR_STREAM_KEY);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
}
