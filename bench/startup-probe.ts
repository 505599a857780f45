/**
 * The `node -e` programs the start-up benchmark runs beside the functions: a bare Node process that
 * listens, one that only imports libraries (then listens), and one that imports a module graph in
 * order and reports what each import cost. Plain JavaScript, so nothing but Node itself is paid.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** `node -e` code: an HTTP server on 127.0.0.1:`port` answering 200 to everything (`/readyz` too). */
export function listenerCode(port: number, imports: readonly string[] = []): string {
  const loads = imports.map((s) => `await import(${JSON.stringify(s)});`).join(' ');
  return `${loads} (await import('node:http')).createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1');`;
}

/** One import of a sequence: its specifier, the ms it took and the RSS (MiB) once it was done. */
export interface ImportStep {
  spec: string;
  ms: number;
  rssMiB: number;
}

/** What an import-only process prints on one line of stdout, then exits (0, or 1 when an import threw). */
export interface ImportReport {
  /** ms from the process' start (performance.timeOrigin) to its first statement. */
  bootMs: number;
  steps: ImportStep[];
  /** RSS (MiB) 300 ms after the last import, as idle as the process gets. */
  idleRssMiB: number;
  error?: string;
}

/** Marks the end of the imports on stdout before the report, so the parent can time it from outside. */
export const IMPORTED = 'imported';

/** `node -e` code: imports `specs` in order, one at a time, prints IMPORTED, then an ImportReport. */
export function importerCode(specs: readonly string[]): string {
  return `
const bootMs = performance.now();
const steps = [];
const MiB = 2 ** 20;
let error;
for (const spec of ${JSON.stringify(specs)}) {
  const t = performance.now();
  try { await import(spec); } catch (err) { error = spec + ': ' + (err && err.message); break; }
  steps.push({ spec, ms: performance.now() - t, rssMiB: process.memoryUsage().rss / MiB });
}
process.stdout.write(${JSON.stringify(`${IMPORTED}\n`)});
setTimeout(() => {
  const report = { bootMs, steps, idleRssMiB: process.memoryUsage().rss / MiB, ...(error ? { error } : {}) };
  process.stdout.write(JSON.stringify(report) + '\\n');
  process.exit(error ? 1 : 0);
}, 300);`;
}

/**
 * The static imports of a program's entry (`import … from '…'`, `import '…'`; not `import type`), in
 * source order, as absolute URLs or package names: what the program loads before its first statement.
 */
export function staticImports(entry: URL): string[] {
  const source = readFileSync(entry, 'utf8');
  const out: string[] = [];
  for (const m of source.matchAll(/^import\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)';/gms)) {
    const spec = m[1] ?? '';
    out.push(spec.startsWith('.') ? new URL(spec, entry).href : spec);
  }
  return out;
}

/** A file under the repository as a URL an importer can load. */
export const repoUrl = (path: string): string =>
  pathToFileURL(new URL(`../${path}`, import.meta.url).pathname).href;
