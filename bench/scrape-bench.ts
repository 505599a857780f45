/**
 * The scrape benchmark at one cluster size: the simulator in its own process, a long-lived scraper
 * (warm cycles: connections and TLS sessions reused), a fresh scraper process (cold cycle, as a function
 * platform may start one), the floor program, and Redis' memory per stored container point.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type Child, spawnChild } from './ipc.ts';
import { scriptNodeArgs } from './node-args.ts';
import { memoryByKind, redisCpuMs, usedMemory } from './redis-stats.ts';
import {
  type InstanceReport,
  instanceConcurrency,
  type ShardInstances,
  shardingMissing,
  startShardInstances,
} from './shard-instances.ts';

export interface SimInfo {
  startupMs: number;
  apiServer: string;
  files: {
    scraperKubeconfig: string;
    serveKubeconfig: string;
    kubeletCa: string;
    frontProxyCa: string;
    frontProxyCert: string;
    frontProxyKey: string;
  };
  pods: number;
  kubelets: string[];
  token: string;
  hpa: { namespace: string; labelSelector: string; podsInNamespace: number; matching: number };
  rssMiB: number;
  /** The API server's process alone, and each kubelet worker process (MiB). */
  apiServerRssMiB: number;
  kubeletWorkers: { pid: number; rssMiB: number; peakRssMiB: number }[];
}

export interface CycleReport {
  wallMs: number;
  cpuMs: number;
  processCpuMs: number;
  readyAfterMs: number;
  rssMiB: number;
  peakRssMiB: number;
  ran: boolean;
  nodes: number;
  scraped: number;
  failed: number;
  firstFailure: { node: string; error: string } | null;
  points: { nodes: number; pods: number; containers: number };
  /** TLS connections the cycle opened: full handshakes, and resumed sessions. */
  handshakes: { full: number; resumed: number };
  /** process.memoryUsage() (MiB) at the cycle's highest sampled RSS and at its end; V8's heap spaces at its end. */
  memory: {
    peak: MemorySample;
    end: MemorySample;
    heapSpaces: Record<string, { size: number; used: number }>;
  };
  /** The simulator's CPU during the cycle, ms. */
  simCpuMs: number;
  /** Redis' CPU during the cycle, ms. */
  redisCpuMs: number;
  /** The machine's load average (1 min) as the cycle ended: other work on a shared machine. */
  loadAverage: number;
  /**
   * Sharded runs: each scraping process' CPU and peak RSS in the cycle, the coordinator first. `cpuMs`
   * is then theirs together and `peakRssMiB` the largest of them.
   */
  instances?: InstanceReport[];
  /** Sharded runs: the router's CPU in the cycle (standing in for the platform's routing; not counted as the scraper's). */
  routerCpuMs?: number;
}

export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** TLS connections open. */
  openTls: number;
}

/** One memory sample as text: RSS and its parts, MiB. */
export function describeMemory(m: MemorySample): string {
  const r = Math.round;
  return `rss ${r(m.rss)} = heap ${r(m.heapTotal)} (used ${r(m.heapUsed)}) + external ${r(m.external)} (array buffers ${r(m.arrayBuffers)}) + other ${r(m.rss - m.heapTotal - m.external)}; ${m.openTls} TLS connections`;
}

export interface FloorReport {
  /** `decode`: fetch and decode (the floor); `io`: fetch and read the body only (the I/O floor). */
  mode: 'decode' | 'io';
  wallMs: number;
  cpuMs: number;
  /** Pods decoded (0 in `io` mode). */
  pods: number;
  /** Body bytes received. */
  bytes: number;
  peakRssMiB: number;
}

export interface ScrapeFigures {
  nodes: number;
  /** --shard-size (0: one scraper process) and the shard instances behind the coordinator. */
  shardSize: number;
  shardInstances: number;
  pods: number;
  namespaces: number;
  simStartupMs: number;
  first: CycleReport;
  warm: CycleReport[];
  cold: CycleReport;
  floorFirst: FloorReport;
  floorWarm: FloorReport[];
  /** The I/O floor's warm cycles, each run right after the floor's cycle of the same index. */
  ioFloorWarm: FloorReport[];
  /**
   * Sharded runs: the floor of one shard instance's memory, a floor process of its own fetching and
   * decoding one shard's worth of nodes with an instance's concurrency, after each floor cycle (its
   * first and warm cycles); null unsharded.
   */
  shardFloor: FloorReport[] | null;
  redis: {
    bytes: number;
    containerPoints: number;
    bytesPerContainerPoint: number;
    byKind: Record<string, { keys: number; bytes: number }>;
  };
  /** Kept running for the serve benchmark when asked; the caller stops it. */
  sim: Child | null;
  simInfo: SimInfo;
}

