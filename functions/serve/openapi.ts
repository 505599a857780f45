/**
 * OpenAPI for metrics.k8s.io v1 and v1beta1: `/openapi/v2` (Swagger 2.0, both group versions),
 * `/openapi/v3` (the index of group versions) and `/openapi/v3/apis/metrics.k8s.io/<version>` (OpenAPI
 * 3.0, one per group version). The aggregator downloads them to merge into kube-apiserver's own;
 * `kubectl explain podmetrics` reads the result. Definitions keep Kubernetes' names and the
 * x-kubernetes-group-version-kind extension clients use to find a kind's schema. One description feeds
 * every document and version, so they cannot disagree.
 */
import { GROUP, groupVersion, type MetricsVersion, VERSIONS } from '../../shared/metrics-api.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const metricsPackage = (version: MetricsVersion) => `io.k8s.metrics.pkg.apis.metrics.${version}`;
/** `listMetricsV1beta1NodeMetrics`, `metrics_v1beta1`: the version as Kubernetes' operation ids carry it. */
const titled = (version: MetricsVersion) => version[0]!.toUpperCase() + version.slice(1);

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

const gvk = (kind: string, version: MetricsVersion) => [{ group: GROUP, kind, version }];

/**
 * Definitions of these versions' objects, with `$ref`s written as `#/definitions/<name>`; v3 rewrites
 * them to components.
 */
function definitions(versions: readonly MetricsVersion[]): Record<string, Schema> {
  return Object.assign({}, sharedDefinitions(), ...versions.map(metricsDefinitions));
}

const ref = (name: string) => ({ $ref: `#/definitions/${name}` });

function metricsDefinitions(version: MetricsVersion): Record<string, Schema> {
  const METRICS = metricsPackage(version);
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
    'x-kubernetes-group-version-kind': gvk(kind, version),
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
    'x-kubernetes-group-version-kind': gvk(`${kind}List`, version),
  });
  return {
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

/** The apimachinery types every version's objects refer to. */
function sharedDefinitions(): Record<string, Schema> {
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
  };
}

interface Operation {
  version: MetricsVersion;
  path: string;
  id: string;
  action: 'get' | 'list';
  kind: 'NodeMetrics' | 'PodMetrics';
  description: string;
  params: ('name' | 'namespace')[];
}

function operations(version: MetricsVersion): Operation[] {
  const base = `/apis/${groupVersion(version)}`;
  const v = titled(version);
  const op = (o: Omit<Operation, 'version'>): Operation => ({ version, ...o });
  return [
    op({
      path: `${base}/nodes`,
      id: `listMetrics${v}NodeMetrics`,
      action: 'list',
      kind: 'NodeMetrics',
      description: 'list objects of kind NodeMetrics',
      params: [],
    }),
    op({
      path: `${base}/nodes/{name}`,
      id: `readMetrics${v}NodeMetrics`,
      action: 'get',
      kind: 'NodeMetrics',
      description: 'read the specified NodeMetrics',
      params: ['name'],
    }),
    op({
      path: `${base}/pods`,
      id: `listMetrics${v}PodMetricsForAllNamespaces`,
      action: 'list',
      kind: 'PodMetrics',
      description: 'list objects of kind PodMetrics',
      params: [],
    }),
    op({
      path: `${base}/namespaces/{namespace}/pods`,
      id: `listMetrics${v}NamespacedPodMetrics`,
      action: 'list',
      kind: 'PodMetrics',
      description: 'list objects of kind PodMetrics',
      params: ['namespace'],
    }),
    op({
      path: `${base}/namespaces/{namespace}/pods/{name}`,
      id: `readMetrics${v}NamespacedPodMetrics`,
      action: 'get',
      kind: 'PodMetrics',
      description: 'read the specified PodMetrics',
      params: ['namespace', 'name'],
    }),
  ];
}

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

const responseKind = (op: Operation) =>
  `${metricsPackage(op.version)}.${op.kind}${op.action === 'list' ? 'List' : ''}`;

const operationExtensions = (op: Operation) => ({
  'x-kubernetes-action': op.action,
  'x-kubernetes-group-version-kind': { group: GROUP, kind: op.kind, version: op.version },
});

const PRODUCES = ['application/json', 'application/vnd.kubernetes.protobuf'];

/** Swagger 2.0 of every served version. */
function swagger(title: string, version: string): Schema {
  const paths: Record<string, Schema> = {};
  for (const op of VERSIONS.flatMap(operations)) {
    paths[op.path] = {
      get: {
        description: op.description,
        operationId: op.id,
        consumes: ['*/*'],
        produces: PRODUCES,
        schemes: ['https'],
        tags: [`metrics_${op.version}`],
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
    definitions: definitions(VERSIONS),
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

/** OpenAPI 3.0 of one group version. */
function openapi3(title: string, version: string, groupVersion: MetricsVersion): Schema {
  const paths: Record<string, Schema> = {};
  for (const op of operations(groupVersion)) {
    const schema = { $ref: `#/components/schemas/${responseKind(op)}` };
    paths[op.path] = {
      get: {
        tags: [`metrics_${op.version}`],
        description: op.description,
        operationId: op.id,
        parameters: parametersV3(op),
        responses: {
          '200': {
            description: 'OK',
            content: Object.fromEntries(PRODUCES.map((type) => [type, { schema }])),
          },
          '401': { description: 'Unauthorized' },
        },
        ...operationExtensions(op),
      },
    };
  }
  // The same definitions, with their references pointing into components.
  const schemas = JSON.parse(
    JSON.stringify(definitions([groupVersion])).replaceAll('"#/definitions/', '"#/components/schemas/'),
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

/** The path of a group version's document under /openapi/v3 (and its key in the index). */
export const openApiV3GroupPath = (version: MetricsVersion) => `apis/${groupVersion(version)}`;

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

async function document(body: string): Promise<OpenApiDocument> {
  return { body, hash: await sha512Hex(body) };
}

export interface OpenApiDocuments {
  v2: OpenApiDocument;
  /** One OpenAPI 3.0 document per served version. */
  v3Groups: Map<MetricsVersion, OpenApiDocument>;
  /** `/openapi/v3`: where each group version's document lives, with its hash for caching. */
  v3Index: string;
}

/**
 * Every document for a server version such as `v0.1.0`; as metrics-server does, the OpenAPI version is
 * the binary version without a `-suffix`.
 */
export async function openApiDocuments(serverVersion: string): Promise<OpenApiDocuments> {
  const version = serverVersion.split('-')[0] ?? serverVersion;
  const [v2, ...groups] = await Promise.all([
    document(JSON.stringify(swagger(OPENAPI_TITLE, version))),
    ...VERSIONS.map((v) => document(JSON.stringify(openapi3(OPENAPI_TITLE, version, v)))),
  ]);
  const v3Groups = new Map(VERSIONS.map((v, i) => [v, groups[i]!]));
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [v, doc] of v3Groups) {
    paths[openApiV3GroupPath(v)] = {
      serverRelativeURL: `/openapi/v3/${openApiV3GroupPath(v)}?hash=${doc.hash}`,
    };
  }
  return { v2: v2!, v3Groups, v3Index: JSON.stringify({ paths }) };
}
