import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { type Answer, fetchHttps, json } from './https.ts';
import { startFakeMetricsBackend } from './metrics-backend.ts';

type Obj = Record<string, unknown>;
interface List {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: {
    kind?: string;
    apiVersion?: string;
    metadata: Obj & { name: string; namespace?: string };
    spec?: Obj;
    status?: Obj;
  }[];
}

const TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const METADATA =
  'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

let sim: Sim;
before(async () => {
  sim = await startSim({ nodes: 3, podsPerNode: 6, seed: 'apiserver-it' });
});
after(() => sim.stop());

const api = (path: string, o: Partial<Parameters<typeof fetchHttps>[1]> = {}): Promise<Answer> =>
  fetchHttps(`${sim.apiServer.url}${path}`, { ca: sim.apiServer.caPem, token: sim.tokens.admin, ...o });
const names = (l: List) =>
  l.items.map((i) => (i.metadata.namespace ? `${i.metadata.namespace}/${i.metadata.name}` : i.metadata.name));

describe('the development API server: authentication and errors', () => {
  test('given no token, 401 with an Unauthorized Status', async () => {
    const a = await api('/api/v1/nodes', { token: undefined });
    assert.equal(a.status, 401);
    assert.deepEqual(json(a), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  });

  test('given an unknown token, 401 as well; /healthz and /version stay open', async () => {
    assert.equal((await api('/api/v1/nodes', { token: 'nope' })).status, 401);
    assert.equal((await api('/healthz', { token: undefined })).text, 'ok');
    assert.equal(json(await api('/version', { token: undefined })).gitVersion, 'v1.32.0');
  });

  test('a missing pod or node is a 404 Status in kube-apiserver words', async () => {
    const pod = json(await api('/api/v1/namespaces/default/pods/nope'));
    assert.equal(pod.code, 404);
    assert.equal(pod.reason, 'NotFound');
    assert.equal(pod.message, 'pods "nope" not found');
    assert.deepEqual(pod.details, { name: 'nope', kind: 'pods' });
    assert.equal(json(await api('/api/v1/nodes/nope')).message, 'nodes "nope" not found');
    assert.equal(
      json(await api('/api/v1/nothing')).message,
      'the server could not find the requested resource',
    );
  });

  test('a user without the right gets 403 Forbidden naming the user, verb and resource', async () => {
    const a = await api('/api/v1/namespaces/default/pods', { token: sim.tokens.nobody });
    assert.equal(a.status, 403);
    assert.equal(
      json(a).message,
      'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default"',
    );
  });

  test('bad selectors are 400 BadRequest with the apimachinery text', async () => {
    const label = json(await api('/api/v1/pods?labelSelector=((('));
    assert.equal(label.code, 400);
    assert.equal(label.reason, 'BadRequest');
    assert.equal(label.message, "found '(', expected: !, identifier, or 'end of string'");
    const field = json(await api('/api/v1/pods?fieldSelector=spec.foo%3Dx'));
    assert.equal(field.code, 400);
    assert.equal(field.message, 'field label not supported: spec.foo');
  });
});

describe('the development API server: objects and lists', () => {
  test('discovery: /api, /api/v1 and /apis', async () => {
    assert.deepEqual(json(await api('/api')).versions, ['v1']);
    const v1 = json<{ resources: { name: string }[] }>(await api('/api/v1'));
    assert.deepEqual(
      v1.resources.map((r) => r.name),
      ['configmaps', 'events', 'namespaces', 'nodes', 'nodes/proxy', 'pods'],
    );
    const groups = json<{ groups: { name: string }[] }>(await api('/apis')).groups.map((g) => g.name);
    assert.ok(!groups.includes('metrics.k8s.io'), 'no metrics group before a backend is registered');
  });

  test("nodes carry their kubelet's port, addresses and allocatable", async () => {
    const list = json<List>(await api('/api/v1/nodes'));
    assert.equal(list.kind, 'NodeList');
    assert.deepEqual(names(list), ['sim-node-0001', 'sim-node-0002', 'sim-node-0003']);
    for (const n of list.items) {
      const status = n.status as {
        daemonEndpoints: { kubeletEndpoint: { Port: number } };
        addresses: Obj[];
        allocatable: Obj;
      };
      assert.equal(status.daemonEndpoints.kubeletEndpoint.Port, sim.kubelets.ports.get(n.metadata.name));
      assert.deepEqual(status.addresses, [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: n.metadata.name },
      ]);
      assert.ok(status.allocatable.cpu && status.allocatable.memory);
    }
  });

  test('pods: all namespaces, one namespace, one pod', async () => {
    const all = json<List>(await api('/api/v1/pods'));
    assert.equal(all.kind, 'PodList');
    assert.equal(all.items.length, sim.cluster.pods().length);
    assert.deepEqual(names(all), [...names(all)].sort(), 'in namespace/name order, like etcd');
    const system = json<List>(await api('/api/v1/namespaces/kube-system/pods'));
    assert.ok(system.items.length > 0 && system.items.every((p) => p.metadata.namespace === 'kube-system'));
    const one = system.items[0]!;
    const got = json(await api(`/api/v1/namespaces/kube-system/pods/${one.metadata.name}`));
    assert.deepEqual(got, one);
  });

  test('label selectors, set-based too', async () => {
    const expected = sim.cluster
      .pods()
      .filter((p) => p.labels.app === 'frontend' || p.labels.app === 'cart')
      .map((p) => `${p.namespace}/${p.name}`);
    assert.ok(expected.length > 0);
    const got = json<List>(
      await api(`/api/v1/pods?labelSelector=${encodeURIComponent('app in (frontend,cart)')}`),
    );
    assert.deepEqual(names(got), expected);
  });

  test('field selectors: spec.nodeName, status.phase, metadata.name', async () => {
    const onNode = json<List>(await api('/api/v1/pods?fieldSelector=spec.nodeName%3Dsim-node-0002'));
    assert.deepEqual(
      names(onNode),
      sim.cluster.podsOnNode('sim-node-0002').map((p) => `${p.namespace}/${p.name}`),
    );
    const running = json<List>(await api('/api/v1/pods?fieldSelector=status.phase%3DRunning'));
    assert.ok(!names(running).includes(sim.cluster.specials.pending!));
    assert.ok(!names(running).includes(sim.cluster.specials.succeeded!));
    assert.equal(running.items.length, sim.cluster.pods().filter((p) => p.phase === 'Running').length);
    const byName = json<List>(await api('/api/v1/nodes?fieldSelector=metadata.name%3Dsim-node-0003'));
    assert.deepEqual(names(byName), ['sim-node-0003']);
  });

  test('limit and continue walk the whole list in order; remainingItemCount counts the rest', async () => {
    const total = sim.cluster.pods().length;
    const seen: string[] = [];
    let token: string | undefined;
    let first = true;
    do {
      const page = json<List>(
        await api(`/api/v1/pods?limit=7${token ? `&continue=${encodeURIComponent(token)}` : ''}`),
      );
      assert.ok(page.items.length <= 7);
      if (first) assert.equal(page.metadata.remainingItemCount, total - 7);
      first = false;
      seen.push(...names(page));
      token = page.metadata.continue;
    } while (token);
    assert.deepEqual(
      seen,
      sim.cluster.pods().map((p) => `${p.namespace}/${p.name}`),
    );
  });

  test('with a selector, pages hold matching objects only and no remainingItemCount', async () => {
    const page = json<List>(await api('/api/v1/pods?limit=2&fieldSelector=metadata.namespace%3Dkube-system'));
    assert.equal(page.items.length, 2);
    assert.ok(page.metadata.continue);
    assert.equal(page.metadata.remainingItemCount, undefined);
    const bad = json(await api('/api/v1/pods?limit=2&continue=garbage'));
    assert.equal(bad.code, 400);
    assert.match(String(bad.message), /^continue key is not valid/);
  });

  test('metadata-only lists (client-go metadata informer Accept)', async () => {
    const a = await api('/api/v1/pods?fieldSelector=status.phase%3DRunning&limit=3', {
      headers: { accept: METADATA },
    });
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/json');
    const list = json<List>(a);
    assert.equal(list.kind, 'PartialObjectMetadataList');
    assert.equal(list.apiVersion, 'meta.k8s.io/v1');
    assert.ok(list.metadata.continue);
    const full = json<List>(await api('/api/v1/pods?fieldSelector=status.phase%3DRunning&limit=3'));
    list.items.forEach((item, i) => {
      assert.equal(item.kind, 'PartialObjectMetadata');
      assert.equal(item.apiVersion, 'meta.k8s.io/v1');
      assert.deepEqual(item.metadata, full.items[i]!.metadata);
      assert.equal(item.spec, undefined);
    });
  });

  test('Tables for kubectl get: columns and cells as the server-side printers make them', async () => {
    const t = json<{
      kind: string;
      columnDefinitions: { name: string; priority: number }[];
      rows: { cells: unknown[]; object: Obj }[];
    }>(await api('/api/v1/nodes?limit=500', { headers: { accept: TABLE } }));
    assert.equal(t.kind, 'Table');
    assert.deepEqual(
      t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name),
      ['Name', 'Status', 'Roles', 'Age', 'Version'],
    );
    assert.deepEqual(t.rows[0]!.cells.slice(0, 3), ['sim-node-0001', 'Ready', 'control-plane']);
    assert.equal(t.rows[0]!.object.kind, 'PartialObjectMetadata');
  });

  test('the extension-apiserver-authentication ConfigMap publishes the front-proxy CA', async () => {
    const cm = json<{ data: Record<string, string> }>(
      await api('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', {
        token: sim.tokens.serve,
      }),
    );
    assert.equal(cm.data['requestheader-client-ca-file'], sim.frontProxyCaPem);
    assert.equal(cm.data['requestheader-allowed-names'], '["front-proxy-client"]');
    assert.equal(cm.data['requestheader-username-headers'], '["X-Remote-User"]');
  });
});

