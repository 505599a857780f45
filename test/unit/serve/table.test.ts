import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { API_VERSIONS, appWith, FakeReader, NGINX, NODE_A } from './fake-reader.ts';

/** kubectl get's Accept header for Table output. */
const TABLE_V1 =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const TABLE_V1BETA1 = 'application/json;as=Table;v=v1beta1;g=meta.k8s.io';

const COLUMNS = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
  { name: 'cpu', type: 'string', format: 'quantity', description: '', priority: 0 },
  { name: 'memory', type: 'string', format: 'quantity', description: '', priority: 0 },
  { name: 'Window', type: 'string', format: 'duration', description: '', priority: 0 },
];

/** The fields these tests read, of a Table, a PartialObjectMetadata(List) or a Status. */
interface Doc {
  kind: string;
  apiVersion: string;
  message: string;
  reason: string;
  columnDefinitions: unknown[];
  rows: { cells: string[]; object: { apiVersion?: string } | null }[];
  items: { kind: string; metadata: { name: string } }[];
}

async function table(path: string, accept = TABLE_V1, reader = new FakeReader()) {
  const { app } = appWith(reader);
  const r = await app.request(path, { headers: { accept } });
  return { status: r.status, json: (await r.json()) as Doc };
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version}`, () => {
    describe('Table output (kubectl get nodes.metrics.k8s.io / podmetrics)', () => {
      test('nodes: columns Name, cpu, memory, Window; rows carry PartialObjectMetadata by default', async () => {
        const { status, json } = await table(`${api.base}/nodes`);
        assert.equal(status, 200);
        assert.deepEqual(json, {
          kind: 'Table',
          apiVersion: 'meta.k8s.io/v1',
          metadata: {},
          columnDefinitions: COLUMNS,
          rows: [
            {
              cells: ['node-a', '272335371n', '4470464Ki', '20.114s'],
              object: {
                kind: 'PartialObjectMetadata',
                apiVersion: 'meta.k8s.io/v1',
                metadata: {
                  name: 'node-a',
                  creationTimestamp: '2025-10-14T05:50:51Z',
                  labels: { 'kubernetes.io/hostname': 'node-a', pool: 'blue' },
                },
              },
            },
            {
              cells: ['node-c', '1', '2Gi', '15s'],
              object: {
                kind: 'PartialObjectMetadata',
                apiVersion: 'meta.k8s.io/v1',
                metadata: {
                  name: 'node-c',
                  creationTimestamp: '2025-10-14T05:50:51Z',
                  labels: { pool: 'green' },
                },
              },
            },
          ],
        });
      });

      test('pods: usage is the sum over containers (5m + 250u = 5250u; 10Mi + 1234567 = 11720327)', async () => {
        const { json } = await table(`${api.base}/namespaces/default/pods?includeObject=None`);
        assert.deepEqual(
          json.rows.map((r) => r.cells),
          [
            ['nginx', '1267873n', '3136Ki', '26.279434112s'],
            ['web-1', '5250u', '11720327', '15s'],
          ],
        );
      });

      test('includeObject=None writes "object": null, as Go does', async () => {
        const { app } = appWith();
        const r = await app.request(`${api.base}/nodes/node-a?includeObject=None`, {
          headers: { accept: TABLE_V1 },
        });
        const text = await r.text();
        assert.ok(text.includes('"object":null'), text);
      });

      test('includeObject=Object embeds the full object with kind and apiVersion', async () => {
        const { json } = await table(`${api.base}/namespaces/default/pods/nginx?includeObject=Object`);
        assert.equal(json.rows.length, 1);
        assert.deepEqual(json.rows[0]!.object, {
          kind: 'PodMetrics',
          apiVersion: api.groupVersion,
          ...JSON.parse(NGINX),
        });
      });

      test('meta.k8s.io/v1beta1 Tables and PartialObjectMetadata are in v1beta1', async () => {
        const { json } = await table(`${api.base}/nodes/node-a`, TABLE_V1BETA1);
        assert.equal(json.apiVersion, 'meta.k8s.io/v1beta1');
        assert.equal(json.rows[0]!.object?.apiVersion, 'meta.k8s.io/v1beta1');
      });

      test('an empty list keeps the fixed columns and has no rows', async () => {
        const { status, json } = await table(`${api.base}/pods`, TABLE_V1, new FakeReader([], []));
        assert.equal(status, 200);
        assert.deepEqual(json.columnDefinitions, COLUMNS);
        assert.deepEqual(json.rows, []);
      });

      test('the all-namespaces Table streams every pod with metrics in order', async () => {
        const { json } = await table(`${api.base}/pods?includeObject=None`);
        assert.deepEqual(
          json.rows.map((r) => r.cells[0]),
          ['nginx', 'web-1', 'coredns', 'web-2'],
        );
      });

      test("an unknown includeObject is the generic handler's 400", async () => {
        const { status, json } = await table(`${api.base}/nodes?includeObject=Everything`);
        assert.equal(status, 400);
        assert.equal(json.reason, 'BadRequest');
        assert.equal(
          json.message,
          "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty",
        );
      });

      test('an error is still a JSON Status, not a Table', async () => {
        const { status, json } = await table(`${api.base}/nodes/ghost`);
        assert.equal(status, 404);
        assert.equal(json.kind, 'Status');
      });
    });

    describe('PartialObjectMetadata output', () => {
      const LIST = 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io';
      const ONE = 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io';

      test('a list as PartialObjectMetadataList', async () => {
        const { status, json } = await table(`${api.base}/nodes`, LIST);
        assert.equal(status, 200);
        assert.equal(json.kind, 'PartialObjectMetadataList');
        assert.deepEqual(
          json.items.map((i) => [i.kind, i.metadata.name]),
          [
            ['PartialObjectMetadata', 'node-a'],
            ['PartialObjectMetadata', 'node-c'],
          ],
        );
      });

      test('an object as PartialObjectMetadata', async () => {
        const { json } = await table(`${api.base}/nodes/node-a`, ONE);
        assert.deepEqual(json, {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: JSON.parse(NODE_A).metadata,
        });
      });

      test("asking for the wrong one is the generic handler's 406", async () => {
        const a = await table(`${api.base}/nodes`, ONE);
        assert.equal(a.status, 406);
        assert.equal(
          a.json.message,
          'you requested PartialObjectMetadata, but the requested object is a list (*metrics.NodeMetricsList)',
        );
        const b = await table(`${api.base}/namespaces/default/pods/nginx`, LIST);
        assert.equal(b.status, 406);
        assert.equal(
          b.json.message,
          'you requested PartialObjectMetadataList, but the requested object is not a list (*metrics.PodMetrics)',
        );
      });
    });
  });
}
