/**
 * The read side of the development API server's core/v1 objects: get and list with label and field
 * selectors, limit/continue pagination in etcd key order, and the three representations clients ask
 * for (the object, PartialObjectMetadata, Table). Every object's JSON is cached by resourceVersion and
 * lists are streamed, so listing 150,000 pods in pages of 500 costs little more than writing them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type FieldSelector,
  type LabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  unknownField,
} from '../shared/selectors/index.ts';
import { DONE, type Done, sendBody, sendStatus, streamChunks } from './http-util.ts';
import type { SimCluster, SimNamespace, SimNode, SimPod } from './model.ts';
import { negotiate, type Representation } from './negotiation.ts';
import {
  CONFIGMAP_FIELDS,
  configMapMetadata,
  configMapObject,
  NAMESPACE_FIELDS,
  NODE_FIELDS,
  namespaceField,
  namespaceMetadata,
  namespaceObject,
  nodeField,
  nodeMetadata,
  nodeObject,
  POD_FIELDS,
  podField,
  podMetadata,
  podObject,
  type SimConfigMap,
} from './objects.ts';
import * as S from './status.ts';
import {
  CONFIGMAP_COLUMNS,
  type ColumnDefinition,
  configMapCells,
  NAMESPACE_COLUMNS,
  NODE_COLUMNS,
  namespaceCells,
  nodeCells,
  POD_COLUMNS,
  podCells,
} from './tables.ts';

type Json = Record<string, unknown>;

/** What get and list need to know about one kind of object. */
export interface Kind<T extends object> {
  resource: string;
  listKind: string;
  namespaced: boolean;
  /** The fields its field selectors may name. */
  fields: readonly string[];
  field(o: T, f: string): string | undefined;
  labels(o: T): Record<string, string>;
  version(o: T): number;
  object(o: T): Json;
  metadata(o: T): Json;
  columns: ColumnDefinition[];
  cells(o: T, nowMs: number): unknown[];
}

/** The objects a list looks at: keys in order (`name`, or `namespace/name`), and how to get each. */
export interface Candidates<T> {
  keys: readonly string[];
  get(key: string): T | undefined;
}

type Include = 'Object' | 'Metadata' | 'None';