describe('the development API server: node proxy', () => {
  test("GET /api/v1/nodes/NAME/proxy/metrics/resource streams the kubelet's answer", async () => {
    const a = await api('/api/v1/nodes/sim-node-0001/proxy/metrics/resource');
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(a.text, /\nresource_scrape_error 0\n$/);
  });

  test("a %2F-encoded path (client-node's connectGetNodeProxyWithPath) reaches the same kubelet path", async () => {
    const a = await api('/api/v1/nodes/sim-node-0001/proxy/stats%2Fsummary?only_cpu_and_memory=true');
    assert.equal(a.status, 200);
    const s = json<{ node: Obj }>(a);
    assert.equal(s.node.nodeName, 'sim-node-0001');
    assert.ok(!('fs' in s.node));
  });

  test('an unreachable kubelet is a 503 ServiceUnavailable with the dial error', async () => {
    sim.cluster.setFault('sim-node-0002', 'refuse');
    try {
      const a = await api('/api/v1/nodes/sim-node-0002/proxy/metrics/resource');
      assert.equal(a.status, 503);
      const port = sim.kubelets.ports.get('sim-node-0002');
      assert.equal(
        json(a).message,
        `error trying to reach service: read tcp 127.0.0.1:${port}: read: connection reset by peer`,
      );
    } finally {
      sim.cluster.setFault('sim-node-0002', 'none');
    }
  });

  test('the kubelet fault passes through the proxy as is', async () => {
    sim.cluster.setFault('sim-node-0003', 'status-500');
    try {
      const a = await api('/api/v1/nodes/sim-node-0003/proxy/metrics/resource');
      assert.equal(a.status, 500);
      assert.match(a.text, /^Internal Error/);
    } finally {
      sim.cluster.setFault('sim-node-0003', 'none');
    }
  });

  test('nodes/proxy needs its own right', async () => {
    const a = await api('/api/v1/nodes/sim-node-0001/proxy/metrics/resource', { token: sim.tokens.viewer });
    assert.equal(a.status, 403);
    assert.equal(
      json(a).message,
      'nodes "sim-node-0001" is forbidden: User "viewer" cannot get resource "nodes/proxy" in API group "" at the cluster scope',
    );
  });
});

