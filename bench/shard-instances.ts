/**
 * The shard instances of a sharded benchmark run: N copies of the real scrape function as deployed
 * (`functions/scrape/main.ts`, its HTTP trigger server answering `POST /shard`, with the Node flags of
 * `npm run scrape`), behind `shard-router.ts`, which the coordinator is given as its `--shard-url`.
 * Each instance is measured from Linux's side (`proc.ts`): its CPU (utime + stime) over a cycle, and
 * its peak RSS in the cycle (VmHWM, reset before each cycle).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scrapeSpec } from '../shared/config/index.ts';
import { type Program, startProgram, waitFor } from '../sim/processes.ts';
import { type Child, spawnChild } from './ipc.ts';
import { processCpuMs, resetPeak, statusKiB } from './proc.ts';

/** One scraping process' share of a cycle. */
export interface InstanceReport {
  role: 'coordinator' | 'shard';
  pid: number;
  cpuMs: number;
  peakRssMiB: number;
  /** Shards it was sent in the cycle (the coordinator: 0, it sends them). */
  shards: number;
}

export interface ShardCycle {
  instances: InstanceReport[];
  /** The router's CPU in the cycle (the platform's routing: not the scraper's). */
  routerCpuMs: number;
  /** Requests the router could not pass on, with why. */
  routerFailures: string[];
}

export interface ShardInstances {
  /** The coordinator's --shard-url. */
  url: string;
  /** The flags a coordinator adds to share the cycle out to these instances. */
  coordinatorFlags: string[];
  /** Before a cycle: each instance's CPU noted and its peak RSS reset. */
  begin(): Promise<void>;
  /** After it: each instance's CPU and peak RSS since `begin`, and the shards each was sent. */
  end(): Promise<ShardCycle>;
  stop(): Promise<void>;
}

export interface ShardInstancesOptions {
  count: number;
  shardSize: number;
  /** The scrape flags every instance and the coordinator share (Redis, kubeconfig, kubelet client). */
  flags: string[];
  /** Node flags of each instance (those of `npm run scrape`, and --cpu-prof when asked). */
  nodeArgs: (i: number) => string[];
  env: Record<string, string>;
  dir: string;
  tag: string;
}

/** The sharding flags the scrape function must know for a sharded run (DESIGN.md, Scale-out). */
const SHARD_FLAGS = ['shard-size', 'shard-url', 'shard-secret-file', 'shard-timeout'];

/**
 * Why this build cannot run a sharded benchmark, or null: its scraper lacks the sharding flags (checked
 * before anything is started, so the run fails with one line rather than after the simulator's start).
 */
export function shardingMissing(): string | null {
  const known = new Set<string>(scrapeSpec.flags.map((f) => f.name));
  const missing = SHARD_FLAGS.filter((f) => !known.has(f));
  return missing.length === 0
    ? null
    : `--shard-size: this build's scrape function has no ${missing.map((f) => `--${f}`).join(', ')} (DESIGN.md, Scale-out); run the benchmark without --shard-size`;
}

const MiB = 1024;

/**
 * Each instance's --kubelet-concurrency: the default shared out, so that the machine has as many kubelet
 * requests in flight as one unsharded scraper has. On separate machines each instance would take the
 * default; here every instance and every simulated kubelet share two cores, and N times the requests in
 * flight only make each wait N times longer for a core (past --kubelet-request-timeout on a loaded
 * machine: at 5 × 256 most of a 5,000-node cycle timed out).
 */
export function instanceConcurrency(instances: number): number {
  const flag = scrapeSpec.flags.find((f) => f.name === 'kubelet-concurrency');
  return Math.max(1, Math.ceil(Number(flag?.default) / instances));
}

