import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createSimCluster } from '../../../sim/model.ts';
import { resourceSamples } from '../../../sim/resource-metrics.ts';
import { renderSummary, renderSummaryWrongShape } from '../../../sim/summary.ts';
import { FIXTURES } from '../../helpers/fixtures.ts';

type Obj = Record<string, unknown>;
const SUMMARY_02 = JSON.parse(
  readFileSync(new URL('summary-02-nri-kubernetes-k8s1.32-minikube-containerd.json', FIXTURES), 'utf8'),
) as { node: Obj; pods: Obj[] };

const START = Date.UTC(2025, 5, 1, 12, 0, 0);
const sim = createSimCluster({ nodes: 2, podsPerNode: 10, seed: 'summary', startMs: START });
const view = sim.kubeletView('sim-node-0001', START + 90_000);
const full = JSON.parse(renderSummary(view, { onlyCpuAndMemory: false })) as { node: Obj; pods: Obj[] };
const reduced = JSON.parse(renderSummary(view, { onlyCpuAndMemory: true })) as {
  node: Obj;
  pods: Obj[];
};

const keys = (o: unknown) => Object.keys(o as Obj);
const first = <T>(list: T[]) => {
  assert.ok(list.length > 0);
  return list[0]!;
};

describe('the /stats/summary body of a simulated 1.32 kubelet', () => {
  test('the node has the keys of summary-02, in the same order', () => {
    assert.deepEqual(keys(full.node), keys(SUMMARY_02.node));
    assert.deepEqual(keys(full.node.cpu), keys(SUMMARY_02.node.cpu));
    assert.deepEqual(keys(full.node.memory), keys(SUMMARY_02.node.memory));
    assert.deepEqual(keys(full.node.swap), keys(SUMMARY_02.node.swap));
    assert.deepEqual(keys(full.node.runtime), keys(SUMMARY_02.node.runtime));
  });

  test('system containers are named pods and kubelet, shaped as in summary-02', () => {
    const ours = full.node.systemContainers as Obj[];
    const theirs = SUMMARY_02.node.systemContainers as Obj[];
    assert.deepEqual(
      ours.map((c) => c.name),
      theirs.map((c) => c.name),
    );
    for (const [i, c] of ours.entries()) assert.deepEqual(keys(c), keys(theirs[i]));
  });

  test('pods and containers have the keys of summary-02, in the same order', () => {
    const pod = first(full.pods);
    const theirs = first(SUMMARY_02.pods);
    assert.deepEqual(keys(pod), keys(theirs));
    assert.deepEqual(keys(pod.podRef), keys(theirs.podRef));
    const container = first(pod.containers as Obj[]);
    const theirContainer = first(theirs.containers as Obj[]);
    assert.deepEqual(keys(container), keys(theirContainer));
    assert.deepEqual(keys(container.cpu), keys(theirContainer.cpu));
    assert.deepEqual(keys(container.swap), keys(theirContainer.swap));
  });

  test('the reduced summary keeps only cpu, memory and swap (kubelet-apis.md §1.1)', () => {
    assert.deepEqual(keys(reduced.node).sort(), [
      'cpu',
      'memory',
      'nodeName',
      'startTime',
      'swap',
      'systemContainers',
    ]);
    for (const pod of reduced.pods) {
      assert.deepEqual(keys(pod).sort(), ['containers', 'cpu', 'memory', 'podRef', 'startTime', 'swap']);
      for (const c of pod.containers as Obj[]) {
        assert.deepEqual(keys(c).sort(), ['cpu', 'memory', 'name', 'startTime', 'swap']);
      }
    }
  });

  test('times are RFC 3339 with whole seconds, as metav1.Time writes them', () => {
    const times = JSON.stringify(full).match(/"(?:time|startTime)":"[^"]*"/g) ?? [];
    assert.ok(times.length > 10);
    for (const t of times) assert.match(t, /"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$/);
  });

  test('the numbers are those of /metrics/resource for the same instant (one provider call)', () => {
    const fromText = new Map(resourceSamples(view));
    for (const pod of full.pods) {
      const ref = pod.podRef as { name: string; namespace: string };
      for (const c of pod.containers as { name: string; cpu: Obj; memory: Obj }[]) {
        const s = fromText.get(`${ref.namespace}/${ref.name}/${c.name}`);
        assert.ok(s, `${ref.namespace}/${ref.name}/${c.name} is on both endpoints`);
        assert.ok(Math.abs((c.cpu.usageCoreNanoSeconds as number) - s.cpuNs) <= 1);
        assert.equal(c.memory.workingSetBytes, s.memoryBytes);
        assert.equal(Date.parse(c.cpu.time as string), Math.floor(s.timestampMs / 1000) * 1000);
      }
    }
  });

  test('static pods are reported under their config hash, not the mirror pod UID (as in summary-02)', () => {
    const etcd = full.pods.find((p) => (p.podRef as { name: string }).name === 'etcd-sim-node-0001');
    assert.ok(etcd);
    assert.match((etcd.podRef as { uid: string }).uid, /^[0-9a-f]{32}$/);
  });

  test('the wrong-shape body is JSON with strings for numbers and pods that is not a list', () => {
    const wrong = JSON.parse(renderSummaryWrongShape('n1', START)) as { node: Obj; pods: unknown };
    assert.equal(typeof (wrong.node.cpu as Obj).usageCoreNanoSeconds, 'string');
    assert.ok(!Array.isArray(wrong.pods));
  });
});
