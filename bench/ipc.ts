/**
 * The benchmark's processes talk over Node's IPC channel: the orchestrator sends a request, the child
 * answers it. Each part runs in its own process so that its CPU and memory are its own (the simulator's
 * cost never counts as the scraper's, nor the load generator's as the server's).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Request {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

export interface Reply {
  id: number;
  error?: string;
  [key: string]: unknown;
}

export interface Child {
  pid: number;
  process: ChildProcess;
  /** Resolves once the child has called `answer` (it is set up and listening for requests). */
  ready: Promise<void>;
  /** Sends a command and waits for its answer; rejects when the child answers an error or exits. */
  ask<T = Record<string, unknown>>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** Resolves with the exit code once the child has exited. */
  exited: Promise<number | null>;
  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const READY = -1;
const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Starts `bench/<script>` on this Node, with an IPC channel; stderr is passed through (logs).
 * `serialization: 'advanced'` (structured clone) carries what JSON would lose (`undefined` fields).
 */
export function spawnChild(
  script: string,
  args: string[] = [],
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
  serialization: 'json' | 'advanced' = 'json',
): Child {
  const child = fork(`${HERE}${script}`, args, {
    execArgv: nodeArgs,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization,
  });
  let next = 1;
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let isReady: () => void = () => {};
  let notReady: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    isReady = resolve;
    notReady = reject;
  });
  child.on('message', (m: Reply) => {
    if (m.id === READY) {
      isReady();
      return;
    }
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(`${script}: ${m.error}`));
    else w.resolve(m);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      notReady(new Error(`${script} exited (code ${code}) before it was ready`));
      for (const w of waiting.values()) w.reject(new Error(`${script} exited (code ${code})`));
      waiting.clear();
      resolve(code);
    }),
  );
  return {
    pid: child.pid ?? 0,
    process: child,
    ready,
    exited,
    ask<T>(cmd: string, args: Record<string, unknown> = {}) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error(`${script} is not running`));
          return;
        }
        waiting.set(id, { resolve: (r) => resolve(r as T), reject });
        child.send({ id, cmd, ...args });
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ id: 0, cmd: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child's side: answers each request with `handle`'s result; `exit` ends the process. */
export function answer(
  handle: (r: Request) => Promise<Record<string, unknown>>,
  onExit?: () => Promise<void>,
) {
  process.on('message', (r: Request) => {
    if (r.cmd === 'exit') {
      void (onExit ?? (async () => {}))().finally(() => process.exit(0));
      return;
    }
    handle(r).then(
      (result) => process.send?.({ ...result, id: r.id }),
      (err: unknown) =>
        process.send?.({ id: r.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The orchestrator died: do not linger.
  process.on('disconnect', () => {
    void (onExit ?? (async () => {}))().finally(() => process.exit(0));
  });
  process.send?.({ id: READY });
}

/** This process' CPU (user + system) in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Peak resident memory of this process so far, MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
