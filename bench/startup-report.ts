/** The start-up benchmark's figures as text and as JSON (`startup.…` keys). */
import type { RepoSubject, StartupFigures, Subject } from './startup.ts';
import { FUNCTION_LIBRARIES, functionOf, subjectBase } from './startup.ts';

const LABELS: Record<RepoSubject, string> = {
  bare: 'bare node -e (listens)',
  imports: 'imports only, then listens',
  scrapeOnce: 'scrape --once (cycle start)',
  scrapeTrigger: 'scrape trigger server',
  serve: 'serve',
  events: 'events trigger server',
};

const label = (s: Subject): string => {
  const { base, image } = subjectBase(s);
  return image ? `${LABELS[base]}, image` : LABELS[base];
};

const f0 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(0));
const f1 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(1));

export function startupReport(f: StartupFigures): string {
  const out: string[] = [];
  // The process column: as wide as its longest label.
  const width = Math.max(...Object.keys(f.subjects).map((s) => label(s as Subject).length)) + 2;
  out.push(
    `Start-up and idle cost (${f.nodes} nodes × ${f.pods / f.nodes} pods; median of ${f.rounds} fresh processes each)`,
    `  ready: /readyz 200 (scrape --once: its cycle's start); idle RSS 1 s after ready (--once: at its cycle's start)`,
    '',
    `  ${'process'.padEnd(width)}${'ready ms'.padStart(10)}${'  (min–max)'.padEnd(14)}${'idle MiB'.padStart(10)}${'peak MiB'.padStart(10)}${'× bare ready'.padStart(14)}${'imports ms'.padStart(12)}`,
  );
  const bare = f.subjects.bare;

  for (const [s, m] of Object.entries(f.subjects) as [Subject, StartupFigures['subjects'][Subject]][]) {
    const xs = f.all[s].map((x) => x.readyMs);
    const g = functionOf(s);
    const spread = `(${f0(Math.min(...xs))}–${f0(Math.max(...xs))})`;
    out.push(
      `  ${label(s).padEnd(width)}${f0(m.readyMs).padStart(10)}  ${spread.padEnd(12)}${f1(m.idleRssMiB).padStart(10)}${f1(m.peakRssMiB).padStart(10)}${`${(m.readyMs / bare.readyMs).toFixed(1)}×`.padStart(14)}${(g ? f0(f.graphs[g].importedMs) : '').padStart(12)}`,
    );
  }
  out.push(`  image = the same command reading Node's compile cache, filled as the Dockerfile fills it`);
  if (f.subjects.scrapeOnce.exitMs !== undefined)
    out.push(
      `  scrape --once exits after ${f0(f.subjects.scrapeOnce.exitMs)} ms (one cycle of ${f.nodes} nodes)`,
    );
  out.push(
    `  imports only = ${FUNCTION_LIBRARIES.join(', ')}`,
    `  imports ms = the function's entry imports only (no code run), process start to their end`,
    '',
    `  Each library imported alone in a fresh process (above an empty one: boot ${f0(f.bareImporter.bootMs)} ms, ${f1(f.bareImporter.idleRssMiB)} MiB):`,
  );
  for (const l of [...f.libraries].sort((a, b) => (b.ms ?? -1) - (a.ms ?? -1)))
    out.push(
      `    ${l.name.padEnd(28)}${`${f0(l.ms)} ms`.padStart(9)}${`+${f1(l.rssMiB)} MiB`.padStart(13)}${l.error ? `  (${l.error.split('\n')[0]?.slice(0, 80)})` : ''}`,
    );
  for (const [fn, g] of Object.entries(f.graphs)) {
    out.push(
      '',
      `  ${fn}'s entry imports, in order (each: what it added; ${f0(g.importedMs)} ms, ${f1(g.idleRssMiB)} MiB in all):`,
    );
    for (const s of g.steps)
      out.push(
        `    ${s.module.padEnd(40)}${`${f0(s.ms)} ms`.padStart(9)}${`${f1(s.rssMiB)} MiB`.padStart(12)}`,
      );
  }
  return out.join('\n');
}

const r1 = (x: number) => Math.round(x * 10) / 10;

/** `startup.<subject>.readyMs|idleRssMiB|peakRssMiB[|exitMs]`, `startup.imports.libraries.<name>`, `startup.graphs.<fn>`. */
export function startupJson(f: StartupFigures): Record<string, unknown> {
  const subjects = Object.fromEntries(
    Object.entries(f.subjects).map(([s, m]) => [
      s,
      {
        readyMs: r1(m.readyMs),
        idleRssMiB: r1(m.idleRssMiB),
        peakRssMiB: r1(m.peakRssMiB),
        ...(m.exitMs !== undefined ? { exitMs: r1(m.exitMs) } : {}),
        runs: f.all[s as Subject].map((x) => r1(x.readyMs)),
      },
    ]),
  );
  return {
    nodes: f.nodes,
    pods: f.pods,
    rounds: f.rounds,
    ...subjects,
    libraries: Object.fromEntries(
      f.libraries.map((l) => [
        l.name,
        l.ms === null ? { error: l.error } : { ms: r1(l.ms), rssMiB: r1(l.rssMiB ?? 0) },
      ]),
    ),
    emptyImporter: { bootMs: r1(f.bareImporter.bootMs), idleRssMiB: r1(f.bareImporter.idleRssMiB) },
    graphs: Object.fromEntries(
      Object.entries(f.graphs).map(([fn, g]) => [
        fn,
        {
          importedMs: r1(g.importedMs),
          idleRssMiB: r1(g.idleRssMiB),
          steps: Object.fromEntries(g.steps.map((s) => [s.module, { ms: r1(s.ms), rssMiB: r1(s.rssMiB) }])),
        },
      ]),
    ),
  };
}
