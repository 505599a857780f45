import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NodeMetrics, NodeMetricsList, PodMetrics, PodMetricsList } from '../../../shared/metrics-api.ts';
import { parseLabelSelector, SelectorError } from '../../../shared/selectors/index.ts';
import {
  API_VERSIONS,
  appWith,
  COREDNS,
  FakeReader,
  NGINX,
  NODE_A,
  NODE_C,
  WEB_1,
  WEB_2,
} from './fake-reader.ts';

async function get(path: string, init: RequestInit = {}, reader = new FakeReader()) {
  const { app } = appWith(reader);
  const r = await app.request(path, init);
  return { status: r.status, headers: r.headers, body: await r.text(), reader };
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version}`, () => {
    describe('node metrics', () => {
      test('the list holds every node with metrics, by name, as the stored items verbatim', async () => {
        const r = await get(`${api.base}/nodes`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'application/json');
        assert.equal(r.body, api.nodeList(NODE_A, NODE_C));
        NodeMetricsList.parse(JSON.parse(r.body));
      });

      test('a node without metrics (node-b) is left out of the list, never an error', async () => {
        const r = await get(`${api.base}/nodes`);
        assert.ok(!r.body.includes('node-b'));
      });

      test('an empty store answers 200 with "items": [] (kubectl says "metrics not available yet")', async () => {
        const r = await get(`${api.base}/nodes`, {}, new FakeReader([], []));
        assert.equal(r.status, 200);
        assert.equal(r.body, api.nodeList());
      });

      test('a GET is the item with kind and apiVersion in front', async () => {
        const r = await get(`${api.base}/nodes/node-a`);
        assert.equal(r.status, 200);
        assert.equal(r.body, `{"kind":"NodeMetrics","apiVersion":"${api.groupVersion}",${NODE_A.slice(1)}`);
        const o = NodeMetrics.parse(JSON.parse(r.body));
        assert.deepEqual(o.usage, { cpu: '272335371n', memory: '4470464Ki' });
      });

      test("GET of a node that does not exist is the node lister's 404", async () => {
        const r = await get(`${api.base}/nodes/ghost`);
        assert.equal(r.status, 404);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"node \\"ghost\\" not found",' +
            '"reason":"NotFound","details":{"name":"ghost","kind":"node"},"code":404}',
        );
      });

      test("GET of a listed node without metrics is metrics-server's nodemetrics 404", async () => {
        const r = await get(`${api.base}/nodes/node-b`);
        assert.equal(r.status, 404);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
            '"message":"nodemetrics.metrics.k8s.io \\"node-b\\" not found","reason":"NotFound",' +
            '"details":{"name":"node-b","group":"metrics.k8s.io","kind":"nodemetrics"},"code":404}',
        );
      });
    });

    describe('pod metrics', () => {
      test('a namespace list holds its pods with metrics, by name', async () => {
        const r = await get(`${api.base}/namespaces/default/pods`);
        assert.equal(r.status, 200);
        assert.equal(r.body, api.podList(NGINX, WEB_1));
        PodMetricsList.parse(JSON.parse(r.body));
      });

      test('a namespace without pods is an empty list', async () => {
        const r = await get(`${api.base}/namespaces/nowhere/pods`);
        assert.equal(r.status, 200);
        assert.equal(r.body, api.podList());
      });

      test('the all-namespaces list is ordered by namespace, then name', async () => {
        const r = await get(`${api.base}/pods`);
        assert.equal(r.status, 200);
        assert.equal(r.body, api.podList(NGINX, WEB_1, COREDNS, WEB_2));
        PodMetricsList.parse(JSON.parse(r.body));
      });

      test('a GET is the item with kind and apiVersion in front', async () => {
        const r = await get(`${api.base}/namespaces/default/pods/nginx`);
        assert.equal(r.status, 200);
        assert.equal(r.body, `{"kind":"PodMetrics","apiVersion":"${api.groupVersion}",${NGINX.slice(1)}`);
        const o = PodMetrics.parse(JSON.parse(r.body));
        assert.equal(o.window, '26.279434112s');
      });

      test("GET of a pod that does not exist (or is not Running) is the pod lister's 404", async () => {
        const r = await get(`${api.base}/namespaces/default/pods/pending`);
        assert.equal(r.status, 404);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"pending\\" not found",' +
            '"reason":"NotFound","details":{"name":"pending","kind":"pods"},"code":404}',
        );
      });

      test('GET of a Running pod without metrics names it "ns/name", as kubectl shows', async () => {
        const r = await get(`${api.base}/namespaces/default/pods/warming`);
        assert.equal(r.status, 404);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
            '"message":"podmetrics.metrics.k8s.io \\"default/warming\\" not found","reason":"NotFound",' +
            '"details":{"name":"default/warming","group":"metrics.k8s.io","kind":"podmetrics"},"code":404}',
        );
      });

      test('the same pod name in another namespace is not found', async () => {
        const r = await get(`${api.base}/namespaces/team-b/pods/nginx`);
        assert.equal(r.status, 404);
      });
    });

    describe('label selectors', () => {
      test('the HPA query: one namespace, a set-based selector', async () => {
        const q = encodeURIComponent('app in (web),tier!=back');
        const r = await get(`${api.base}/namespaces/default/pods?labelSelector=${q}`);
        assert.equal(r.status, 200);
        assert.equal(r.body, api.podList(WEB_1));
        assert.deepEqual(r.reader.calls, ['namespacePods default'], 'one store read');
      });

      test('across namespaces', async () => {
        const r = await get(`${api.base}/pods?labelSelector=app%3Dweb`);
        assert.equal(r.body, api.podList(WEB_1, WEB_2));
      });

      test('on nodes, with existence and negation', async () => {
        assert.equal((await get(`${api.base}/nodes?labelSelector=pool%3Dgreen`)).body, api.nodeList(NODE_C));
        assert.equal(
          (await get(`${api.base}/nodes?labelSelector=kubernetes.io%2Fhostname`)).body,
          api.nodeList(NODE_A),
        );
        assert.equal(
          (await get(`${api.base}/nodes?labelSelector=!kubernetes.io%2Fhostname`)).body,
          api.nodeList(NODE_C),
        );
      });

      test('a selector nothing matches is an empty list', async () => {
        const r = await get(`${api.base}/namespaces/default/pods?labelSelector=app%3Ddb`);
        assert.equal(r.body, api.podList());
      });

      test('an empty selector selects everything', async () => {
        assert.equal((await get(`${api.base}/nodes?labelSelector=`)).body, api.nodeList(NODE_A, NODE_C));
      });

      test("an unparsable selector is a 400 BadRequest with apimachinery's text", async () => {
        let expected = '';
        try {
          parseLabelSelector('(((');
        } catch (err) {
          assert.ok(err instanceof SelectorError);
          expected = err.message;
        }
        const r = await get(`${api.base}/namespaces/default/pods?labelSelector=(((`);
        assert.equal(r.status, 400);
        assert.deepEqual(JSON.parse(r.body), {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: expected,
          reason: 'BadRequest',
          code: 400,
        });
        assert.deepEqual(r.reader.calls, [], 'rejected before reading the store');
      });
    });

    describe('field selectors', () => {
      test('metadata.name picks one pod; metadata.namespace compares with the namespace', async () => {
        assert.equal(
          (await get(`${api.base}/namespaces/default/pods?fieldSelector=metadata.name%3Dnginx`)).body,
          api.podList(NGINX),
        );
        assert.equal(
          (await get(`${api.base}/namespaces/default/pods?fieldSelector=metadata.namespace%3Dkube-system`))
            .body,
          api.podList(),
        );
        assert.equal(
          (await get(`${api.base}/nodes?fieldSelector=metadata.name!%3Dnode-a`)).body,
          api.nodeList(NODE_C),
        );
      });

      test('nodes have no namespace: an empty namespace selects all, any other none', async () => {
        assert.equal(
          (await get(`${api.base}/nodes?fieldSelector=metadata.namespace%3D`)).body,
          api.nodeList(NODE_A, NODE_C),
        );
        assert.equal(
          (await get(`${api.base}/nodes?fieldSelector=metadata.namespace%3Ddefault`)).body,
          api.nodeList(),
        );
      });

      test('all pods with metadata.namespace=x read that one namespace only', async () => {
        const r = await get(`${api.base}/pods?fieldSelector=metadata.namespace%3Dteam-b`);
        assert.equal(r.body, api.podList(WEB_2));
        assert.deepEqual(r.reader.calls, ['namespacePods team-b']);
      });

      test('label and field selectors together', async () => {
        const r = await get(
          `${api.base}/pods?labelSelector=app%3Dweb&fieldSelector=metadata.namespace!%3Ddefault`,
        );
        assert.equal(r.body, api.podList(WEB_2));
      });

      test('spec.nodeName is a 400 with the exact text kubectl users see', async () => {
        const r = await get(`${api.base}/namespaces/default/pods?fieldSelector=spec.nodeName%3Dnode-a`);
        assert.equal(r.status, 400);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
            '"message":"\\"spec.nodeName\\" is not a known field selector: only \\"metadata.name\\", \\"metadata.namespace\\"",' +
            '"reason":"BadRequest","code":400}',
        );
      });

      test('an unparsable field selector is a 400 too', async () => {
        const r = await get(`${api.base}/nodes?fieldSelector=nonsense`);
        assert.equal(r.status, 400);
        assert.equal(JSON.parse(r.body).message, "invalid selector: 'nonsense'; can't understand 'nonsense'");
      });
    });

    describe('watch, pagination and resourceVersion', () => {
      for (const value of ['1', 'true', 'True', '']) {
        test(`watch=${value} on pods is a 405 naming pods.metrics.k8s.io`, async () => {
          const r = await get(`${api.base}/namespaces/default/pods?watch=${value}`);
          assert.equal(r.status, 405);
          assert.equal(
            r.body,
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
              '"message":"watch is not supported on resources of kind \\"pods.metrics.k8s.io\\"","reason":"MethodNotAllowed",' +
              '"details":{"group":"metrics.k8s.io","kind":"pods"},"code":405}',
          );
        });
      }

      test('watch=1 on nodes names nodes.metrics.k8s.io', async () => {
        const r = await get(`${api.base}/nodes?watch=1`);
        assert.equal(r.status, 405);
        assert.deepEqual(JSON.parse(r.body).details, { group: 'metrics.k8s.io', kind: 'nodes' });
        assert.equal(
          JSON.parse(r.body).message,
          'watch is not supported on resources of kind "nodes.metrics.k8s.io"',
        );
      });

      test('watch=0 and watch=false are plain lists', async () => {
        assert.equal((await get(`${api.base}/nodes?watch=0`)).body, api.nodeList(NODE_A, NODE_C));
        assert.equal((await get(`${api.base}/nodes?watch=false`)).body, api.nodeList(NODE_A, NODE_C));
      });

      test('limit, continue and resourceVersion are accepted and ignored', async () => {
        const r = await get(
          `${api.base}/pods?limit=1&continue=abc&resourceVersion=0&resourceVersionMatch=NotOlderThan`,
        );
        assert.equal(r.status, 200);
        assert.equal(r.body, api.podList(NGINX, WEB_1, COREDNS, WEB_2));
      });
    });
  });
}
