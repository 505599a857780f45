/**
 * The events the simulated cluster's components record as its objects change, and the history those
 * changes leave (what watchers see): every change made through the model reaches both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SimEvent } from '../../../sim/events.ts';
import { createSimCluster } from '../../../sim/model.ts';
import { eventObject } from '../../../sim/objects.ts';
import { type ApiState, createApiState } from '../../../sim/state.ts';

const T0 = Date.parse('2025-06-01T10:00:00Z');

function setup(seed = 'recorder-unit', nodeStartupEvents = false) {
  let now = T0;
  const cluster = createSimCluster({ nodes: 2, podsPerNode: 4, seed, startMs: T0, now: () => now });
  const state = createApiState(cluster, {
    clientCaPem: 'ca',
    requestHeaderCaPem: 'front-proxy-ca',
    configMapUid: 'cm-uid',
    nodeStartupEvents,
  });
  return {
    cluster,
    state,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const summary = (e: SimEvent) =>
  `${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`;
const about = (state: ApiState, name: string) =>
  state.events.list().filter((e) => e.involvedObject.name === name);

describe('events recorded as pods live', () => {
  test('a pod added running: Scheduled (new-style, from the scheduler), then Pulled, Created, Started per container', () => {
    const { cluster, state } = setup();
    cluster.addPod({
      namespace: 'shop',
      name: 'web-1',
      nodeName: 'sim-node-0002',
      containers: [
        { name: 'web', image: 'nginx:1.27' },
        { name: 'proxy', image: 'envoy:1.31' },
      ],
    });
    const events = about(state, 'web-1');
    assert.deepEqual(events.map(summary), [
      'Normal Scheduled Pod/web-1: Successfully assigned shop/web-1 to sim-node-0002',
      'Normal Pulled Pod/web-1: Container image "nginx:1.27" already present on machine',
      'Normal Created Pod/web-1: Created container: web',
      'Normal Started Pod/web-1: Started container web',
      'Normal Pulled Pod/web-1: Container image "envoy:1.31" already present on machine',
      'Normal Created Pod/web-1: Created container: proxy',
      'Normal Started Pod/web-1: Started container proxy',
    ]);
    const scheduled = eventObject(events[0]!);
    assert.equal(scheduled.firstTimestamp, null);
    assert.equal(scheduled.reportingComponent, 'default-scheduler');
    assert.equal(scheduled.reportingInstance, 'default-scheduler-sim-node-0001');
    const pulled = eventObject(events[1]!);
    assert.deepEqual(pulled.source, { component: 'kubelet', host: 'sim-node-0002' });
    assert.deepEqual(pulled.involvedObject, {
      kind: 'Pod',
      namespace: 'shop',
      name: 'web-1',
      uid: cluster.pod('shop', 'web-1')!.uid,
      apiVersion: 'v1',
      resourceVersion: String(cluster.pod('shop', 'web-1')!.resourceVersion),
      fieldPath: 'spec.containers{web}',
    });
    state.close();
  });

  test('a pod that starts Pending: Pulling; once Running: the pull with its duration and size, Created, Started', () => {
    const { cluster, state, advance } = setup();
    cluster.addPod({
      namespace: 'shop',
      name: 'web-2',
      nodeName: 'sim-node-0001',
      phase: 'Pending',
      containers: [{ name: 'web', image: 'nginx:1.27' }],
    });
    advance(3000);
    cluster.setPodPhase('shop', 'web-2', 'Running');
    const reasons = about(state, 'web-2').map((e) => e.reason);
    assert.deepEqual(reasons, ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    assert.match(
      about(state, 'web-2')[2]!.message,
      /^Successfully pulled image "nginx:1\.27" in \d+\.\d{3}s \(\d+\.\d{3}s including waiting\)\. Image size: \d+ bytes\.$/,
    );
    state.close();
  });

  test('a crash-looping container: BackOff and the restart events fold into counts that grow', () => {
    const { cluster, state, advance } = setup();
    const pod = cluster.addPod({
      namespace: 'shop',
      name: 'crashy',
      nodeName: 'sim-node-0001',
      containers: [{ name: 'app' }],
    });
    for (let i = 0; i < 3; i++) {
      advance(10_000);
      cluster.restartContainer('shop', 'crashy', 'app');
    }
    state.recorder.backOff(cluster.pod('shop', 'crashy')!, pod.containers[0]!);
    const byReason = new Map(about(state, 'crashy').map((e) => [e.reason, e]));
    assert.equal(byReason.get('BackOff')?.count, 4);
    assert.equal(byReason.get('BackOff')?.type, 'Warning');
    assert.equal(
      byReason.get('BackOff')?.message,
      `Back-off restarting failed container app in pod crashy_shop(${pod.uid})`,
    );
    assert.equal(byReason.get('Started')?.count, 4, 'the first start and three restarts');
    assert.equal(eventObject(byReason.get('BackOff')!).lastTimestamp, '2025-06-01T10:00:30Z');
    assert.equal(eventObject(byReason.get('BackOff')!).firstTimestamp, '2025-06-01T10:00:10Z');
    state.close();
  });

  test('a running pod deleted: Killing for each running container, on its node', () => {
    const { cluster, state } = setup();
    cluster.addPod({
      namespace: 'shop',
      name: 'gone',
      nodeName: 'sim-node-0002',
      containers: [{ name: 'a' }, { name: 'b' }],
    });
    cluster.deletePod('shop', 'gone');
    const killing = about(state, 'gone').filter((e) => e.reason === 'Killing');
    assert.deepEqual(
      killing.map((e) => [e.message, e.source.host]),
      [
        ['Stopping container a', 'sim-node-0002'],
        ['Stopping container b', 'sim-node-0002'],
      ],
    );
    state.close();
  });

  test('a pod whose node is gone when it goes: no Killing (no kubelet stopped it)', () => {
    const { cluster, state } = setup();
    const pod = cluster.addPod({ namespace: 'shop', name: 'orphan', nodeName: 'sim-node-0002' });
    const before = state.events.size;
    const last = { ...pod, nodeName: 'sim-node-9999', resourceVersion: ++cluster.resourceVersion };
    state.history.record('pods', {
      type: 'DELETED',
      rv: last.resourceVersion,
      key: 'shop/orphan',
      object: last,
      prev: pod,
    });
    assert.equal(state.events.size, before);
    state.close();
  });

  test('a pod no node can take: FailedScheduling (new-style), each retry a series bump', () => {
    const { cluster, state, advance } = setup();
    const pod = cluster.addPod({
      namespace: 'shop',
      name: 'huge',
      phase: 'Pending',
      containers: [{ name: 'x' }],
    });
    advance(30_000);
    state.recorder.schedulingFailed(pod);
    advance(30_000);
    state.recorder.schedulingFailed(pod);
    const [failed, ...rest] = about(state, 'huge');
    assert.equal(rest.length, 0);
    assert.equal(failed!.reason, 'FailedScheduling');
    assert.equal(
      failed!.message,
      '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    );
    const json = eventObject(failed!);
    assert.equal(json.action, 'Scheduling');
    assert.equal(json.lastTimestamp, null);
    assert.deepEqual(json.series, { count: 3, lastObservedTime: '2025-06-01T10:01:00.000000Z' });
    state.close();
  });

  test("a ReplicaSet's pod: the ReplicaSet's SuccessfulCreate", () => {
    const { cluster, state } = setup();
    const owner = { kind: 'ReplicaSet' as const, name: 'cart-7d4b9c', uid: 'rs-uid' };
    cluster.addPod({ namespace: 'shop', name: 'cart-7d4b9c-abcde', nodeName: 'sim-node-0001', owner });
    const [created] = about(state, 'cart-7d4b9c');
    assert.equal(
      summary(created!),
      'Normal SuccessfulCreate ReplicaSet/cart-7d4b9c: Created pod: cart-7d4b9c-abcde',
    );
    assert.deepEqual(created!.source, { component: 'replicaset-controller' });
    assert.equal(created!.involvedObject.apiVersion, 'apps/v1');
    state.close();
  });
});

describe('node events', () => {
  test("at start every kubelet's start-up (old-style) and kube-proxy's Starting (new-style), in the default namespace", () => {
    const { cluster, state } = setup('nodes', true);
    const node = cluster.nodes()[1]!.name;
    const events = about(state, node);
    assert.deepEqual(
      events.map((e) => e.reason),
      [
        'Starting',
        'NodeHasSufficientMemory',
        'NodeHasNoDiskPressure',
        'NodeHasSufficientPID',
        'NodeAllocatableEnforced',
        'NodeReady',
        'Starting',
      ],
    );
    assert.ok(events.every((e) => e.namespace === 'default'));
    assert.equal(events[0]!.message, 'Starting kubelet.');
    assert.equal(events[5]!.message, `Node ${node} status is now: NodeReady`);
    assert.deepEqual(events[0]!.involvedObject, { kind: 'Node', name: node, uid: node });
    const proxy = eventObject(events[6]!);
    assert.equal(proxy.reportingComponent, 'kube-proxy');
    assert.equal(proxy.reportingInstance, `kube-proxy-${node}`);
    assert.equal(proxy.eventTime, '2025-06-01T10:00:00.000000Z');
    state.close();
  });
});

describe('the history of model changes (what watchers see)', () => {
  test('ADDED, MODIFIED and DELETED with the object before and after, each at its own resourceVersion', () => {
    const { cluster, state } = setup();
    type P = { phase: string; resourceVersion: number };
    const seen: { type: string; key: string; rv: number; prev?: P; object: P }[] = [];
    state.history.subscribe('pods', (c) => seen.push(c as (typeof seen)[number]));
    const start = cluster.resourceVersion;
    cluster.addPod({ namespace: 'shop', name: 'w', nodeName: 'sim-node-0001', phase: 'Pending' });
    const added = cluster.pod('shop', 'w')!.resourceVersion;
    cluster.setPodPhase('shop', 'w', 'Running');
    const modified = cluster.pod('shop', 'w')!.resourceVersion;
    cluster.deletePod('shop', 'w');
    assert.deepEqual(
      seen.map((c) => [c.type, c.key, c.prev?.phase, c.object.phase]),
      [
        ['ADDED', 'shop/w', undefined, 'Pending'],
        ['MODIFIED', 'shop/w', 'Pending', 'Running'],
        ['DELETED', 'shop/w', 'Running', 'Running'],
      ],
    );
    const [a, m, d] = seen;
    assert.deepEqual([a!.rv, m!.rv], [added, modified]);
    // Events were recorded in between (Scheduled, Pulling, …): revisions are cluster-wide.
    assert.ok(
      start < added && added + 1 < modified && modified + 1 < d!.rv && d!.rv <= cluster.resourceVersion,
    );
    for (const c of seen) assert.equal(c.object.resourceVersion, c.rv, 'the object carries its revision');
    assert.equal(d!.prev!.resourceVersion, modified, 'a DELETED change keeps the last version as prev');
    state.close();
  });

  test('the version in the history stays as it was when the pod later changes in place', () => {
    const { cluster, state } = setup();
    const changes: { object: unknown }[] = [];
    state.history.subscribe('pods', (c) => changes.push(c));
    cluster.addPod({ namespace: 'shop', name: 'v', nodeName: 'sim-node-0001', containers: [{ name: 'c' }] });
    cluster.restartContainer('shop', 'v', 'c');
    const first = changes[0]!.object as { containers: { restartCount: number }[]; resourceVersion: number };
    assert.equal(first.containers[0]!.restartCount, 0);
    assert.equal((changes[1]!.object as typeof first).containers[0]!.restartCount, 1);
    state.close();
  });

  test('node label changes are MODIFIED nodes', () => {
    const { cluster, state } = setup();
    const seen: string[] = [];
    state.history.subscribe('nodes', (c) => seen.push(`${c.type} ${c.key}`));
    cluster.setLabels({ node: 'sim-node-0002' }, { pool: 'spot' });
    assert.deepEqual(seen, ['MODIFIED sim-node-0002']);
    state.close();
  });

  test('the same seed and clock give the same events, names and uids included', () => {
    const run = () => {
      const { cluster, state, advance } = setup('same-seed', true);
      cluster.addPod({ namespace: 'shop', name: 'p', nodeName: 'sim-node-0001', phase: 'Pending' });
      advance(2000);
      cluster.setPodPhase('shop', 'p', 'Running');
      const out = state.events.list().map((e) => JSON.stringify(eventObject(e)));
      state.close();
      return out;
    };
    assert.deepEqual(run(), run());
  });
});
