/**
 * Watching a program under test from outside, as an operator would (Linux /proc): its memory, its open
 * file descriptors, where it listens; and, for memory figures that mean something, its garbage
 * collector and its allocator.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** The soft limit on open files of this process (children inherit it); 1024 where /proc says nothing. */
export async function openFileLimit(): Promise<number> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (m?.[1] === 'unlimited') return Number.MAX_SAFE_INTEGER;
    if (m?.[1]) return Number(m[1]);
  } catch {}
  return 1024;
}

/** A process' resident set size in MiB (VmRSS). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return kb / 1024;
}

/** How many file descriptors a process has open (its sockets among them). */
export async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/**
 * jemalloc's shared library, where Debian (a dependency of its redis-server), Alpine and others keep it.
 *
 * Why a test wants it: glibc's malloc keeps what a process freed for its own reuse instead of returning
 * it to the kernel (after 2,000 TLS connections closed, malloc_stats() showed 147 MB taken from the
 * system and 14 MB in use; malloc_trim(0) gave the rest back). Under glibc RSS stays at its peak
 * whatever the program frees, so it cannot tell a leak from a free list; under an allocator that
 * returns freed memory (jemalloc here; the Alpine images use musl's, not measured here) it shows what
 * the program holds.
 */
export function jemallocLibrary(): string | undefined {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return [
    `/usr/lib/${arch}-linux-gnu/libjemalloc.so.2`,
    '/usr/lib/libjemalloc.so.2',
    '/usr/lib64/libjemalloc.so.2',
    '/usr/local/lib/libjemalloc.so.2',
  ].find((p) => existsSync(p));
}

/** `NODE_OPTIONS` for a child whose garbage collector a test will call: its inspector, on loopback. */
export const inspectable = (): Record<string, string> => ({
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim(),
});

/** The inspector's WebSocket URL that a child started `inspectable` printed. */
export function inspectorUrl(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/**
 * A major GC in a process started `inspectable`, through the inspector protocol
 * (`HeapProfiler.collectGarbage`): V8 keeps a burst's garbage until its next major GC, which an idle
 * process may not run for a long time, so RSS could not tell held memory from garbage without it.
 */
export async function collectGarbage(inspector: string): Promise<void> {
  const ws = new WebSocket(inspector);
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot reach the inspector at ${inspector}`));
    });
    await new Promise<void>((resolve) => {
      ws.onmessage = (m) => {
        if ((JSON.parse(String(m.data)) as { id?: number }).id === 1) resolve();
      };
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
  } finally {
    ws.close();
  }
}

/**
 * The URL a program logged under `key` (text log format: `key="http…"`) once it listens: programs under
 * test listen on port 0, since a port picked free beforehand may be taken by another process meanwhile.
 */
export function loggedUrl(lines: readonly string[], key: string): URL | undefined {
  const pattern = new RegExp(`\\b${key}="(https?://[^"]+)"`);
  for (const line of lines) {
    const m = pattern.exec(line);
    if (m?.[1]) return new URL(m[1]);
  }
  return undefined;
}
