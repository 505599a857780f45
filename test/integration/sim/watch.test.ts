/**
 * The development API server's watch and list semantics over real HTTPS: what a watch from a
 * resourceVersion sees, initial events, bookmarks, timeouts, selectors, 410 Gone after compaction, and
 * lists that read one revision across their pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';
import { type Answer, fetchHttps, json } from './https.ts';
import { openWatch, type WatchEvent } from './watch-stream.ts';

interface List {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: {
    metadata: { name: string; namespace?: string; resourceVersion: string; labels?: Record<string, string> };
  }[];
}

const TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

let sim: Sim;
before(async () => {
  sim = await startSim({ nodes: 2, podsPerNode: 5, seed: 'watch-it', bookmarkIntervalMs: 300 });
});
after(() => sim.stop());

const api = (path: string, o: Partial<Parameters<typeof fetchHttps>[1]> = {}): Promise<Answer> =>
  fetchHttps(`${sim.apiServer.url}${path}`, { ca: sim.apiServer.caPem, token: sim.tokens.admin, ...o });
const watch = (path: string, headers: Record<string, string> = {}) =>
  openWatch(`${sim.apiServer.url}${path}`, { ca: sim.apiServer.caPem, token: sim.tokens.admin, headers });
const rvOf = (e: WatchEvent) => Number(e.object.metadata?.resourceVersion);
const named = (name: string) => (e: WatchEvent) => e.object.metadata?.name === name;
const keys = (l: List) =>
  l.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}@${i.metadata.resourceVersion}`);

describe('watch from a resourceVersion', () => {
  test("a watch from a list's resourceVersion sees each later change once, in order: ADDED, MODIFIED, DELETED", async () => {
    const list = json<List>(await api('/api/v1/namespaces/shop/pods'));
    const w = await watch(
      `/api/v1/namespaces/shop/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
    );
    try {
      assert.equal(w.status, 200);
      assert.equal(w.headers['content-type'], 'application/json');
      assert.equal(w.headers['transfer-encoding'], 'chunked');
      sim.cluster.addPod({ namespace: 'shop', name: 'watched', nodeName: 'sim-node-0001', phase: 'Pending' });
      sim.cluster.setPodPhase('shop', 'watched', 'Running');
      sim.cluster.deletePod('shop', 'watched');
      const got = await w.take(3, named('watched'));
      assert.deepEqual(
        got.map((e) => [e.type, (e.object.status as { phase: string }).phase]),
        [
          ['ADDED', 'Pending'],
          ['MODIFIED', 'Running'],
          ['DELETED', 'Running'],
        ],
      );
      assert.ok(rvOf(got[0]!) > Number(list.metadata.resourceVersion));
      assert.ok(
        rvOf(got[0]!) < rvOf(got[1]!) && rvOf(got[1]!) < rvOf(got[2]!),
        'each change has its own, larger revision',
      );
      assert.equal(w.events.filter(named('watched')).length, 3, 'nothing doubled');
    } finally {
      w.close();
    }
  });

  test('a watch from an older resourceVersion replays the changes since, then goes on live', async () => {
    const from = sim.cluster.resourceVersion;
    sim.cluster.setLabels(
      { node: 'sim-node-0002' },
      { ...sim.cluster.node('sim-node-0002')!.labels, replay: 'one' },
    );
    const w = await watch(`/api/v1/nodes?watch=1&resourceVersion=${from}`);
    try {
      const [replayed] = await w.take(1);
      assert.equal(replayed!.type, 'MODIFIED');
      assert.equal(replayed!.object.metadata?.labels?.replay, 'one');
      sim.cluster.setLabels(
        { node: 'sim-node-0002' },
        { ...sim.cluster.node('sim-node-0002')!.labels, replay: 'two' },
      );
      const [live] = await w.take(1);
      assert.equal(live!.object.metadata?.labels?.replay, 'two');
    } finally {
      w.close();
    }
  });

  test('from nothing or 0: the current objects first, as ADDED, in key order; then changes', async () => {
    for (const rv of ['', '&resourceVersion=0']) {
      const w = await watch(`/api/v1/nodes?watch=true${rv}`);
      try {
        const initial = await w.take(2);
        assert.deepEqual(
          initial.map((e) => [e.type, e.object.metadata?.name]),
          [
            ['ADDED', 'sim-node-0001'],
            ['ADDED', 'sim-node-0002'],
          ],
        );
        sim.cluster.setLabels(
          { node: 'sim-node-0001' },
          { ...sim.cluster.node('sim-node-0001')!.labels, touched: rv === '' ? 'a' : 'b' },
        );
        const [m] = await w.take(1);
        assert.deepEqual([m!.type, m!.object.metadata?.name], ['MODIFIED', 'sim-node-0001']);
      } finally {
        w.close();
      }
    }
  });

  test('sendInitialEvents=true: the current objects, then a BOOKMARK marked initial-events-end at that revision', async () => {
    const w = await watch(
      '/api/v1/namespaces/kube-system/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
    );
    try {
      const expected = sim.cluster.pods().filter((p) => p.namespace === 'kube-system').length;
      const initial = await w.take(expected, (e) => e.type === 'ADDED');
      assert.equal(initial.length, expected);
      const [mark] = await w.take(1, (e) => e.type === 'BOOKMARK');
      assert.deepEqual(mark!.object.metadata?.annotations, { 'k8s.io/initial-events-end': 'true' });
      assert.ok(initial.every((e) => rvOf(e) <= rvOf(mark!)));
      assert.equal(w.events.indexOf(mark!), expected, 'the mark comes right after the initial objects');
    } finally {
      w.close();
    }
  });

  test('after a compaction, a watch from before it gets one ERROR (410 Expired, too old resource version) and ends', async () => {
    const old = sim.cluster.resourceVersion;
    sim.cluster.setLabels(
      { node: 'sim-node-0001' },
      { ...sim.cluster.node('sim-node-0001')!.labels, compacted: 'yes' },
    );
    sim.history.compact();
    const oldest = sim.history.oldest('nodes');
    const w = await watch(`/api/v1/nodes?watch=true&resourceVersion=${old}`);
    await w.ended;
    assert.equal(w.status, 200, 'the watch cache answers 200 and says it in the stream');
    assert.deepEqual(w.events, [
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${old} (${oldest})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
    // From the compaction point on it is fine.
    const fresh = await watch(`/api/v1/nodes?watch=true&resourceVersion=${oldest}`);
    sim.cluster.setLabels(
      { node: 'sim-node-0001' },
      { ...sim.cluster.node('sim-node-0001')!.labels, compacted: 'after' },
    );
    const [e] = await fresh.take(1);
    assert.equal(e!.type, 'MODIFIED');
    fresh.close();
  });

  test('timeoutSeconds: the server ends the watch then, with a BOOKMARK 2 s before when bookmarks are on', async () => {
    const started = Date.now();
    const w = await watch(
      '/api/v1/namespaces/nowhere/pods?watch=true&resourceVersion=0&timeoutSeconds=3&allowWatchBookmarks=true',
    );
    await w.ended;
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds >= 2.9, `ended after ${seconds}s`);
    assert.ok(w.events.length >= 1 && w.events.every((e) => e.type === 'BOOKMARK'));
  });
});

describe('bookmarks', () => {
  test('with allowWatchBookmarks, BOOKMARKs come about every bookmark period with the latest resourceVersion; without, none', async () => {
    const withMarks = await watch(
      `/api/v1/events?watch=true&resourceVersion=${sim.cluster.resourceVersion}&allowWatchBookmarks=true`,
    );
    const without = await watch(`/api/v1/events?watch=true&resourceVersion=${sim.cluster.resourceVersion}`);
    try {
      // A change to another resource moves the cluster's revision; a bookmark carries it.
      sim.cluster.setLabels(
        { node: 'sim-node-0002' },
        { ...sim.cluster.node('sim-node-0002')!.labels, moved: 'yes' },
      );
      const target = sim.cluster.resourceVersion;
      const [mark] = await withMarks.take(1, (e) => e.type === 'BOOKMARK' && rvOf(e) >= target);
      assert.deepEqual(mark!.object, {
        kind: 'Event',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(rvOf(mark!)), creationTimestamp: null },
      });
      sim.watches.sendBookmarks();
      await withMarks.take(1, (e) => e.type === 'BOOKMARK');
      assert.ok(without.events.every((e) => e.type !== 'BOOKMARK'));
    } finally {
      withMarks.close();
      without.close();
    }
  });

  test('watches the client closes are gone from the server', async () => {
    await waitFor('the earlier watches to close', 5000, async () => sim.watches.active === 0);
    const before = 0;
    const w = await watch('/api/v1/nodes?watch=true&resourceVersion=0');
    await w.take(2);
    assert.equal(sim.watches.active, before + 1);
    w.close();
    await waitFor('the watch to close', 5000, async () => sim.watches.active === before);
  });
});

describe('selectors and scopes on a watch', () => {
  test('an object that starts to match is ADDED; one that stops is DELETED with its old state', async () => {
    sim.cluster.addPod({
      namespace: 'payments',
      name: 'flip',
      nodeName: 'sim-node-0002',
      labels: { tier: 'blue' },
    });
    const w = await watch(
      `/api/v1/pods?watch=true&labelSelector=tier%3Dgreen&resourceVersion=${sim.cluster.resourceVersion}`,
    );
    try {
      sim.cluster.setLabels({ namespace: 'payments', pod: 'flip' }, { tier: 'green' });
      sim.cluster.setLabels({ namespace: 'payments', pod: 'flip' }, { tier: 'green', extra: 'x' });
      sim.cluster.setLabels({ namespace: 'payments', pod: 'flip' }, { tier: 'blue' });
      const got = await w.take(3);
      assert.deepEqual(
        got.map((e) => [e.type, e.object.metadata?.labels?.tier]),
        [
          ['ADDED', 'green'],
          ['MODIFIED', 'green'],
          ['DELETED', 'green'],
        ],
      );
      assert.equal(
        rvOf(got[2]!),
        sim.cluster.pod('payments', 'flip')!.resourceVersion,
        "the DELETED carries the change's revision",
      );
    } finally {
      w.close();
      sim.cluster.deletePod('payments', 'flip');
    }
  });

  test("a namespaced watch sees only its namespace; a field selector only its node's pods", async () => {
    const from = sim.cluster.resourceVersion;
    const ns = await watch(`/api/v1/namespaces/analytics/pods?watch=true&resourceVersion=${from}`);
    const onNode = await watch(
      `/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dsim-node-0002&resourceVersion=${from}`,
    );
    try {
      sim.cluster.addPod({ namespace: 'default', name: 'elsewhere', nodeName: 'sim-node-0001' });
      sim.cluster.addPod({ namespace: 'analytics', name: 'here', nodeName: 'sim-node-0002' });
      const [a] = await ns.take(1);
      const [b] = await onNode.take(1);
      assert.equal(a!.object.metadata?.name, 'here');
      assert.equal(b!.object.metadata?.name, 'here');
      assert.equal(ns.events.length, 1);
    } finally {
      ns.close();
      onNode.close();
      sim.cluster.deletePod('default', 'elsewhere');
      sim.cluster.deletePod('analytics', 'here');
    }
  });

  test('a bad selector or option is refused before the stream starts', async () => {
    const bad = await api('/api/v1/pods?watch=true&fieldSelector=spec.foo%3Dx');
    assert.equal(bad.status, 400);
    assert.equal(json(bad).message, 'field label not supported: spec.foo');
    const invalid = await api('/api/v1/events?watch=true&resourceVersionMatch=NotOlderThan');
    assert.equal(invalid.status, 422);
    assert.equal(json(invalid).reason, 'Invalid');
  });

  test('as kubectl asks (Table): each event a one-row Table, the columns in the first one only', async () => {
    const w = await watch(`/api/v1/nodes?watch=true&resourceVersion=0`, { accept: TABLE });
    try {
      const [first, second] = await w.take(2);
      for (const e of [first!, second!]) {
        assert.equal(e.object.kind, 'Table');
        assert.equal(e.object.apiVersion, 'meta.k8s.io/v1');
        assert.equal((e.object.rows as unknown[]).length, 1);
      }
      assert.deepEqual(
        (first!.object.columnDefinitions as { name: string }[]).slice(0, 5).map((c) => c.name),
        ['Name', 'Status', 'Roles', 'Age', 'Version'],
      );
      assert.equal(second!.object.columnDefinitions, null);
      const row = (second!.object.rows as { cells: unknown[]; object: { kind: string } }[])[0]!;
      assert.equal(row.cells[0], 'sim-node-0002');
      assert.equal(row.object.kind, 'PartialObjectMetadata');
    } finally {
      w.close();
    }
  });
});

describe('the extension-apiserver-authentication ConfigMap', () => {
  test('a CA rotation is a MODIFIED to its watchers', async () => {
    const w = await openWatch(
      `${sim.apiServer.url}/api/v1/namespaces/kube-system/configmaps?watch=true&resourceVersion=${sim.cluster.resourceVersion}`,
      { ca: sim.apiServer.caPem, token: sim.tokens.serve },
    );
    try {
      sim.updateAuthenticationConfig({ 'requestheader-allowed-names': '["front-proxy-client","other"]' });
      const [m] = await w.take(1);
      assert.equal(m!.type, 'MODIFIED');
      assert.equal(
        (m!.object.data as Record<string, string>)['requestheader-allowed-names'],
        '["front-proxy-client","other"]',
      );
      assert.equal(rvOf(m!), sim.cluster.resourceVersion);
    } finally {
      w.close();
    }
  });
});

describe('Events: list, get and watch', () => {
  const involved = { kind: 'Pod', namespace: 'shop', name: 'cart-1', uid: 'u-1', apiVersion: 'v1' };

  test('a new event is ADDED, a repeat MODIFIED (count 2), a TTL expiry DELETED; each in the namespace and cluster-wide', async () => {
    const from = sim.cluster.resourceVersion;
    const ns = await watch(`/api/v1/namespaces/shop/events?watch=true&resourceVersion=${from}`);
    const all = await watch(
      `/api/v1/events?watch=true&resourceVersion=${from}&fieldSelector=involvedObject.name%3Dcart-1`,
    );
    try {
      sim.events.ttlMs = 400;
      const e = sim.events.record({
        involvedObject: involved,
        source: { component: 'kubelet', host: 'sim-node-0001' },
        reason: 'Unhealthy',
        type: 'Warning',
        message: 'Liveness probe failed',
      });
      sim.events.record({
        involvedObject: involved,
        source: { component: 'kubelet', host: 'sim-node-0001' },
        reason: 'Unhealthy',
        type: 'Warning',
        message: 'Liveness probe failed',
      });
      sim.events.ttlMs = 3_600_000;
      for (const w of [ns, all]) {
        const got = await w.take(3, named(e.name));
        assert.deepEqual(
          got.map((x) => [x.type, x.object.count]),
          [
            ['ADDED', 1],
            ['MODIFIED', 2],
            ['DELETED', 2],
          ],
        );
        assert.equal(got[0]!.object.metadata?.name, got[1]!.object.metadata?.name);
      }
      const got = await api(`/api/v1/namespaces/shop/events/${e.name}`);
      assert.equal(got.status, 404);
      assert.equal(json(got).message, `events "${e.name}" not found`);
    } finally {
      ns.close();
      all.close();
    }
  });

  test('GET of one event and the list, with field selectors on involvedObject and reason', async () => {
    const e = sim.events.emit({
      involvedObject: involved,
      source: { component: 'kubelet', host: 'sim-node-0001' },
      reason: 'Pulled',
      message: 'Container image "x" already present on machine',
    });
    const got = json<{ metadata: { name: string }; count: number }>(
      await api(`/api/v1/namespaces/shop/events/${e.name}`),
    );
    assert.equal(got.metadata.name, e.name);
    assert.equal(got.count, 1);
    const selected = json<List>(
      await api('/api/v1/events?fieldSelector=involvedObject.name%3Dcart-1,reason%3DPulled'),
    );
    assert.deepEqual(
      selected.items.map((i) => i.metadata.name),
      [e.name],
    );
    const bad = await api('/api/v1/events?fieldSelector=spec.x%3D1');
    assert.equal(json(bad).message, 'field label not supported: spec.x');
  });
});

describe('events.k8s.io/v1: the same Events in that shape', () => {
  test('discovery, list, get and watch; regarding/note/deprecated* fields; its own field names', async () => {
    const groups = json<{ groups: { name: string }[] }>(await api('/apis')).groups.map((g) => g.name);
    assert.ok(groups.includes('events.k8s.io'));
    const resources = json<{ resources: { name: string; verbs: string[] }[] }>(
      await api('/apis/events.k8s.io/v1'),
    );
    assert.deepEqual(
      resources.resources.map((r) => [r.name, r.verbs]),
      [['events', ['get', 'list', 'watch']]],
    );

    const from = sim.cluster.resourceVersion;
    const w = await watch(`/apis/events.k8s.io/v1/namespaces/shop/events?watch=true&resourceVersion=${from}`);
    try {
      const e = sim.events.emit({
        involvedObject: { kind: 'Pod', namespace: 'shop', name: 'v1-shape', uid: 'u-v1', apiVersion: 'v1' },
        source: { component: 'kubelet', host: 'sim-node-0002' },
        reason: 'Pulled',
        message: 'Container image "img" already present on machine',
      });
      const [added] = await w.take(1);
      assert.equal(added!.object.apiVersion, 'events.k8s.io/v1');
      const one = json<Record<string, unknown>>(
        await api(`/apis/events.k8s.io/v1/namespaces/shop/events/${e.name}`),
      );
      assert.deepEqual(one, added!.object);
      assert.deepEqual(
        { ...one, metadata: undefined },
        {
          kind: 'Event',
          apiVersion: 'events.k8s.io/v1',
          metadata: undefined,
          eventTime: null,
          reportingController: 'kubelet',
          reportingInstance: 'sim-node-0002',
          reason: 'Pulled',
          regarding: { kind: 'Pod', namespace: 'shop', name: 'v1-shape', uid: 'u-v1', apiVersion: 'v1' },
          note: 'Container image "img" already present on machine',
          type: 'Normal',
          deprecatedSource: { component: 'kubelet', host: 'sim-node-0002' },
          deprecatedFirstTimestamp: one.deprecatedFirstTimestamp,
          deprecatedLastTimestamp: one.deprecatedLastTimestamp,
          deprecatedCount: 1,
        },
      );
      const list = json<List & { apiVersion: string; kind: string }>(
        await api('/apis/events.k8s.io/v1/events?fieldSelector=regarding.name%3Dv1-shape'),
      );
      assert.deepEqual([list.kind, list.apiVersion], ['EventList', 'events.k8s.io/v1']);
      assert.deepEqual(
        list.items.map((i) => i.metadata.name),
        [e.name],
      );
      const core = json<List>(await api(`/api/v1/events?fieldSelector=involvedObject.name%3Dv1-shape`));
      assert.deepEqual(
        core.items.map((i) => i.metadata.name),
        [e.name],
        'one storage, two shapes',
      );
      const wrong = await api('/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.name%3Dv1-shape');
      assert.equal(json(wrong).message, 'field label not supported: involvedObject.name');
      const missing = json(await api('/apis/events.k8s.io/v1/namespaces/shop/events/nope'));
      assert.equal(missing.message, 'events.events.k8s.io "nope" not found');
    } finally {
      w.close();
    }
  });
});

describe('lists read one revision across their pages', () => {
  test('changes between pages do not show: nothing skipped, nothing doubled, every item as it was', async () => {
    const path = '/api/v1/pods';
    const first = json<List>(await api(`${path}?limit=4`));
    const rv = first.metadata.resourceVersion;
    const snapshot = json<List>(await api(`${path}?resourceVersion=${rv}&resourceVersionMatch=Exact`));
    assert.deepEqual(keys(snapshot).slice(0, 4), keys(first));
    // Change what later pages hold: one pod modified, one deleted, one added among them.
    const later = snapshot.items.slice(6).map((i) => i.metadata);
    sim.cluster.setLabels(
      { namespace: later[0]!.namespace!, pod: later[0]!.name },
      { changed: 'between-pages' },
    );
    sim.cluster.deletePod(later[1]!.namespace!, later[1]!.name);
    sim.cluster.addPod({
      namespace: later[2]!.namespace!,
      name: `${later[2]!.name}-new`,
      nodeName: 'sim-node-0001',
    });
    const pages = [first];
    for (let token = first.metadata.continue; token; ) {
      const page = json<List>(await api(`${path}?limit=4&continue=${encodeURIComponent(token)}`));
      assert.equal(page.metadata.resourceVersion, rv, 'every page is at the first page’s revision');
      pages.push(page);
      token = page.metadata.continue;
    }
    assert.deepEqual(pages.flatMap(keys), keys(snapshot));
    const now = json<List>(await api(path));
    assert.notDeepEqual(keys(now), keys(snapshot), 'the latest revision shows the changes');
    sim.cluster.deletePod(later[2]!.namespace!, `${later[2]!.name}-new`);
  });

  test('a continue token from before a compaction: 410 Expired with a token that goes on at the latest revision', async () => {
    const first = json<List>(await api('/api/v1/pods?limit=3'));
    sim.cluster.setLabels(
      { node: 'sim-node-0002' },
      { ...sim.cluster.node('sim-node-0002')!.labels, c: 'x' },
    );
    sim.cluster.setLabels(
      { namespace: first.items[0]!.metadata.namespace!, pod: first.items[0]!.metadata.name },
      { c: 'y' },
    );
    sim.history.compact();
    const a = await api(`/api/v1/pods?limit=3&continue=${encodeURIComponent(first.metadata.continue!)}`);
    assert.equal(a.status, 410);
    const status = json<{ reason: string; message: string; metadata: { continue?: string } }>(a);
    assert.equal(status.reason, 'Expired');
    assert.match(
      status.message,
      /^The provided continue parameter is too old to display a consistent list result\./,
    );
    assert.ok(status.metadata.continue);
    const rest = json<List>(
      await api(`/api/v1/pods?limit=100&continue=${encodeURIComponent(status.metadata.continue)}`),
    );
    const firstKeys = first.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
    const restKeys = rest.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
    assert.ok(
      restKeys.every((k) => k > firstKeys.at(-1)!),
      'it resumes after the last key of the first page',
    );
    assert.equal(rest.metadata.resourceVersion, String(sim.cluster.resourceVersion));
  });

  test('Exact at a compacted revision: 410; at a future one: 504 Too large resource version (Retry-After 1)', async () => {
    const old = sim.cluster.resourceVersion;
    sim.cluster.setLabels(
      { node: 'sim-node-0001' },
      { ...sim.cluster.node('sim-node-0001')!.labels, e: String(old) },
    );
    sim.history.compact();
    const gone = await api(`/api/v1/nodes?resourceVersion=${old}&resourceVersionMatch=Exact`);
    assert.equal(gone.status, 410);
    assert.equal(json(gone).message, 'The resourceVersion for the provided list is too old.');
    const future = sim.cluster.resourceVersion + 1000;
    const early = await api(`/api/v1/nodes?resourceVersion=${future}&resourceVersionMatch=Exact`);
    assert.equal(early.status, 504);
    assert.equal(early.headers['retry-after'], '1');
    const s = json<{ reason: string; message: string; details: { causes: { reason: string }[] } }>(early);
    assert.equal(s.reason, 'Timeout');
    assert.equal(
      s.message,
      `Timeout: Too large resource version: ${future}, current: ${sim.cluster.resourceVersion}`,
    );
    assert.equal(s.details.causes[0]!.reason, 'ResourceVersionTooLarge');
  });

  test('not older than a revision the cluster reaches while waiting: answered then', async () => {
    const next = sim.cluster.resourceVersion + 1;
    const answer = api(`/api/v1/nodes?resourceVersion=${next}`);
    setTimeout(
      () =>
        sim.cluster.setLabels(
          { node: 'sim-node-0001' },
          { ...sim.cluster.node('sim-node-0001')!.labels, w: 'x' },
        ),
      100,
    );
    const a = await answer;
    assert.equal(a.status, 200);
    assert.ok(Number(json<List>(a).metadata.resourceVersion) >= next);
  });

  test('resourceVersion=0 (from the cache): the whole list, limit ignored', async () => {
    const l = json<List>(await api('/api/v1/pods?resourceVersion=0&limit=2'));
    assert.equal(l.items.length, sim.cluster.pods().length);
    assert.equal(l.metadata.continue, undefined);
  });
});
