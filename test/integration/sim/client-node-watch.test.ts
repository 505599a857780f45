/**
 * @kubernetes/client-node's Watch and informer (ListWatch) against the development API server, as the
 * events function and a long-lived scraper use them: bookmarks, server-side timeouts, count bumps as
 * updates, TTL expiry as deletes, and recovery from 410 Gone by a new list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CoreV1Api,
  type CoreV1Event,
  KubeConfig,
  makeInformer,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';

let sim: Sim;
let kc: KubeConfig;
let core: CoreV1Api;

before(async () => {
  sim = await startSim({ nodes: 2, podsPerNode: 4, seed: 'client-node-watch', bookmarkIntervalMs: 200 });
  kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml('events'));
  core = kc.makeApiClient(CoreV1Api);
});
after(() => sim.stop());

const involved = {
  kind: 'Pod',
  namespace: 'shop',
  name: 'checkout-1',
  uid: 'uid-checkout-1',
  apiVersion: 'v1',
};
const report = (message: string) => ({
  involvedObject: involved,
  source: { component: 'kubelet', host: 'sim-node-0001' },
  reason: 'Unhealthy',
  type: 'Warning' as const,
  message,
});

describe('client-node Watch', () => {
  test('a bounded watch from a checkpoint: every event after it, BOOKMARKs moving the checkpoint on, and a clean end at timeoutSeconds', async () => {
    const list = await core.listEventForAllNamespaces();
    const checkpoint = list.metadata!.resourceVersion!;
    const seen: { type: string; name?: string; rv?: string }[] = [];
    const ended = new Promise<unknown>((resolve) => {
      void new Watch(kc).watch(
        '/api/v1/events',
        { allowWatchBookmarks: true, resourceVersion: checkpoint, timeoutSeconds: 3 },
        (type, obj: CoreV1Event) =>
          seen.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion }),
        resolve,
      );
    });
    await waitFor('the watch to be open', 5000, async () => sim.watches.active === 1);
    const e = sim.events.emit(report('Readiness probe failed: HTTP probe failed with statuscode: 503'));
    const err = await ended;
    assert.equal(err, null, 'the server ended the watch; no error');
    const mine = seen.filter((s) => s.name === e.name);
    assert.deepEqual(mine, [{ type: 'ADDED', name: e.name, rv: String(e.resourceVersion) }]);
    const marks = seen.filter((s) => s.type === 'BOOKMARK').map((s) => Number(s.rv));
    assert.ok(marks.length >= 1, 'bookmarks arrived');
    assert.ok(marks.at(-1)! >= e.resourceVersion, 'the last bookmark is at or past the last event');
    const rvs = seen.map((s) => Number(s.rv));
    assert.deepEqual(
      rvs,
      [...rvs].sort((a, b) => a - b),
      'resourceVersions never go back',
    );
  });

  test('from a compacted checkpoint: an ERROR with code 410, then the end (the caller must list again)', async () => {
    const old = String(sim.cluster.resourceVersion);
    sim.events.emit(report('Liveness probe failed'));
    sim.history.compact();
    const seen: { type: string; code?: number; reason?: string }[] = [];
    const err = await new Promise<unknown>((resolve) => {
      void new Watch(kc).watch(
        '/api/v1/events',
        { allowWatchBookmarks: true, resourceVersion: old, timeoutSeconds: 30 },
        (type, obj: { code?: number; reason?: string }) =>
          seen.push({ type, code: obj.code, reason: obj.reason }),
        resolve,
      );
    });
    assert.equal(err, null);
    assert.deepEqual(seen, [{ type: 'ERROR', code: 410, reason: 'Expired' }]);
  });

  test('a paged list of events (limit/continue) holds every event once, at one resourceVersion', async () => {
    for (let i = 0; i < 12; i++) sim.events.emit(report(`probe ${i}`));
    const names: string[] = [];
    let token: string | undefined;
    let rv: string | undefined;
    do {
      const page = await core.listEventForAllNamespaces({ limit: 5, _continue: token });
      rv ??= page.metadata!.resourceVersion;
      assert.equal(page.metadata!.resourceVersion, rv);
      names.push(...page.items.map((i) => `${i.metadata!.namespace}/${i.metadata!.name}`));
      // Events written between pages are not in this list (a watch from rv brings them).
      sim.events.emit(report('between pages'));
      token = page.metadata!._continue;
    } while (token);
    assert.equal(new Set(names).size, names.length, 'nothing doubled');
    const atRv = await core.listEventForAllNamespaces({ resourceVersion: rv, resourceVersionMatch: 'Exact' });
    assert.deepEqual(
      names,
      atRv.items.map((i) => `${i.metadata!.namespace}/${i.metadata!.name}`),
    );
  });
});

describe('client-node informer (ListWatch)', () => {
  test('events: add, update on a count bump, delete on TTL expiry; after 410 Gone it lists again and misses nothing', async () => {
    let lists = 0;
    const informer = makeInformer(kc, '/api/v1/namespaces/shop/events', () => {
      lists++;
      return core.listNamespacedEvent({ namespace: 'shop' });
    });
    const log: string[] = [];
    informer.on('add', (e: CoreV1Event) => log.push(`add ${e.metadata!.name} ${e.count}`));
    informer.on('update', (e: CoreV1Event) => log.push(`update ${e.metadata!.name} ${e.count}`));
    informer.on('delete', (e: CoreV1Event) => log.push(`delete ${e.metadata!.name}`));
    const errors: unknown[] = [];
    informer.on('error', (err) => errors.push(err));
    const known = sim.events.list().filter((e) => e.namespace === 'shop').length;
    await waitFor('earlier watches to end', 5000, async () => sim.watches.active === 0);
    await informer.start();
    try {
      await waitFor('the initial list', 5000, async () => log.length === known);
      await waitFor('the watch', 5000, async () => sim.watches.active === 1);

      sim.events.ttlMs = 300;
      const e = sim.events.record(report('Startup probe failed'));
      sim.events.record(report('Startup probe failed'));
      sim.events.ttlMs = 3_600_000;
      await waitFor('add, update, delete', 5000, async () => log.includes(`delete ${e.name}`));
      assert.deepEqual(
        log.filter((l) => l.includes(e.name)),
        [`add ${e.name} 1`, `update ${e.name} 2`, `delete ${e.name}`],
      );

      // The watch breaks; while it is down an event is written and the history is compacted.
      sim.watches.closeAll();
      const gap = sim.events.emit(report('written while the informer was away'));
      sim.history.compact();
      await waitFor('the informer to list again and see the gap', 10_000, async () =>
        log.includes(`add ${gap.name} 1`),
      );
      assert.equal(lists, 2, 'one list at start, one after 410 Gone');
      const cached = informer
        .list('shop')
        .map((x) => x.metadata!.name)
        .sort();
      const server = sim.events
        .list()
        .filter((x) => x.namespace === 'shop')
        .map((x) => x.name)
        .sort();
      assert.deepEqual(cached, server, 'the cache is the server’s list again');
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
  });

  test('pods: the watch carries the model’s changes (a pod added, its phase, its deletion)', async () => {
    const admin = adminConfig();
    const informer = makeInformer(admin, '/api/v1/pods', () =>
      admin.makeApiClient(CoreV1Api).listPodForAllNamespaces(),
    );
    const log: string[] = [];
    informer.on('add', (p: V1Pod) => p.metadata!.name === 'informed' && log.push(`add ${p.status!.phase}`));
    informer.on(
      'update',
      (p: V1Pod) => p.metadata!.name === 'informed' && log.push(`update ${p.status!.phase}`),
    );
    informer.on('delete', (p: V1Pod) => p.metadata!.name === 'informed' && log.push('delete'));
    await waitFor('earlier watches to end', 5000, async () => sim.watches.active === 0);
    await informer.start();
    try {
      await waitFor('the watch', 5000, async () => sim.watches.active === 1);
      sim.cluster.addPod({
        namespace: 'default',
        name: 'informed',
        nodeName: 'sim-node-0002',
        phase: 'Pending',
      });
      sim.cluster.setPodPhase('default', 'informed', 'Running');
      sim.cluster.deletePod('default', 'informed');
      await waitFor('add, update, delete', 5000, async () => log.length === 3);
      assert.deepEqual(log, ['add Pending', 'update Running', 'delete']);
    } finally {
      await informer.stop();
    }
  });

  test('the events user may list and watch events, and nothing else', async () => {
    await assert.rejects(core.listPodForAllNamespaces(), (err: { code?: number }) => err.code === 403);
  });
});

function adminConfig(): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromString(sim.kubeconfigYaml('admin'));
  return admin;
}
