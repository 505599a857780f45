import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSimCluster, cumulativeCpuNs, type SimCluster, workingSetBytes } from '../../../sim/model.ts';

const START = Date.UTC(2025, 5, 1, 12, 0, 0);
const H = 10_000;

function cluster(
  opts: { nodes?: number; podsPerNode?: number; seed?: string | number; resourceVersionBase?: number } = {},
): SimCluster {
  return createSimCluster({
    nodes: opts.nodes ?? 3,
    podsPerNode: opts.podsPerNode ?? 8,
    seed: opts.seed ?? 'model-test',
    startMs: START,
    now: () => START,
    ...(opts.resourceVersionBase === undefined ? {} : { resourceVersionBase: opts.resourceVersionBase }),
  });
}

/** Every number a kubelet would report at `t`, keyed like the served records. */
function reported(c: SimCluster, t: number): Map<string, { ts: number; cpu: number; mem: number }> {
  const out = new Map<string, { ts: number; cpu: number; mem: number }>();
  for (const n of c.nodes()) {
    const v = c.kubeletView(n.name, t);
    out.set(n.name, { ts: v.nodeSample.timestampMs, cpu: v.nodeSample.cpuNs, mem: v.nodeSample.memoryBytes });
    for (const p of v.pods) {
      for (const { container, sample } of p.containers) {
        out.set(`${p.pod.namespace}/${p.pod.name}/${container.name}`, {
          ts: sample.timestampMs,
          cpu: sample.cpuNs,
          mem: sample.memoryBytes,
        });
      }
    }
  }
  return out;
}

describe('a simulated cluster built from a seed', () => {
  test('the same seed gives the same nodes, pods and usage; another seed does not', () => {
    const a = cluster();
    const b = cluster();
    const c = cluster({ seed: 'another' });
    const names = (x: SimCluster) => x.pods().map((p) => `${p.namespace}/${p.name}@${p.nodeName}`);
    assert.deepEqual(names(a), names(b));
    assert.notDeepEqual(names(a), names(c));
    assert.deepEqual([...reported(a, START + 123_456)], [...reported(b, START + 123_456)]);
  });

  test('resourceVersions start above resourceVersionBase (1000 unless given), one per object', () => {
    const rvs = (x: SimCluster) =>
      [...x.namespaces(), ...x.nodes(), ...x.pods()].map((o) => o.resourceVersion);
    const a = cluster();
    const b = cluster({ resourceVersionBase: 1_800_000_000_000 });
    assert.equal(Math.min(...rvs(a)), 1001);
    assert.equal(Math.min(...rvs(b)), 1_800_000_000_001);
    assert.equal(b.resourceVersion - 1_800_000_000_000, a.resourceVersion - 1000);
    assert.throws(() => cluster({ resourceVersionBase: -1 }), /resourceVersionBase must be a whole number/);
  });

  test('nodes are named sim-node-0001… with hostname, OS, zone labels and one control-plane node', () => {
    const c = cluster({ nodes: 4 });
    assert.deepEqual(
      c.nodes().map((n) => n.name),
      ['sim-node-0001', 'sim-node-0002', 'sim-node-0003', 'sim-node-0004'],
    );
    for (const n of c.nodes()) {
      assert.equal(n.labels['kubernetes.io/hostname'], n.name);
      assert.equal(n.labels['kubernetes.io/os'], 'linux');
      assert.match(n.labels['topology.kubernetes.io/zone'] ?? '', /^sim-zone-/);
      assert.equal(n.internalIP, '127.0.0.1');
      assert.equal(n.capacity.pods, '110');
    }
    const controlPlane = c.nodes().filter((n) => 'node-role.kubernetes.io/control-plane' in n.labels);
    assert.deepEqual(
      controlPlane.map((n) => n.name),
      ['sim-node-0001'],
    );
  });

  test('every kubelet reports podsPerNode pods, plus the zero-working-set pod on the first node', () => {
    const c = cluster({ nodes: 3, podsPerNode: 8 });
    const counts = c.nodes().map((n) => c.kubeletView(n.name, START + 60_000).pods.length);
    assert.deepEqual(counts, [9, 8, 8]);
  });

  test('kube-proxy runs on every node; application pods carry app and pod-template-hash labels', () => {
    const c = cluster({ nodes: 3, podsPerNode: 8 });
    for (const n of c.nodes()) {
      assert.ok(
        c.podsOnNode(n.name).some((p) => p.namespace === 'kube-system' && p.name.startsWith('kube-proxy-')),
      );
    }
    const apps = c.pods().filter((p) => p.owner?.kind === 'ReplicaSet' && p.namespace !== 'kube-system');
    assert.ok(apps.length > 0);
    for (const p of apps) {
      const hash = p.labels['pod-template-hash'];
      assert.ok(hash, `${p.name} has a pod-template-hash`);
      assert.ok(p.labels.app);
      assert.ok(p.name.startsWith(`${p.labels.app}-${hash}-`), `${p.name} is named <app>-<hash>-<suffix>`);
    }
  });

  test('pod names are unique even across 5,000 daemonset pods', () => {
    const c = createSimCluster({ nodes: 5000, podsPerNode: 1, seed: 3, startMs: START, specialPods: false });
    assert.equal(c.pods().length, 5000);
  });

  test('the Pending and the Succeeded pod exist in the API but no kubelet reports them', () => {
    const c = cluster();
    const { pending, succeeded } = c.specials;
    assert.ok(pending && succeeded);
    const [pns, pname] = pending.split('/') as [string, string];
    const [sns, sname] = succeeded.split('/') as [string, string];
    assert.equal(c.pod(pns, pname)?.phase, 'Pending');
    assert.equal(c.pod(sns, sname)?.phase, 'Succeeded');
    const all = reported(c, START + 60_000);
    assert.ok(![...all.keys()].some((k) => k.startsWith(`${pending}/`) || k.startsWith(`${succeeded}/`)));
  });

  test('the zero-working-set pod is reported with memory 0 for one container and real memory for the other', () => {
    const c = cluster();
    const key = c.specials.zeroWorkingSet!;
    const all = reported(c, START + 60_000);
    const containers = [...all.entries()].filter(([k]) => k.startsWith(`${key}/`));
    assert.equal(containers.length, 2);
    assert.deepEqual(containers.map(([, v]) => v.mem === 0).sort(), [false, true]);
  });

  test('young pods started seconds before the cluster did', () => {
    const c = cluster();
    assert.ok(c.specials.young.length > 0);
    for (const key of c.specials.young) {
      const [ns, name] = key.split('/') as [string, string];
      const p = c.pod(ns, name)!;
      for (const container of p.containers) assert.ok(START - container.startedAtMs! < 20_000);
    }
  });
});

