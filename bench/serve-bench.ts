/**
 * The serve benchmark, on what the largest scrape left in Redis: the real serve program (`npm run serve`)
 * and the floor server, each under the same load from a generator in its own process (64 keep-alive
 * HTTPS connections): the HPA query (JSON and protobuf), the node list, and the all-pods list (time and
 * peak memory), each beside its floor. The serve function and its floor are measured in alternating
 * rounds, so that a change in the machine's load (it is shared) moves both alike.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { serveSpec } from '../shared/config/index.ts';
import { createCA, issueLoopbackServerCertificate } from '../shared/pki.ts';
import type { RedisClient } from '../shared/store/redis.ts';
import { freePort, startProgram, waitFor } from '../sim/processes.ts';
import { type Child, spawnChild } from './ipc.ts';
import type { LoadResult } from './load.ts';
import { processCpuMs, resetPeak, statusKiB } from './proc.ts';
import type { ScrapeFigures } from './scrape-bench.ts';

export interface LoadFigures extends LoadResult {
  serverCpuPercent: number;
  loadCpuPercent: number;
}

export interface ServeFigures {
  pods: number;
  nodes: number;
  connections: number;
  hpa: {
    query: string;
    matching: number;
    podsInNamespace: number;
    /** 64 connections, each sending as soon as its last answer arrived: throughput. */
    serve: LoadFigures;
    floor: LoadFigures;
    /** 64 connections at a steady total rate: latency below saturation. */
    rate: number;
    serveAtRate: LoadFigures;
    floorAtRate: LoadFigures;
    /** The same query with `Accept: application/vnd.kubernetes.protobuf`, and the floor serving its bytes. */
    protobuf: LoadFigures & { floor: LoadFigures };
  };
  /** GET /version: the app without any store read. */
  noStore: LoadFigures;
  nodeList: LoadFigures & { connections: number };
  allPods: {
    pods: number;
    seconds: number;
    medianSeconds: number;
    runs: number;
    bytes: number;
    peakRssMiB: number;
    rssBeforeMiB: number;
    /** The floor streaming the same bytes from Redis: best and median of as many runs. */
    floorSeconds: number;
    floorMedianSeconds: number;
  };
}

export interface ServeBenchOptions {
  scrape: ScrapeFigures;
  redisUrl: string;
  redis: Redis;
  dir: string;
  seconds: number;
  progress: (line: string) => void;
  serveNodeArgs: string[];
}

const CONNECTIONS = 64;
const NODE_LIST_CONNECTIONS = 4;
/** Requests per second of the steady-rate HPA measurement (a large cluster's HPAs ask a few per second). */
const STEADY_RATE = 1000;
const FLOOR_KEY = 'bench:floor:hpa';
export const FLOOR_STREAM_KEY = 'bench:floor:all-pods';
/** The all-pods floor's chunks: the size of the serve function's own stream chunks. */
const FLOOR_STREAM_CHUNK = 64 * 1024;
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
/** Rounds of each alternating measurement (serve, floor, serve, floor, …). */
const ROUNDS = 3;

/** Figures of several rounds as one: requests and CPU summed, latencies the median round's. */
export function combineRounds(rounds: readonly LoadFigures[]): LoadFigures {
  const sum = (f: (l: LoadFigures) => number) => rounds.reduce((a, l) => a + f(l), 0);
  const median = (f: (l: LoadFigures) => number) =>
    [...rounds].map(f).sort((a, b) => a - b)[Math.floor(rounds.length / 2)] ?? 0;
  const requests = sum((l) => l.requests);
  const seconds = sum((l) => l.seconds);
  return {
    requests,
    errors: sum((l) => l.errors),
    firstError: rounds.find((l) => l.firstError !== null)?.firstError ?? null,
    rps: requests / seconds,
    p50Ms: median((l) => l.p50Ms),
    p99Ms: median((l) => l.p99Ms),
    maxMs: Math.max(...rounds.map((l) => l.maxMs)),
    bytesPerResponse: requests > 0 ? sum((l) => l.bytesPerResponse * l.requests) / requests : 0,
    cpuMs: sum((l) => l.cpuMs),
    seconds,
    serverCpuPercent: sum((l) => l.serverCpuPercent * l.seconds) / seconds,
    loadCpuPercent: sum((l) => l.loadCpuPercent * l.seconds) / seconds,
  };
}

