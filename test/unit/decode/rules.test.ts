import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyRules, type RawContainer, type RawPod } from '../../../functions/scrape/decode/rules.ts';

const NODE = { timestamp: 1_000, cpu: 5, memory: 6 };

const raw = (name: string, values: Partial<RawContainer> = {}): RawContainer => ({
  name,
  timestamp: 1_000,
  cpu: 10,
  memory: 20,
  startTime: 500,
  ...values,
});

const rawPod = (namespace: string, name: string, ...containers: RawContainer[]): RawPod => ({
  namespace,
  name,
  containers,
});

describe('the drop and duplicate rules both decoders share', () => {
  test('pods are sorted by namespace then name, and containers by name, in code-unit order', () => {
    const batch = applyRules(
      NODE,
      [
        rawPod('b', 'x', raw('z'), raw('Z'), raw('a')),
        rawPod('a-b', 'y'),
        rawPod('a-b', 'x', raw('c')),
        rawPod('a', 'z', raw('c')),
        rawPod('B', 'x', raw('c')),
      ],
      { requireStartTime: false },
    );
    assert.deepEqual(
      batch.pods.map((p) => `${p.namespace}/${p.name}`),
      ['B/x', 'a/z', 'a-b/x', 'b/x'],
    );
    assert.deepEqual(
      batch.pods[3]!.containers.map((c) => c.name),
      ['Z', 'a', 'z'],
    );
  });

  test('a missing start time is 0 where allowed, and fails the pod where required', () => {
    const pods = [rawPod('n', 'p', raw('c', { startTime: undefined }))];
    assert.equal(applyRules(NODE, pods, { requireStartTime: false }).pods[0]!.containers[0]!.startTime, 0);
    assert.deepEqual(applyRules(NODE, pods, { requireStartTime: true }).dropped, [
      { what: 'n/p', reason: 'container "c": no start time' },
    ]);
  });

  test('one incomplete container drops the whole pod, every failing container named', () => {
    const batch = applyRules(
      NODE,
      [rawPod('n', 'p', raw('ok'), raw('b', { cpu: 0 }), raw('a', { memory: undefined, timestamp: 0 }))],
      { requireStartTime: false },
    );
    assert.deepEqual(batch.pods, []);
    assert.deepEqual(batch.dropped, [
      {
        what: 'n/p',
        reason: 'container "a": no memory working set, timestamp is 0; container "b": CPU usage is 0',
      },
    ]);
  });

  test('the node is dropped first in the list, then pods in their sorted order', () => {
    const batch = applyRules(
      { timestamp: 1, cpu: 0, memory: 2 },
      [rawPod('z', 'p', raw('c', { cpu: 0 })), rawPod('a', 'p', raw('c', { cpu: 0 }))],
      { requireStartTime: false },
    );
    assert.equal(batch.node, null);
    assert.deepEqual(
      batch.dropped.map((d) => d.what),
      ['node', 'a/p', 'z/p'],
    );
  });

  test('container twins with equal timestamps and start times: the later listed wins', () => {
    const batch = applyRules(NODE, [rawPod('n', 'p', raw('c', { cpu: 1 }), raw('c', { cpu: 2 }))], {
      requireStartTime: false,
    });
    assert.equal(batch.pods[0]!.containers[0]!.cpu, 2);
  });

  test('pod listings with equally new samples: the first listed wins', () => {
    const batch = applyRules(
      NODE,
      [rawPod('n', 'p', raw('c', { cpu: 1 })), rawPod('n', 'p', raw('c', { cpu: 2 }))],
      {
        requireStartTime: false,
      },
    );
    assert.equal(batch.pods[0]!.containers[0]!.cpu, 1);
  });

  test('a listing without containers never replaces one with containers', () => {
    const batch = applyRules(NODE, [rawPod('n', 'p', raw('c')), rawPod('n', 'p')], {
      requireStartTime: false,
    });
    assert.equal(batch.pods.length, 1);
  });
});