describe('what a kubelet reports over time', () => {
  test('between two housekeeping ticks a scrape sees the same sample, stamped with the tick time', () => {
    const c = cluster();
    const node = c.nodes()[1]!;
    const first = c.kubeletView(node.name, START + 100_000).nodeSample;
    const tick = first.timestampMs;
    assert.ok(tick <= START + 100_000 && tick > START + 100_000 - H);
    assert.ok(Number.isInteger(tick));
    assert.deepEqual(c.kubeletView(node.name, tick + H - 1).nodeSample, first);
    const next = c.kubeletView(node.name, tick + H).nodeSample;
    assert.equal(next.timestampMs, tick + H);
  });

  test('containers and nodes tick with their own phases', () => {
    const c = cluster();
    const stamps = new Set([...reported(c, START + 100_000).values()].map((v) => v.ts % H));
    assert.ok(stamps.size > 3, 'samples are not all taken at the same instant');
  });

  test('every counter (container, pod, node) only goes up as time passes', () => {
    const c = cluster();
    let previous = reported(c, START);
    for (let t = START + 3_000; t < START + 300_000; t += 3_000) {
      const now = reported(c, t);
      for (const [k, v] of now) {
        const before = previous.get(k);
        if (before) assert.ok(v.cpu >= before.cpu, `${k} went from ${before.cpu} to ${v.cpu}`);
      }
      for (const n of c.nodes()) {
        for (const p of c.kubeletView(n.name, t).pods) {
          const s = c.podSample(p.pod, t);
          const s0 = c.podSample(p.pod, t - 3_000);
          if (s && s0) assert.ok(s.cpuNs >= s0.cpuNs);
        }
      }
      previous = now;
    }
  });

  test('a container with a constant 0.25 cores has used 0.25 × seconds-since-start at each tick', () => {
    const c = cluster();
    const node = c.nodes()[2]!.name;
    const pod = c.addPod(
      {
        namespace: 'tests',
        name: 'steady',
        nodeName: node,
        containers: [{ name: 'app', cpuCores: 0.25, memoryBytes: 40 * 4096 }],
      },
      START + 5_000,
    );
    const container = pod.containers[0]!;
    const v = c.kubeletView(node, START + 60_000);
    const seen = v.pods.find((p) => p.pod === pod)!.containers[0]!.sample;
    const elapsedMs = seen.timestampMs - container.startedAtMs!;
    // By hand: 0.25 core × elapsed seconds, in nanoseconds.
    assert.equal(seen.cpuNs, Math.floor(0.25 * elapsedMs * 1e6));
    assert.equal(seen.memoryBytes, 40 * 4096);
    assert.equal(cumulativeCpuNs(container, seen.timestampMs), seen.cpuNs);
    assert.equal(workingSetBytes(container, seen.timestampMs), 40 * 4096);
  });

  test('a restart gives the container a new start time and a counter from 0; pod and node counters keep going', () => {
    const c = cluster();
    const node = c.nodes()[2]!.name;
    const pod = c.addPod(
      {
        namespace: 'tests',
        name: 'restarting',
        nodeName: node,
        containers: [{ name: 'app', cpuCores: 1, memoryBytes: 4096 }],
      },
      START,
    );
    const before = c.kubeletView(node, START + 120_000);
    const nodeBefore = before.nodeSample.cpuNs;
    const sampleBefore = before.pods.find((p) => p.pod === pod)!.containers[0]!.sample;
    assert.ok(sampleBefore.cpuNs > 100e9);

    c.restartContainer('tests', 'restarting', 'app', START + 125_000);
    assert.equal(pod.containers[0]!.restartCount, 1);
    assert.equal(pod.containers[0]!.startedAtMs, START + 125_000);

    const after = c.kubeletView(node, START + 150_000);
    const sampleAfter = after.pods.find((p) => p.pod === pod)!.containers[0]!.sample;
    assert.equal(sampleAfter.startTimeMs, START + 125_000);
    // By hand: 1 core since the restart.
    assert.equal(sampleAfter.cpuNs, Math.floor((sampleAfter.timestampMs - (START + 125_000)) * 1e6));
    assert.ok(after.nodeSample.cpuNs > nodeBefore);
    const podAfter = c.podSample(pod, START + 150_000)!;
    assert.ok(podAfter.cpuNs > 120e9, 'the pod counter includes what the container used before the restart');
  });

  test('deleting a pod does not turn its node counter back', () => {
    const c = cluster();
    const node = c.nodes()[0]!.name;
    const before = c.kubeletView(node, START + 200_000).nodeSample.cpuNs;
    for (const p of [...c.podsOnNode(node)]) c.deletePod(p.namespace, p.name, START + 205_000);
    const after = c.kubeletView(node, START + 230_000);
    assert.equal(after.pods.length, 0);
    assert.ok(after.nodeSample.cpuNs >= before);
  });

  test('a Pending pod set Running is reported after its first housekeeping sample', () => {
    const c = cluster();
    const [ns, name] = c.specials.pending!.split('/') as [string, string];
    const pod = c.pod(ns, name)!;
    c.setPodPhase(ns, name, 'Running', START + 10_000);
    const first = pod.containers[0]!.firstSampleMs!;
    assert.ok(!c.kubeletView(pod.nodeName!, first - 1).pods.some((p) => p.pod === pod));
    assert.ok(c.kubeletView(pod.nodeName!, first).pods.some((p) => p.pod === pod));
  });

  test('setLabels replaces labels and bumps the resourceVersion', () => {
    const c = cluster();
    const pod = c.pods()[0]!;
    const rv = pod.resourceVersion;
    c.setLabels({ namespace: pod.namespace, pod: pod.name }, { team: 'a' });
    assert.deepEqual(c.pod(pod.namespace, pod.name)!.labels, { team: 'a' });
    assert.ok(c.pod(pod.namespace, pod.name)!.resourceVersion > rv);
  });

  test('setFault is announced to listeners', () => {
    const c = cluster();
    const seen: string[] = [];
    c.onChange((e) => {
      if (e.type === 'FAULT') seen.push(`${e.name}:${e.fault.kind}`);
    });
    c.setFault('sim-node-0002', 'status-500');
    c.setFault('sim-node-0002', { kind: 'slow', delayMs: 5 });
    assert.deepEqual(seen, ['sim-node-0002:status-500', 'sim-node-0002:slow']);
    assert.throws(() => c.setFault('nope', 'none'), /nodes "nope" not found/);
  });

  test('onBeforeChange is told before every in-place change or removal, with the object still as it was', () => {
    const c = cluster();
    const seen: string[] = [];
    c.onBeforeChange((b) => {
      if (b.kind === 'Pod')
        seen.push(
          `pod ${b.pod.name} ${b.pod.phase} rv=${b.pod.resourceVersion} ${JSON.stringify(b.pod.labels)}`,
        );
      else seen.push(`node ${b.node.name} rv=${b.node.resourceVersion} port=${b.node.kubeletPort}`);
    });
    const added = c.addPod(
      { namespace: 'shop', name: 'b4', nodeName: 'sim-node-0001', phase: 'Pending' },
      START,
    );
    const rv0 = added.resourceVersion;
    assert.deepEqual(seen, [], 'an addition has no before');
    c.setPodPhase('shop', 'b4', 'Running', START);
    const rv1 = c.pod('shop', 'b4')!.resourceVersion;
    c.setLabels({ namespace: 'shop', pod: 'b4' }, { v: '2' });
    const rv2 = c.pod('shop', 'b4')!.resourceVersion;
    c.restartContainer('shop', 'b4', added.containers[0]!.name, START);
    const rv3 = c.pod('shop', 'b4')!.resourceVersion;
    c.deletePod('shop', 'b4', START);
    const node = c.node('sim-node-0002')!;
    const nodeRv = node.resourceVersion;
    c.setKubeletPort('sim-node-0002', 12345);
    c.setKubeletPort('sim-node-0002', 12345); // no change, no call
    assert.deepEqual(seen, [
      `pod b4 Pending rv=${rv0} {}`,
      `pod b4 Running rv=${rv1} {}`,
      `pod b4 Running rv=${rv2} {"v":"2"}`,
      `pod b4 Running rv=${rv3} {"v":"2"}`,
      `node sim-node-0002 rv=${nodeRv} port=10250`,
    ]);
  });
});

