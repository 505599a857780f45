/**
 * The scraper under measurement, in its own process: the real composition root (`createScraper`, as
 * `npm run scrape` builds it) driven cycle by cycle over IPC. It reports its own CPU and memory, so the
 * figures are the scraper's alone. A fresh runner's first cycle is a cold start, as on a function platform.
 *
 *   node bench/scrape-runner.ts <scrape flags…>
 */

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { createScraper } from '../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../shared/config/index.ts';
import { createLogger } from '../shared/log.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

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
const connect = tls.connect;
tls.connect = ((...args: Parameters<typeof tls.connect>) => {
  const socket = connect(...args);
  socket.once('secureConnect', () => {
    if (socket.isSessionReused()) handshakes.resumed++;
    else handshakes.full++;
  });
  return socket;
}) as typeof tls.connect;
const readyAfterMs = process.uptime() * 1000;

// With BENCH_PROFILE_DIR, each cycle is profiled on its own (cycle-<n>.cpuprofile), so that a warm
// cycle's profile is not mixed with the first one's handshakes or the process start.
const profileDir = process.env.BENCH_PROFILE_DIR;
let profiler: Session | null = null;
if (profileDir) {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
}
let cycles = 0;

answer(
  async (r) => {
    if (r.cmd !== 'cycle') throw new Error(`unknown command ${r.cmd}`);
    cycles++;
    if (profiler) await profiler.post('Profiler.start');
    handshakes.full = 0;
    handshakes.resumed = 0;
    const cpu0 = cpuMs();
    const t0 = performance.now();
    const result = await scraper.runOnce();
    const wallMs = performance.now() - t0;
    if (profiler && profileDir) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(profileDir, `cycle-${cycles}.cpuprofile`), JSON.stringify(profile));
    }
    return {
      wallMs,
      cpuMs: cpuMs() - cpu0,
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
    };
  },
  () => scraper.close(),
);
