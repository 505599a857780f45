/**
 * The metrics.k8s.io resources, under v1 and v1beta1 alike: nodes and pods, get and list, answered from
 * the store alone.
 * Order of checks per request, as the generic apiserver's: Accept (406), query (400, then watch 405),
 * then the store. A store failure propagates as StoreUnavailableError (→ 503, app.ts).
 *
 * The hot path, one namespace's pods with a label selector (the HPA's query), is one store read, a label
 * check per entry (the entry's labels text is parsed only when a selector needs it) and a string join of
 * pre-rendered items: no item is parsed, nothing is validated again. Repeated, it is less: a list kept
 * from the newest cycle is found by the request's own text (its route, output and raw query) before the
 * query is even parsed, and written as the bytes it was encoded to once.
 */
import type { Context, Hono } from 'hono';
import { memoize } from '../../shared/memo.ts';
import { GROUP, groupVersion, type MetricsVersion, VERSIONS } from '../../shared/metrics-api.ts';
import type { Labels } from '../../shared/selectors/index.ts';
import { parseLabels, type StoredEntry } from '../../shared/store/entry.ts';
import type { MetricsReader } from '../../shared/store/reader.ts';
import { type CachedList, ListCache } from './list-cache.ts';
import { freshnessBatchObserver, freshnessObserver } from './metrics.ts';
import { negotiate, type Output, servedMediaTypes } from './negotiate.ts';
import { type IncludeObject, includeObject, type ListQuery, listQuery, type QueryParam } from './query.ts';
import {
  type Body,
  bodyResponse,
  checkObjectOutput,
  type ListShape,
  listBody,
  listShape,
  objectBody,
} from './render.ts';
import { notAcceptable, notFound, StatusError } from './status.ts';
import { streamList } from './stream.ts';

/** The routes of one version. */
export function resourcePaths(version: MetricsVersion) {
  const base = `/apis/${groupVersion(version)}`;
  return {
    nodes: `${base}/nodes`,
    node: `${base}/nodes/:name`,
    allPods: `${base}/pods`,
    namespacePods: `${base}/namespaces/:namespace/pods`,
    pod: `${base}/namespaces/:namespace/pods/:name`,
  } as const;
}

/** The negotiated output of a request, or a 406 Status. */
export function negotiated(c: Context, transforms: boolean): Output {
  const out = negotiate(c.req.header('accept'), transforms);
  if (out === null) throw new StatusError(notAcceptable(servedMediaTypes(transforms)));
  return out;
}

/** The request's query parameters, parsed once (each is the first value given, as apimachinery's). */
function queryOf(c: Context): QueryParam {
  let all: Record<string, string> | null = null;
  return (name) => {
    all ??= c.req.query();
    return all[name];
  };
}

const includeOf = (query: QueryParam, output: Output): IncludeObject =>
  output.as === 'Table' ? includeObject(query) : 'Metadata';

/**
 * Parsed labels by their text. The pods of one ReplicaSet carry identical labels, so the HPA's query over
 * a namespace parses a handful of distinct texts, not one per pod.
 */
const labelsOfText: (text: string) => Labels = memoize(4096, parseLabels);

const labelsOf = (e: StoredEntry): Labels => labelsOfText(e.labels);

/**
 * One namespace's entries for a list. With a label selector, only the pods whose label set matches are
 * read (the namespace's label index: one check per distinct label set, one HMGET of the matches);
 * without one, or without an index, the whole namespace is read.
 */
async function namespaceEntries(
  reader: MetricsReader,
  namespace: string,
  q: ListQuery,
): Promise<StoredEntry[]> {
  const labels = q.labels;
  if (labels !== null && reader.namespacePodsMatching) {
    const matching = await reader.namespacePodsMatching(namespace, (text) =>
      labels.matches(labelsOfText(text)),
    );
    if (matching !== null) return matching;
  }
  return reader.namespacePods(namespace);
}

/** Whether a served entry passes the request's selectors; labels are parsed only for a label selector. */
function selected(q: ListQuery, e: StoredEntry, namespace: string): boolean {
  if (q.fields !== null) {
    const name = e.name;
    const ok = q.fields.matches((field) =>
      field === 'metadata.name' ? name : field === 'metadata.namespace' ? namespace : undefined,
    );
    if (!ok) return false;
  }
  return q.labels === null || q.labels.matches(labelsOf(e));
}

/** What a list returns from one store read: only objects with metrics, filtered. */
interface Selected {
  items: string[];
  timestamps: number[];
  /** The earliest expiry among the returned objects (Infinity with none). */
  validUntil: number;
}

