/**
 * The all-pods list (`kubectl top pods -A`) against its floor, alone and repeatably: the serve benchmark
 * measures it once per `npm run bench`, after minutes of scraping, five requests each; this measures only
 * it, in alternating rounds, with the server's CPU per request beside the wall time (on a shared machine
 * the CPU is the steadier figure).
 *
 * The store is filled by the real writer (bench/serve-harness.ts); then the serve program and the floor
 * (bench/floor-serve.ts, streaming the serve function's own answer kept as 64 KiB chunks) each get
 * `--requests` requests per round on one keep-alive connection, rounds alternating.
 *
 *   node bench/all-pods.ts --redis redis://HOST:PORT [--nodes 5000] [--pods-per-node 30] [--rounds 4]
 *                          [--requests 5] [--unordered]
 *
 * BENCH_SERVE_NODE_ARGS and BENCH_SERVE_LOG are for profilers (bench/serve-harness.ts).
 *
 * It writes under the store's own keys: give it a Redis of its own (the keys expire within the hour).
 */
import { parseArgs } from 'node:util';
import { processCpuMs } from './proc.ts';
import { FLOOR_STREAM_KEY, storeChunks } from './serve-bench.ts';
import { fillStore, HARNESS_OPTIONS, startServers } from './serve-harness.ts';

const { values } = parseArgs({
  options: {
    ...HARNESS_OPTIONS,
    requests: { type: 'string', default: '5' },
  },
});
if (!values.redis) throw new Error('usage: all-pods.ts --redis redis://HOST:PORT [--nodes N] …');
const nodes = Number(values.nodes);
const PATH = '/apis/metrics.k8s.io/v1beta1/pods';

const { redis, podInfos } = await fillStore(
  values.redis,
  nodes,
  Number(values['pods-per-node']),
  values.unordered,
);
process.stdout.write(`stored ${podInfos.length} pods of ${nodes} nodes\n`);
const servers = await startServers({
  redisUrl: values.redis,
  allowPaths: [PATH],
  stream: { key: FLOOR_STREAM_KEY, path: PATH },
});
try {
  const body = await servers.fetch(PATH);
  const items = (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items.length;
  if (items === 0) throw new Error('all pods: no items served');
  await storeChunks(redis, FLOOR_STREAM_KEY, body);
  process.stdout.write(`serve pid ${servers.serve.pid}, floor pid ${servers.floor.pid}: measuring…\n`);
  const measured = [
    { name: 'serve', ...servers.serve, ms: [] as number[], cpu: [] as number[] },
    { name: 'floor', ...servers.floor, ms: [] as number[], cpu: [] as number[] },
  ];
  const requests = Number(values.requests);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const s of round % 2 === 0 ? measured : [...measured].reverse()) {
      const cpu0 = processCpuMs(s.pid);
      const r = await servers.load.ask<{ ms: number[]; bytes: number; status: number }>('sequential', {
        host: '127.0.0.1',
        port: s.port,
        certFile: servers.clientCertFile,
        keyFile: servers.clientKeyFile,
        headers: servers.headers,
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
  const [sv, fl] = measured as [(typeof measured)[0], (typeof measured)[0]];
  for (const s of measured)
    process.stdout.write(
      `${s.name}: best ${sorted(s.ms)[0]!.toFixed(0)} ms, median ${median(s.ms).toFixed(0)} ms, CPU per request by round ${s.cpu.map((c) => c.toFixed(0)).join(', ')} ms\n`,
    );
  process.stdout.write(
    `${items} pods, ${(body.length / 2 ** 20).toFixed(1)} MiB: best ${(sorted(sv.ms)[0]! / sorted(fl.ms)[0]!).toFixed(2)}×, median ${(median(sv.ms) / median(fl.ms)).toFixed(2)}×, CPU ${(median(sv.cpu) / median(fl.cpu)).toFixed(2)}×\n`,
  );
} finally {
  await servers.stop();
  await redis.del(FLOOR_STREAM_KEY);
  redis.disconnect();
}
