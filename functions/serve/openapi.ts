/**
 * OpenAPI for metrics.k8s.io/v1beta1: `/openapi/v2` (Swagger 2.0), `/openapi/v3` (the index of group
 * versions) and `/openapi/v3/apis/metrics.k8s.io/v1beta1` (OpenAPI 3.0). The aggregator downloads them
 * to merge into kube-apiserver's own; `kubectl explain podmetrics` reads the result. Definitions keep
 * Kubernetes' names and the x-kubernetes-group-version-kind extension clients use to find a kind's
 * schema. One description feeds both versions, so they cannot disagree.
 */
import { GROUP, GROUP_VERSION, VERSION } from '../../shared/metrics-api.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const METRICS = 'io.k8s.metrics.pkg.apis.metrics.v1beta1';

type Schema = Record<string, unknown>;

const TYPE_META = {
  kind: {
    description: 'Kind is a string value representing the REST resource this object represents.',
    type: 'string',
  },
  apiVersion: {
    description: 'APIVersion defines the versioned schema of this representation of an object.',
    type: 'string',
  },
};

const gvk = (kind: string) => [{ group: GROUP, kind, version: VERSION }];

/** Definitions with `$ref`s written as `#/definitions/<name>`; v3 rewrites them to components. */
function definitions(): Record<string, Schema> {
  const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
  const usage = {
    description: 'The memory usage is the memory working set.',
    type: 'object',
    additionalProperties: ref(QUANTITY),
  };
  const metrics = (kind: 'NodeMetrics' | 'PodMetrics', description: string, payload: Schema): Schema => ({
    description,
    type: 'object',
    required: ['timestamp', 'window', kind === 'NodeMetrics' ? 'usage' : 'containers'],
    properties: {
      ...TYPE_META,
      metadata: { ...ref(`${META}.ObjectMeta`), description: "Standard object's metadata." },
      timestamp: {
        ...ref(`${META}.Time`),
        description:
          'The following fields define time interval from which metrics were collected from the interval [Timestamp-Window, Timestamp].',
      },
      window: ref(`${META}.Duration`),
      ...payload,
    },
    'x-kubernetes-group-version-kind': gvk(kind),
  });
  const list = (kind: 'NodeMetrics' | 'PodMetrics', description: string): Schema => ({
    description: `${kind}List is a list of ${kind}.`,
    type: 'object',
    required: ['items'],
    properties: {
      ...TYPE_META,
      metadata: { ...ref(`${META}.ListMeta`), description: 'Standard list metadata.' },
      items: { description, type: 'array', items: ref(`${METRICS}.${kind}`) },
    },
    'x-kubernetes-group-version-kind': gvk(`${kind}List`),
  });
  return {
    [QUANTITY]: {
      description:
        'Quantity is a fixed-point representation of a number, serialized as a string such as "250m", "3136Ki" or "1".',
      type: 'string',
    },
    [`${META}.Duration`]: {
      description: 'Duration as Go prints it, such as "15s", "20.114s" or "1m0s".',
      type: 'string',
    },
    [`${META}.Time`]: {
      description: 'Time is RFC 3339 in UTC at second precision; null for the zero time.',
      type: 'string',
      format: 'date-time',
    },
    [`${META}.ListMeta`]: {
      description: 'ListMeta describes metadata that synthetic resources must have. Lists here carry none.',
      type: 'object',
      properties: {
        continue: { type: 'string' },
        remainingItemCount: { type: 'integer', format: 'int64' },
        resourceVersion: { type: 'string' },
      },
    },
    [`${META}.ObjectMeta`]: {
      description: 'The subset of ObjectMeta that metrics objects carry.',
      type: 'object',
      properties: {
        name: { type: 'string' },
        namespace: { type: 'string' },
        creationTimestamp: ref(`${META}.Time`),
        labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      },
    },
    [`${METRICS}.ContainerMetrics`]: {
      description: 'ContainerMetrics sets resource usage metrics of a container.',
      type: 'object',
      required: ['name', 'usage'],
      properties: {
        name: {
          description: 'Container name corresponding to the one from pod.spec.containers.',
          type: 'string',
        },
        usage,
      },
    },
    [`${METRICS}.NodeMetrics`]: metrics('NodeMetrics', 'NodeMetrics sets resource usage metrics of a node.', {
      usage,
    }),
    [`${METRICS}.NodeMetricsList`]: list('NodeMetrics', 'List of node metrics.'),
    [`${METRICS}.PodMetrics`]: metrics('PodMetrics', 'PodMetrics sets resource usage metrics of a pod.', {
      containers: {
        description: 'Metrics for all containers are collected within the same time window.',
        type: 'array',
        items: ref(`${METRICS}.ContainerMetrics`),
        'x-kubernetes-list-type': 'atomic',
      },
    }),
    [`${METRICS}.PodMetricsList`]: list('PodMetrics', 'List of pod metrics.'),
  };
}

