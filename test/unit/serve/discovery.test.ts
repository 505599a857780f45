import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp } from '../../../functions/serve/app.ts';
import { versionInfo } from '../../../functions/serve/discovery.ts';
import { appWith, FakeReader, quietLog, V1BETA1 } from './fake-reader.ts';

/** The documents of metrics-behaviour §1.2, written out by hand. */
const RESOURCE_LIST =
  '{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"metrics.k8s.io/v1beta1","resources":[' +
  '{"name":"nodes","singularName":"","namespaced":false,"kind":"NodeMetrics","verbs":["get","list"]},' +
  '{"name":"pods","singularName":"","namespaced":true,"kind":"PodMetrics","verbs":["get","list"]}]}';
const GROUP =
  '{"kind":"APIGroup","apiVersion":"v1","name":"metrics.k8s.io",' +
  '"versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],' +
  '"preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}';
const GROUP_LIST =
  '{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"metrics.k8s.io",' +
  '"versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],' +
  '"preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}]}';

interface Swagger {
  swagger: string;
  info: { title: string; version: string };
  paths: Record<string, unknown>;
  definitions: Record<string, { 'x-kubernetes-group-version-kind'?: unknown[] }>;
}
interface OpenApi3 {
  openapi: string;
  info: { title: string };
  components: { schemas: Record<string, unknown> };
}

/** What kubectl 1.32 sends for discovery (clients.md §1.1). */
const KUBECTL_DISCOVERY_ACCEPT =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,' +
  'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

describe('discovery', () => {
  for (const [path, body] of [
    [V1BETA1, RESOURCE_LIST],
    ['/apis/metrics.k8s.io', GROUP],
    ['/apis', GROUP_LIST],
  ] as const) {
    test(`${path} is byte for byte metrics-server's document`, async () => {
      const { app } = appWith();
      const r = await app.request(path);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(await r.text(), body);
    });

    test(`${path}/ (trailing slash) is the same document`, async () => {
      const { app } = appWith();
      assert.equal(await (await app.request(`${path}/`)).text(), body);
    });
  }

  test("kubectl's aggregated-discovery Accept header gets the plain APIGroupList", async () => {
    const { app } = appWith();
    const r = await app.request('/apis', { headers: { accept: KUBECTL_DISCOVERY_ACCEPT } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), GROUP_LIST);
  });

  test('discovery is answered while the store is down', async () => {
    const reader = new FakeReader();
    reader.down = true;
    const { app } = appWith(reader);
    assert.equal((await app.request(V1BETA1)).status, 200);
    assert.deepEqual(reader.calls, []);
  });
});

describe('the index, /version and OpenAPI', () => {
  test('/ lists the served paths, sorted, as indented JSON', async () => {
    const { app } = appWith();
    const text = await (await app.request('/')).text();
    assert.ok(text.startsWith('{\n  "paths": [\n    "/apis",\n'));
    const { paths } = JSON.parse(text) as { paths: string[] };
    assert.deepEqual(paths, [...paths].sort());
    for (const p of [
      '/apis',
      '/apis/metrics.k8s.io',
      V1BETA1,
      '/healthz',
      '/livez',
      '/readyz',
      '/readyz/redis',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    for (const p of paths) {
      assert.equal((await app.request(p)).status, 200, `${p} is listed, so it answers`);
    }
  });

  test('/version describes the build', async () => {
    const app = createApp({
      reader: new FakeReader(),
      log: quietLog(),
      version: versionInfo('1.2.3', 'node v24', 'linux/x64'),
    });
    const v = await (await app.request('/version')).json();
    assert.deepEqual(v, {
      major: '1',
      minor: '2',
      gitVersion: 'v1.2.3',
      gitCommit: '',
      gitTreeState: '',
      buildDate: '',
      goVersion: 'node v24',
      compiler: 'javascript',
      platform: 'linux/x64',
    });
  });

  test('/openapi/v2 is Swagger 2.0 titled "Kubernetes metrics-server" with both kinds', async () => {
    const app = createApp({ reader: new FakeReader(), log: quietLog(), version: versionInfo('1.2.3-rc.1') });
    const r = await app.request('/openapi/v2');
    assert.equal(r.status, 200);
    const doc = (await r.json()) as Swagger;
    assert.equal(doc.swagger, '2.0');
    assert.deepEqual(doc.info, { title: 'Kubernetes metrics-server', version: 'v1.2.3' });
    const gvks = Object.values(doc.definitions).flatMap((d) => d['x-kubernetes-group-version-kind'] ?? []);
    for (const kind of ['NodeMetrics', 'NodeMetricsList', 'PodMetrics', 'PodMetricsList']) {
      assert.ok(
        gvks.some(
          (g) => JSON.stringify(g) === JSON.stringify({ group: 'metrics.k8s.io', kind, version: 'v1beta1' }),
        ),
      );
    }
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      `${V1BETA1}/namespaces/{namespace}/pods`,
      `${V1BETA1}/namespaces/{namespace}/pods/{name}`,
      `${V1BETA1}/nodes`,
      `${V1BETA1}/nodes/{name}`,
      `${V1BETA1}/pods`,
    ]);
    // Every reference resolves.
    const text = JSON.stringify(doc);
    for (const [, name] of text.matchAll(/"#\/definitions\/([^"]+)"/g))
      assert.ok(name! in doc.definitions, name);
  });

  test('/openapi/v2 answers 304 to its own ETag', async () => {
    const { app } = appWith();
    const etag = (await app.request('/openapi/v2')).headers.get('etag');
    assert.ok(etag);
    const r = await app.request('/openapi/v2', { headers: { 'if-none-match': etag } });
    assert.equal(r.status, 304);
  });

  test('/openapi/v3 points at the group document, which is OpenAPI 3.0 with resolvable references', async () => {
    const { app } = appWith();
    const index = (await (await app.request('/openapi/v3')).json()) as {
      paths: Record<string, { serverRelativeURL: string }>;
    };
    const url = index.paths['apis/metrics.k8s.io/v1beta1']?.serverRelativeURL ?? '';
    assert.match(url, /^\/openapi\/v3\/apis\/metrics\.k8s\.io\/v1beta1\?hash=[0-9A-F]{128}$/);
    const r = await app.request(url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'public, immutable');
    const doc = (await r.json()) as OpenApi3;
    assert.equal(doc.openapi, '3.0.0');
    assert.equal(doc.info.title, 'Kubernetes metrics-server');
    const text = JSON.stringify(doc);
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(name! in doc.components.schemas, name);
    }
    assert.ok(!text.includes('#/definitions/'));
  });

  test('a stale OpenAPI v3 hash is redirected to the current document', async () => {
    const { app } = appWith();
    const r = await app.request('/openapi/v3/apis/metrics.k8s.io/v1beta1?hash=OLD');
    assert.equal(r.status, 301);
    assert.match(r.headers.get('location') ?? '', /\?hash=[0-9A-F]{128}$/);
  });
});