function selectedItems(q: ListQuery, entries: readonly StoredEntry[], namespace: string): Selected {
  const items: string[] = [];
  const timestamps: number[] = [];
  let validUntil = Number.POSITIVE_INFINITY;
  for (const e of entries) {
    if (e.item !== '' && selected(q, e, namespace)) {
      items.push(e.item);
      timestamps.push(e.timestamp);
      if (e.expiresAt < validUntil) validUntil = e.expiresAt;
    }
  }
  return { items, timestamps, validUntil };
}

/** The body kept under `key` from the newest cycle announced to this replica, or null: no I/O at all. */
function announcedHit(
  reader: MetricsReader,
  cache: ListCache,
  key: string,
  observe: (timestampMs: number) => void,
): Body | null {
  if (!reader.now) return null;
  const announced = reader.latestCycle?.() ?? null;
  if (announced === null) return null;
  const hit = cache.get(key, announced, reader.now());
  if (hit === null) return null;
  for (const t of hit.timestamps) observe(t);
  return hit.body;
}

const utf8 = new TextEncoder();

/** One list request answered from one store read: what it reads, how it selects and writes it, its key. */
interface KeptList {
  /** The store's entries for the list: one namespace's pods, or the nodes. */
  read: () => Promise<StoredEntry[]>;
  /** The cycle that wrote what `read` reads (one small read); absent, the list is never kept. */
  cycle: (() => Promise<string | null>) | undefined;
  q: ListQuery;
  shape: ListShape;
  /** What `metadata.namespace` field selectors compare with ('' for nodes). */
  namespace: string;
  /** listKey of the request. */
  key: string;
}

/**
 * A list body, from the replica's list cache while the cycle that wrote what it reads is the one the body
 * was built from (list-cache.ts): known without a read while the replica follows the scraper's
 * announcements, else checked with one small read. The cycle is read before the entries (same
 * connection, so Redis answers in that order): a body is only ever kept under a cycle as old as or older
 * than its contents, and at worst is built again once more.
 */
async function keptListBody(
  reader: MetricsReader,
  cache: ListCache,
  r: KeptList,
  observe: (timestampMs: number) => void,
): Promise<Body> {
  const { q, shape, namespace } = r;
  if (!r.cycle || !reader.now) {
    const s = selectedItems(q, await r.read(), namespace);
    for (const t of s.timestamps) observe(t);
    return listBody(shape, s.items);
  }
  const served = (hit: CachedList) => {
    for (const t of hit.timestamps) observe(t);
    return hit.body;
  };
  // The newest cycle, announced to this replica: a body kept from it is current without any read.
  const heard = announcedHit(reader, cache, r.key, observe);
  if (heard !== null) return heard;
  const cycleRead = r.cycle();
  if (cache.has(r.key)) {
    const hit = cache.get(r.key, await cycleRead, reader.now());
    if (hit !== null) return served(hit);
  }
  const [entries, cycle] = await Promise.all([r.read(), cycleRead]);
  const s = selectedItems(q, entries, namespace);
  for (const t of s.timestamps) observe(t);
  const text = listBody(shape, s.items);
  if (cycle === null) return text;
  // Kept as the bytes it is written as: a hit is then written without encoding it again.
  const body = typeof text === 'string' ? utf8.encode(text) : text;
  cache.set(r.key, { cycle, validUntil: s.validUntil, body, timestamps: s.timestamps });
  return body;
}

/**
 * The ListCache key of a list request, from its text alone: the route (the resource, its version, which
 * list), the negotiated output, the raw query string (selectors and `includeObject` as sent) and the
 * namespace. The same text always reads the same way, so a key found in the cache belongs to a request
 * that parsed and was answered before; a query written differently is only another entry.
 */
function listKey(
  c: Context,
  route: string,
  version: MetricsVersion,
  namespace: string,
  output: Output,
): string {
  const url = c.req.url;
  const q = url.indexOf('?');
  const shape =
    output.as === 'json' || output.as === 'protobuf' ? output.as : `${output.as}/${output.version}`;
  return ListCache.key(namespace, q < 0 ? '' : url.slice(q + 1), `${route}.${version} ${shape}`);
}

export interface ResourceOptions {
  reader: MetricsReader;
  /** The all-pods stream failed after its response started (it can only be aborted). */
  onStreamError: (err: unknown) => void;
}

export function installResources(app: Hono, o: ResourceOptions): string[] {
  const cache = new ListCache();
  return VERSIONS.flatMap((version) => installVersion(app, o, version, cache));
}