export function fetchBody(
  url: string,
  cert: string,
  key: string,
  headers: Record<string, string>,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, cert, key, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if (res.statusCode !== 200)
            reject(new Error(`GET ${url}: ${res.statusCode} ${body.toString('utf8', 0, 300)}`));
          else resolve(body);
        });
      })
      .on('error', reject);
  });
}

/** `body` as a Redis list of chunks under `key` (what the all-pods floor streams). */
export async function storeChunks(redis: RedisClient, key: string, body: Buffer): Promise<void> {
  await redis.del(key);
  for (let at = 0; at < body.length; at += 64 * FLOOR_STREAM_CHUNK) {
    const pipeline = redis.pipeline();
    const end = Math.min(body.length, at + 64 * FLOOR_STREAM_CHUNK);
    for (let c = at; c < end; c += FLOOR_STREAM_CHUNK)
      pipeline.rpush(key, body.subarray(c, Math.min(end, c + FLOOR_STREAM_CHUNK)));
    await pipeline.exec();
  }
}

export async function serveBench(o: ServeBenchOptions): Promise<ServeFigures> {
  const { scrape, progress } = o;
  const files = scrape.simInfo.files;
  const ca = await createCA('bench-serving-ca');
  const cert = await issueLoopbackServerCertificate(ca, 'metrics-serve');
  const certFile = join(o.dir, 'serve.crt');
  const keyFile = join(o.dir, 'serve.key');
  await writeFile(certFile, cert.certPem);
  await writeFile(keyFile, cert.keyPem, { mode: 0o600 });

  // As the aggregator calls it: the front-proxy client certificate asserting a user (used once the serve
  // function authenticates; until then it is ignored).
  const headers = {
    Accept: 'application/json',
    'X-Remote-User': 'admin',
    'X-Remote-Group': 'system:masters',
  };
  const clientCert = readFileSync(files.frontProxyCert, 'utf8');
  const clientKey = readFileSync(files.frontProxyKey, 'utf8');
  const known = new Set(serveSpec.flags.map((f) => f.name));
  const port = await freePort();
  const flags = [
    `--redis-url=${o.redisUrl}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${certFile}`,
    `--tls-private-key-file=${keyFile}`,
  ];
  if (known.has('requestheader-client-ca-file'))
    flags.push(`--requestheader-client-ca-file=${files.frontProxyCa}`);
  if (known.has('kubeconfig')) flags.push(`--kubeconfig=${files.serveKubeconfig}`);
  // Nothing balances load in front of it: stopped at once when measured.
  if (known.has('shutdown-delay-duration')) flags.push('--shutdown-delay-duration=0s');

  progress(`[serve] starting the serve function (${scrape.pods} pods in Redis)…`);
  const lines: string[] = [];
  const savedOptions = process.env.NODE_OPTIONS;
  if (o.serveNodeArgs.length > 0) process.env.NODE_OPTIONS = o.serveNodeArgs.join(' ');
  const serve = startProgram('serve', flags, (l) => {
    lines.push(l);
    if (/^[EW]/.test(l) && !l.includes('not enforced yet')) process.stderr.write(`  serve: ${l}\n`);
  });
  if (o.serveNodeArgs.length > 0) process.env.NODE_OPTIONS = savedOptions;
  const pid = serve.child.pid ?? 0;
  const children: Child[] = [];
  try {
    await waitFor('the serve function to listen', 30_000, async () =>
      lines.some((l) => l.includes('Serving metrics.k8s.io')),
    );
    const base = `https://127.0.0.1:${port}`;
    const { hpa } = scrape.simInfo;
    const hpaPath = `/apis/metrics.k8s.io/v1beta1/namespaces/${hpa.namespace}/pods?labelSelector=${encodeURIComponent(hpa.labelSelector)}`;
    // Listening comes before its Redis connection is up: on a busy machine the first answers are 503.
    const hpaBody = await waitFor('the serve function to answer from Redis', 30_000, () =>
      fetchBody(`${base}${hpaPath}`, clientCert, clientKey, headers),
    );
    const items = (JSON.parse(hpaBody.toString('utf8')) as { items: unknown[] }).items.length;
    progress(
      `[serve] HPA query ${hpa.namespace} ${hpa.labelSelector}: ${items} of ${hpa.podsInNamespace} pods in the namespace, ${hpaBody.length} bytes`,
    );
    if (items === 0) throw new Error('the HPA query returned no pods: nothing was scraped?');
    await o.redis.set(FLOOR_KEY, hpaBody);
    const protobufHeaders = { ...headers, Accept: PROTOBUF };
    const hpaProtobuf = await fetchBody(`${base}${hpaPath}`, clientCert, clientKey, protobufHeaders);
    await o.redis.set(`${FLOOR_KEY}:protobuf`, hpaProtobuf);
    progress(`[serve] the same in protobuf: ${hpaProtobuf.length} bytes`);
    const allPodsPath = '/apis/metrics.k8s.io/v1beta1/pods';

    const floor = spawnChild('floor-serve.ts', [
      o.redisUrl,
      FLOOR_KEY,
      certFile,
      keyFile,
      FLOOR_STREAM_KEY,
      allPodsPath,
    ]);
    children.push(floor);
    const load = spawnChild('load.ts');
    children.push(load);
    await Promise.all([floor.ready, load.ready]);
    const floorPort = (await floor.ask<{ port: number }>('info')).port;

    const measure = async (
      what: string,
      serverPid: number,
      serverPort: number,
      path: string,
      seconds: number,
      connections = CONNECTIONS,
      rate = 0,
      requestHeaders: Record<string, string> = headers,
      warmupMs = 2000,
    ) => {
      progress(
        `[serve] ${what}: ${connections} connections${rate > 0 ? ` at ${rate} requests/s` : ', as fast as answered,'} for ${seconds} s…`,
      );
      const cpu0 = processCpuMs(serverPid);
      const t0 = performance.now();
      const r = await load.ask<LoadResult>('run', {
        host: '127.0.0.1',
        port: serverPort,
        certFile: files.frontProxyCert,
        keyFile: files.frontProxyKey,
        headers: requestHeaders,
        path,
        connections,
        rate,
        warmupMs,
        durationMs: seconds * 1000,
      });
      const elapsed = performance.now() - t0;
      const figures: LoadFigures = {
        ...r,
        serverCpuPercent: (100 * (processCpuMs(serverPid) - cpu0)) / elapsed,
        loadCpuPercent: (100 * r.cpuMs) / (seconds * 1000),
      };
      if (r.errors > 0) progress(`[serve]   ${r.errors} errors, first: ${r.firstError}`);
      progress(
        `[serve]   p50 ${figures.p50Ms.toFixed(2)} ms, p99 ${figures.p99Ms.toFixed(2)} ms, ${figures.rps.toFixed(0)} req/s (server CPU ${figures.serverCpuPercent.toFixed(0)} %, load generator ${figures.loadCpuPercent.toFixed(0)} %)`,
      );
      return figures;
    };

    /** The serve function and the floor in alternating rounds; each one's rounds combined. */
    const alternate = async (what: string, rate: number, requestHeaders: Record<string, string>) => {
      const serveRounds: LoadFigures[] = [];
      const floorRounds: LoadFigures[] = [];
      const seconds = Math.max(1, o.seconds / ROUNDS);
      for (let round = 0; round < ROUNDS; round++) {
        // The first round warms up for 2 s (JIT, connections); the later ones for 1 s (connections).
        const warmupMs = round === 0 ? 2000 : 1000;
        const measureRound = (who: string, serverPid: number, serverPort: number) =>
          measure(
            `${what}, ${who} (round ${round + 1}/${ROUNDS})`,
            serverPid,
            serverPort,
            hpaPath,
            seconds,
            CONNECTIONS,
            rate,
            requestHeaders,
            warmupMs,
          );
        serveRounds.push(await measureRound('serve function', pid, port));
        floorRounds.push(await measureRound('floor server', floor.pid, floorPort));
      }
      const [s, f] = [combineRounds(serveRounds), combineRounds(floorRounds)];
      progress(
        `[serve]   ${what}: serve ${s.rps.toFixed(0)} req/s (p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms), floor ${f.rps.toFixed(0)} req/s (p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms): ${((100 * s.rps) / f.rps).toFixed(0)} % of the floor`,
      );
      return [s, f] as const;
    };
    const [hpaServe, hpaFloor] = await alternate('HPA query', 0, headers);
    // Latency at a steady rate below saturation: with 64 connections sending as fast as they are
    // answered, latency is only concurrency ÷ throughput (the floor's own p99 is well over 5 ms then).
    const [hpaAtRate, floorAtRate] = await alternate(
      `HPA query at ${STEADY_RATE} requests/s`,
      STEADY_RATE,
      headers,
    );
    const [protobufServe, protobufFloor] = await alternate('HPA query in protobuf', 0, protobufHeaders);
    // The app's own ceiling: a request it answers without reading Redis (through the same routing,
    // authentication and response path), to tell the store's share of the HPA query from the rest.
    const noStore = await measure(
      '/version (no store read), serve function',
      pid,
      port,
      '/version',
      Math.max(3, Math.round(o.seconds / 2)),
    );
    // `kubectl top nodes` is a person's query, not a controller's: a few at a time, not 64.
    const nodeList = await measure(
      'node list',
      pid,
      port,
      '/apis/metrics.k8s.io/v1beta1/nodes',
      Math.max(3, Math.round(o.seconds / 2)),
      NODE_LIST_CONNECTIONS,
    );

    progress(`[serve] all pods, one request at a time…`);
    const rssBeforeMiB = statusKiB(pid, 'VmRSS') / 1024;
    await resetPeak(pid);
    const runs = 5;
    const sequential = (serverPort: number) =>
      load.ask<{ ms: number[]; bytes: number; status: number }>('sequential', {
        host: '127.0.0.1',
        port: serverPort,
        certFile: files.frontProxyCert,
        keyFile: files.frontProxyKey,
        headers,
        path: allPodsPath,
        times: runs,
      });
    const seq = await sequential(port);
    if (seq.status !== 200) throw new Error(`all pods: status ${seq.status}`);
    const peakRssMiB = statusKiB(pid, 'VmHWM') / 1024;
    const sorted = [...seq.ms].sort((a, b) => a - b);
    // The floor streams the serve function's own answer, kept in Redis as chunks.
    progress(`[serve] all pods, floor (the same bytes streamed from Redis)…`);
    await storeChunks(
      o.redis,
      FLOOR_STREAM_KEY,
      await fetchBody(`${base}${allPodsPath}`, clientCert, clientKey, headers),
    );
    const floorSeq = await sequential(floorPort);
    if (floorSeq.status !== 200 || floorSeq.bytes !== seq.bytes)
      throw new Error(
        `all pods floor: status ${floorSeq.status}, ${floorSeq.bytes} bytes (serve: ${seq.bytes})`,
      );
    const floorSorted = [...floorSeq.ms].sort((a, b) => a - b);
    const allPods = {
      pods: scrape.redis.containerPoints > 0 ? countPods(scrape) : 0,
      seconds: sorted[0]! / 1000,
      medianSeconds: sorted[Math.floor(runs / 2)]! / 1000,
      runs,
      bytes: seq.bytes,
      peakRssMiB,
      rssBeforeMiB,
      floorSeconds: floorSorted[0]! / 1000,
      floorMedianSeconds: floorSorted[Math.floor(runs / 2)]! / 1000,
    };
    progress(
      `[serve]   ${(allPods.seconds).toFixed(2)} s best, ${allPods.medianSeconds.toFixed(2)} s median, ${(seq.bytes / 2 ** 20).toFixed(1)} MiB, serve peak RSS ${peakRssMiB.toFixed(0)} MiB; floor ${allPods.floorSeconds.toFixed(2)} s best, ${allPods.floorMedianSeconds.toFixed(2)} s median (${(allPods.seconds / allPods.floorSeconds).toFixed(2)}×)`,
    );
    return {
      pods: scrape.pods,
      nodes: scrape.nodes,
      connections: CONNECTIONS,
      hpa: {
        query: `${hpa.namespace} ${hpa.labelSelector}`,
        matching: items,
        podsInNamespace: hpa.podsInNamespace,
        serve: hpaServe,
        floor: hpaFloor,
        rate: STEADY_RATE,
        serveAtRate: hpaAtRate,
        floorAtRate: floorAtRate,
        protobuf: { ...protobufServe, floor: protobufFloor },
      },
      noStore,
      nodeList: { ...nodeList, connections: NODE_LIST_CONNECTIONS },
      allPods,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(3000)));
    await serve.stop();
    await o.redis.del(FLOOR_KEY, `${FLOOR_KEY}:protobuf`, FLOOR_STREAM_KEY);
  }
}

/** Pods served in the last warm cycle (the all-pods list's length). */
function countPods(s: ScrapeFigures): number {
  return s.warm.at(-1)?.points.pods ?? 0;
}
