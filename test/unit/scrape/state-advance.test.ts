/**
 * advanceState (state.ts): a node's next state and its bytes straight from the stored bytes and the
 * batch. Whatever the stored value (same names, pods that came or went, renamed or reordered
 * containers, corrupted numbers, older formats, junk), it gives exactly what decoding, advancing and
 * encoding give; and when the names agree it reads the stored series in place, decoding no names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerSample, MetricsBatch, PodSamples } from '../../../functions/scrape/decode/batch.ts';
import { advanceState, decodeState, encodeState } from '../../../functions/scrape/state.ts';
import { advanceNode, type NodeState } from '../../../functions/scrape/storage.ts';

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);
const RESOLUTION = 15_000;

/** A small seeded PRNG (mulberry32), so a failure names the case that reproduces it. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cycleAt = (round: number) => ({
  startedAt: T0 + round * RESOLUTION,
  expiresAt: T0 + round * RESOLUTION + 3 * RESOLUTION,
  resolutionMs: RESOLUTION,
});

/** A batch for round `round` of pods named by `shape` (namespace, pod, containers), with varied samples. */
function batchOf(shape: [string, string, string[]][], round: number, rnd: () => number): MetricsBatch {
  const t = T0 + round * RESOLUTION - Math.floor(rnd() * 3000);
  const pods: PodSamples[] = shape.map(([namespace, name, containers]) => ({
    namespace,
    name,
    containers: containers.map(
      (c): ContainerSample => ({
        name: c,
        // Repeated (cached) samples, fresh containers and restarts, now and then.
        timestamp: rnd() < 0.1 ? t - RESOLUTION : t,
        cpu: Math.floor((round + 1) * 1e9 * (rnd() < 0.05 ? 0.1 : 1) + rnd() * 1e6),
        memory: Math.floor(rnd() * 2 ** 30),
        startTime: (rnd() < 0.1 ? t - 5000 - Math.floor(rnd() * RESOLUTION) : T0 - 3_600_000) * 1e6,
      }),
    ),
  }));
  const node = rnd() < 0.1 ? null : { timestamp: t, cpu: (round + 1) * 4e9, memory: 2 ** 33 };
  return { node, pods, dropped: [] };
}

function shapeOf(rnd: () => number): [string, string, string[]][] {
  const pods: [string, string, string[]][] = [];
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const containers = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, j) => `c${j}`);
    // Now and then names that JSON escapes, or whose UTF-8 is longer than their text.
    const odd = rnd();
    const name = odd < 0.05 ? `pod-"${i}"` : odd < 0.1 ? `pod-é${i}` : `pod-${i}`;
    pods.push([rnd() < 0.5 ? 'default' : 'kube-system', name, containers]);
  }
  return pods.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
}

/** The next round's shape: usually the same, sometimes a pod gone, one new, or a container renamed. */
function nextShape(shape: [string, string, string[]][], rnd: () => number): [string, string, string[]][] {
  const r = rnd();
  const copy = shape.map(([ns, p, cs]): [string, string, string[]] => [ns, p, [...cs]]);
  if (r < 0.6 || copy.length === 0) return copy;
  if (r < 0.7) return copy.filter((_, i) => i !== Math.floor(rnd() * copy.length));
  if (r < 0.8) return [...copy, ['zzz', 'new-pod', ['app']]];
  const pod = copy[Math.floor(rnd() * copy.length)]!;
  if (r < 0.9) pod[2][0] = 'renamed';
  else pod[2].reverse();
  return copy;
}

/** The stored value with one number replaced (NaN, an infinity, or a plain number), or cut short. */
function corrupted(b: Buffer, rnd: () => number): Buffer {
  const copy = Buffer.from(b);
  const names = copy.readUInt32LE(4);
  const numbersAt = 8 + ((names + 7) & ~7);
  if (copy.length <= numbersAt || rnd() < 0.2) return copy.subarray(0, Math.floor(rnd() * copy.length));
  const at = numbersAt + 8 * Math.floor(rnd() * ((copy.length - numbersAt) / 8));
  const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 42];
  copy.writeDoubleLE(values[Math.floor(rnd() * values.length)]!, at);
  return copy;
}

/** What advanceState must equal: the old composition, decode then advance then encode. */
function expected(old: Buffer | string | null, batch: MetricsBatch, round: number) {
  const state = advanceNode(decodeState(old), batch, cycleAt(round));
  return { state, bytes: Buffer.from(encodeState(state)) };
}

function check(old: Buffer | string | null, batch: MetricsBatch, round: number, what: string) {
  const want = expected(old, batch, round);
  const got = advanceState(old, batch, cycleAt(round));
  assert.deepEqual(got.state, want.state, what);
  assert.ok(got.bytes.equals(want.bytes), `${what}: the same bytes`);
  assert.deepEqual(decodeState(got.bytes), want.state, `${what}: the bytes decode to the state`);
  return got;
}