describe('a node that leaves the cluster', () => {
  test('it and every pod bound to it leave the lists; the rest stays as it was', () => {
    const c = cluster({ nodes: 3 });
    const [a, b, gone] = c.nodes().map((n) => n.name) as [string, string, string];
    const pods = c.podsOnNode(gone).map((p) => `${p.namespace}/${p.name}`);
    const others = c.pods().filter((p) => p.nodeName !== gone);
    const otherView = c.kubeletView(a, START);
    c.removeNode(gone);
    assert.deepEqual(
      c.nodes().map((n) => n.name),
      [a, b],
    );
    assert.equal(c.node(gone), undefined);
    assert.deepEqual(c.podsOnNode(gone), []);
    for (const key of pods) assert.equal(c.podByKey(key), undefined, key);
    assert.deepEqual(c.pods(), others);
    assert.deepEqual(c.kubeletView(a, START), otherView);
    assert.throws(() => c.kubeletView(gone, START), /no node/);
    assert.throws(() => c.removeNode(gone), /removeNode: nodes "[^"]+" not found/);
    assert.throws(() => c.addPod({ namespace: 'default', name: 'late', nodeName: gone }), /not found/);
  });

  test('listeners hear each pod DELETED, then the node DELETED, each with its last state at a newer resourceVersion', () => {
    const c = cluster({ nodes: 2 });
    const gone = c.nodes()[1]!.name;
    const pods = c.podsOnNode(gone).map((p) => p.name);
    const rv = c.resourceVersion;
    const events: string[] = [];
    const versions: number[] = [];
    c.onChange((e) => {
      events.push(`${e.type} ${e.kind} ${e.name}`);
      if (e.type === 'DELETED') {
        assert.equal(e.object.name, e.name);
        versions.push(e.object.resourceVersion);
        // Lists made while hearing of it already reflect the change.
        if (e.kind === 'Node') assert.equal(c.node(e.name), undefined);
        else assert.equal(c.pod(e.namespace, e.name), undefined);
      }
    });
    c.removeNode(gone);
    assert.deepEqual(events, [...pods.map((p) => `DELETED Pod ${p}`), `DELETED Node ${gone}`]);
    assert.deepEqual(
      versions,
      versions.map((_, i) => rv + i + 1),
    );
    assert.equal(c.resourceVersion, rv + pods.length + 1);
  });
});
