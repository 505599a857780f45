/**
 * Local processes for the demo, the tests and the benchmark: free loopback ports, a private
 * `redis-server`, and the project's own programs run as child processes exactly as deployed.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** A port free on 127.0.0.1 right now (the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether a Redis server answers PING at `url` within about a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisServer {
  url: string;
  port: number;
  /** Stops it (SIGKILL when `hard`, as a crash would) and waits for the exit. */
  stop(hard?: boolean): Promise<void>;
}

/** A private, memory-only redis-server on 127.0.0.1 (a free port unless given). */
export async function startRedisServer(opts: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(opts.args ?? [])],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(`redis-server on port ${port}`, 5000, () => redisAnswers(url), 25);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    port,
    async stop(hard = false) {
      if (child.exitCode === null && child.signalCode === null) child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
  };
}

export interface RedisCluster {
  /** Every master, as `--redis-cluster-nodes` takes them. */
  nodes: { host: string; port: number }[];
  servers: RedisServer[];
  /** Stops every server and removes their folder. */
  stop(): Promise<void>;
}

/**
 * A private Redis Cluster of `masters` memory-only masters (no replicas) on free loopback ports, its
 * slots assigned by `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--dir',
            dir,
          ],
        }),
      );
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 20_000 },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`redis-cli --cluster create: ${stderr || err.message}`)) : resolve(),
      );
    });
    for (const s of servers) {
      await waitFor(`cluster_state:ok on port ${s.port}`, 10_000, async () => {
        const r = new Redis(s.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        try {
          await r.connect();
          return String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok');
        } finally {
          r.disconnect();
        }
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), servers, stop };
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Program {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal) when it ends. */
  exited: Promise<number | NodeJS.Signals>;
  stop(): Promise<number | NodeJS.Signals>;
}

/**
 * Starts `node functions/<fn>/main.ts ARGS` on this Node (24), like `npm run <fn> -- ARGS`.
 * Each output line goes to `onLine` (default: inherited stdio).
 */
export function startProgram(
  fn: 'scrape' | 'serve' | 'events',
  args: string[],
  onLine?: (line: string) => void,
): Program {
  const child = spawn(process.execPath, [`functions/${fn}/main.ts`, ...args], {
    cwd: ROOT,
    stdio: onLine ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    env: { ...process.env },
  });
  if (onLine) {
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        buf += d;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
      stream?.on('end', () => buf && onLine(buf));
    }
  }
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 0)),
  );
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}
