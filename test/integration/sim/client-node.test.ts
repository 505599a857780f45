import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, CoreV1Api, KubeConfig, Metrics, topNodes } from '@kubernetes/client-node';
import { type Sim, startSim } from '../../../sim/index.ts';
import { startFakeMetricsBackend } from './metrics-backend.ts';

let sim: Sim;
let core: CoreV1Api;
let kc: KubeConfig;

before(async () => {
  sim = await startSim({ nodes: 2, podsPerNode: 5, seed: 'client-node-it' });
  kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml('admin'));
  core = kc.makeApiClient(CoreV1Api);
});
after(() => sim.stop());

describe('@kubernetes/client-node 2.x against the development API server', () => {
  test('listNode and listPodForAllNamespaces with a field selector', async () => {
    const nodes = await core.listNode();
    assert.deepEqual(
      nodes.items.map((n) => n.metadata?.name),
      ['sim-node-0001', 'sim-node-0002'],
    );
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=sim-node-0002' });
    assert.deepEqual(
      onNode.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
      sim.cluster.podsOnNode('sim-node-0002').map((p) => `${p.namespace}/${p.name}`),
    );
  });

  test('a missing pod is an ApiException with code 404 and the Status body', async () => {
    await assert.rejects(core.readNamespacedPod({ name: 'nope', namespace: 'default' }), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 404);
      assert.match(String(err.body), /pods \\?"nope\\?" not found/);
      return true;
    });
  });

  test('connectGetNodeProxyWithPath reaches the kubelet (the path is sent %2F-encoded)', async () => {
    const answer: unknown = await core.connectGetNodeProxyWithPath({
      name: 'sim-node-0001',
      path: 'stats/summary',
    });
    const summary = (typeof answer === 'string' ? JSON.parse(answer) : answer) as {
      node: { nodeName: string };
    };
    assert.equal(summary.node.nodeName, 'sim-node-0001');
  });

  test("topNodes sums Running pods' requests per node from the core API", async () => {
    const status = await topNodes(core);
    assert.deepEqual(
      status.map((s) => s.Node.metadata?.name),
      ['sim-node-0001', 'sim-node-0002'],
    );
  });

  test('Metrics.getNodeMetrics goes through the aggregator to the registered backend', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, ['sim-node-0001']);
    sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
    try {
      const metrics = await new Metrics(kc).getNodeMetrics();
      assert.deepEqual(
        metrics.items.map((i) => [i.metadata.name, i.usage.cpu]),
        [['sim-node-0001', '250m']],
      );
    } finally {
      sim.unregisterMetricsBackend();
      await backend.close();
    }
  });
});
