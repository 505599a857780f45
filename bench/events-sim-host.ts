/**
 * The events benchmark's simulated cluster, in its own process (so its CPU is its own): the development
 * API server with a cluster to report on, writing Events at a sustained rate (sim/load.ts) when asked,
 * and remembering when it wrote each event version: the creation time of the creation-to-delivery
 * latency, on this machine's clock (Date.now(), as the sinks' arrival times are).
 *
 *   node bench/events-sim-host.ts <event TTL ms> <dir>
 */
import { join } from 'node:path';
import { startSim } from '../sim/index.ts';
import type { EventLoad } from '../sim/load.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

const [ttlArg, dir] = process.argv.slice(2);
const eventTtlMs = Number(ttlArg);
if (!dir || !(eventTtlMs > 0)) throw new Error('usage: events-sim-host.ts <event TTL ms> <dir>');

const started = performance.now();
const sim = await startSim({
  nodes: 100,
  podsPerNode: 30,
  seed: 'bench-events',
  servedHistory: 0,
  // Expired events leave, so the store holds a TTL's worth (1,000/s × TTL) rather than an hour's.
  eventTtlMs,
  // Every write and every expiry is a change a watch may resume from: 2,000 a second at full rate.
  historyWindowMs: 120_000,
  historyMaxPerResource: 400_000,
  // Only the load's events: every version the function reads is one this process saw written.
  nodeStartupEvents: false,
});
const startupMs = performance.now() - started;
const kubeconfig = join(dir, 'events.kubeconfig');
await sim.writeKubeconfig(kubeconfig, 'events');

/** When each event version (by resourceVersion) was written, ms; taken by `created`. */
let created: [number, number][] = [];
let written = 0;
/** Of those, first versions (new events rather than repeats). */
let added = 0;
sim.history.subscribe('events', (c) => {
  if (c.type === 'DELETED') return;
  created.push([c.rv, c.atMs]);
  written++;
  if (c.type === 'ADDED') added++;
});

let load: EventLoad | null = null;

answer(
  async (r) => {
    switch (r.cmd) {
      case 'info':
        return { startupMs, apiServer: sim.apiServer.url, kubeconfig, pods: sim.cluster.pods().length };
      case 'load':
        load?.stop();
        load = sim.startEventLoad(Number(r.perSecond));
        return {};
      case 'unload': {
        const out = { written: load?.written ?? 0, skipped: load?.skipped ?? 0 };
        load?.stop();
        load = null;
        return out;
      }
      case 'usage':
        return {
          cpuMs: cpuMs(),
          rssMiB: process.memoryUsage().rss / 2 ** 20,
          peakRssMiB: peakRssMiB(),
          written,
          added,
          skipped: load?.skipped ?? 0,
          stored: sim.events.size,
        };
      case 'created': {
        const out = created;
        created = [];
        return { created: out };
      }
      default:
        throw new Error(`unknown command ${r.cmd}`);
    }
  },
  () => sim.stop(),
);
