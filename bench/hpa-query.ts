/**
 * The HPA's query (one Deployment's pods in a namespace of about 150, by label selector) against its
 * floor, alone and repeatably: the serve benchmark measures it after minutes of scraping; this fills a
 * Redis of its own by the real writer (bench/serve-harness.ts) and measures only it, 64 keep-alive
 * HTTPS connections sending as fast as they are answered, serve function and floor (bench/floor-serve.ts,
 * one GET of the serve function's own answer) in alternating rounds, with each server's CPU per request
 * beside its throughput (on a shared machine the CPU is the steadier figure).
 *
 *   node bench/hpa-query.ts --redis redis://HOST:PORT [--nodes 5000] [--pods-per-node 30] [--rounds 4]
 *                           [--seconds 5] [--protobuf]
 *
 * BENCH_SERVE_NODE_ARGS and BENCH_SERVE_LOG are for profilers (bench/serve-harness.ts).
 *
 * It writes under the store's own keys: give it a Redis of its own (the keys expire within the hour).
 */
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import { processCpuMs } from './proc.ts';
import { FLOOR_KEY, fillStore, HARNESS_OPTIONS, startServers } from './serve-harness.ts';

const { values } = parseArgs({
  options: {
    ...HARNESS_OPTIONS,
    seconds: { type: 'string', default: '5' },
    protobuf: { type: 'boolean', default: false },
  },
});
if (!values.redis) throw new Error('usage: hpa-query.ts --redis redis://HOST:PORT [--nodes N] …');
const CONNECTIONS = 64;
/** Each round's warm-up (connections, JIT), not counted. */
const WARMUP_MS = 1000;

const { redis, podInfos } = await fillStore(
  values.redis,
  Number(values.nodes),
  Number(values['pods-per-node']),
);
// As the serve benchmark asks it: the first namespace, the labels of one Deployment's pods in it.
const namespace = 'team-0';
const app = podInfos.find((p) => p.namespace === namespace && p.labels.app !== undefined)?.labels.app;
if (app === undefined) throw new Error(`no Deployment pod in namespace ${namespace}`);
const base = `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods`;
const path = `${base}?labelSelector=${encodeURIComponent(`app=${app}`)}`;
const servers = await startServers({ redisUrl: values.redis, allowPaths: [base] });
const headers = values.protobuf
  ? { ...servers.headers, Accept: 'application/vnd.kubernetes.protobuf' }
  : servers.headers;
try {
  const body = await servers.fetch(path, headers);
  await redis.set(values.protobuf ? `${FLOOR_KEY}:protobuf` : FLOOR_KEY, body);
  process.stdout.write(
    `${podInfos.length} pods stored; ${path}: ${body.length} bytes; serve pid ${servers.serve.pid}, floor pid ${servers.floor.pid}\n`,
  );
  const measured = [
    { name: 'serve', ...servers.serve, rps: [] as number[], cpu: [] as number[], p99: [] as number[] },
    { name: 'floor', ...servers.floor, rps: [] as number[], cpu: [] as number[], p99: [] as number[] },
  ];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const s of round % 2 === 0 ? measured : [...measured].reverse()) {
      // The server's CPU from the end of the warm-up on, as the load generator counts requests.
      let cpuAt = 0;
      const timer = setTimeout(() => {
        cpuAt = processCpuMs(s.pid);
      }, WARMUP_MS);
      const r = await servers.load.ask<LoadResult>('run', {
        host: '127.0.0.1',
        port: s.port,
        certFile: servers.clientCertFile,
        keyFile: servers.clientKeyFile,
        headers,
        path,
        connections: CONNECTIONS,
        warmupMs: WARMUP_MS,
        durationMs: Number(values.seconds) * 1000,
      });
      clearTimeout(timer);
      if (r.errors > 0 || r.bytesPerResponse !== body.length)
        throw new Error(
          `${s.name}: ${r.errors} errors (${r.firstError}), ${r.bytesPerResponse} bytes per answer`,
        );
      s.rps.push(r.rps);
      s.p99.push(r.p99Ms);
      s.cpu.push((processCpuMs(s.pid) - cpuAt) / r.requests);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const [sv, fl] = measured as [(typeof measured)[0], (typeof measured)[0]];
  for (const s of measured)
    process.stdout.write(
      `${s.name}: req/s by round ${s.rps.map((r) => r.toFixed(0)).join(', ')}; CPU per request ${s.cpu.map((c) => (1000 * c).toFixed(0)).join(', ')} µs; p99 ${s.p99.map((p) => p.toFixed(1)).join(', ')} ms\n`,
    );
  const pairs = sv.rps.map((r, i) => `${((100 * r) / fl.rps[i]!).toFixed(0)} %`);
  process.stdout.write(
    `HPA query${values.protobuf ? ' (protobuf)' : ''}: serve at ${((100 * median(sv.rps)) / median(fl.rps)).toFixed(0)} % of the floor (medians; by round ${pairs.join(', ')}), CPU per request ${(median(sv.cpu) / median(fl.cpu)).toFixed(2)}× the floor's\n`,
  );
} finally {
  await servers.stop();
  redis.disconnect();
}