export interface ScrapeBenchOptions {
  nodes: number;
  podsPerNode: number;
  namespaces: number;
  warmCycles: number;
  redisUrl: string;
  redis: Redis;
  dir: string;
  keepSim: boolean;
  progress: (line: string) => void;
  /** Extra node flags for a measured process by its role (e.g. --cpu-prof into a folder per role). */
  nodeArgs: (role: string) => string[];
  /** With --cpu-prof: where the scraper runners write one profile per cycle, by role. */
  profileDir: string | null;
  /**
   * --shard-size: 0, one scraper process; else a coordinator (the scrape runner with --shard-size and
   * --shard-url) and `shardInstances` shard instances (the scrape function's trigger servers).
   */
  shardSize: number;
  shardInstances: number;
}

/**
 * The environment that makes a scraper runner profile each cycle into DIR/<role>/, plus what
 * BENCH_SCRAPER_ENV gives the scraper processes only ("NAME=value NAME=value", e.g. malloc tunables).
 */
function profileEnv(o: ScrapeBenchOptions, role: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (process.env.BENCH_SCRAPER_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (!o.profileDir) return env;
  const dir = join(o.profileDir, role);
  mkdirSync(dir, { recursive: true });
  return { ...env, BENCH_PROFILE_DIR: dir };
}

/**
 * Node flags for the scraper processes: those `npm run scrape` (and the image, whose NODE_OPTIONS a test
 * keeps equal) runs it with, or BENCH_SCRAPER_NODE_ARGS (space-separated) to try others.
 */
const scraperNodeArgs = scriptNodeArgs('scrape', process.env.BENCH_SCRAPER_NODE_ARGS);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function medianBy<T>(xs: T[], f: (x: T) => number): number {
  return median(xs.map(f));
}

export async function scrapeBench(o: ScrapeBenchOptions): Promise<ScrapeFigures> {
  const { redis, progress } = o;
  const sharded = o.shardSize > 0;
  const tag = sharded ? `[${o.nodes} nodes, shards of ${o.shardSize}]` : `[${o.nodes} nodes]`;
  if (sharded) {
    const missing = shardingMissing();
    if (missing) throw new Error(missing);
  }
  progress(`${tag} starting the simulated cluster (${o.nodes} kubelets, ${o.nodes * o.podsPerNode} pods)…`);
  const sim = spawnChild(
    'sim-host.ts',
    [String(o.nodes), String(o.podsPerNode), String(o.namespaces), o.dir],
    ['--max-old-space-size=8192'],
  );
  const children: Child[] = [sim];
  const stopShards = new Set<ShardInstances>();
  try {
    await sim.ready;
    const info = await sim.ask<SimInfo>('info');
    progress(
      `${tag} simulator ready in ${(info.startupMs / 1000).toFixed(1)} s (RSS ${Math.round(info.rssMiB)} MiB: API server ${Math.round(info.apiServerRssMiB)} MiB, ${info.kubeletWorkers.length} kubelet workers ${Math.round(Math.min(...info.kubeletWorkers.map((w) => w.rssMiB)))}–${Math.round(Math.max(...info.kubeletWorkers.map((w) => w.rssMiB)))} MiB; ${info.pods} Running pods)`,
    );
    await redis.flushall();
    const baseline = await usedMemory(redis);

    const flags = [
      `--redis-url=${o.redisUrl}`,
      `--kubeconfig=${info.files.scraperKubeconfig}`,
      `--kubelet-certificate-authority=${info.files.kubeletCa}`,
      '--kubelet-use-node-status-port',
      '--kubelet-preferred-address-types=InternalIP',
      // Long, so that what this run writes outlives the serve benchmark that reads it.
      '--metric-resolution=10m',
      // Sharded: several scraper processes, ten kubelet workers and the simulator share the machine's
      // cores (with whatever else runs on it), and a kubelet that waits for a core is not a failed one.
      `--kubelet-request-timeout=${sharded ? '30s' : '10s'}`,
    ];
    /** The scraping processes: one runner, or a coordinator runner and its shard instances. */
    interface Scrapers {
      runner: Child;
      shards: ShardInstances | null;
      stop(): Promise<void>;
    }
    const startScrapers = async (role: 'warm' | 'cold'): Promise<Scrapers> => {
      let shards: ShardInstances | null = null;
      if (sharded) {
        progress(
          `${tag}   starting ${o.shardInstances} shard instances (the scrape function's trigger server, --kubelet-concurrency=${instanceConcurrency(o.shardInstances)} each)…`,
        );
        shards = await startShardInstances({
          count: o.shardInstances,
          shardSize: o.shardSize,
          flags,
          nodeArgs: (i) => [...scraperNodeArgs, ...o.nodeArgs(`shard-${role}-${o.nodes}-${i}`)],
          env: profileEnv(o, `shard-${role}-${o.nodes}`),
          dir: o.dir,
          tag,
        });
      }
      const runner = spawnChild(
        'scrape-runner.ts',
        [...flags, ...(shards?.coordinatorFlags ?? [])],
        scraperNodeArgs,
        profileEnv(o, `scrape-${role}-${o.nodes}`),
      );
      children.push(runner);
      try {
        await runner.ready;
      } catch (err) {
        await shards?.stop();
        throw err;
      }
      const stopping = shards;
      if (stopping) stopShards.add(stopping);
      return {
        runner,
        shards,
        async stop() {
          await Promise.all([runner.stop(), stopping?.stop()]);
          if (stopping) stopShards.delete(stopping);
        },
      };
    };
    const cycle = async ({ runner, shards }: Scrapers): Promise<CycleReport> => {
      await sim.ask('advance');
      const simCpu0 = (await sim.ask<{ cpuMs: number }>('usage')).cpuMs;
      const redisCpu0 = await redisCpuMs(redis);
      await shards?.begin();
      const r = await runner.ask<Omit<CycleReport, 'simCpuMs' | 'redisCpuMs'>>('cycle');
      const shardCycle = await shards?.end();
      const simCpu1 = (await sim.ask<{ cpuMs: number }>('usage')).cpuMs;
      let report: CycleReport = {
        ...r,
        simCpuMs: simCpu1 - simCpu0,
        redisCpuMs: (await redisCpuMs(redis)) - redisCpu0,
        loadAverage: loadavg()[0]!,
      };
      if (shardCycle) {
        // The cycle's cost is every scraping process' together; its memory, the largest one's.
        const instances: InstanceReport[] = [
          { role: 'coordinator', pid: runner.pid, cpuMs: r.cpuMs, peakRssMiB: r.peakRssMiB, shards: 0 },
          ...shardCycle.instances,
        ];
        report = {
          ...report,
          instances,
          routerCpuMs: shardCycle.routerCpuMs,
          cpuMs: instances.reduce((sum, i) => sum + i.cpuMs, 0),
          peakRssMiB: Math.max(...instances.map((i) => i.peakRssMiB)),
        };
        progress(
          `${tag}     instances (CPU ms, peak RSS MiB, shards): ${instances
            .map(
              (i, n) =>
                `${i.role === 'coordinator' ? 'coordinator' : `shard instance ${n - 1}`} ${Math.round(i.cpuMs)} ms ${Math.round(i.peakRssMiB)} MiB${i.role === 'shard' ? ` ×${i.shards}` : ''}`,
            )
            .join(', ')}; router ${Math.round(shardCycle.routerCpuMs)} ms`,
        );
        for (const f of shardCycle.routerFailures) progress(`${tag}     router: ${f}`);
      }
      if (!report.ran) throw new Error('the scraper did not run its cycle');
      if (report.nodes > 0 && report.scraped === 0)
        throw new Error(
          `${tag} no node was scraped in the cycle (${report.failed} failed, e.g. ${JSON.stringify(report.firstFailure)}): its figures would mean nothing`,
        );
      progress(`${tag}     memory at peak: ${describeMemory(report.memory.peak)}`);
      progress(`${tag}     memory at end:  ${describeMemory(report.memory.end)}`);
      progress(
        `${tag}     heap spaces at end (MiB size/used): ${Object.entries(report.memory.heapSpaces)
          .map(([k, v]) => `${k.replace(/_space$/, '')} ${Math.round(v.size)}/${Math.round(v.used)}`)
          .join(', ')}`,
      );
      if (report.failed > 0)
        progress(`${tag}   ${report.failed} nodes failed, e.g. ${JSON.stringify(report.firstFailure)}`);
      return report;
    };
    const describe = (c: CycleReport) =>
      `${(c.wallMs / 1000).toFixed(2)} s wall, ${(c.cpuMs / c.nodes).toFixed(3)} ms CPU/node${c.instances ? ` (${c.instances.length} processes)` : ''}, ` +
      `peak RSS ${Math.round(c.peakRssMiB)} MiB${c.instances ? ' (largest instance)' : ''}, ${c.points.containers} container points, ${c.instances ? '' : `TLS ${c.handshakes.full} full + ${c.handshakes.resumed} resumed `}(simulator ${(c.simCpuMs / c.nodes).toFixed(3)} ms/node)`;

    progress(
      `${tag} long-lived scraper${sharded ? 's (a coordinator and its shard instances)' : ''}: first cycle (no connections, no history)…`,
    );
    const warmRunner = await startScrapers('warm');
    const first = await cycle(warmRunner);
    progress(`${tag}   first cycle: ${describe(first)}`);
    // The floors run beside the warm cycles, one of each in turn (scraper, floor, I/O floor, …), so
    // that a change in the machine's load (it is shared) moves the scraper and its floors alike. They
    // run with the scraper's Node flags (its young generation's size moves both CPU and memory).
    progress(`${tag} floors: fetch and decode, and fetch only (I/O), on the same connections…`);
    const floor = spawnChild('floor-scrape.ts', [], [...scraperNodeArgs, ...o.nodeArgs(`floor-${o.nodes}`)]);
    children.push(floor);
    await floor.ready;
    const floorCycle = async (mode: FloorReport['mode']) => {
      await sim.ask('advance');
      return floor.ask<FloorReport>('cycle', {
        mode,
        urls: info.kubelets.map((u) => `${u}/metrics/resource`),
        token: info.token,
        ca: info.files.kubeletCa,
        concurrency: 256,
      });
    };
    // Sharded: one shard's nodes (any shard's: the simulated nodes are alike), as one instance scrapes them.
    const shardFloor = sharded
      ? spawnChild('floor-scrape.ts', [], [...scraperNodeArgs, ...o.nodeArgs(`floor-shard-${o.nodes}`)])
      : null;
    if (shardFloor) {
      children.push(shardFloor);
      await shardFloor.ready;
    }
    const shardFloorCycles: FloorReport[] = [];
    const shardFloorCycle = async () => {
      if (!shardFloor) return;
      shardFloorCycles.push(
        await shardFloor.ask<FloorReport>('cycle', {
          mode: 'decode',
          urls: info.kubelets.slice(0, o.shardSize).map((u) => `${u}/metrics/resource`),
          token: info.token,
          ca: info.files.kubeletCa,
          concurrency: instanceConcurrency(o.shardInstances),
        }),
      );
    };
    const floorFirst = await floorCycle('decode');
    await shardFloorCycle();
    const warm: CycleReport[] = [];
    const floorWarm: FloorReport[] = [];
    const ioFloorWarm: FloorReport[] = [];
    for (let i = 0; i < o.warmCycles; i++) {
      const c = await cycle(warmRunner);
      warm.push(c);
      progress(`${tag}   warm cycle ${i + 1}/${o.warmCycles}: ${describe(c)}`);
      floorWarm.push(await floorCycle('decode'));
      ioFloorWarm.push(await floorCycle('io'));
      await shardFloorCycle();
      progress(
        `${tag}     floor ${(floorWarm[i]!.cpuMs / o.nodes).toFixed(3)} ms CPU/node (scraper ${(c.cpuMs / floorWarm[i]!.cpuMs).toFixed(2)}×), I/O floor ${(ioFloorWarm[i]!.cpuMs / o.nodes).toFixed(3)} ms; floor peak RSS ${Math.round(ioFloorWarm[i]!.peakRssMiB)} MiB${shardFloor ? `, one shard's floor ${Math.round(shardFloorCycles.at(-1)!.peakRssMiB)} MiB` : ''}`,
      );
    }
    await Promise.all([floor.stop(), shardFloor?.stop()]);
    await warmRunner.stop();

    const bytes = (await usedMemory(redis)) - baseline;
    const byKind = await memoryByKind(redis);
    const containerPoints = warm.at(-1)!.points.containers;

    progress(`${tag} fresh scraper process${sharded ? 'es' : ''}: cold cycle…`);
    const coldRunner = await startScrapers('cold');
    const cold = await cycle(coldRunner);
    progress(
      `${tag}   cold cycle: ${describe(cold)}; process ready after ${Math.round(cold.readyAfterMs)} ms`,
    );
    await coldRunner.stop();

    const perNode = (reports: FloorReport[]) => (medianBy(reports, (f) => f.cpuMs) / o.nodes).toFixed(3);
    progress(
      `${tag}   floor: first ${(floorFirst.wallMs / 1000).toFixed(2)} s, warm ${(medianBy(floorWarm, (f) => f.wallMs) / 1000).toFixed(2)} s wall, ${perNode(floorWarm)} ms CPU/node; I/O floor: ${(medianBy(ioFloorWarm, (f) => f.wallMs) / 1000).toFixed(2)} s wall, ${perNode(ioFloorWarm)} ms CPU/node`,
    );

    if (!o.keepSim) await sim.stop();
    return {
      nodes: o.nodes,
      shardSize: o.shardSize,
      shardInstances: sharded ? o.shardInstances : 0,
      pods: info.pods,
      namespaces: o.namespaces,
      simStartupMs: info.startupMs,
      first,
      warm,
      cold,
      floorFirst,
      floorWarm,
      ioFloorWarm,
      shardFloor: shardFloor ? shardFloorCycles : null,
      redis: { bytes, containerPoints, bytesPerContainerPoint: bytes / containerPoints, byKind },
      sim: o.keepSim ? sim : null,
      simInfo: info,
    };
  } catch (err) {
    await Promise.all([...children.map((c) => c.stop(2000)), ...[...stopShards].map((s) => s.stop())]);
    throw err;
  }
}
