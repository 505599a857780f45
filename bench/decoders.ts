/**
 * The decoders' own throughput: MB/s of kubelet text per second of CPU, for `/metrics/resource` and
 * `/stats/summary`, beside what a plain pass over the same bytes costs (a line scan; for JSON also
 * `JSON.parse`, which the summary decoder starts with). Measured in-process on CPU time (user + system,
 * GC threads included, as the scraper pays them), so a busy machine slows it less than wall time would.
 * The payloads are the simulator's, rendered as its kubelets serve them (30 pods per node unless told
 * otherwise, the summary with `only_cpu_and_memory=true` as the scraper asks), and the fixture files.
 *
 *   node bench/decoders.ts [--pods-per-node 30] [--json FILE]   alone, prints the table
 *   (under `npm run bench` it runs in its own process and answers one `measure` request)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeResource, decodeSummary } from '../functions/scrape/decode/index.ts';
import { renderResourceMetrics } from '../sim/resource-metrics.ts';
import { renderSummary } from '../sim/summary.ts';
import { answer, cpuMs } from './ipc.ts';
import { benchCluster } from './sim-cluster.ts';

export interface ThroughputRow {
  endpoint: 'resource' | 'summary';
  /** `simulator` (N nodes × the pods per node) or `fixtures` (test/fixtures/kubelet). */
  payloads: 'simulator' | 'fixtures';
  count: number;
  bytesPerPayload: number;
  /** What ran over the payloads: `decoder` (the one the scraper runs), or a baseline. */
  runs: Record<string, { mbPerSecond: number; usPerPayload: number }>;
}

export interface DecoderFigures {
  podsPerNode: number;
  /** CPU time of one measured round, ms, and how many rounds (their median is reported). */
  roundMs: number;
  rounds: number;
  rows: ThroughputRow[];
}

const REQUEST_TIME = Date.UTC(2030, 0, 1);

/** Counts lines with `indexOf`: what a line-oriented reader pays before looking at a line. */
function lineScan(text: string): number {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** Reads every code unit once: what any single-pass scanner pays before doing anything with them. */
function characterScan(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum = (sum + text.charCodeAt(i)) | 0;
  return sum;
}

const BASELINES = {
  resource: { 'line scan': lineScan, 'character scan': characterScan },
  summary: { 'line scan': lineScan, 'character scan': characterScan, 'JSON.parse': JSON.parse },
} as const;
const DECODERS = { resource: decodeResource, summary: decodeSummary } as const;

/** The simulator's payloads for `nodes` kubelets, an hour into the cluster's life. */
function simulatorPayloads(nodes: number, podsPerNode: number) {
  const now = REQUEST_TIME;
  // Its own namespace names (`team-01`…), so that its payloads stay the bytes earlier figures measured.
  const { cluster } = benchCluster(nodes, podsPerNode, now, (i) => `team-${String(i + 1).padStart(2, '0')}`);
  const views = cluster.nodes().map((n) => cluster.kubeletView(n.name, now));
  return {
    resource: views.map((v) => renderResourceMetrics(v)),
    summary: views.map((v) => renderSummary(v, { onlyCpuAndMemory: true })),
  };
}

/** Every fixture the decoder accepts (one that is rejected whole would measure the error path). */
function fixturePayloads() {
  const dir = new URL('../test/fixtures/kubelet/', import.meta.url);
  const files = readdirSync(dir).sort();
  const read = (prefix: string, decode: (text: string, t: number) => unknown) =>
    files
      .filter((f) => f.startsWith(prefix))
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .filter((text) => {
        try {
          decode(text, REQUEST_TIME);
          return true;
        } catch {
          return false;
        }
      });
  return { resource: read('resource-', decodeResource), summary: read('summary-', decodeSummary) };
}

/**
 * CPU microseconds per payload of `run` over `payloads`: after a warm-up, `rounds` rounds of at least
 * `roundMs` of CPU each, the median round.
 */
function measure(payloads: string[], run: (text: string) => unknown, roundMs: number, rounds: number) {
  let sink = 0;
  const pass = () => {
    for (const p of payloads) sink ^= run(p) === undefined ? 0 : 1;
  };
  const warmUntil = cpuMs() + roundMs;
  while (cpuMs() < warmUntil) pass();
  const perPayload: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = cpuMs();
    let passes = 0;
    do {
      pass();
      passes++;
    } while (cpuMs() - start < roundMs);
    perPayload.push(((cpuMs() - start) * 1000) / (passes * payloads.length));
  }
  if (sink === -1) console.log(sink); // keeps the results observable
  return perPayload.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

export function measureDecoders(o: {
  podsPerNode: number;
  roundMs?: number;
  rounds?: number;
}): DecoderFigures {
  const roundMs = o.roundMs ?? 200;
  const rounds = o.rounds ?? 7;
  const sets = [
    { payloads: 'simulator', ...simulatorPayloads(50, o.podsPerNode) },
    { payloads: 'fixtures', ...fixturePayloads() },
  ] as const;
  const rows: ThroughputRow[] = [];
  for (const endpoint of ['resource', 'summary'] as const) {
    for (const set of sets) {
      const texts = set[endpoint];
      const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0) / texts.length;
      const runs: ThroughputRow['runs'] = {};
      const decode = DECODERS[endpoint];
      const candidates: [string, (text: string) => unknown][] = [
        ['decoder', (t) => decode(t, REQUEST_TIME)],
        ...Object.entries(BASELINES[endpoint]),
      ];
      for (const [name, run] of candidates) {
        const us = measure(texts, run, roundMs, rounds);
        runs[name] = { mbPerSecond: bytes / us, usPerPayload: us };
      }
      rows.push({ endpoint, payloads: set.payloads, count: texts.length, bytesPerPayload: bytes, runs });
    }
  }
  return { podsPerNode: o.podsPerNode, roundMs, rounds, rows };
}

const f = (n: number, digits = 1) => n.toFixed(digits);

/** The section of the bench's report. */
export function describeDecoders(d: DecoderFigures): string {
  const names = [...new Set(d.rows.flatMap((r) => Object.keys(r.runs)))];
  const head = ['endpoint', 'payloads', 'bytes each', ...names.map((n) => `${n} MB/s`), 'decoder µs each'];
  const rows = d.rows.map((r) => [
    `/${r.endpoint === 'resource' ? 'metrics/resource' : 'stats/summary'}`,
    r.payloads === 'simulator'
      ? `simulator, ${d.podsPerNode} pods/node (${r.count})`
      : `fixtures (${r.count})`,
    f(r.bytesPerPayload, 0),
    ...names.map((n) => (r.runs[n] ? f(r.runs[n].mbPerSecond) : '–')),
    f(r.runs.decoder!.usPerPayload),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `Decoders (MB of kubelet text per CPU second, in-process; median of ${d.rounds} rounds of ${d.roundMs} ms)`,
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

if (process.send) {
  answer(async (r) => {
    if (r.cmd !== 'measure') throw new Error(`unknown command ${r.cmd}`);
    return { ...measureDecoders({ podsPerNode: r.podsPerNode as number }) };
  });
} else if (import.meta.main) {
  const { values } = parseArgs({
    options: { 'pods-per-node': { type: 'string', default: '30' }, json: { type: 'string' } },
  });
  const figures = measureDecoders({ podsPerNode: Number(values['pods-per-node']) });
  process.stdout.write(`${describeDecoders(figures)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(figures, null, 2)}\n`);
}
