/**
 * The load generator, in its own process so that its CPU is not the server's: N keep-alive HTTPS
 * connections, each sending the next request as soon as the last answer ends, for a fixed time (after a
 * warm-up); latencies of every request, requests per second, and its own CPU.
 */
import { readFileSync } from 'node:fs';
import { Connection, type Target } from './http-load.ts';
import { answer, cpuMs } from './ipc.ts';

export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | null;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bytesPerResponse: number;
  cpuMs: number;
  seconds: number;
}

function target(r: Record<string, unknown>): Target {
  return {
    host: r.host as string,
    port: r.port as number,
    ...(r.certFile
      ? { cert: readFileSync(r.certFile as string, 'utf8'), key: readFileSync(r.keyFile as string, 'utf8') }
      : {}),
    headers: r.headers as Record<string, string>,
  };
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function run(r: Record<string, unknown>): Promise<LoadResult> {
  const t = target(r);
  const path = r.path as string;
  const connections = r.connections as number;
  const warmupMs = r.warmupMs as number;
  const durationMs = r.durationMs as number;
  const conns = await Promise.all(Array.from({ length: connections }, () => Connection.open(t)));
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let bytes = 0;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let cpu0 = 0;
  const cpuTimer = setTimeout(() => {
    cpu0 = cpuMs();
  }, warmupMs);
  // With a rate, each connection sends on a fixed schedule and a request's latency is counted from
  // when it was due (not when it could be sent), so a server falling behind shows in the figures.
  const rate = (r.rate as number | undefined) ?? 0;
  const interval = rate > 0 ? (1000 * connections) / rate : 0;
  await Promise.all(
    conns.map(async (c, i) => {
      let due = start + (interval * i) / connections;
      while (performance.now() < end) {
        if (interval > 0) {
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        // A timer can fire up to a millisecond early (libuv's clock is in whole ms): then the request
        // goes out before it is due, and its latency counts from when it was sent.
        const t0 = interval > 0 ? Math.min(due, performance.now()) : performance.now();
        due += interval;
        try {
          const res = await c.get(path);
          const t1 = performance.now();
          if (res.status !== 200) {
            errors++;
            firstError ??= `status ${res.status}`;
          } else if (t0 >= measureFrom) {
            latencies.push(t1 - t0);
            bytes += res.bytes;
          }
        } catch (err) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
          return;
        }
      }
    }),
  );
  clearTimeout(cpuTimer);
  const cpu = cpuMs() - cpu0;
  for (const c of conns) c.close();
  const sorted = Float64Array.from(latencies).sort();
  const seconds = durationMs / 1000;
  return {
    requests: latencies.length,
    errors,
    firstError,
    rps: latencies.length / seconds,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    bytesPerResponse: latencies.length > 0 ? bytes / latencies.length : 0,
    cpuMs: cpu,
    seconds,
  };
}

/** One request at a time on one connection, `times` times: each one's time to the last byte. */
async function sequential(
  r: Record<string, unknown>,
): Promise<{ ms: number[]; bytes: number; status: number }> {
  const c = await Connection.open(target(r));
  const ms: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < (r.times as number); i++) {
    const t0 = performance.now();
    const res = await c.get(r.path as string);
    ms.push(performance.now() - t0);
    bytes = res.bytes;
    status = res.status;
  }
  c.close();
  return { ms, bytes, status };
}

answer(async (r) => {
  if (r.cmd === 'run') return { ...(await run(r)) };
  if (r.cmd === 'sequential') return { ...(await sequential(r)) };
  throw new Error(`unknown command ${r.cmd}`);
});
