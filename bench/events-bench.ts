/**
 * The events benchmark (DESIGN.md's target: sustained ingest of 1,000 events/s into the journal and three
 * sinks with no backlog growth and ≤ 2 s from creation to delivery, p99). Four processes besides Redis:
 *
 *   events-sim-host.ts   the development API server, writing Events at the rate (sim/load.ts), noting
 *                        when it wrote each version
 *   functions/events     the real program (`npm run events -- --loop`), with stdout to a file, a webhook
 *                        and a Redis stream as sinks, against the private redis-server
 *   events-receivers.ts  the webhook's server, the stdout file's reader and the stream's consumer,
 *                        noting when each record arrived
 *
 * All on one machine, so the clocks compare (Date.now(); Redis' stream ids). After a warm-up, a window
 * of sustained load is measured: per sink, records delivered per second, creation-to-delivery p50/p99
 * of every version created in the window, and the backlog (versions written by the API server and not
 * yet at that sink, sampled every second) with its trend; CPU per 1,000 events of the function, the
 * simulator, the receivers and Redis, each their own; the function's RSS; Redis' bytes per journaled
 * record and per event it remembers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { EVENT_MEMORY_MARGIN_MS } from '../functions/events/journal.ts';
import { eventKeys, eventsScope } from '../shared/store/keys.ts';
import { freePort, waitFor } from '../sim/processes.ts';
import { spawnChild } from './ipc.ts';
import { scriptNodeArgs } from './node-args.ts';
import { processCpuMs, statusKiB } from './proc.ts';
import { redisCpuMs } from './redis-stats.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const SINKS = ['stdout', 'webhook', 'redis'] as const;
export type SinkName = (typeof SINKS)[number];
const STREAM = 'bench:events-sink';

/** Node flags for the events function: `npm run events`'s, or BENCH_EVENTS_NODE_ARGS to try others. */
const functionNodeArgs = scriptNodeArgs('events', process.env.BENCH_EVENTS_NODE_ARGS);

export interface EventsBenchOptions {
  /** Events written per second by the simulated API server. */
  rate: number;
  /** The measured window, after the warm-up. */
  seconds: number;
  warmupSeconds: number;
  redisUrl: string;
  redis: Redis;
  dir: string;
  progress: (line: string) => void;
  /** Node flags of the events function (a CPU profile). */
  nodeArgs: string[];
}

export interface SinkFigures {
  /** Records that arrived in the window, per second. */
  perSecond: number;
  /** Creation-to-delivery of the versions created in the window, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Versions created in the window that never arrived (within the drain after it). */
  missing: number;
  duplicates: number;
  /** Versions written and not yet at this sink: at the window's start and end, its largest, its trend. */
  backlog: { start: number; end: number; max: number; slopePerSecond: number };
}

export interface EventsFigures {
  rate: number;
  seconds: number;
  /** Event versions the API server wrote in the window, per second. */
  ingestPerSecond: number;
  /** Versions the load generator could not write on time (the simulator fell behind). */
  simulatorSkipped: number;
  sinks: Record<SinkName, SinkFigures>;
  /** CPU ms per 1,000 event versions written, each process its own; the function's share of a core. */
  cpu: {
    functionMsPer1000: number;
    simulatorMsPer1000: number;
    receiversMsPer1000: number;
    redisMsPer1000: number;
    functionCores: number;
  };
  /** The function's RSS before the load, at the window's end and at its peak; its V8 heap at the end. */
  memory: {
    functionIdleRssMiB: number;
    functionRssMiB: number;
    functionPeakRssMiB: number;
    functionHeapUsedMiB: number;
    functionHeapTotalMiB: number;
    simulatorRssMiB: number;
  };
  redis: {
    /** The journal stream when measured: records held, bytes per record (MEMORY USAGE, every node sampled). */
    journalRecords: number;
    journalBytesPerRecord: number;
    /** The per-event memory (dedupe, last version) that lives --event-ttl + 15 min after an event's last version. */
    eventMemoryKeys: number;
    eventMemoryBytesPerEvent: number;
    /** Events first seen per second in the window (what the event memory grows by). */
    newEventsPerSecond: number;
    /** That memory at steady state with the API server's default --event-ttl (1 h): new events/s × 75 min × bytes. */
    steadyStateEventMemoryMiBAt1h: number;
  };
  /** The function's own /metrics at the window's end. */
  functionMetrics: Record<string, number>;
}

/** Percentile of sorted values, nearest rank. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SimUsage {
  cpuMs: number;
  rssMiB: number;
  written: number;
  added: number;
  skipped: number;
}
interface ReceiverUsage {
  cpuMs: number;
  counts: Record<SinkName, number>;
  duplicates: Record<SinkName, number>;
}

/** The function's /metrics as name{labels} → value (what the report quotes). */
async function scrapeMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (
      line.startsWith('#') ||
      !/^(events_|nodejs_heap_size|nodejs_external_memory|process_resident)/.test(line)
    )
      continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

