import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NamespacePods } from '../../../shared/store/reader.ts';
import { API_VERSIONS, appWith, entry, FakeReader, NGINX, WEB_1 } from './fake-reader.ts';

/** A pod item written by hand, with a name and namespace of our choosing. */
const podItem = (namespace: string, name: string) =>
  `{"metadata":{"name":"${name}","namespace":"${namespace}","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"app":"x"}},` +
  '"timestamp":"2025-10-14T05:50:41Z","window":"15s","containers":[{"name":"c","usage":{"cpu":"1m","memory":"1Mi"}}]}';

/** 150,000 pods in 300 namespaces of 500, made only as the stream asks for them. */
class BigCluster extends FakeReader {
  override async *allPods(): AsyncIterable<NamespacePods> {
    for (let n = 0; n < 300; n++) {
      const namespace = `ns-${String(n).padStart(3, '0')}`;
      const entries = [];
      for (let p = 0; p < 500; p++) {
        const name = `pod-${String(p).padStart(3, '0')}`;
        entries.push(entry(name, podItem(namespace, name), { app: 'x' }));
      }
      this.yielded++;
      yield { namespace, entries };
    }
  }
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version}`, () => {
    describe('the all-namespaces pod list', () => {
      test('is a stream, not a buffered body', async () => {
        const { app } = appWith();
        const r = await app.request(`${api.base}/pods`);
        assert.ok(r.body instanceof ReadableStream);
      });

      test('reads the store only as fast as the client reads the response', async () => {
        const reader = new BigCluster();
        const { app } = appWith(reader);
        const r = await app.request(`${api.base}/pods`);
        assert.equal(r.status, 200);
        const body = r.body!.getReader();
        const first = await body.read();
        assert.ok(first.value && first.value.byteLength > 0);
        assert.ok(reader.yielded <= 2, `after one chunk the store gave ${reader.yielded} of 300 namespaces`);
        await body.cancel();
      });

      test('carries all 150,000 pods, in namespace then name order, as one valid list', async () => {
        const { app } = appWith(new BigCluster());
        const list = (await (await app.request(`${api.base}/pods`)).json()) as {
          kind: string;
          items: { metadata: { namespace: string; name: string } }[];
        };
        assert.equal(list.kind, 'PodMetricsList');
        assert.equal(list.items.length, 150_000);
        const at = (i: number) => `${list.items[i]!.metadata.namespace}/${list.items[i]!.metadata.name}`;
        assert.equal(at(0), 'ns-000/pod-000');
        assert.equal(at(500), 'ns-001/pod-000');
        assert.equal(at(149_999), 'ns-299/pod-499');
      });

      test('a store failure after the response started aborts the body (never a complete-looking list)', async () => {
        const reader = new FakeReader();
        reader.failAllPodsAfter = 1;
        const { app } = appWith(reader);
        const r = await app.request(`${api.base}/pods`);
        assert.equal(r.status, 200, 'the status line was due before the failure');
        await assert.rejects(r.text());
      });

      test('namespaces whose pods are all filtered out leave no stray commas', async () => {
        const { app } = appWith();
        const r = await app.request(`${api.base}/pods?labelSelector=run%20in%20(nginx),!k8s-app`);
        assert.equal(await r.text(), api.podList(NGINX));
        const r2 = await app.request(`${api.base}/pods?fieldSelector=metadata.name%3Dweb-1`);
        assert.equal(await r2.text(), api.podList(WEB_1));
      });
    });
  });
}
