/**
 * Start-up and idle cost (issue 12.7): how long each function takes from process start to its first
 * answer, and what it holds once idle, beside a bare Node process that listens and one that only imports
 * the same libraries; what each library costs to import alone; and how much of each function's start
 * its module graph is. Fresh processes, started in rounds (one of each per round) so that a machine
 * slowing down moves them all; each figure is the median over the rounds.
 *
 *   ready    `/readyz` answers 200 (polled every 5 ms), or, for `scrape --once`, its cycle begins (the
 *            `Scrape cycle starting` line, logged at --v=1)
 *   idle     VmRSS 1 s after ready, nothing asked of it; peak is VmHWM then (for --once: at its exit)
 *
 * Each function is started twice per round: as the repository runs it (`npm run <fn>`: every module
 * stripped and compiled at start) and as its image does (`…Image`: Node's compile cache filled the way
 * the Dockerfile fills it, so stripped sources and compiled code are read instead).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../sim/processes.ts';
import { spawnChild } from './ipc.ts';
import { scriptNodeArgs } from './node-args.ts';
import { statusKiB } from './proc.ts';
import {
  IMPORTED,
  type ImportReport,
  importerCode,
  listenerCode,
  repoUrl,
  staticImports,
} from './startup-probe.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IDLE_MS = 1000;

/**
 * What the functions import at start, for the process that only imports libraries: the libraries every
 * function's graph loads before its first answer (the sink SDKs and @peculiar/x509 load on demand).
 */
export const FUNCTION_LIBRARIES = [
  '@kubernetes/client-node',
  'ioredis',
  'hono',
  '@hono/node-server',
  'zod',
  'prom-client',
  'yaml',
] as const;

