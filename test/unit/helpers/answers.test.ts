/**
 * The failover tests' judge (test/helpers/answers.ts): "no wrong answer is ever served" is only as
 * strong as what it rejects. Given what two kubelets served, it accepts exactly metrics-server's answer
 * and rejects a missing node, an extra pod, a value off by one, two cycles mixed in one hash, a stale
 * cycle, and every failure that is not a 503 Status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServedRecord } from '../../../sim/index.ts';
import { type Expected, judge } from '../../helpers/answers.ts';

const R = 10_000;
const GRACE = 7000;

/** A kubelet response served at `servedAt`, its samples taken at `at`: cpu in ns, memory in bytes. */
function record(
  servedAt: number,
  at: number,
  samples: Record<string, [cpuNs: number, memory: number]>,
): ServedRecord {
  return {
    servedAt,
    path: '/metrics/resource',
    status: 200,
    fault: 'none',
    samples: new Map(
      Object.entries(samples).map(([key, [cpuNs, memoryBytes]]) => [
        key,
        { timestampMs: at, cpuSecondsText: String(cpuNs / 1e9), cpuNs, memoryBytes, startTimeSeconds: 0 },
      ]),
    ),
  };
}

/** Two nodes, scraped by two cycles (at 100 s and 110 s); a pod with two containers on node a. */
const served: Record<string, ServedRecord[]> = {
  a: [
    record(100_000, 99_500, { node: [1e9, 500], 'ns/p/c1': [1e8, 10], 'ns/p/c2': [2e8, 20] }),
    record(110_000, 109_500, { node: [3e9, 600], 'ns/p/c1': [3e8, 11], 'ns/p/c2': [2.5e8, 21] }),
  ],
  b: [record(100_010, 99_700, { node: [5e9, 700] }), record(110_010, 109_700, { node: [6e9, 800] })],
};

const expected: Expected = {
  sim: {
    cluster: { nodes: () => [{ name: 'a' }, { name: 'b' }], pod: () => ({ nodeName: 'a' }) },
    kubelets: { served: (node) => served[node] ?? [] },
  },
  resolutionMs: R,
  graceMs: GRACE,
  pods: ['ns/p'],
};

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const nodeItem = (name: string, at: number, windowS: number, cpu: number, memory: number) => ({
  metadata: { name },
  timestamp: iso(at),
  window: `${windowS}s`,
  usage: { cpu: `${cpu}n`, memory: `${memory}` },
});
/** What metrics-server answers from the two cycles: rates over 10 s, the newer memory. */
const nodes = (items = [nodeItem('a', 109_500, 10, 2e8, 600), nodeItem('b', 109_700, 10, 1e8, 800)]) => ({
  kind: 'NodeMetricsList',
  apiVersion: 'metrics.k8s.io/v1beta1',
  metadata: {},
  items,
});
const pods = (c1Cpu = 2e7) => ({
  kind: 'PodMetricsList',
  apiVersion: 'metrics.k8s.io/v1beta1',
  metadata: {},
  items: [
    {
      metadata: { name: 'p', namespace: 'ns' },
      timestamp: iso(109_500),
      window: '10s',
      containers: [
        { name: 'c1', usage: { cpu: `${c1Cpu}n`, memory: '11' } },
        { name: 'c2', usage: { cpu: '5000000n', memory: '21' } },
      ],
    },
  ],
});

const ok = (body: unknown) => ({ status: 200, headers: {}, body: JSON.stringify(body) });
const NODES = { kind: 'nodes' } as const;
const PODS = { kind: 'pods', namespace: 'ns' } as const;
const SENT = 111_000;