describe('the development API server: aggregation of metrics.k8s.io', () => {
  test('a registered backend appears in /apis and gets requests with the front-proxy identity', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, ['sim-node-0001']);
    sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
    try {
      const groups = json<{ groups: { name: string }[] }>(await api('/apis')).groups.map((g) => g.name);
      assert.ok(groups.includes('metrics.k8s.io'));
      assert.equal(json(await api('/apis/metrics.k8s.io')).kind, 'APIGroup');

      const a = await api(
        '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=a%3Db&fieldSelector=metadata.name%3Dx',
        {
          headers: {
            accept: 'application/vnd.kubernetes.protobuf, */*',
            'x-remote-user': 'mallory',
            'x-remote-group': 'system:masters',
          },
        },
      );
      assert.equal(a.status, 200);
      assert.equal(json(a).kind, 'NodeMetricsList');
      const seen = backend.seen.at(-1)!;
      assert.equal(seen.clientCN, 'front-proxy-client');
      assert.equal(seen.headers['x-remote-user'], 'admin');
      assert.equal(seen.headers['x-remote-group'], 'system:masters, system:authenticated');
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers.accept, 'application/vnd.kubernetes.protobuf, */*');
      assert.equal(
        seen.url,
        '/apis/metrics.k8s.io/v1beta1/nodes?fieldSelector=metadata.name%3Dx&labelSelector=a%3Db',
      );
    } finally {
      await backend.close();
    }
  });

  test('only the group versions of registered APIServices are listed and proxied, the preferred first', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, ['sim-node-0001']);
    const group = async () =>
      json<{ versions: { version: string }[]; preferredVersion: { version: string } }>(
        await api('/apis/metrics.k8s.io'),
      );
    try {
      sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
      assert.deepEqual((await group()).versions, [
        { groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' },
      ]);
      assert.equal((await api('/apis/metrics.k8s.io/v1/nodes')).status, 404, 'no v1 APIService');
      sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem, versions: ['v1beta1', 'v1'] });
      const g = await group();
      assert.deepEqual(
        g.versions.map((v) => v.version),
        ['v1', 'v1beta1'],
      );
      assert.equal(g.preferredVersion.version, 'v1');
      const listed = json<{ groups: { name: string; versions: { version: string }[] }[] }>(
        await api('/apis'),
      );
      assert.deepEqual(
        listed.groups.find((x) => x.name === 'metrics.k8s.io')?.versions.map((v) => v.version),
        ['v1', 'v1beta1'],
      );
      await api('/apis/metrics.k8s.io/v1/nodes'); // this fake backend answers v1beta1 only: it is proxied
      assert.equal(backend.seen.at(-1)!.url, '/apis/metrics.k8s.io/v1/nodes');
      const seen = backend.seen.length;
      assert.equal((await api('/apis/metrics.k8s.io/v2/nodes')).status, 404);
      assert.equal(backend.seen.length, seen, 'an unregistered version never reaches the backend');
    } finally {
      await backend.close();
    }
  });

  test('an unreachable backend is kube-aggregator 503 with the dial error in text', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, []);
    sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
    await backend.close();
    const a = await api('/apis/metrics.k8s.io/v1beta1/nodes');
    assert.equal(a.status, 503);
    assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(a.text, `dial tcp ${new URL(backend.url).host}: connect: connection refused\n`);
  });

  test('after unregistering, the group is gone', async () => {
    sim.unregisterMetricsBackend();
    const groups = json<{ groups: { name: string }[] }>(await api('/apis')).groups.map((g) => g.name);
    assert.ok(!groups.includes('metrics.k8s.io'));
    assert.equal((await api('/apis/metrics.k8s.io/v1beta1/nodes')).status, 404);
  });
});

