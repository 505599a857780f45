/**
 * The serve benchmark, on what the largest scrape left in Redis: the real serve program (`npm run serve`)
 * and the floor server, each under the same load from a generator in its own process (64 keep-alive
 * HTTPS connections): the HPA query, the node list, and the all-pods list (time and peak memory).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { serveSpec } from '../shared/config/index.ts';
import { createCA, issueCertificate } from '../shared/pki.ts';
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

function fetchBody(url: string, cert: string, key: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, cert, key, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            reject(new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 300)}`));
          else resolve(body);
        });
      })
      .on('error', reject);
  });
}

export async function serveBench(o: ServeBenchOptions): Promise<ServeFigures> {
  const { scrape, progress } = o;
  const files = scrape.simInfo.files;
  const ca = await createCA('bench-serving-ca');
  const cert = await issueCertificate(ca, {
    commonName: 'metrics-serve',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
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
    const hpaBody = await fetchBody(`${base}${hpaPath}`, clientCert, clientKey, headers);
    const items = (JSON.parse(hpaBody) as { items: unknown[] }).items.length;
    progress(
      `[serve] HPA query ${hpa.namespace} ${hpa.labelSelector}: ${items} of ${hpa.podsInNamespace} pods in the namespace, ${hpaBody.length} bytes`,
    );
    if (items === 0) throw new Error('the HPA query returned no pods: nothing was scraped?');
    await o.redis.set(FLOOR_KEY, hpaBody);

    const floor = spawnChild('floor-serve.ts', [o.redisUrl, FLOOR_KEY, certFile, keyFile]);
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
    ) => {
      progress(
        `[serve] ${what}: ${connections} connections${rate > 0 ? ` at ${rate} requests/s` : ', as fast as answered,'} for ${seconds} s…`,
      );
      const warmupMs = 2000;
      const cpu0 = processCpuMs(serverPid);
      const t0 = performance.now();
      const r = await load.ask<LoadResult>('run', {
        host: '127.0.0.1',
        port: serverPort,
        certFile: files.frontProxyCert,
        keyFile: files.frontProxyKey,
        headers,
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

    const hpaServe = await measure('HPA query, serve function', pid, port, hpaPath, o.seconds);
    const hpaFloor = await measure('HPA query, floor server', floor.pid, floorPort, hpaPath, o.seconds);
    // Latency at a steady rate below saturation: with 64 connections sending as fast as they are
    // answered, latency is only concurrency ÷ throughput (the floor's own p99 is well over 5 ms then).
    const hpaAtRate = await measure(
      'HPA query, serve function',
      pid,
      port,
      hpaPath,
      o.seconds,
      CONNECTIONS,
      STEADY_RATE,
    );
    const floorAtRate = await measure(
      'HPA query, floor server',
      floor.pid,
      floorPort,
      hpaPath,
      o.seconds,
      CONNECTIONS,
      STEADY_RATE,
    );
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
    const seq = await load.ask<{ ms: number[]; bytes: number; status: number }>('sequential', {
      host: '127.0.0.1',
      port,
      certFile: files.frontProxyCert,
      keyFile: files.frontProxyKey,
      headers,
      path: '/apis/metrics.k8s.io/v1beta1/pods',
      times: runs,
    });
    if (seq.status !== 200) throw new Error(`all pods: status ${seq.status}`);
    const peakRssMiB = statusKiB(pid, 'VmHWM') / 1024;
    const sorted = [...seq.ms].sort((a, b) => a - b);
    const allPods = {
      pods: scrape.redis.containerPoints > 0 ? countPods(scrape) : 0,
      seconds: sorted[0]! / 1000,
      medianSeconds: sorted[Math.floor(runs / 2)]! / 1000,
      runs,
      bytes: seq.bytes,
      peakRssMiB,
      rssBeforeMiB,
    };
    progress(
      `[serve]   ${(allPods.seconds).toFixed(2)} s best, ${allPods.medianSeconds.toFixed(2)} s median, ${(seq.bytes / 2 ** 20).toFixed(1)} MiB, serve peak RSS ${peakRssMiB.toFixed(0)} MiB`,
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
      },
      noStore,
      nodeList: { ...nodeList, connections: NODE_LIST_CONNECTIONS },
      allPods,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(3000)));
    await serve.stop();
    await o.redis.del(FLOOR_KEY);
  }
}

/** Pods served in the last warm cycle (the all-pods list's length). */
function countPods(s: ScrapeFigures): number {
  return s.warm.at(-1)?.points.pods ?? 0;
}