describe('the failover tests’ judge', () => {
  test('accepts metrics-server’s answer, naming the cycle by when the kubelets served it', () => {
    assert.deepEqual(judge(NODES, ok(nodes()), SENT, expected), { kind: 'correct', cycle: 110_000 });
    assert.deepEqual(judge(PODS, ok(pods()), SENT, expected), { kind: 'correct', cycle: 110_000 });
  });

  test('accepts a rate over a longer window (the state of a cycle lost in a failover)', () => {
    // A third cycle; the store kept the first cycle's samples, not the second's: 20 s windows.
    const third = {
      a: record(120_000, 119_500, { node: [5e9, 650] }),
      b: record(120_010, 119_700, { node: [9e9, 900] }),
    };
    const e = {
      ...expected,
      sim: { ...expected.sim, kubelets: { served: (n: string) => [...served[n]!, third[n as 'a' | 'b']] } },
    };
    const answer = nodes([nodeItem('a', 119_500, 20, 2e8, 650), nodeItem('b', 119_700, 20, 2e8, 900)]);
    assert.deepEqual(judge(NODES, ok(answer), 121_000, e), { kind: 'correct', cycle: 120_000 });
  });

  test('rejects a healthy node missing, and a pod too many', () => {
    assert.equal(
      judge(NODES, ok(nodes([nodeItem('a', 109_500, 10, 2e8, 600)])), SENT, expected).kind,
      'wrong',
    );
    const extra = pods();
    extra.items.push({ ...extra.items[0]!, metadata: { name: 'q', namespace: 'ns' } });
    assert.equal(judge(PODS, ok(extra), SENT, expected).kind, 'wrong');
  });

  test('rejects a value off by one nanocore, and a window that is no two samples’', () => {
    assert.equal(
      judge(
        NODES,
        ok(nodes([nodeItem('a', 109_500, 10, 2e8 + 1, 600), nodeItem('b', 109_700, 10, 1e8, 800)])),
        SENT,
        expected,
      ).kind,
      'wrong',
    );
    assert.equal(
      judge(
        NODES,
        ok(nodes([nodeItem('a', 109_500, 11, 2e8, 600), nodeItem('b', 109_700, 10, 1e8, 800)])),
        SENT,
        expected,
      ).kind,
      'wrong',
    );
    assert.equal(judge(PODS, ok(pods(2e7 + 1)), SENT, expected).kind, 'wrong');
  });

  test('rejects a node list mixing two cycles', () => {
    // Node b from the first cycle (no earlier sample: memory 700 with a rate needs one before it).
    const mixed = {
      ...expected,
      sim: {
        ...expected.sim,
        kubelets: {
          served: (n: string) =>
            n === 'b' ? [record(90_010, 89_700, { node: [4e9, 650] }), served.b![0]!] : served[n]!,
        },
      },
    };
    const v = judge(
      NODES,
      ok(nodes([nodeItem('a', 109_500, 10, 2e8, 600), nodeItem('b', 99_700, 10, 1e8, 700)])),
      SENT,
      mixed,
    );
    assert.equal(v.kind, 'wrong');
    assert.match((v as { why: string }).why, /mixes two cycles/);
  });

  test('rejects a cycle older than a resolution plus the grace', () => {
    const v = judge(NODES, ok(nodes()), 110_000 + R + GRACE, expected);
    assert.equal(v.kind, 'wrong');
    assert.match((v as { why: string }).why, /stale/);
  });

  test('takes a 503 ServiceUnavailable Status with Retry-After as unavailable; anything else is wrong', () => {
    const status = JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'ServiceUnavailable',
      code: 503,
    });
    assert.equal(
      judge(NODES, { status: 503, headers: { 'retry-after': '1' }, body: status }, SENT, expected).kind,
      'unavailable',
    );
    assert.equal(judge(NODES, { status: 503, headers: {}, body: status }, SENT, expected).kind, 'wrong');
    assert.equal(
      judge(NODES, { status: 500, headers: {}, body: '{"kind":"Status","code":500}' }, SENT, expected).kind,
      'wrong',
    );
    assert.equal(judge(NODES, { status: 200, headers: {}, body: '{"items":' }, SENT, expected).kind, 'wrong');
    assert.equal(judge(NODES, ok({ kind: 'NodeMetricsList', items: [{}] }), SENT, expected).kind, 'wrong');
  });
});
