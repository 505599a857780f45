import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { flat, memoize } from '../../../shared/memo.ts';
import { podItemTemplate } from '../../../shared/metrics-api.ts';

test('memoize computes once per argument, stays bounded, and keeps nothing from a throw', () => {
  const calls: number[] = [];
  const square = memoize(2, (n: number) => {
    calls.push(n);
    if (n < 0) throw new Error('negative');
    return n * n;
  });
  assert.equal(square(3), 9);
  assert.equal(square(3), 9);
  assert.deepEqual(calls, [3]);
  assert.throws(() => square(-1), /negative/);
  assert.throws(() => square(-1), /negative/);
  assert.deepEqual(calls, [3, -1, -1], 'a throw is not kept');
  square(4);
  square(5); // full at 2: dropped whole, then 5 kept
  square(3);
  assert.deepEqual(calls, [3, -1, -1, 4, 5, 3]);
});

test('a kept string argument does not keep the text it was cut from', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const TEXTS = 64;
  const TEXT_BYTES = 1 << 20;
  const length = memoize(1024, (s: string) => s.length);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < TEXTS; i++) {
    // A kubelet body's shape: a long text, a container name of 13+ characters cut from it.
    const text = `# HELP ${String(i).padStart(8, '0')} ${'x'.repeat(TEXT_BYTES)} container="sidecar-${i}-proxy"\n`;
    const at = text.indexOf('sidecar-');
    const name = text.slice(at, text.indexOf('"', at));
    assert.equal(length(name), name.length);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // Kept as views, the names would hold 64 MiB of texts; copied, 64 short strings.
  assert.ok(grown < 8 * TEXT_BYTES, `the heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  assert.equal(length('sidecar-3-proxy'), 15, 'a copy is found by an equal string');
});

test('flat returns an equal string, whatever its shape, lone surrogates included', () => {
  const built = `${'a'.repeat(20)}${String(Math.random())}${'b'.repeat(20)}`;
  for (const s of [
    ...['', 'a', 'x', 'sidecar-container-1', 'é€😀', '\ud800', 'x\udc00y', '\u0000'],
    ...[built, built.slice(3, 30), ' padded ', '\tx\n', 'é€😀\ud800', '{"name":"p"}'],
  ]) {
    assert.equal(flat(s), s);
  }
});

/** How many strings of each shape the heap holds (a heap snapshot's node types). */
async function stringShapes(): Promise<Map<string, number>> {
  const chunks: Buffer[] = [];
  for await (const chunk of v8.getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snapshot = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
  };
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta;
  const typeAt = fields.indexOf('type');
  const counts = new Map<string, number>();
  for (let i = typeAt; i < snapshot.nodes.length; i += fields.length) {
    const type = types[0][snapshot.nodes[i]!]!;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

test('a kept pod item template is two flat strings, not trees of its parts', async () => {
  const before = (await stringShapes()).get('concatenated string') ?? 0;
  const kept = Array.from({ length: 5_000 }, (_, i) =>
    podItemTemplate(
      `web-${i}-7d9f8c6b5-x2k4p`,
      `team-${i % 40}`,
      JSON.stringify({ app: `web-${i % 300}`, tier: 'front' }),
    ),
  );
  const after = (await stringShapes()).get('concatenated string') ?? 0;
  // Unflattened, each template's head and tail are trees of about seven concatenations: 35,000.
  assert.ok(after - before < 500, `${after - before} concatenations kept for ${kept.length} templates`);
  assert.match(kept[7]!.head, /^\{"metadata":\{"name":"web-7-7d9f8c6b5-x2k4p","namespace":"team-7",/);
});
