/**
 * The served entries a cycle renders (functions/scrape/render.ts) when the same pod objects come back
 * cycle after cycle, as an informer hands them (and render.ts keeps each one's item template): each
 * render's pods start with nothing sent (what an earlier cycle sent is not carried over), two renders
 * alive at once (a sharded coordinator's and a shard's) never see each other's entries, and the items
 * are the bytes a render over fresh objects makes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CycleRender, type PodInfo } from '../../../functions/scrape/render.ts';
import type { NodeState, PodState } from '../../../functions/scrape/storage.ts';
import { decodeEntry } from '../../../shared/store/entry.ts';

const NOW = 1_700_000_000_000;
const pods: PodInfo[] = [
  { namespace: 'default', name: 'web-1', labels: { app: 'web' } },
  { namespace: 'default', name: 'web-2', labels: { app: 'web' } },
];
const nodes = [{ name: 'node-a', labels: {}, selected: true }];

/** A pod's state with one container: a rate when `withPrev`. */
function podState(name: string, cpu: number, withPrev: boolean): PodState {
  const last = { timestamp: NOW - 1000, cpu, memory: 1 << 20, startTime: 1.6e18 };
  const prev = withPrev ? { timestamp: NOW - 16_000, cpu: 0, memory: 1 << 20, startTime: 1.6e18 } : null;
  return { namespace: 'default', name, containers: [{ name: 'app', series: { last, prev } }] };
}

const state = (ps: PodState[]): NodeState => ({
  scrapedAt: NOW,
  expiresAt: NOW + 60_000,
  node: null,
  pods: ps,
});

/** Renders one node's state over `pods`; returns the sent entries (name → item) and the finish. */
function render(s: NodeState) {
  const sent = new Map<string, string>();
  const r = new CycleRender(
    { now: NOW, expiresAt: NOW + 60_000, nodes, pods },
    {
      podEntry: (_ns, name, value) => sent.set(name, decodeEntry(name, value)!.item),
      podItem: (_ns, name, _head, item) => {
        sent.set(name, item);
        return [0, item.length];
      },
      podItemBytes: () => assert.fail('an unordered render gives every item with its entry'),
      nodeEntry: () => {},
    },
  );
  return { r, sent, add: () => r.add('node-a', s) };
}

describe('rendering the same pod objects again', () => {
  test('a pod with metrics in one cycle and none in the next is written without metrics', () => {
    const first = render(state([podState('web-1', 15e9, true), podState('web-2', 30e9, true)]));
    first.add();
    const one = first.r.finish();
    assert.equal(one.points.pods, 2);
    assert.equal(one.namespaces.get('default')!.fields.length, 0, 'both entries were streamed');

    const second = render(state([podState('web-1', 16e9, true), podState('web-2', 31e9, false)]));
    second.add();
    const two = second.r.finish();
    assert.deepEqual([...second.sent.keys()], ['web-1']);
    assert.equal(two.points.pods, 1);
    const fields = two.namespaces.get('default')!.fields;
    assert.deepEqual(
      fields.map(([name, value]) => [name, decodeEntry(name, value)!.item]),
      [['web-2', '']],
      'web-2 exists without metrics',
    );
    assert.deepEqual(two.namespaces.get('default')!.labelIndex, new Map([['{"app":"web"}', ['web-1']]]));
  });

  test('two renders alive at once keep their own entries', () => {
    const a = render(state([podState('web-1', 15e9, true)]));
    const b = render(state([podState('web-2', 30e9, true)]));
    a.add();
    b.add();
    const fromB = b.r.finish();
    const fromA = a.r.finish();
    assert.deepEqual([...a.sent.keys()], ['web-1']);
    assert.deepEqual([...b.sent.keys()], ['web-2']);
    assert.deepEqual(
      fromA.namespaces.get('default')!.fields.map(([name]) => name),
      ['web-2'],
      "A knows nothing of B's web-2",
    );
    assert.deepEqual(
      fromB.namespaces.get('default')!.fields.map(([name]) => name),
      ['web-1'],
      "B knows nothing of A's web-1",
    );
    assert.equal(fromA.points.pods, 1);
    assert.equal(fromB.points.pods, 1);
  });

  test('the items are the same bytes as a render over fresh objects', () => {
    const s = state([podState('web-1', 15e9, true), podState('web-2', 30e9, true)]);
    const again = render(s);
    again.add();
    again.r.finish();
    const fresh = new Map<string, string>();
    const r = new CycleRender(
      { now: NOW, expiresAt: NOW + 60_000, nodes, pods: pods.map((p) => ({ ...p })) },
      {
        podEntry: (_ns, name, value) => fresh.set(name, decodeEntry(name, value)!.item),
        podItem: (_ns, name, _head, item) => {
          fresh.set(name, item);
          return [0, item.length];
        },
        podItemBytes: () => assert.fail('an unordered render gives every item with its entry'),
        nodeEntry: () => {},
      },
    );
    r.add('node-a', s);
    r.finish();
    assert.deepEqual(again.sent, fresh);
    assert.match(
      fresh.get('web-1')!,
      /"containers":\[\{"name":"app","usage":\{"cpu":"1","memory":"1Mi"\}\}\]/,
    );
  });
});