interface Operation {
  path: string;
  id: string;
  action: 'get' | 'list';
  kind: 'NodeMetrics' | 'PodMetrics';
  description: string;
  params: ('name' | 'namespace')[];
}

const BASE = `/apis/${GROUP_VERSION}`;
const OPERATIONS: Operation[] = [
  {
    path: `${BASE}/nodes`,
    id: 'listMetricsV1beta1NodeMetrics',
    action: 'list',
    kind: 'NodeMetrics',
    description: 'list objects of kind NodeMetrics',
    params: [],
  },
  {
    path: `${BASE}/nodes/{name}`,
    id: 'readMetricsV1beta1NodeMetrics',
    action: 'get',
    kind: 'NodeMetrics',
    description: 'read the specified NodeMetrics',
    params: ['name'],
  },
  {
    path: `${BASE}/pods`,
    id: 'listMetricsV1beta1PodMetricsForAllNamespaces',
    action: 'list',
    kind: 'PodMetrics',
    description: 'list objects of kind PodMetrics',
    params: [],
  },
  {
    path: `${BASE}/namespaces/{namespace}/pods`,
    id: 'listMetricsV1beta1NamespacedPodMetrics',
    action: 'list',
    kind: 'PodMetrics',
    description: 'list objects of kind PodMetrics',
    params: ['namespace'],
  },
  {
    path: `${BASE}/namespaces/{namespace}/pods/{name}`,
    id: 'readMetricsV1beta1NamespacedPodMetrics',
    action: 'get',
    kind: 'PodMetrics',
    description: 'read the specified PodMetrics',
    params: ['namespace', 'name'],
  },
];

const QUERY_PARAMS: { name: string; description: string; type: 'string' | 'integer' }[] = [
  {
    name: 'labelSelector',
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their labels.',
  },
  {
    name: 'fieldSelector',
    type: 'string',
    description:
      'A selector on metadata.name and metadata.namespace to restrict the list of returned objects.',
  },
  { name: 'limit', type: 'integer', description: 'Accepted and ignored: lists are never paginated.' },
  { name: 'continue', type: 'string', description: 'Accepted and ignored: lists are never paginated.' },
  { name: 'resourceVersion', type: 'string', description: 'Accepted and ignored.' },
];

const PATH_PARAMS = {
  name: 'name of the object',
  namespace: 'object name and auth scope, such as for teams and projects',
};

function parametersV2(op: Operation): Schema[] {
  const path = op.params.map((p) => ({
    name: p,
    in: 'path',
    required: true,
    type: 'string',
    description: PATH_PARAMS[p],
  }));
  const query =
    op.action === 'list' ? QUERY_PARAMS.map((q) => ({ ...q, in: 'query', uniqueItems: true })) : [];
  return [...path, ...query];
}

function parametersV3(op: Operation): Schema[] {
  const path = op.params.map((p) => ({
    name: p,
    in: 'path',
    required: true,
    description: PATH_PARAMS[p],
    schema: { type: 'string', uniqueItems: true },
  }));
  const query =
    op.action === 'list'
      ? QUERY_PARAMS.map((q) => ({
          name: q.name,
          in: 'query',
          description: q.description,
          schema: { type: q.type },
        }))
      : [];
  return [...path, ...query];
}