export function createCollections(cluster: SimCluster, configMap: SimConfigMap) {
  const cache = new WeakMap<object, { rv: number; object?: string; metadata?: string }>();
  const cached = <T extends object>(kind: Kind<T>, o: T, which: 'object' | 'metadata'): string => {
    const rv = kind.version(o);
    let entry = cache.get(o);
    if (entry?.rv !== rv) {
      entry = { rv };
      cache.set(o, entry);
    }
    entry[which] ??= JSON.stringify(which === 'object' ? kind.object(o) : kind.metadata(o));
    return entry[which];
  };

  const pods: Kind<SimPod> = {
    resource: 'pods',
    listKind: 'PodList',
    namespaced: true,
    fields: POD_FIELDS,
    field: podField,
    labels: (p) => p.labels,
    version: (p) => p.resourceVersion,
    object: (p) => podObject(p, p.nodeName === undefined ? undefined : cluster.node(p.nodeName)),
    metadata: podMetadata,
    columns: POD_COLUMNS,
    cells: podCells,
  };
  const nodes: Kind<SimNode> = {
    resource: 'nodes',
    listKind: 'NodeList',
    namespaced: false,
    fields: NODE_FIELDS,
    field: nodeField,
    labels: (n) => n.labels,
    version: (n) => n.resourceVersion,
    object: (n) => nodeObject(n, cluster.startMs),
    metadata: nodeMetadata,
    columns: NODE_COLUMNS,
    cells: nodeCells,
  };
  const namespaces: Kind<SimNamespace> = {
    resource: 'namespaces',
    listKind: 'NamespaceList',
    namespaced: false,
    fields: NAMESPACE_FIELDS,
    field: namespaceField,
    labels: (ns) => ns.labels,
    version: (ns) => ns.resourceVersion,
    object: namespaceObject,
    metadata: namespaceMetadata,
    columns: NAMESPACE_COLUMNS,
    cells: namespaceCells,
  };
  const configMaps: Kind<SimConfigMap> = {
    resource: 'configmaps',
    listKind: 'ConfigMapList',
    namespaced: true,
    fields: CONFIGMAP_FIELDS,
    field: (cm, f) =>
      f === 'metadata.name' ? cm.name : f === 'metadata.namespace' ? cm.namespace : undefined,
    labels: () => ({}),
    version: (cm) => cm.resourceVersion,
    object: configMapObject,
    metadata: configMapMetadata,
    columns: CONFIGMAP_COLUMNS,
    cells: configMapCells,
  };

  /** Pods, narrowed by namespace or node when the request pins one (the scraper's per-node lists). */
  const podCandidates =
    (namespace: string | undefined) =>
    (fs: FieldSelector): Candidates<SimPod> => {
      const get = (k: string) => cluster.podByKey(k);
      const onNode = fs.exactMatch('spec.nodeName');
      const ns = namespace ?? fs.exactMatch('metadata.namespace');
      if (onNode !== undefined) {
        const keys = cluster
          .podsOnNode(onNode)
          .filter((p) => ns === undefined || p.namespace === ns)
          .map((p) => `${p.namespace}/${p.name}`);
        return { keys, get };
      }
      const all = cluster.sortedPodKeys();
      if (ns === undefined) return { keys: all, get };
      // '0' is the character after '/': the namespace's keys are those in [ns/, ns0).
      return { keys: all.slice(lowerBound(all, `${ns}/`), lowerBound(all, `${ns}0`)), get };
    };
  const nodeCandidates = (): Candidates<SimNode> => ({
    keys: cluster.nodes().map((n) => n.name),
    get: (k) => cluster.node(k),
  });
  const namespaceCandidates = (): Candidates<SimNamespace> => ({
    keys: cluster.namespaces().map((n) => n.name),
    get: (k) => cluster.namespace(k),
  });
  const configMapKey = `${configMap.namespace}/${configMap.name}`;
  const configMapCandidates = (namespace: string | undefined): Candidates<SimConfigMap> => ({
    keys: namespace === undefined || namespace === configMap.namespace ? [configMapKey] : [],
    get: () => configMap,
  });

  function rowObject<T extends object>(kind: Kind<T>, o: T, include: Include, apiVersion: string): string {
    if (include === 'None') return 'null';
    if (include === 'Object') return cached(kind, o, 'object');
    return partial(kind, o, apiVersion);
  }

  function partial<T extends object>(kind: Kind<T>, o: T, apiVersion: string): string {
    return `{"kind":"PartialObjectMetadata","apiVersion":"${apiVersion}","metadata":${cached(kind, o, 'metadata')}}`;
  }

  function tableHead<T extends object>(
    kind: Kind<T>,
    apiVersion: string,
    metadata: Json,
    query: URLSearchParams,
  ): string {
    const columns = query.get('noHeaders') === 'true' ? 'null' : JSON.stringify(kind.columns);
    return `{"kind":"Table","apiVersion":"${apiVersion}","metadata":${JSON.stringify(metadata)},"columnDefinitions":${columns},"rows":[`;
  }

  function tableRow<T extends object>(
    kind: Kind<T>,
    o: T,
    include: Include,
    apiVersion: string,
    now: number,
  ): string {
    return `{"cells":${JSON.stringify(kind.cells(o, now))},"object":${rowObject(kind, o, include, apiVersion)}}`;
  }

  /** GET of one object (`o` undefined: it does not exist). */
  function get<T extends object>(
    req: IncomingMessage,
    res: ServerResponse,
    kind: Kind<T>,
    o: T | undefined,
    name: string,
    query: URLSearchParams,
  ): Done {
    const rep = representationFor(req, res);
    if (!rep) return DONE;
    if (!o) return sendStatus(res, S.notFound(kind.resource, name));
    switch (rep.kind) {
      case 'object':
        return sendBody(res, 200, cached(kind, o, 'object'));
      case 'partial':
        if (rep.list) {
          const type = kind.listKind.replace(/List$/, '');
          return sendStatus(
            res,
            S.notAcceptable(
              `you requested PartialObjectMetadataList, but the requested object is not a list (*v1.${type})`,
            ),
          );
        }
        return sendBody(res, 200, partial(kind, o, rep.apiVersion));
      case 'table': {
        const include = includeObject(query);
        if (typeof include !== 'string') return sendStatus(res, include);
        const head = tableHead(kind, rep.apiVersion, { resourceVersion: String(kind.version(o)) }, query);
        return sendBody(res, 200, `${head}${tableRow(kind, o, include, rep.apiVersion, Date.now())}]}`);
      }
    }
  }

  /** LIST, in key order, filtered by the selectors, one page of `limit` from the continue token. */
  function list<T extends object>(
    req: IncomingMessage,
    res: ServerResponse,
    kind: Kind<T>,
    candidates: (fs: FieldSelector) => Candidates<T>,
    namespace: string | undefined,
    query: URLSearchParams,
  ): Done {
    const rep = representationFor(req, res);
    if (!rep) return DONE;
    if (rep.kind === 'partial' && !rep.list) {
      return sendStatus(
        res,
        S.notAcceptable(
          `you requested PartialObjectMetadata, but the requested object is a list (*v1.${kind.listKind})`,
        ),
      );
    }
    const selectors = parseSelectors(kind.fields, query);
    if ('code' in selectors) return sendStatus(res, selectors);
    const limitText = query.get('limit');
    const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
    if (!Number.isInteger(limit)) {
      return sendStatus(res, S.badRequest(`strconv.ParseInt: parsing "${limitText}": invalid syntax`));
    }
    let start = '';
    let rv = cluster.resourceVersion;
    const token = query.get('continue');
    if (token) {
      const decoded = decodeContinue(token);
      if (typeof decoded === 'string')
        return sendStatus(res, S.badRequest(`continue key is not valid: ${decoded}`));
      start = decoded.start;
      rv = decoded.rv;
    }
    const include = rep.kind === 'table' ? includeObject(query) : 'Metadata';
    if (typeof include !== 'string') return sendStatus(res, include);

    const { keys, get: lookup } = candidates(selectors.fields);
    const prefix = namespace === undefined || !kind.namespaced ? '' : `${namespace}/`;
    const inScope = (key: string) => prefix === '' || key.startsWith(prefix);
    const items: T[] = [];
    let i = lowerBound(keys, start);
    let lastKey = '';
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      if (!inScope(key)) continue;
      const o = lookup(key);
      if (!o) continue;
      if (!selectors.labels.matches(kind.labels(o))) continue;
      if (!selectors.fields.matches((f) => kind.field(o, f))) continue;
      items.push(o);
      lastKey = key;
      if (limit > 0 && items.length === limit) {
        i++;
        break;
      }
    }
    const metadata: Json = { resourceVersion: String(rv) };
    if (limit > 0 && items.length === limit && i < keys.length) {
      metadata.continue = encodeContinue(rv, lastKey);
      // kube-apiserver counts what is left only when no selector filters it.
      if (selectors.labels.empty && selectors.fields.empty) {
        let remaining = 0;
        for (let j = i; j < keys.length; j++) if (inScope(keys[j]!)) remaining++;
        metadata.remainingItemCount = remaining;
      }
    }

    const now = Date.now();
    let head: string;
    let render: (o: T) => string;
    if (rep.kind === 'table') {
      head = tableHead(kind, rep.apiVersion, metadata, query);
      render = (o) => tableRow(kind, o, include, rep.apiVersion, now);
    } else if (rep.kind === 'partial') {
      head = `{"kind":"PartialObjectMetadataList","apiVersion":"${rep.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[`;
      render = (o) => partial(kind, o, rep.apiVersion);
    } else {
      head = `{"kind":"${kind.listKind}","apiVersion":"v1","metadata":${JSON.stringify(metadata)},"items":[`;
      render = (o) => cached(kind, o, 'object');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    void streamChunks(res, head, items, render, ']}');
    return DONE;
  }

  return {
    kinds: { pods, nodes, namespaces, configMaps },
    podCandidates,
    nodeCandidates,
    namespaceCandidates,
    configMapCandidates,
    get,
    list,
  };
}

