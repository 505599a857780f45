/**
 * The long-lived scraper's informers (shared/informer.ts over shared/kube-watch.ts) against the
 * development API server: a fresh informer lists; pods added, deleted, relabelled or leaving Running
 * between two reads, and nodes added or relabelled, are seen through the watch without a new list; a
 * watch whose resourceVersion expired (410) is followed by a new list; a watch that fails (the API server
 * closes it and refuses the next) leaves the cache unsynced, and the next read lists again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { nodeInformer, podInformer } from '../../../functions/scrape/informers.ts';
import { Informer } from '../../../shared/informer.ts';
import { KubeApi, METADATA_ONLY, type PodMeta, podMeta } from '../../../shared/kube.ts';
import { kubeListWatch } from '../../../shared/kube-watch.ts';
import { createLogger } from '../../../shared/log.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';

let sim: Sim;
let kc: KubeConfig;
let api: KubeApi;
const lines: string[] = [];
const log = createLogger({ write: (l) => lines.push(l) });

before(async () => {
  sim = await startSim({ nodes: 3, podsPerNode: 4, seed: 'informer', bookmarkIntervalMs: 200 });
  kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml('scraper'));
  api = new KubeApi(kc);
});
after(async () => {
  api.close();
  await sim.stop();
});

/** The scraper's pod informer, in small pages, watching again at once. */
const smallPodInformer = () => podInformer(kc, api, log, { pageSize: 5, minWatchMs: 50 });

const runningPods = () =>
  sim.cluster
    .pods()
    .filter((p) => p.phase === 'Running')
    .map((p) => `${p.namespace}/${p.name} ${JSON.stringify(p.labels)}`)
    .sort();
const seen = (pods: PodMeta[]) =>
  pods.map((p) => `${p.namespace}/${p.name} ${JSON.stringify(p.labels)}`).sort();

/** Until the informer's view equals the cluster's Running pods (the watch delivers within milliseconds). */
async function converged(inf: Informer<PodMeta>, what: string) {
  await waitFor(what, 5000, async () => {
    return JSON.stringify(seen(await inf.items())) === JSON.stringify(runningPods());
  });
}

describe('the informer', () => {
  test('a fresh informer lists (in pages); changes between reads come from the watch, without another list', async () => {
    const inf = smallPodInformer();
    try {
      assert.equal(inf.synced, false);
      const first = await inf.items();
      assert.deepEqual(seen(first), runningPods());
      assert.equal(inf.stats.lists, 1);
      assert.equal(inf.synced, true);
      // Unchanged: the same array again.
      assert.equal(await inf.items(), first);

      const node = sim.cluster.nodes()[0]!.name;
      sim.cluster.addPod({ namespace: 'shop', name: 'informer-added', nodeName: node, labels: { app: 'x' } });
      await converged(inf, 'the added pod');
      assert.ok(seen(await inf.items()).includes('shop/informer-added {"app":"x"}'));

      sim.cluster.setLabels({ namespace: 'shop', pod: 'informer-added' }, { app: 'y', tier: 'web' });
      await converged(inf, 'the relabelled pod');
      assert.ok(seen(await inf.items()).includes('shop/informer-added {"app":"y","tier":"web"}'));

      const victim = sim.cluster.pods().find((p) => p.phase === 'Running' && p.name !== 'informer-added')!;
      sim.cluster.deletePod(victim.namespace, victim.name);
      await converged(inf, 'the deleted pod');
      assert.ok(!seen(await inf.items()).some((s) => s.startsWith(`${victim.namespace}/${victim.name} `)));

      // A pod that stops running leaves the field selector: DELETED, as for the list.
      sim.cluster.setPodPhase('shop', 'informer-added', 'Succeeded');
      await converged(inf, 'the pod that stopped running');
      assert.ok(!seen(await inf.items()).some((s) => s.startsWith('shop/informer-added ')));

      assert.equal(inf.stats.lists, 1, 'no list after the first');
      assert.ok(inf.stats.events >= 4, `events: ${inf.stats.events}`);
    } finally {
      inf.close();
    }
  });

  test('a watch the server ends is opened again from where it was; a 410 makes the next read list again', async () => {
    const inf = smallPodInformer();
    try {
      await inf.items();
      await waitFor('the watch to be open', 5000, async () => sim.watches.active === 1);
      const watches = inf.stats.watches;
      // The server ends every watch: the informer watches again from its resourceVersion, still synced.
      sim.watches.closeAll();
      await waitFor('the watch to be opened again', 5000, async () => inf.stats.watches > watches);
      assert.equal(inf.synced, true);
      const node = sim.cluster.nodes()[1]!.name;
      sim.cluster.addPod({ namespace: 'payments', name: 'after-reconnect', nodeName: node });
      await converged(inf, 'the pod added after the reconnection');
      assert.equal(inf.stats.lists, 1);

      // The watch ended, a change, then the history forgotten (an etcd compaction): the informer's
      // resourceVersion is now too old, the API server answers 410, and the cache is no longer trusted.
      await waitFor('the watch to be open again', 5000, async () => sim.watches.active === 1);
      const reopened = inf.stats.watches;
      sim.cluster.addPod({ namespace: 'payments', name: 'before-compaction', nodeName: node });
      await converged(inf, 'the pod added before the compaction');
      // In one go, before the informer can watch again: its watch ended, a change it cannot see, and
      // the history up to that change forgotten.
      sim.watches.closeAll();
      sim.cluster.deletePod('payments', 'after-reconnect');
      sim.history.compact();
      sim.cluster.addPod({ namespace: 'payments', name: 'while-expired', nodeName: node });
      await waitFor('the informer to give up its cache', 5000, async () => !inf.synced);
      assert.ok(inf.stats.watches > reopened);
      assert.ok(
        lines.some((l) => l.includes("watch's resourceVersion expired")),
        lines.join('\n'),
      );
      const pods = seen(await inf.items());
      assert.equal(inf.stats.lists, 2, 'listed again after the 410');
      assert.deepEqual(pods, runningPods());
      assert.ok(pods.some((s) => s.startsWith('payments/while-expired ')));
      assert.ok(!pods.some((s) => s.startsWith('payments/after-reconnect ')));
      assert.equal(inf.synced, true);
    } finally {
      inf.close();
    }
  });

  test('nodes: a node added or relabelled is seen through the watch, with its addresses and kubelet port', async () => {
    const inf = nodeInformer(kc, api, log);
    try {
      const listed = await inf.items();
      assert.deepEqual(listed, await api.listNodes(), 'the same nodes as the typed list, field for field');
      const name = listed[0]!.name;
      sim.cluster.setLabels({ node: name }, { role: 'informer' });
      await waitFor('the relabelled node', 5000, async () =>
        (await inf.items()).some((n) => n.name === name && n.labels.role === 'informer'),
      );
      assert.deepEqual(await inf.items(), await api.listNodes());
      assert.equal(inf.stats.lists, 1);
    } finally {
      inf.close();
    }
  });

  test('a closed informer refuses reads; a list that fails throws and leaves it unsynced', async () => {
    const inf = smallPodInformer();
    inf.close();
    await assert.rejects(inf.items(), /closed/);
    const broken = new Informer<PodMeta>({
      name: 'pods',
      source: kubeListWatch(kc, api, { path: '/api/v1/nopods', accept: METADATA_ONLY, parse: podMeta }),
      key: (p) => p.name,
      log,
    });
    await assert.rejects(broken.items(), /HTTP 403/);
    assert.equal(broken.synced, false);
    broken.close();
  });
});