const responseKind = (op: Operation) => `${METRICS}.${op.kind}${op.action === 'list' ? 'List' : ''}`;

const operationExtensions = (op: Operation) => ({
  'x-kubernetes-action': op.action,
  'x-kubernetes-group-version-kind': { group: GROUP, kind: op.kind, version: VERSION },
});

function swagger(title: string, version: string): Schema {
  const paths: Record<string, Schema> = {};
  for (const op of OPERATIONS) {
    paths[op.path] = {
      get: {
        description: op.description,
        operationId: op.id,
        consumes: ['*/*'],
        produces: ['application/json'],
        schemes: ['https'],
        tags: ['metrics_v1beta1'],
        parameters: parametersV2(op),
        responses: {
          '200': { description: 'OK', schema: { $ref: `#/definitions/${responseKind(op)}` } },
          '401': { description: 'Unauthorized' },
        },
        ...operationExtensions(op),
      },
    };
  }
  return {
    swagger: '2.0',
    info: { title, version },
    paths,
    definitions: definitions(),
    securityDefinitions: {
      BearerToken: {
        description: 'Bearer Token authentication',
        type: 'apiKey',
        name: 'authorization',
        in: 'header',
      },
    },
    security: [{ BearerToken: [] }],
  };
}

function openapi3(title: string, version: string): Schema {
  const paths: Record<string, Schema> = {};
  for (const op of OPERATIONS) {
    paths[op.path] = {
      get: {
        tags: ['metrics_v1beta1'],
        description: op.description,
        operationId: op.id,
        parameters: parametersV3(op),
        responses: {
          '200': {
            description: 'OK',
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${responseKind(op)}` } } },
          },
          '401': { description: 'Unauthorized' },
        },
        ...operationExtensions(op),
      },
    };
  }
  // The same definitions, with their references pointing into components.
  const schemas = JSON.parse(
    JSON.stringify(definitions()).replaceAll('"#/definitions/', '"#/components/schemas/'),
  ) as Schema;
  return {
    openapi: '3.0.0',
    info: { title, version },
    paths,
    components: {
      schemas,
      securitySchemes: {
        BearerToken: {
          type: 'apiKey',
          description: 'Bearer Token authentication',
          name: 'authorization',
          in: 'header',
        },
      },
    },
    security: [{ BearerToken: [] }],
  };
}

export const OPENAPI_TITLE = 'Kubernetes metrics-server';

/** The path of the group version's document under /openapi/v3 (and its key in the index). */
export const OPENAPI_V3_GROUP_PATH = `apis/${GROUP_VERSION}`;

export interface OpenApiDocument {
  body: string;
  /** kube-openapi's ETag value: the SHA-512 of the body in upper-case hex. */
  hash: string;
}

async function sha512Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-512', new TextEncoder().encode(text));
  let hex = '';
  for (const b of new Uint8Array(digest)) hex += b.toString(16).padStart(2, '0');
  return hex.toUpperCase();
}

export interface OpenApiDocuments {
  v2: OpenApiDocument;
  v3Group: OpenApiDocument;
  /** `/openapi/v3`: where each group version's document lives, with its hash for caching. */
  v3Index: string;
}

/**
 * Both documents for a server version such as `v0.1.0`; as metrics-server does, the OpenAPI version is the
 * binary version without a `-suffix`.
 */
export async function openApiDocuments(serverVersion: string): Promise<OpenApiDocuments> {
  const version = serverVersion.split('-')[0] ?? serverVersion;
  const v2 = JSON.stringify(swagger(OPENAPI_TITLE, version));
  const v3 = JSON.stringify(openapi3(OPENAPI_TITLE, version));
  const [v2Hash, v3Hash] = await Promise.all([sha512Hex(v2), sha512Hex(v3)]);
  const v3Index = JSON.stringify({
    paths: {
      [OPENAPI_V3_GROUP_PATH]: { serverRelativeURL: `/openapi/v3/${OPENAPI_V3_GROUP_PATH}?hash=${v3Hash}` },
    },
  });
  return { v2: { body: v2, hash: v2Hash }, v3Group: { body: v3, hash: v3Hash }, v3Index };
}