export async function startShardInstances(o: ShardInstancesOptions): Promise<ShardInstances> {
  const secretFile = join(o.dir, 'shard-secret');
  await writeFile(secretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const programs: Program[] = [];
  const logs: string[][] = [];
  let router: Child | null = null;
  const stopAll = async () => {
    await Promise.all([...programs.map((p) => p.stop()), router?.stop(2000)]);
  };
  try {
    // Each picks a free port itself (--port=0) and names it in its `listening` line: a port chosen
    // here could be taken by another process before the instance binds it.
    const addresses: (string | null)[] = Array.from({ length: o.count }, () => null);
    for (let i = 0; i < o.count; i++) {
      const lines: string[] = [];
      logs.push(lines);
      programs.push(
        startProgram(
          'scrape',
          [
            ...o.flags,
            '--bind-address=127.0.0.1',
            '--port=0',
            `--kubelet-concurrency=${instanceConcurrency(o.count)}`,
            `--shard-secret-file=${secretFile}`,
            // Nothing but the router sends it requests: stopped at once when the run ends.
            '--shutdown-delay-duration=0s',
          ],
          (line) => {
            const listening = /"Scrape trigger server listening" address="([^"]+)"/.exec(line);
            if (listening) addresses[i] = listening[1]!.replace(/\/$/, '');
            lines.push(line);
            if (lines.length > 50) lines.shift();
            if (/^[EW]/.test(line)) process.stderr.write(`  shard instance ${i}: ${line}\n`);
          },
          { ...o.env, NODE_OPTIONS: o.nodeArgs(i).join(' ') },
        ),
      );
    }
    const urls = await Promise.all(
      programs.map((p, i) =>
        waitFor(`shard instance ${i} to listen`, 300_000, async () => {
          if (p.child.exitCode !== null) throw new Error(`it exited: ${logs[i]!.slice(-5).join(' | ')}`);
          const u = addresses[i];
          return u !== null && (await fetch(`${u}/readyz`)).ok && u;
        }),
      ),
    );
    // A trigger server without POST /shard answers 404; one with it answers 400 to a body that is no shard.
    const secret = (await readFile(secretFile, 'utf8')).trim();
    const probe = await fetch(`${urls[0]}/shard`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (probe.status === 404)
      throw new Error(
        `${o.tag} the scrape function's trigger server has no POST /shard yet (404): the sharded cycle cannot run`,
      );
    router = spawnChild('shard-router.ts');
    await router.ready;
    const { url } = await router.ask<{ url: string }>('start', { upstreams: urls });
    const pids = programs.map((p) => p.child.pid ?? 0);
    let cpu0: number[] = [];
    let routerCpu0 = 0;
    const r = router;
    return {
      url,
      coordinatorFlags: [
        `--shard-size=${o.shardSize}`,
        `--shard-url=${url}`,
        `--shard-secret-file=${secretFile}`,
        // Generous (at most 90 % of the bench's --metric-resolution=10m): on a loaded 2-core machine a
        // shard may take minutes, and the benchmark measures how long it takes rather than dropping it.
        '--shard-timeout=9m',
      ],
      async begin() {
        for (const [i, p] of programs.entries()) {
          if (p.child.exitCode !== null || p.child.signalCode !== null)
            throw new Error(`${o.tag} shard instance ${i} has exited: ${logs[i]!.slice(-5).join(' | ')}`);
        }
        await Promise.all(pids.map((pid) => resetPeak(pid)));
        cpu0 = pids.map(processCpuMs);
        routerCpu0 = (await r.ask<{ cpuMs: number }>('usage')).cpuMs;
      },
      async end() {
        const u = await r.ask<{ cpuMs: number; sent: number[]; failures: string[] }>('usage');
        return {
          instances: pids.map((pid, i) => ({
            role: 'shard' as const,
            pid,
            cpuMs: processCpuMs(pid) - cpu0[i]!,
            peakRssMiB: statusKiB(pid, 'VmHWM') / MiB,
            shards: u.sent[i] ?? 0,
          })),
          routerCpuMs: u.cpuMs - routerCpu0,
          routerFailures: u.failures,
        };
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
