/**
 * `npm run events -- ARGS` as a child process for the tests: its standard output (the stdout sink's
 * records) and standard error (its logs) kept apart, line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface EventsProgram {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<number | NodeJS.Signals>;
}

export function startEvents(args: string[], env: Record<string, string> = {}): EventsProgram {
  const child = spawn(process.execPath, ['functions/events/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Stopped at once unless a test asks for the shutdown delay (its own test is the serve function's).
    env: { ...process.env, SHUTDOWN_DELAY_DURATION: '0s', ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (const [stream, into] of [
    [child.stdout, stdout],
    [child.stderr, stderr],
  ] as const) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        into.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (buf) into.push(buf);
    });
  }
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? signal ?? 0)),
  );
  return {
    child,
    stdout,
    stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}
