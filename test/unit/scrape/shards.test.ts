/**
 * How a sharded cycle is cut (shards.ts) and how a shard request is authenticated (shard-auth.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ShardSecret } from '../../../functions/scrape/shard-auth.ts';
import { shardRequestSchema } from '../../../functions/scrape/shard-contract.ts';
import {
  cutShards,
  outgoingShards,
  PodsByNode,
  SHARD_PIECE_BYTES,
} from '../../../functions/scrape/shards.ts';
import { ConfigError } from '../../../shared/config/index.ts';
import type { NodeObject, PodOnNode } from '../../../shared/kube.ts';

const node = (name: string): NodeObject => ({
  name,
  labels: {},
  annotations: {},
  addresses: [],
  kubeletPort: 0,
});
const names = (shards: NodeObject[][]) => shards.map((s) => s.map((n) => n.name));

describe('the cut of a sharded cycle', () => {
  test('sorts the nodes by name and cuts them every --shard-size, the last shard taking the rest', () => {
    const nodes = ['n-5', 'n-1', 'n-4', 'n-2', 'n-3'].map(node);
    assert.deepEqual(names(cutShards(nodes, 2)), [['n-1', 'n-2'], ['n-3', 'n-4'], ['n-5']]);
    assert.deepEqual(names(cutShards(nodes, 10)), [['n-1', 'n-2', 'n-3', 'n-4', 'n-5']]);
    assert.deepEqual(cutShards([], 3), []);
  });

  test('is the same every cycle, whatever order the API server lists the nodes in', () => {
    const a = ['c', 'a', 'b', 'e', 'd'].map(node);
    const b = ['e', 'd', 'c', 'b', 'a'].map(node);
    assert.deepEqual(names(cutShards(a, 2)), names(cutShards(b, 2)));
  });

  test('moves a node only when nodes sorted before it come or go', () => {
    const before = names(cutShards(['a', 'b', 'c', 'd'].map(node), 2));
    const added = names(cutShards(['a', 'b', 'c', 'd', 'e'].map(node), 2));
    assert.deepEqual(added.slice(0, 2), before);
    // Byte order, not the locale's: every instance cuts alike.
    assert.deepEqual(names(cutShards(['b', 'B', 'a', 'A'].map(node), 4)), [['A', 'B', 'a', 'b']]);
  });

  test("hands each shard the pods of its nodes, by each pod's node, in the order listed", async () => {
    const listed: PodOnNode[] = [
      { namespace: 'ns', name: 'p1', labels: { app: 'x' }, nodeName: 'n-1' },
      { namespace: 'ns', name: 'p2', labels: {}, nodeName: 'n-3' },
      { namespace: 'other', name: 'p3', labels: { 'a"b': 'é\n' }, nodeName: 'n-1' },
      { namespace: 'ns', name: 'p4', labels: {}, nodeName: 'gone' },
      { namespace: 'ns', name: 'p5', labels: {}, nodeName: '' },
    ];
    const pods = new PodsByNode();
    for (const p of listed) pods.add(p);
    assert.equal(pods.count, 5);
    const cut = cutShards(['n-3', 'n-2', 'n-1'].map(node), 2);
    const head = { cycle: 1000, coordinator: 'host/1', expiresAt: 2000, resolutionMs: 15000 };
    const out = outgoingShards(head, cut, pods);
    const meta = ({ nodeName: _, ...p }: PodOnNode) => p;
    // What each shard is sent: the contract's request, each node's pods in the order the list gave them.
    const expected = cut.map((nodes, index) => ({
      ...head,
      shard: { index, of: 2 },
      timeoutMs: 5000,
      nodes,
      pods: nodes.flatMap((n) => listed.filter((p) => p.nodeName === n.name).map(meta)),
    }));
    for (const [i, o] of out.entries()) {
      const body = o.body(5000);
      const bytes = Buffer.concat([...body.pieces]);
      assert.equal(body.length, bytes.length, 'its Content-Length: the bytes written, UTF-8');
      const text = bytes.toString();
      assert.deepEqual(JSON.parse(text), expected[i]);
      assert.deepEqual(shardRequestSchema.parse(JSON.parse(text)), expected[i]);
      // A router finds the shard's place at the start of the body, before the nodes and pods.
      assert.match(
        text,
        new RegExp(
          `^\\{"cycle":1000,"coordinator":"host/1","expiresAt":2000,"resolutionMs":15000,"shard":\\{"index":${i},"of":2\\},"timeoutMs":5000,"nodes":`,
        ),
      );
      assert.deepEqual(o.request(5000), expected[i]);
      assert.deepEqual(o.nodes, cut[i]);
    }
    // Asking again with another time to answer in sends the same shard.
    assert.deepEqual(JSON.parse(Buffer.concat([...out[0]!.body(7).pieces]).toString()), {
      ...expected[0],
      timeoutMs: 7,
    });
    // The pods of no shard's node stay behind, with their nodes; the shards' own are forgotten.
    assert.deepEqual(pods.rest(), [listed[3], listed[4]]);
  });

  test('a large shard is written in pieces of about SHARD_PIECE_BYTES, byte for byte the request JSON.stringify gives', () => {
    // 40 nodes × 150 pods (6,000: about 1 MiB of pods), label sets shared by many pods across
    // namespaces, some unique, some with characters JSON escapes and UTF-8 needs several bytes for.
    const nodes = Array.from({ length: 40 }, (_, i) => node(`n-${String(i).padStart(2, '0')}`));
    const listed: PodOnNode[] = [];
    for (let p = 0; p < 6000; p++) {
      const labels: Record<string, string> =
        p % 7 === 0
          ? { 'statefulset.kubernetes.io/pod-name': `db-${p}` }
          : { app: `app-${p % 13}`, 'pod-template-hash': p % 2 ? 'ä"\\x' : 'h' };
      listed.push({
        namespace: `ns-${p % 5}`,
        name: p % 11 ? `pod-${p}` : `pöd-"${p}"`,
        labels,
        nodeName: `n-${String((p * 7) % 40).padStart(2, '0')}`,
      });
    }
    const pods = new PodsByNode();
    for (const p of listed) pods.add(p);
    const head = { cycle: 5, coordinator: 'c', expiresAt: 6, resolutionMs: 7 };
    const [o] = outgoingShards(head, [nodes], pods);
    const meta = ({ nodeName: _, ...p }: PodOnNode) => p;
    const expected = {
      ...head,
      shard: { index: 0, of: 1 },
      timeoutMs: 9,
      nodes,
      pods: nodes.flatMap((n) => listed.filter((p) => p.nodeName === n.name).map(meta)),
    };
    const body = o!.body(9);
    const pieces = [...body.pieces];
    const bytes = Buffer.concat(pieces);
    assert.equal(bytes.toString(), JSON.stringify(expected));
    assert.equal(body.length, bytes.length);
    // The pods' pieces (after the head and the nodes): a piece ends after the node whose pods pass
    // SHARD_PIECE_BYTES, so none is larger than that and one node's pods.
    const podPieces = pieces.slice(2);
    assert.ok(podPieces.length >= 5, `${podPieces.length} pieces`);
    const nodeBytes = nodes.map((n) =>
      Buffer.byteLength(JSON.stringify(listed.filter((p) => p.nodeName === n.name).map(meta))),
    );
    for (const piece of podPieces) assert.ok(piece.length <= SHARD_PIECE_BYTES + Math.max(...nodeBytes));
    assert.deepEqual(o!.request(9), expected);
  });

  test('a shard whose nodes have no pods is sent an empty pod list', async () => {
    const out = outgoingShards(
      { cycle: 1, coordinator: 'c', expiresAt: 2, resolutionMs: 3 },
      [[node('a')]],
      new PodsByNode(),
    );
    assert.deepEqual(out[0]!.request(9).pods, []);
  });
});

describe('the shard secret', () => {
  test('accepts exactly `Bearer <secret>`', () => {
    const s = new ShardSecret('0123456789abcdef-secret');
    assert.equal(s.verify(s.header()), true);
    assert.equal(s.verify('Bearer 0123456789abcdef-secret'), true);
    for (const wrong of [
      undefined,
      '',
      '0123456789abcdef-secret',
      'Bearer ',
      'Bearer 0123456789abcdef-secre',
      'Bearer 0123456789abcdef-secret2',
      'bearer 0123456789abcdef-secret',
      'Basic 0123456789abcdef-secret',
    ]) {
      assert.equal(s.verify(wrong), false, String(wrong));
    }
  });

  test('is read from its file with one trailing newline dropped; an empty, short or missing file is a configuration error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ms-shard-secret-'));
    try {
      await writeFile(join(dir, 'ok'), 'a-secret-of-sixteen-bytes\n');
      assert.equal(ShardSecret.read(join(dir, 'ok')).verify('Bearer a-secret-of-sixteen-bytes'), true);
      await writeFile(join(dir, 'short'), 'fifteen-bytes!!\n');
      assert.throws(
        () => ShardSecret.read(join(dir, 'short')),
        (e: unknown) => e instanceof ConfigError && /fewer than 16 bytes/.test(e.message),
      );
      await writeFile(join(dir, 'empty'), '\n');
      assert.throws(
        () => ShardSecret.read(join(dir, 'empty')),
        (e: unknown) => e instanceof ConfigError && /is empty/.test(e.message),
      );
      assert.throws(
        () => ShardSecret.read(join(dir, 'missing')),
        (e: unknown) => e instanceof ConfigError && /cannot read --shard-secret-file/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