describe('the development API server: delegated authentication and authorization', () => {
  test('TokenReview identifies a token for a delegating server', async () => {
    const a = await api('/apis/authentication.k8s.io/v1/tokenreviews', {
      token: sim.tokens.serve,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: sim.tokens.viewer },
      }),
    });
    assert.equal(a.status, 201);
    const status = json<{ status: { authenticated: boolean; user: { username: string } } }>(a).status;
    assert.equal(status.authenticated, true);
    assert.equal(status.user.username, 'viewer');
  });

  test('SubjectAccessReview answers for the user named in it', async () => {
    const sar = (user: string, groups: string[]) =>
      api('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        token: sim.tokens.serve,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'SubjectAccessReview',
          apiVersion: 'authorization.k8s.io/v1',
          spec: {
            user,
            groups,
            resourceAttributes: {
              verb: 'list',
              group: 'metrics.k8s.io',
              resource: 'pods',
              namespace: 'default',
            },
          },
        }),
      });
    const allowed = json<{ status: { allowed: boolean } }>(await sar('viewer', ['system:authenticated']));
    assert.equal(allowed.status.allowed, true);
    const denied = json<{ status: { allowed: boolean } }>(await sar('nobody', ['system:authenticated']));
    assert.equal(denied.status.allowed, false);
  });
});