/** The functions, each with its entry `functions/<fn>/main.ts`. */
export const FUNCTIONS = ['scrape', 'serve', 'events'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** A function's subjects, each started as the repository runs it and as its image does (`…Image`). */
const FUNCTION_SUBJECTS = ['scrapeOnce', 'scrapeTrigger', 'serve', 'events'] as const;
type FunctionSubject = (typeof FUNCTION_SUBJECTS)[number];
/** A subject as the repository starts it. */
export type RepoSubject = 'bare' | 'imports' | FunctionSubject;
export type Subject = RepoSubject | `${FunctionSubject}Image`;

/** The repository's subject an `…Image` one starts, and whether `s` is one. */
export function subjectBase(s: Subject): { base: RepoSubject; image: boolean } {
  return s.endsWith('Image')
    ? { base: s.slice(0, -'Image'.length) as RepoSubject, image: true }
    : { base: s as RepoSubject, image: false };
}

/** The function a subject starts (null for the bare and import-only processes). */
export function functionOf(s: Subject): FunctionName | null {
  return FUNCTIONS.find((fn) => s.startsWith(fn)) ?? null;
}

export interface StartSample {
  readyMs: number;
  idleRssMiB: number;
  peakRssMiB: number;
  /** scrape --once only: process start to exit. */
  exitMs?: number;
}

export interface LibraryCost {
  name: string;
  /** The import alone, in a fresh process; null when it cannot be imported alone (error says why). */
  ms: number | null;
  /** RSS above the bare importer's, MiB. */
  rssMiB: number | null;
  error?: string;
}

export interface GraphCost {
  /** Process start to the end of the entry's static imports, seen from outside. */
  importedMs: number;
  idleRssMiB: number;
  /** Each static import of the entry, in order: what it added (what earlier ones loaded is not paid again). */
  steps: { module: string; ms: number; rssMiB: number }[];
}

export interface StartupFigures {
  nodes: number;
  pods: number;
  rounds: number;
  /** Median per subject. */
  subjects: Record<Subject, StartSample>;
  /** Every round's figures, for the spread. */
  all: Record<Subject, StartSample[]>;
  libraries: LibraryCost[];
  /** The bare importer (no import): its boot and RSS, the zero of `libraries`. */
  bareImporter: { bootMs: number; idleRssMiB: number };
  graphs: Record<FunctionName, GraphCost>;
}

export interface StartupOptions {
  redisUrl: string;
  dir: string;
  rounds: number;
  nodes?: number;
  podsPerNode?: number;
  progress: (line: string) => void;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (kib: number) => kib / 1024;

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface Running {
  child: ChildProcess;
  t0: number;
  output: string[];
  exited: Promise<number | null>;
  /** Resolves with the time (ms since t0) the first line matching `re` was written. */
  line(re: RegExp): Promise<number>;
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const watchers: { re: RegExp; resolve: (ms: number) => void }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (d: string) => {
      const at = performance.now() - t0;
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        output.push(l);
        for (const w of watchers) if (w.re.test(l)) w.resolve(at);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    t0,
    output,
    exited,
    line: (re) =>
      new Promise((resolve, reject) => {
        watchers.push({ re, resolve });
        void exited.then((code) =>
          reject(new Error(`exited (${code}) before ${re}:\n${output.slice(-10).join('\n')}`)),
        );
      }),
  };
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
  await r.exited;
  clearTimeout(timer);
}

/** Starts `args`, waits for /readyz on `port`, then idles; stopped afterwards. */
async function untilReady(args: string[], port: number, env?: NodeJS.ProcessEnv): Promise<StartSample> {
  const r = run(args, env);
  try {
    let readyMs = -1;
    const deadline = r.t0 + 60_000;
    while (readyMs < 0) {
      if (r.child.exitCode !== null) throw new Error(`exited (${r.child.exitCode}):\n${r.output.join('\n')}`);
      if (performance.now() > deadline)
        throw new Error(`no /readyz 200 within 60 s:\n${r.output.join('\n')}`);
      if (await readyz(port)) readyMs = performance.now() - r.t0;
      else await sleep(5);
    }
    await sleep(IDLE_MS);
    const pid = r.child.pid ?? 0;
    return { readyMs, idleRssMiB: MiB(statusKiB(pid, 'VmRSS')), peakRssMiB: MiB(statusKiB(pid, 'VmHWM')) };
  } finally {
    await stop(r);
  }
}

/** Starts a `--once` program, times the line that marks its cycle's start, and follows it to its exit. */
async function untilMark(args: string[], mark: RegExp, env?: NodeJS.ProcessEnv): Promise<StartSample> {
  const r = run(args, env);
  try {
    const readyMs = await r.line(mark);
    const pid = r.child.pid ?? 0;
    const idleRssMiB = MiB(statusKiB(pid, 'VmRSS'));
    let peak = 0;
    let exitMs = 0;
    void r.exited.then(() => {
      exitMs = performance.now() - r.t0;
    });
    while (r.child.exitCode === null) {
      try {
        peak = Math.max(peak, statusKiB(pid, 'VmHWM'));
      } catch {
        break; // gone between the check and the read
      }
      await sleep(20);
    }
    const code = await r.exited;
    if (code !== 0) throw new Error(`exited ${code}:\n${r.output.slice(-10).join('\n')}`);
    return { readyMs, idleRssMiB, peakRssMiB: MiB(peak), exitMs };
  } finally {
    await stop(r);
  }
}

/** Runs an import-only process; its report, and when it printed IMPORTED (ms since its start). */
async function importer(specs: readonly string[]): Promise<{ report: ImportReport; importedMs: number }> {
  const r = run(['--input-type=module', '-e', importerCode(specs)]);
  const importedMs = await r.line(new RegExp(`^${IMPORTED}$`));
  await r.exited;
  const last = r.output.at(-1) ?? '';
  try {
    return { report: JSON.parse(last) as ImportReport, importedMs };
  } catch {
    throw new Error(`the importer of ${specs.join(', ')} printed no report:\n${r.output.join('\n')}`);
  }
}

function dependencies(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  return Object.keys(pkg.dependencies);
}

interface SimFiles {
  scraperKubeconfig: string;
  serveKubeconfig: string;
  eventsKubeconfig: string;
  kubeletCa: string;
  frontProxyCa: string;
  servingCert: string;
  servingKey: string;
}

/** The command line of each subject, on a fresh free port per start. */
async function commandOf(
  s: RepoSubject,
  files: SimFiles,
  redisUrl: string,
): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  const fn = (name: FunctionName, flags: string[]) => [
    ...scriptNodeArgs(name, undefined),
    `functions/${name}/main.ts`,
    `--redis-url=${redisUrl}`,
    ...flags,
  ];
  const scrape = [
    `--kubeconfig=${files.scraperKubeconfig}`,
    `--kubelet-certificate-authority=${files.kubeletCa}`,
    '--kubelet-use-node-status-port',
    '--kubelet-preferred-address-types=InternalIP',
  ];
  switch (s) {
    case 'bare':
      return { args: ['-e', listenerCode(port)], port };
    case 'imports':
      return { args: ['--input-type=module', '-e', listenerCode(port, FUNCTION_LIBRARIES)], port };
    case 'scrapeOnce':
      return { args: fn('scrape', [...scrape, '--once', '--v=1']), port };
    case 'scrapeTrigger':
      return { args: fn('scrape', [...scrape, `--port=${port}`, '--bind-address=127.0.0.1']), port };
    case 'serve':
      return {
        args: fn('serve', [
          `--kubeconfig=${files.serveKubeconfig}`,
          `--requestheader-client-ca-file=${files.frontProxyCa}`,
          `--tls-cert-file=${files.servingCert}`,
          `--tls-private-key-file=${files.servingKey}`,
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          `--port=${port}`,
          '--shutdown-delay-duration=0s',
        ]),
        port,
      };
    case 'events':
      return {
        args: fn('events', [
          `--kubeconfig=${files.eventsKubeconfig}`,
          '--sink=stdout',
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          '--shutdown-delay-duration=0s',
        ]),
        port,
      };
  }
}

export const SUBJECTS: readonly Subject[] = [
  'bare',
  'imports',
  ...FUNCTION_SUBJECTS,
  ...FUNCTION_SUBJECTS.map((s) => `${s}Image` as const),
];
/** The line `scrape --once` logs (at --v=1) just before its cycle begins. */
export const CYCLE_START = /Scrape cycle starting/;

/** The RUN that fills `fn`'s image's compile cache, read from the Dockerfile (its shell command). */
function dockerfileFill(fn: FunctionName): string {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const m = new RegExp(`^RUN (node functions/${fn}/main\\.ts --help\\b.*)$`, 'm').exec(text);
  if (!m) throw new Error(`the Dockerfile has no RUN node functions/${fn}/main.ts --help`);
  return m[1]!;
}

/**
 * Fills `dir` as the Dockerfile fills each image's compile cache: its RUN, through a shell, with the
 * function's Node flags (NODE_OPTIONS in the image, the same as its npm script's: a test holds them equal).
 */
async function fillCompileCache(dir: string): Promise<void> {
  for (const fn of FUNCTIONS) {
    const child = spawn('/bin/sh', ['-c', dockerfileFill(fn)], {
      cwd: ROOT,
      stdio: 'ignore',
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        NODE_OPTIONS: scriptNodeArgs(fn, undefined).join(' '),
        NODE_COMPILE_CACHE: dir,
      },
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0)
      throw new Error(`filling the compile cache as the Dockerfile does for ${fn}: exit ${code}`);
  }
}

/**
 * One fresh start of `s`; again on another port when the free one was taken meanwhile (shared machine).
 * An `…Image` subject is its function reading a copy of the compile cache in `cache`, thrown away after:
 * the image's cache is read-only, so no start sees what an earlier one would have added to it.
 */
async function measure(s: Subject, files: SimFiles, redisUrl: string, cache: string): Promise<StartSample> {
  const { base, image } = subjectBase(s);
  const copy = `${cache}-start`;
  if (image) {
    await rm(copy, { recursive: true, force: true });
    await cp(cache, copy, { recursive: true });
  }
  const env = image ? { ...process.env, NODE_COMPILE_CACHE: copy } : process.env;
  for (let attempt = 1; ; attempt++) {
    const { args, port } = await commandOf(base, files, redisUrl);
    try {
      return base === 'scrapeOnce'
        ? await untilMark(args, CYCLE_START, env)
        : await untilReady(args, port, env);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

export async function startupBench(o: StartupOptions): Promise<StartupFigures> {
  const nodes = o.nodes ?? 4;
  const podsPerNode = o.podsPerNode ?? 30;
  o.progress(`startup: each library alone, then each function's imports…`);
  const zero = await importer([]);
  const libraries: LibraryCost[] = [];
  for (const name of dependencies()) {
    const { report } = await importer([name]);
    const step = report.steps[0];
    libraries.push(
      step
        ? { name, ms: step.ms, rssMiB: report.idleRssMiB - zero.report.idleRssMiB }
        : { name, ms: null, rssMiB: null, error: report.error ?? 'failed' },
    );
  }
  const graphs = {} as StartupFigures['graphs'];
  for (const fn of FUNCTIONS) {
    const specs = staticImports(new URL(repoUrl(`functions/${fn}/main.ts`)));
    const { report, importedMs } = await importer(specs);
    if (report.error) throw new Error(`importing ${fn}'s graph: ${report.error}`);
    graphs[fn] = {
      importedMs,
      idleRssMiB: report.idleRssMiB,
      steps: report.steps.map((s) => ({
        module: s.spec.replace(repoUrl(''), ''),
        ms: s.ms,
        rssMiB: s.rssMiB,
      })),
    };
  }

  o.progress(`startup: a simulated cluster of ${nodes} nodes × ${podsPerNode} pods…`);
  const sim = spawnChild('startup-sim.ts', [String(nodes), String(podsPerNode), o.dir]);
  const all = Object.fromEntries(SUBJECTS.map((s) => [s, [] as StartSample[]])) as StartupFigures['all'];
  try {
    await sim.ready;
    const { files } = await sim.ask<{ files: SimFiles }>('info');
    const cache = join(o.dir, 'compile-cache');
    await fillCompileCache(cache);
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of SUBJECTS) {
        all[s].push(await measure(s, files, o.redisUrl, cache));
      }
      o.progress(
        `startup: round ${round}/${o.rounds}: ${SUBJECTS.map((s) => `${s} ${all[s].at(-1)?.readyMs.toFixed(0)} ms`).join(', ')}`,
      );
    }
  } finally {
    await sim.stop();
  }
  const subjects = Object.fromEntries(
    SUBJECTS.map((s) => {
      const xs = all[s];
      const m: StartSample = {
        readyMs: median(xs.map((x) => x.readyMs)),
        idleRssMiB: median(xs.map((x) => x.idleRssMiB)),
        peakRssMiB: median(xs.map((x) => x.peakRssMiB)),
      };
      if (xs[0]?.exitMs !== undefined) m.exitMs = median(xs.map((x) => x.exitMs ?? 0));
      return [s, m];
    }),
  ) as StartupFigures['subjects'];
  return {
    nodes,
    pods: nodes * podsPerNode,
    rounds: o.rounds,
    subjects,
    all,
    libraries,
    bareImporter: { bootMs: zero.report.bootMs, idleRssMiB: zero.report.idleRssMiB },
    graphs,
  };
}