/** One version's routes; every version serves the same stored items. */
function installVersion(app: Hono, o: ResourceOptions, version: MetricsVersion, cache: ListCache): string[] {
  const { reader } = o;
  // metrics_server_api_metric_freshness_seconds, observed for every object returned; a namespace's
  // items served as bytes observe their timestamps at once.
  const observe = freshnessObserver(app);
  const observeAll = freshnessBatchObserver(app);
  const paths = resourcePaths(version);

  /** A namespace's pods list: the namespaced route, and the all-namespaces one narrowed to a namespace. */
  const namespaceList = async (
    query: QueryParam,
    namespace: string,
    q: ListQuery,
    output: Output,
    key: string,
  ) => {
    const list: KeptList = {
      read: () => namespaceEntries(reader, namespace, q),
      cycle: reader.namespaceCycle && (() => reader.namespaceCycle!(namespace)),
      q,
      shape: listShape('PodMetrics', version, output, includeOf(query, output)),
      namespace,
      key,
    };
    return bodyResponse(await keptListBody(reader, cache, list, observe), output);
  };

  app.get(paths.nodes, async (c) => {
    const output = negotiated(c, true);
    const key = listKey(c, 'nodes', version, '', output);
    const kept = announcedHit(reader, cache, key, observe);
    if (kept !== null) return bodyResponse(kept, output);
    const query = queryOf(c);
    const q = listQuery(query, 'nodes');
    // Nodes have no namespace: `metadata.namespace=` selects them all, any other value none.
    const list: KeptList = {
      read: () => reader.nodes(),
      cycle: reader.nodesCycle && (() => reader.nodesCycle!()),
      q,
      shape: listShape('NodeMetrics', version, output, includeOf(query, output)),
      namespace: '',
      key,
    };
    return bodyResponse(await keptListBody(reader, cache, list, observe), output);
  });

  app.get(paths.node, async (c) => {
    const output = negotiated(c, true);
    checkObjectOutput('NodeMetrics', output);
    const include = includeOf(queryOf(c), output);
    const name = c.req.param('name');
    const e = await reader.node(name);
    // metrics-server's two 404s: the node lister's, and "listed but no servable metrics".
    if (e === null) throw new StatusError(notFound('', 'node', name));
    if (e.item === '') throw new StatusError(notFound(GROUP, 'nodemetrics', name));
    observe(e.timestamp);
    return bodyResponse(objectBody('NodeMetrics', version, output, include, e.item), output);
  });

  app.get(paths.namespacePods, async (c) => {
    const output = negotiated(c, true);
    const namespace = c.req.param('namespace');
    const key = listKey(c, 'namespace-pods', version, namespace, output);
    const kept = announcedHit(reader, cache, key, observe);
    if (kept !== null) return bodyResponse(kept, output);
    const query = queryOf(c);
    const q = listQuery(query, 'pods');
    return namespaceList(query, namespace, q, output, key);
  });

  app.get(paths.allPods, async (c) => {
    const output = negotiated(c, true);
    const query = queryOf(c);
    const q = listQuery(query, 'pods');
    // `kubectl top pod -A --field-selector metadata.namespace=x` needs one namespace, not every one.
    const only = q.fields?.exactMatch('metadata.namespace');
    if (only !== undefined)
      return namespaceList(query, only, q, output, listKey(c, 'pods', version, only, output));
    const shape = listShape('PodMetrics', version, output, includeOf(query, output));
    // The stream asks only about entries with metrics: each one selected is returned.
    const select = (e: StoredEntry, ns: string) => {
      if (!selected(q, e, ns)) return false;
      observe(e.timestamp);
      return true;
    };
    // Nothing selects: namespaces whose items are stored in name order come as their bytes.
    const every = q.labels === null && q.fields === null;
    const body = await streamList(
      shape,
      reader.allPods({ ordered: every }),
      select,
      o.onStreamError,
      observeAll,
    );
    return bodyResponse(body, output);
  });

  app.get(paths.pod, async (c) => {
    const output = negotiated(c, true);
    checkObjectOutput('PodMetrics', output);
    const include = includeOf(queryOf(c), output);
    const namespace = c.req.param('namespace');
    const name = c.req.param('name');
    const e = await reader.pod(namespace, name);
    // Missing (or not Running) is the pod lister's 404; Running without metrics names "ns/name".
    if (e === null) throw new StatusError(notFound('', 'pods', name));
    if (e.item === '') throw new StatusError(notFound(GROUP, 'podmetrics', `${namespace}/${name}`));
    observe(e.timestamp);
    return bodyResponse(objectBody('PodMetrics', version, output, include, e.item), output);
  });

  return Object.values(paths);
}
