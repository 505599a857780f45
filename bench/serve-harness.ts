/**
 * What the serve harnesses (all-pods.ts, hpa-query.ts) share: a Redis filled by the real writer (two
 * cycles of the simulator's payloads through CycleRender and CycleStaging, published as a scraper
 * publishes, kept an hour), and the serve program, the floor (bench/floor-serve.ts) and a load
 * generator (bench/load.ts) started on it, each in its own process.
 *
 * BENCH_SERVE_NODE_ARGS gives the serve process and the floor Node flags (the serve's NODE_OPTIONS), e.g.
 * for a profiler; BENCH_SERVE_LOG names a file the serve's output is appended to (e.g. with --trace-gc).
 */
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeResource } from '../functions/scrape/decode/index.ts';
import { CycleRender } from '../functions/scrape/render.ts';
import { advanceState } from '../functions/scrape/state.ts';
import { createCA, issueCertificate, issueLoopbackServerCertificate } from '../shared/pki.ts';
import { connect, createRedis } from '../shared/store/redis.ts';
import { RedisMetricsWriter } from '../shared/store/writer.ts';
import { freePort, startProgram, waitFor } from '../sim/processes.ts';
import { renderResourceMetrics } from '../sim/resource-metrics.ts';
import { type Child, spawnChild } from './ipc.ts';
import { fetchBody } from './serve-bench.ts';
import { benchCluster } from './sim-cluster.ts';

const RESOLUTION = 15_000;
const KEEP_MS = 3_600_000;
export const FLOOR_KEY = 'bench:floor:hpa';

/** The command-line options every harness takes (`parseArgs`), beside its own. */
export const HARNESS_OPTIONS = {
  redis: { type: 'string' },
  nodes: { type: 'string', default: '5000' },
  'pods-per-node': { type: 'string', default: '30' },
  rounds: { type: 'string', default: '4' },
  /** Items stored as a sharded cycle stores them: in parts, not in name order (no ORDER_FIELD). */
  unordered: { type: 'boolean', default: false },
} as const;

/**
 * Two cycles of `nodes` × `podsPerNode` a resolution apart (rates need two samples), the second now;
 * `unordered`: each pod's entry naming its item in the cycle's part, as shard instances write them,
 * instead of the part in name order an unsharded cycle writes (RenderInput.ordered).
 */
export async function fillStore(redisUrl: string, nodes: number, podsPerNode: number, unordered = false) {
  const redis = createRedis({ mode: 'single', url: redisUrl }, { commandTimeoutMs: 30_000 });
  await connect(redis);
  const now = Date.now();
  const { cluster, nodeList, podInfos } = benchCluster(nodes, podsPerNode, now);
  const writer = new RedisMetricsWriter(redis);
  let states = new Map<string, Buffer>();
  let namespaces: string[] = [];
  for (const at of [now - RESOLUTION, now]) {
    const staging = writer.stageCycle({ cycle: at, ttlMs: 600_000 });
    const render = new CycleRender(
      { now: at, expiresAt: at + KEEP_MS, nodes: nodeList, pods: podInfos, ordered: !unordered },
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
  return { redis, cluster, podInfos };
}

export interface Servers {
  serve: { pid: number; port: number };
  floor: { pid: number; port: number };
  load: Child;
  clientCertFile: string;
  clientKeyFile: string;
  /** As the aggregator sends them (with the front-proxy client certificate). */
  headers: Record<string, string>;
  /** GET `path` from the serve function, once it answers from Redis. */
  fetch(path: string, headers?: Record<string, string>): Promise<Buffer>;
  stop(): Promise<void>;
}

/**
 * The serve program (authorizing `allowPaths` without an API server), the floor answering `FLOOR_KEY`
 * (and streaming `streamKey` at `streamPath`, when given) and a load generator.
 */
export async function startServers(o: {
  redisUrl: string;
  allowPaths: string[];
  stream?: { key: string; path: string };
}): Promise<Servers> {
  const dir = await mkdtemp(join(tmpdir(), 'serve-harness-'));
  const ca = await createCA('serve-harness-ca');
  const proxyCa = await createCA('serve-harness-front-proxy-ca');
  const server = await issueLoopbackServerCertificate(ca, 'metrics-serve');
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
  const headers = {
    Accept: 'application/json',
    'X-Remote-User': 'admin',
    'X-Remote-Group': 'system:masters',
  };
  const nodeArgs = process.env.BENCH_SERVE_NODE_ARGS ?? '';

  const port = await freePort();
  const lines: string[] = [];
  const serve = startProgram(
    'serve',
    [
      `--redis-url=${o.redisUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${certFile}`,
      `--tls-private-key-file=${keyFile}`,
      `--requestheader-client-ca-file=${proxyCaFile}`,
      `--authorization-always-allow-paths=${o.allowPaths.join(',')}`,
      `--metric-resolution=${RESOLUTION / 1000}s`,
      '--shutdown-delay-duration=0s',
    ],
    (l) => {
      lines.push(l);
      if (process.env.BENCH_SERVE_LOG) appendFileSync(process.env.BENCH_SERVE_LOG, `${l}\n`);
      if (/^[EW]/.test(l) && !l.includes('kubeconfig')) process.stderr.write(`  serve: ${l}\n`);
    },
    nodeArgs ? { NODE_OPTIONS: nodeArgs } : {},
  );
  const floor = spawnChild(
    'floor-serve.ts',
    [o.redisUrl, FLOOR_KEY, certFile, keyFile, ...(o.stream ? [o.stream.key, o.stream.path] : [])],
    nodeArgs.split(/\s+/).filter(Boolean),
  );
  const load = spawnChild('load.ts');
  const stop = async () => {
    await Promise.all([floor.stop(3000), load.stop(3000)]);
    await serve.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all([floor.ready, load.ready]);
    await waitFor('the serve function to listen', 30_000, async () =>
      lines.some((l) => l.includes('Serving metrics.k8s.io')),
    );
    const floorPort = (await floor.ask<{ port: number }>('info')).port;
    return {
      serve: { pid: serve.child.pid ?? 0, port },
      floor: { pid: floor.pid, port: floorPort },
      load,
      clientCertFile,
      clientKeyFile,
      headers,
      fetch: (path, h = headers) =>
        waitFor('the serve function to answer', 30_000, () =>
          fetchBody(`https://127.0.0.1:${port}${path}`, client.certPem, client.keyPem, h),
        ),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
