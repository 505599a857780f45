/**
 * Kubernetes' protobuf, as metrics-server serves it to kube-controller-manager's HPA client and to
 * kubectl top (both prefer it): every answer decoded with protobufjs against the messages of
 * k8s.io/metrics and k8s.io/apimachinery (test/helpers/metrics-proto.ts), and compared with the JSON
 * answer to the same request, field by field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration } from '../../../shared/duration.ts';
import { type DecodedObject, decodeK8sProtobuf } from '../../helpers/metrics-proto.ts';
import { API_VERSIONS, appWith, FakeReader } from './fake-reader.ts';

const PROTOBUF = 'application/vnd.kubernetes.protobuf';
/** What client-go's typed clients (the HPA's metrics client, kubectl top) send. */
const CLIENT_GO = `${PROTOBUF}, */*`;

interface JsonObject {
  metadata: { name: string; namespace?: string; creationTimestamp: string; labels?: Record<string, string> };
  timestamp: string;
  window: string;
  usage?: Record<string, string>;
  containers?: { name: string; usage: Record<string, string> }[];
}

const seconds = (rfc3339: string) => Date.parse(rfc3339) / 1000;
const quantities = (usage: Record<string, { string: string }> | undefined) =>
  Object.fromEntries(Object.entries(usage ?? {}).map(([k, q]) => [k, q.string]));

/** The decoded message holds exactly what the JSON object says. */
function assertSame(decoded: DecodedObject, json: JsonObject) {
  assert.equal(decoded.metadata.name, json.metadata.name);
  assert.equal(decoded.metadata.namespace, json.metadata.namespace ?? '');
  assert.deepEqual(decoded.metadata.creationTimestamp, {
    seconds: seconds(json.metadata.creationTimestamp),
    nanos: 0,
  });
  assert.deepEqual(decoded.metadata.labels, json.metadata.labels ?? {});
  assert.deepEqual(decoded.timestamp, { seconds: seconds(json.timestamp), nanos: 0 });
  assert.equal(decoded.window.duration, parseDuration(json.window));
  if (json.usage) assert.deepEqual(quantities(decoded.usage), json.usage);
  if (json.containers) {
    assert.deepEqual(
      decoded.containers?.map((c) => ({ name: c.name, usage: quantities(c.usage) })),
      json.containers,
    );
  }
}

async function both(path: string, accept = PROTOBUF) {
  const { app } = appWith(new FakeReader());
  const pb = await app.request(path, { headers: { accept } });
  const json = await app.request(path);
  assert.equal(pb.status, 200);
  assert.equal(pb.headers.get('content-type'), PROTOBUF);
  return {
    decoded: decodeK8sProtobuf(new Uint8Array(await pb.arrayBuffer())),
    json: (await json.json()) as JsonObject & { items?: JsonObject[] },
  };
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version} in protobuf`, () => {
    for (const [what, path, kind] of [
      ['the node list', '/nodes', 'NodeMetricsList'],
      [
        'a namespace’s pods (the HPA’s query)',
        '/namespaces/default/pods?labelSelector=app%3Dweb',
        'PodMetricsList',
      ],
      ['a namespace’s pods', '/namespaces/default/pods', 'PodMetricsList'],
      ['all pods', '/pods', 'PodMetricsList'],
      [
        'all pods of one namespace (field selector)',
        '/pods?fieldSelector=metadata.namespace%3Dkube-system',
        'PodMetricsList',
      ],
    ] as const) {
      test(`${what} is a k8s\\0 runtime.Unknown ${kind} holding the JSON list's items`, async () => {
        const { decoded, json } = await both(`${api.base}${path}`, CLIENT_GO);
        assert.equal(decoded.apiVersion, api.groupVersion);
        assert.equal(decoded.kind, kind);
        assert.equal(decoded.contentEncoding, '');
        assert.equal(decoded.contentType, '');
        assert.deepEqual(decoded.object.metadata, {
          selfLink: '',
          resourceVersion: '',
          continue: '',
          remainingItemCount: 0,
        });
        const items = decoded.object.items ?? [];
        assert.ok(json.items && json.items.length > 0);
        assert.equal(items.length, json.items.length);
        for (const [i, item] of items.entries()) assertSame(item, json.items[i]!);
      });
    }

    for (const [what, path, kind] of [
      ['a node', '/nodes/node-a', 'NodeMetrics'],
      ['a pod with two containers', '/namespaces/default/pods/web-1', 'PodMetrics'],
      ['a pod with a fractional window', '/namespaces/default/pods/nginx', 'PodMetrics'],
    ] as const) {
      test(`${what} is a k8s\\0 runtime.Unknown ${kind}: Quantity strings, Time seconds, Duration nanoseconds`, async () => {
        const { decoded, json } = await both(`${api.base}${path}`);
        assert.equal(decoded.apiVersion, api.groupVersion);
        assert.equal(decoded.kind, kind);
        assertSame(decoded.object, json);
      });
    }

    test('a 26.279434112s window is 26279434112 ns, beyond 32 bits', async () => {
      const { decoded } = await both(`${api.base}/namespaces/default/pods/nginx`);
      assert.equal(decoded.object.window.duration, 26_279_434_112);
    });

    test('an empty list is a list with no items', async () => {
      const { app } = appWith(new FakeReader([], []));
      const r = await app.request(`${api.base}/nodes`, { headers: { accept: PROTOBUF } });
      const decoded = decodeK8sProtobuf(new Uint8Array(await r.arrayBuffer()));
      assert.equal(decoded.kind, 'NodeMetricsList');
      assert.deepEqual(decoded.object.items, []);
    });

    test('errors stay JSON Status bodies (client-go reads them by their content type)', async () => {
      const { app } = appWith(new FakeReader());
      const r = await app.request(`${api.base}/nodes/ghost`, { headers: { accept: CLIENT_GO } });
      assert.equal(r.status, 404);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(((await r.json()) as { kind: string }).kind, 'Status');
    });

    test('JSON is still the default, and chosen when ranked first', async () => {
      const { app } = appWith(new FakeReader());
      for (const accept of [undefined, 'application/json', `application/json, ${PROTOBUF}`, '*/*']) {
        const r = await app.request(`${api.base}/nodes`, accept ? { headers: { accept } } : {});
        assert.equal(r.headers.get('content-type'), 'application/json', String(accept));
      }
      const r = await app.request(`${api.base}/nodes`, {
        headers: { accept: `application/json;q=0.5, ${PROTOBUF}` },
      });
      assert.equal(r.headers.get('content-type'), PROTOBUF);
    });

    test('a kept list is served in the format asked for, not the one it was first built in', async () => {
      const { app } = appWith(new FakeReader());
      const path = `${api.base}/namespaces/default/pods`;
      const a = await app.request(path);
      const b = await app.request(path, { headers: { accept: PROTOBUF } });
      const c = await app.request(path);
      assert.equal(a.headers.get('content-type'), 'application/json');
      assert.equal(b.headers.get('content-type'), PROTOBUF);
      assert.equal(await c.text(), await a.text());
    });
  });
}
