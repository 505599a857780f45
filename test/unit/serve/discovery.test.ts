import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp } from '../../../functions/serve/app.ts';
import { versionInfo } from '../../../functions/serve/discovery.ts';
import { appWith, FakeReader, quietLog, V1BETA1 } from './fake-reader.ts';

/**
 * The documents of metrics-behaviour §1.2, written out by hand, with metrics.k8s.io/v1 (Kubernetes 1.37,
 * KEP-5207) served beside v1beta1 and preferred, as the generic apiserver lists a group's versions.
 */
const resourceList = (gv: string) =>
  `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"${gv}","resources":[` +
  '{"name":"nodes","singularName":"","namespaced":false,"kind":"NodeMetrics","verbs":["get","list"]},' +
  '{"name":"pods","singularName":"","namespaced":true,"kind":"PodMetrics","verbs":["get","list"]}]}';
const VERSIONS_AND_PREFERRED =
  '"versions":[{"groupVersion":"metrics.k8s.io/v1","version":"v1"},' +
  '{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],' +
  '"preferredVersion":{"groupVersion":"metrics.k8s.io/v1","version":"v1"}';
const GROUP = `{"kind":"APIGroup","apiVersion":"v1","name":"metrics.k8s.io",${VERSIONS_AND_PREFERRED}}`;
const GROUP_LIST = `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"metrics.k8s.io",${VERSIONS_AND_PREFERRED}}]}`;

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
    [V1BETA1, resourceList('metrics.k8s.io/v1beta1')],
    ['/apis/metrics.k8s.io/v1', resourceList('metrics.k8s.io/v1')],
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

  test('/openapi/v2 is Swagger 2.0 titled "Kubernetes metrics-server" with both kinds in both versions', async () => {
    const app = createApp({ reader: new FakeReader(), log: quietLog(), version: versionInfo('1.2.3-rc.1') });
    const r = await app.request('/openapi/v2');
    assert.equal(r.status, 200);
    const doc = (await r.json()) as Swagger;
    assert.equal(doc.swagger, '2.0');
    assert.deepEqual(doc.info, { title: 'Kubernetes metrics-server', version: 'v1.2.3' });
    const gvks = Object.values(doc.definitions).flatMap((d) => d['x-kubernetes-group-version-kind'] ?? []);
    for (const version of ['v1', 'v1beta1']) {
      for (const kind of ['NodeMetrics', 'NodeMetricsList', 'PodMetrics', 'PodMetricsList']) {
        assert.ok(
          gvks.some((g) => JSON.stringify(g) === JSON.stringify({ group: 'metrics.k8s.io', kind, version })),
          `${kind} ${version}`,
        );
      }
    }
    assert.deepEqual(
      Object.keys(doc.paths).sort(),
      ['/apis/metrics.k8s.io/v1', V1BETA1].flatMap((base) => [
        `${base}/namespaces/{namespace}/pods`,
        `${base}/namespaces/{namespace}/pods/{name}`,
        `${base}/nodes`,
        `${base}/nodes/{name}`,
        `${base}/pods`,
      ]),
    );
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

  for (const version of ['v1', 'v1beta1']) {
    test(`/openapi/v3 points at the ${version} document, which is OpenAPI 3.0 with resolvable references`, async () => {
      const { app } = appWith();
      const index = (await (await app.request('/openapi/v3')).json()) as {
        paths: Record<string, { serverRelativeURL: string }>;
      };
      assert.deepEqual(Object.keys(index.paths).sort(), [
        'apis/metrics.k8s.io/v1',
        'apis/metrics.k8s.io/v1beta1',
      ]);
      const url = index.paths[`apis/metrics.k8s.io/${version}`]?.serverRelativeURL ?? '';
      assert.match(url, new RegExp(`^/openapi/v3/apis/metrics\\.k8s\\.io/${version}\\?hash=[0-9A-F]{128}$`));
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
      // Only this version's paths and kinds.
      assert.ok(
        Object.keys((doc as unknown as { paths: object }).paths).every((p) =>
          p.startsWith(`/apis/metrics.k8s.io/${version}/`),
        ),
      );
      assert.ok(text.includes(`io.k8s.metrics.pkg.apis.metrics.${version}.PodMetrics"`));
    });
  }

  test('a stale OpenAPI v3 hash is redirected to the current document', async () => {
    const { app } = appWith();
    const r = await app.request('/openapi/v3/apis/metrics.k8s.io/v1beta1?hash=OLD');
    assert.equal(r.status, 301);
    assert.match(r.headers.get('location') ?? '', /\?hash=[0-9A-F]{128}$/);
  });
});
