/**
 * Summarises a V8 profile so its hot spots read without a browser, the heaviest first, by function and
 * by file: a CPU profile (`--cpu-prof`, or `npm run bench -- --cpu-prof DIR`) by self time, or a
 * sampling heap profile (`--heap-prof`, or BENCH_ALLOC_PROFILE_DIR for the bench's scrapers) by the
 * bytes each function allocated itself.
 *
 *   node bench/profile.ts FILE.cpuprofile|FILE.heapprofile [top N]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[];
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children?: HeapNode[];
}

interface HeapProfile {
  head: HeapNode;
}

/** A cost (µs or bytes) per call frame, summed by function and by file or package. */
function summarize(
  costs: Iterable<[CallFrame, number]>,
  top: number,
  format: (cost: number) => string,
): string {
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const [f, cost] of costs) {
    total += cost;
    const file =
      f.url.replace(/^(file:\/\/)?.*?\/(node_modules|functions|shared|sim|bench)\//, '$2/') || '(native)';
    const fn = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + cost);
    const pkg = file.startsWith('node_modules/')
      ? file
          .split('/')
          .slice(0, file.includes('/@') ? 3 : 2)
          .join('/')
      : file;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + cost);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, cost]) =>
          `${format(cost).padStart(10)} ${((100 * cost) / total).toFixed(1).padStart(5)} %  ${k}`,
      )
      .join('\n');
  return `total ${format(total)}\n\nby function (self):\n${rows(byFunction)}\n\nby file or package:\n${rows(byFile)}`;
}

export function summarizeProfile(p: CpuProfile, top: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const costs = [...self].map(([id, us]): [CallFrame, number] => [byId.get(id)!, us]);
  return summarize(costs, top, (us) => `${(us / 1000).toFixed(0)} ms`);
}

export function summarizeAllocations(p: HeapProfile, top: number): string {
  const costs: [CallFrame, number][] = [];
  const walk = (n: HeapNode) => {
    if (n.selfSize > 0) costs.push([n.callFrame, n.selfSize]);
    for (const c of n.children ?? []) walk(c);
  };
  walk(p.head);
  return summarize(costs, top, (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`);
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: node bench/profile.ts FILE.cpuprofile|FILE.heapprofile [top N]');
  const profile: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const n = Number(top ?? 40);
  process.stdout.write(
    `${
      'head' in (profile as object)
        ? summarizeAllocations(profile as HeapProfile, n)
        : summarizeProfile(profile as CpuProfile, n)
    }\n`,
  );
}