function representationFor(req: IncomingMessage, res: ServerResponse): Representation | undefined {
  const n = negotiate(req.headers.accept, true);
  if ('error' in n) {
    sendStatus(res, S.notAcceptable(n.error));
    return undefined;
  }
  return n.representation;
}

function includeObject(query: URLSearchParams): Include | S.Status {
  const v = query.get('includeObject') ?? 'Metadata';
  if (v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'Object' || v === 'None') return v;
  return S.badRequest(`unrecognized includeObject value: "${v}"`);
}

/** Selectors as kube-apiserver reads them; a field the kind does not support is its core/v1 error. */
export function parseSelectors(
  fields: readonly string[],
  query: URLSearchParams,
): { labels: LabelSelector; fields: FieldSelector } | S.Status {
  try {
    const labels = parseLabelSelector(query.get('labelSelector') ?? '');
    const selector = parseFieldSelector(query.get('fieldSelector') ?? '');
    const unknown = unknownField(selector, fields);
    if (unknown !== undefined) return S.badRequest(`field label not supported: ${unknown}`);
    return { labels, fields: selector };
  } catch (err) {
    if (err instanceof SelectorError) return S.badRequest(err.message);
    throw err;
  }
}

/** The first index whose key is ≥ `key` (keys sorted by code unit, as etcd orders them). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The etcd3 store's continue token: base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`. */
export function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` })).toString(
    'base64url',
  );
}

export function decodeContinue(token: string): { rv: number; start: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return 'illegal base64 data or JSON in continue token';
  }
  const p = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (p.v !== 'meta.k8s.io/v1') return 'server does not recognize this encoded key';
  if (typeof p.rv !== 'number' || typeof p.start !== 'string' || p.start === '')
    return 'continue key is not valid';
  return { rv: p.rv, start: p.start };
}