export async function eventsBench(o: EventsBenchOptions): Promise<EventsFigures> {
  const { progress } = o;
  // Events live two minutes in the simulated API server: the store holds 2 × 60,000 rather than an
  // hour's worth, and the function remembers them for its shortest --event-ttl (1 m) + 15 min.
  const sim = spawnChild('events-sim-host.ts', ['120000', o.dir]);
  let fn: ChildProcess | null = null;
  const stdoutFile = join(o.dir, 'events-stdout.ndjson');
  // The function's standard output, created before the receivers open it for reading.
  const out = openSync(stdoutFile, 'w');
  let log: number | null = null;
  const receivers = spawnChild('events-receivers.ts', [stdoutFile, o.redisUrl, STREAM]);
  try {
    await sim.ready;
    const info = await sim.ask<{ startupMs: number; kubeconfig: string; pods: number }>('info');
    progress(
      `events: simulated API server up in ${(info.startupMs / 1000).toFixed(1)} s (${info.pods} pods to report on)`,
    );
    await receivers.ready;
    const { webhookPort } = await receivers.ask<{ webhookPort: number }>('info');

    const port = await freePort();
    log = openSync(join(o.dir, 'events-function.log'), 'w');
    fn = spawn(
      process.execPath,
      [
        ...functionNodeArgs,
        ...o.nodeArgs,
        'functions/events/main.ts',
        '--loop',
        `--port=${port}`,
        `--kubeconfig=${info.kubeconfig}`,
        `--redis-url=${o.redisUrl}`,
        '--event-ttl=1m',
        '--sink=stdout',
        `--sink=webhook:http://127.0.0.1:${webhookPort}/events`,
        `--sink=redis:?stream=${STREAM}&maxlen=0`,
      ],
      { cwd: ROOT, stdio: ['ignore', out, log], env: { ...process.env } },
    );
    const pid = fn.pid!;
    const exited = new Promise<number | string>((resolve) =>
      fn!.once('exit', (c, s) => resolve(c ?? s ?? 0)),
    );
    await waitFor(
      'the events function to hold its lease',
      30_000,
      async () => {
        if (fn!.exitCode !== null)
          throw new Error(
            `the events function exited (${fn!.exitCode}); see ${join(o.dir, 'events-function.log')}`,
          );
        const m = await scrapeMetrics(port);
        return m.events_lease_held === 1;
      },
      200,
    );

    const usage = async () => {
      const [s, r, redisCpu] = await Promise.all([
        sim.ask<SimUsage>('usage'),
        receivers.ask<ReceiverUsage>('usage'),
        redisCpuMs(o.redis),
      ]);
      return { at: Date.now(), sim: s, receivers: r, redisCpu, fnCpu: processCpuMs(pid) };
    };
    const caughtUp = async () => {
      const u = await usage();
      return SINKS.every((k) => u.receivers.counts[k] >= u.sim.written) ? u : undefined;
    };
    // The API server holds no event yet (no start-up events): every version the sinks get is the load's.
    await waitFor('the sinks to have everything written so far', 60_000, caughtUp, 200);

    const idleRssMiB = statusKiB(pid, 'VmRSS') / 1024;
    await sim.ask('load', { perSecond: o.rate });
    progress(`events: ${o.rate} events/s, ${o.warmupSeconds} s of warm-up, then ${o.seconds} s measured`);
    await sleep(o.warmupSeconds * 1000);

    const start = await usage();
    const samples = [start];
    while (Date.now() < start.at + o.seconds * 1000) {
      await sleep(1000);
      const u = await usage();
      samples.push(u);
      if (samples.length % 10 === 0) {
        const behind = SINKS.map((k) => `${k} ${u.sim.written - u.receivers.counts[k]}`).join(', ');
        progress(`events: ${((u.at - start.at) / 1000).toFixed(0)} s, behind: ${behind}`);
      }
    }
    const end = samples.at(-1)!;
    const rssMiB = statusKiB(pid, 'VmRSS') / 1024;
    const functionMetrics = await scrapeMetrics(port);
    const memory = await redisMemory(o.redis);
    const { skipped } = await sim.ask<{ skipped: number }>('unload');
    progress('events: load stopped; waiting for every sink to catch up');
    await waitFor('every sink to catch up', 120_000, caughtUp, 500).catch((err: unknown) =>
      progress(`events: ${String(err)}`),
    );
    const peakRssMiB = statusKiB(pid, 'VmHWM') / 1024;

    const { created } = await sim.ask<{ created: [number, number][] }>('created');
    const { arrivals } = await receivers.ask<{ arrivals: Record<SinkName, [number, number][]> }>('arrivals');
    const inWindow = created.filter(([, at]) => at >= start.at && at < end.at);
    const windowS = (end.at - start.at) / 1000;
    const written = end.sim.written - start.sim.written;
    const per1000 = (ms: number) => (1000 * ms) / written;

    const sinks = {} as Record<SinkName, SinkFigures>;
    for (const k of SINKS) {
      const at = new Map(arrivals[k]);
      const latencies: number[] = [];
      let missing = 0;
      for (const [rv, createdAt] of inWindow) {
        const a = at.get(rv);
        if (a === undefined) missing++;
        else latencies.push(a - createdAt);
      }
      latencies.sort((a, b) => a - b);
      const backlog = samples.map(
        (u) => [(u.at - start.at) / 1000, u.sim.written - u.receivers.counts[k]] as [number, number],
      );
      sinks[k] = {
        perSecond: (end.receivers.counts[k] - start.receivers.counts[k]) / windowS,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies.at(-1) ?? Number.NaN,
        missing,
        duplicates: end.receivers.duplicates[k],
        backlog: {
          start: backlog[0]![1],
          end: backlog.at(-1)![1],
          max: Math.max(...backlog.map(([, y]) => y)),
          slopePerSecond: slope(backlog),
        },
      };
    }
    const newEventsPerSecond = (end.sim.added - start.sim.added) / windowS;
    fn.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) progress(`events: the function exited with ${code}`);
    // Warnings mean retries or dropped watches: worth a look next to the figures.
    const logged = readFileSync(join(o.dir, 'events-function.log'), 'utf8')
      .split('\n')
      .filter((l) => /level=(warn|error)|"level":"(warn|error)"|^[WE]\d{4}/.test(l));
    if (logged.length > 0)
      progress(
        `events: the function logged ${logged.length} warnings or errors, first: ${logged.slice(0, 3).join(' | ')}`,
      );
    fn = null;
    return {
      rate: o.rate,
      seconds: windowS,
      ingestPerSecond: written / windowS,
      simulatorSkipped: skipped,
      sinks,
      cpu: {
        functionMsPer1000: per1000(end.fnCpu - start.fnCpu),
        simulatorMsPer1000: per1000(end.sim.cpuMs - start.sim.cpuMs),
        receiversMsPer1000: per1000(end.receivers.cpuMs - start.receivers.cpuMs),
        redisMsPer1000: per1000(end.redisCpu - start.redisCpu),
        functionCores: (end.fnCpu - start.fnCpu) / (end.at - start.at),
      },
      memory: {
        functionIdleRssMiB: idleRssMiB,
        functionRssMiB: rssMiB,
        functionPeakRssMiB: peakRssMiB,
        functionHeapUsedMiB: (functionMetrics.nodejs_heap_size_used_bytes ?? Number.NaN) / 2 ** 20,
        functionHeapTotalMiB: (functionMetrics.nodejs_heap_size_total_bytes ?? Number.NaN) / 2 ** 20,
        simulatorRssMiB: end.sim.rssMiB,
      },
      redis: {
        ...memory,
        newEventsPerSecond,
        steadyStateEventMemoryMiBAt1h:
          (newEventsPerSecond * (3_600_000 + EVENT_MEMORY_MARGIN_MS) * memory.eventMemoryBytesPerEvent) /
          1000 /
          2 ** 20,
      },
      functionMetrics,
    };
  } finally {
    fn?.kill('SIGKILL');
    await Promise.all([sim.stop(), receivers.stop()]);
    closeSync(out);
    if (log !== null) closeSync(log);
  }
}

/** The journal stream and the per-event memory in Redis: MEMORY USAGE of every key, by kind. */
async function redisMemory(redis: Redis) {
  const keys = eventKeys(eventsScope(''));
  const journalRecords = await redis.xlen(keys.journal);
  const journalBytes = Number(await redis.memory('USAGE', keys.journal, 'SAMPLES', 0));
  // The prefix of every event's key (a plain uid is kept as it is).
  const prefix = keys.event('x').slice(0, -1);
  let cursor = '0';
  let eventMemoryKeys = 0;
  let eventMemoryBytes = 0;
  do {
    const [next, batch] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`,
      'COUNT',
      1000,
    );
    cursor = next;
    const sizes = await Promise.all(batch.map((k) => redis.memory('USAGE', k, 'SAMPLES', 0)));
    eventMemoryKeys += batch.length;
    for (const s of sizes) eventMemoryBytes += Number(s ?? 0);
  } while (cursor !== '0');
  return {
    journalRecords,
    journalBytesPerRecord: journalRecords > 0 ? journalBytes / journalRecords : Number.NaN,
    eventMemoryKeys,
    eventMemoryBytesPerEvent: eventMemoryKeys > 0 ? eventMemoryBytes / eventMemoryKeys : Number.NaN,
  };
}
