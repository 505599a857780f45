/**
 * The scraper under measurement, in its own process: the real composition root (`createScraper`, as
 * `npm run scrape` builds it) driven cycle by cycle over IPC. It reports its own CPU and memory, so the
 * figures are the scraper's alone. A fresh runner's first cycle is a cold start, as on a function platform.
 *
 *   node bench/scrape-runner.ts <scrape flags…>
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import v8 from 'node:v8';
import { createScraper } from '../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../shared/config/index.ts';
import { createLogger } from '../shared/log.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';
import type { MemorySample } from './scrape-bench.ts';

const config = loadScrapeConfig(process.argv.slice(2), {});
// Warnings and errors only: one line per cycle from each runner would drown the benchmark's progress.
const log = createLogger({
  verbosity: 0,
  write: (line) => {
    if (!line.startsWith('I')) process.stderr.write(`  scraper: ${line}\n`);
  },
});
const scraper = createScraper(config, log);

// How many TLS connections the cycle opened, and how many resumed a saved session (node:https opens
// them through tls.connect, so a wrapper sees each one).
const handshakes = { full: 0, resumed: 0 };
/** TLS connections open now (kept alive between cycles, or in use). */
let openTls = 0;
const connect = tls.connect;
tls.connect = ((...args: Parameters<typeof tls.connect>) => {
  const socket = connect(...args);
  openTls++;
  socket.once('close', () => openTls--);
  socket.once('secureConnect', () => {
    if (socket.isSessionReused()) handshakes.resumed++;
    else handshakes.full++;
  });
  return socket;
}) as typeof tls.connect;
const readyAfterMs = process.uptime() * 1000;

// With BENCH_PROFILE_DIR, each cycle is profiled on its own (cycle-<n>.cpuprofile), so that a warm
// cycle's profile is not mixed with the first one's handshakes or the process start. With
// BENCH_ALLOC_PROFILE_DIR, where each cycle allocates (cycle-<n>.heapprofile): V8's sampling heap
// profiler, counting what the young and old collections freed too, so the garbage shows with what lives.
// With BENCH_ALLOC_SURVIVORS=1 as well, what a young collection freed is left out: what is left is what
// lived through one (promoted, or alive at the end), the work each scavenge copies.
const profileDir = process.env.BENCH_PROFILE_DIR;
const allocDir = process.env.BENCH_ALLOC_PROFILE_DIR;
const survivorsOnly = process.env.BENCH_ALLOC_SURVIVORS === '1';
if (allocDir) mkdirSync(allocDir, { recursive: true });
let profiler: Session | null = null;
if (profileDir || allocDir) {
  profiler = new Session();
  profiler.connect();
  if (profileDir) await profiler.post('Profiler.enable');
}
let cycles = 0;

const MiB = 2 ** 20;
function sample(): MemorySample {
  const m = process.memoryUsage();
  return {
    rss: m.rss / MiB,
    heapTotal: m.heapTotal / MiB,
    heapUsed: m.heapUsed / MiB,
    external: m.external / MiB,
    arrayBuffers: m.arrayBuffers / MiB,
    openTls,
  };
}
/** V8's heap spaces (MiB): size (committed) and used. */
function spaces(): Record<string, { size: number; used: number }> {
  const out: Record<string, { size: number; used: number }> = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    out[s.space_name] = { size: s.space_size / MiB, used: s.space_used_size / MiB };
  }
  return out;
}
// With BENCH_HEAP_SNAPSHOT_DIR, a heap snapshot after the cycle numbered BENCH_HEAP_SNAPSHOT_CYCLE (default 3).
const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
const snapshotCycle = Number(process.env.BENCH_HEAP_SNAPSHOT_CYCLE ?? 3);

answer(
  async (r) => {
    if (r.cmd !== 'cycle') throw new Error(`unknown command ${r.cmd}`);
    cycles++;
    if (profiler && profileDir) await profiler.post('Profiler.start');
    if (profiler && allocDir) {
      await profiler.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMinorGC: !survivorsOnly,
        includeObjectsCollectedByMajorGC: true,
      });
    }
    handshakes.full = 0;
    handshakes.resumed = 0;
    // The memory at the cycle's highest RSS, sampled every 50 ms while it runs.
    let peak = sample();
    const sampler = setInterval(() => {
      const s = sample();
      if (s.rss > peak.rss) peak = s;
    }, 50);
    const cpu0 = cpuMs();
    const t0 = performance.now();
    const result = await scraper.run('once').finally(() => clearInterval(sampler));
    const wallMs = performance.now() - t0;
    const cycleCpuMs = cpuMs() - cpu0;
    const end = sample();
    if (end.rss > peak.rss) peak = end;
    const heapSpaces = spaces();
    if (snapshotDir && cycles === snapshotCycle)
      v8.writeHeapSnapshot(join(snapshotDir, `cycle-${cycles}.heapsnapshot`));
    if (profiler && profileDir) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(profileDir, `cycle-${cycles}.cpuprofile`), JSON.stringify(profile));
    }
    if (profiler && allocDir) {
      const { profile } = await profiler.post('HeapProfiler.stopSampling');
      writeFileSync(join(allocDir, `cycle-${cycles}.heapprofile`), JSON.stringify(profile));
    }
    return {
      wallMs,
      cpuMs: cycleCpuMs,
      processCpuMs: cpuMs(),
      readyAfterMs,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      peakRssMiB: peakRssMiB(),
      ran: result.ran,
      nodes: result.nodes,
      scraped: result.scraped,
      failed: result.failed.length,
      firstFailure: result.failed[0] ?? null,
      points: result.points,
      handshakes: { ...handshakes },
      memory: { peak, end, heapSpaces },
    };
  },
  () => scraper.close(),
);
