/**
 * What every benchmark entry point starts with: a progress line printer, the machine, a scratch folder
 * and a private redis-server, stopped and removed by `cleanup` at the end or on SIGINT/SIGTERM (the
 * measured children end with their IPC channel). Also the Node flags of a measured process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../sim/processes.ts';
import { describeMachine, machine } from './machine.ts';

export async function startBenchRun() {
  const started = Date.now();
  const progress = (line: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const m = machine();
  progress(`machine: ${describeMachine(m)}`);
  const dir = await mkdtemp(join(tmpdir(), 'ms-bench-'));
  const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  progress(`private redis-server at ${server.url}`);
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping everything this run started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return { progress, m, dir, server, redis, cleanup };
}

/** Node flags for a measured process: a CPU profile per process under DIR/<role>/ with --cpu-prof. */
export const nodeArgsFor =
  (profDir: string | null) =>
  (role: string): string[] =>
    profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, role)}`] : [];