/** Counts JSON.parse calls while `f` runs (the names are the only JSON a binary state holds). */
function parsesDuring(f: () => void): number {
  const parse = JSON.parse;
  let calls = 0;
  JSON.parse = ((...a: Parameters<typeof JSON.parse>) => {
    calls++;
    return parse(...a);
  }) as typeof JSON.parse;
  try {
    f();
  } finally {
    JSON.parse = parse;
  }
  return calls;
}

describe('advanceState: a node advanced from its stored bytes', () => {
  test('equals decode, advance and encode over 2,000 random histories (names kept, changed, corrupted)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = prng(seed);
      let shape = shapeOf(rnd);
      let old: Buffer | null = null;
      for (let round = 0; round < 10; round++) {
        const what = `seed ${seed}, round ${round}`;
        const batch = batchOf(shape, round, rnd);
        const stored: Buffer | null = old !== null && rnd() < 0.15 ? corrupted(old, rnd) : old;
        old = Buffer.from(check(stored, batch, round, what).bytes);
        shape = nextShape(shape, rnd);
      }
    }
  });

  test('reads the stored series in place when the names agree: no names decoded', () => {
    const shape: [string, string, string[]][] = [
      ['default', 'web-1', ['app', 'sidecar']],
      ['kube-system', 'dns-0', ['coredns']],
    ];
    const rnd = prng(7);
    const first = advanceState(null, batchOf(shape, 0, rnd), cycleAt(0));
    const batch = batchOf(shape, 1, rnd);
    let next: ReturnType<typeof advanceState> | undefined;
    assert.equal(
      parsesDuring(() => {
        next = advanceState(first.bytes, batch, cycleAt(1));
      }),
      0,
    );
    assert.deepEqual(next!.state, expected(first.bytes, batch, 1).state);
    assert.ok(next!.state.pods[0]!.containers[0]!.series.prev, 'the history was kept');
    // Names that JSON escapes are compared as the text they are written as: in place too.
    const odd: [string, string, string[]][] = [
      ['default', 'web-"1"', ['app']],
      ['team-é', 'x', ['c']],
    ];
    const oddFirst = advanceState(null, batchOf(odd, 0, rnd), cycleAt(0));
    const oddBatch = batchOf(odd, 1, rnd);
    assert.equal(
      parsesDuring(() => advanceState(oddFirst.bytes, oddBatch, cycleAt(1))),
      0,
    );
    // With a pod more, the names differ: the stored state is decoded (the counter does count).
    const more = batchOf([...shape, ['zzz', 'new', ['app']]], 1, rnd);
    assert.equal(
      parsesDuring(() => advanceState(first.bytes, more, cycleAt(1))),
      1,
    );
  });

  test('a state of an older format, text, junk or nothing advances as decoding it would', () => {
    const rnd = prng(11);
    const shape: [string, string, string[]][] = [['default', 'web-1', ['app', 'sidecar']]];
    const v2 =
      `[2,${T0},${T0 + 45_000},[${T0 - 15_000},1000000000,4096,0],` +
      `["default","web-1",2,"app",${T0 - 15_000},5000000,10485760,1600000000000000000,null,` +
      `"sidecar",${T0 - 15_000},7000,1234567,1600000000000000000,${T0 - 30_000},0,1234567,1600000000000000000]]`;
    const cases: [string, Buffer | string | null][] = [
      ['nothing', null],
      ['a JSON state (version 2) as bytes', Buffer.from(v2)],
      ['a JSON state (version 2) as text', v2],
      ['junk bytes', Buffer.from([3, 1, 0, 0, 9, 9])],
      ['an empty value', Buffer.alloc(0)],
      ['a version byte of a future format', Buffer.from([4, 0, 0, 0, 0, 0, 0, 0])],
    ];
    for (const [what, old] of cases) check(old, batchOf(shape, 1, rnd), 1, what);
  });

  test('states advanced one after another keep their own bytes (none shared or overwritten)', () => {
    const rnd = prng(3);
    const shape: [string, string, string[]][] = [['default', 'a', ['x']]];
    const states: NodeState[] = [];
    const bytes: Buffer[] = [];
    let old: Buffer | null = null;
    for (let round = 0; round < 50; round++) {
      const r = advanceState(old, batchOf(shape, round, rnd), cycleAt(round));
      states.push(r.state);
      bytes.push(r.bytes);
      old = r.bytes;
    }
    for (const [i, b] of bytes.entries()) assert.deepEqual(decodeState(b), states[i], `state ${i}`);
  });
});
