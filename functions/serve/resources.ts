/**
 * The metrics.k8s.io/v1beta1 resources: nodes and pods, get and list, answered from the store alone.
 * Order of checks per request, as the generic apiserver's: Accept (406), query (400, then watch 405),
 * then the store. A store failure propagates as StoreUnavailableError (→ 503, app.ts).
 *
 * The hot path, one namespace's pods with a label selector (the HPA's query), is one store read, a label
 * check per entry (the entry's labels text is parsed only when a selector needs it) and a string join of
 * pre-rendered items: no item is parsed, nothing is validated again.
 */
import type { Context, Hono } from 'hono';
import { GROUP, GROUP_VERSION } from '../../shared/metrics-api.ts';
import type { Labels } from '../../shared/selectors/index.ts';
import { parseLabels, type StoredEntry } from '../../shared/store/entry.ts';
import type { MetricsReader } from '../../shared/store/reader.ts';
import { freshnessObserver } from './metrics.ts';
import { negotiate, type Output, SERVED_MEDIA_TYPES } from './negotiate.ts';
import { type IncludeObject, includeObject, type ListQuery, listQuery, type QueryParam } from './query.ts';
import { checkObjectOutput, jsonResponse, listBody, listShape, objectBody } from './render.ts';
import { notAcceptable, notFound, StatusError } from './status.ts';
import { streamList } from './stream.ts';

export const API_BASE = `/apis/${GROUP_VERSION}`;

export const RESOURCE_PATHS = {
  nodes: `${API_BASE}/nodes`,
  node: `${API_BASE}/nodes/:name`,
  allPods: `${API_BASE}/pods`,
  namespacePods: `${API_BASE}/namespaces/:namespace/pods`,
  pod: `${API_BASE}/namespaces/:namespace/pods/:name`,
} as const;

/** The negotiated output of a request, or a 406 Status. */
export function negotiated(c: Context, transforms: boolean): Output {
  const out = negotiate(c.req.header('accept'), transforms);
  if (out === null) throw new StatusError(notAcceptable(SERVED_MEDIA_TYPES));
  return out;
}

const queryOf =
  (c: Context): QueryParam =>
  (name) =>
    c.req.query(name);

const includeOf = (c: Context, output: Output): IncludeObject =>
  output.as === 'Table' ? includeObject(queryOf(c)) : 'Metadata';

/**
 * Parsed labels by their text. The pods of one ReplicaSet carry identical labels, so the HPA's query over
 * a namespace parses a handful of distinct texts, not one per pod. Dropped whole when full (bounded).
 */
const labelsByText = new Map<string, Labels>();
const LABELS_MAX = 4096;

function labelsOfText(text: string): Labels {
  let labels = labelsByText.get(text);
  if (labels === undefined) {
    labels = parseLabels(text);
    if (labelsByText.size >= LABELS_MAX) labelsByText.clear();
    labelsByText.set(text, labels);
  }
  return labels;
}

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

/** The items of one store read that a list returns: only objects with metrics, filtered. */
function selectedItems(
  q: ListQuery,
  entries: readonly StoredEntry[],
  namespace: string,
  observe: (timestampMs: number) => void,
): string[] {
  const items: string[] = [];
  for (const e of entries) {
    if (e.item !== '' && selected(q, e, namespace)) {
      items.push(e.item);
      observe(e.timestamp);
    }
  }
  return items;
}

export interface ResourceOptions {
  reader: MetricsReader;
  /** The all-pods stream failed after its response started (it can only be aborted). */
  onStreamError: (err: unknown) => void;
}

export function installResources(app: Hono, o: ResourceOptions): string[] {
  const { reader } = o;
  // metrics_server_api_metric_freshness_seconds, observed for every object returned.
  const observe = freshnessObserver(app);

  app.get(RESOURCE_PATHS.nodes, async (c) => {
    const output = negotiated(c, true);
    const q = listQuery(queryOf(c), 'nodes');
    const shape = listShape('NodeMetrics', output, includeOf(c, output));
    // Nodes have no namespace: `metadata.namespace=` selects them all, any other value none.
    return jsonResponse(listBody(shape, selectedItems(q, await reader.nodes(), '', observe)));
  });

  app.get(RESOURCE_PATHS.node, async (c) => {
    const output = negotiated(c, true);
    checkObjectOutput('NodeMetrics', output);
    const include = includeOf(c, output);
    const name = c.req.param('name');
    const e = await reader.node(name);
    // metrics-server's two 404s: the node lister's, and "listed but no servable metrics".
    if (e === null) throw new StatusError(notFound('', 'node', name));
    if (e.item === '') throw new StatusError(notFound(GROUP, 'nodemetrics', name));
    observe(e.timestamp);
    return jsonResponse(objectBody('NodeMetrics', output, include, e.item));
  });

  app.get(RESOURCE_PATHS.namespacePods, async (c) => {
    const output = negotiated(c, true);
    const q = listQuery(queryOf(c), 'pods');
    const shape = listShape('PodMetrics', output, includeOf(c, output));
    const namespace = c.req.param('namespace');
    return jsonResponse(
      listBody(shape, selectedItems(q, await namespaceEntries(reader, namespace, q), namespace, observe)),
    );
  });

  app.get(RESOURCE_PATHS.allPods, async (c) => {
    const output = negotiated(c, true);
    const q = listQuery(queryOf(c), 'pods');
    const shape = listShape('PodMetrics', output, includeOf(c, output));
    // `kubectl top pod -A --field-selector metadata.namespace=x` needs one namespace, not every one.
    const only = q.fields?.exactMatch('metadata.namespace');
    if (only !== undefined) {
      return jsonResponse(
        listBody(shape, selectedItems(q, await namespaceEntries(reader, only, q), only, observe)),
      );
    }
    // The stream asks only about entries with metrics: each one selected is returned.
    const select = (e: StoredEntry, ns: string) => {
      if (!selected(q, e, ns)) return false;
      observe(e.timestamp);
      return true;
    };
    const body = await streamList(shape, reader.allPods(), select, o.onStreamError);
    return jsonResponse(body);
  });

  app.get(RESOURCE_PATHS.pod, async (c) => {
    const output = negotiated(c, true);
    checkObjectOutput('PodMetrics', output);
    const include = includeOf(c, output);
    const namespace = c.req.param('namespace');
    const name = c.req.param('name');
    const e = await reader.pod(namespace, name);
    // Missing (or not Running) is the pod lister's 404; Running without metrics names "ns/name".
    if (e === null) throw new StatusError(notFound('', 'pods', name));
    if (e.item === '') throw new StatusError(notFound(GROUP, 'podmetrics', `${namespace}/${name}`));
    observe(e.timestamp);
    return jsonResponse(objectBody('PodMetrics', output, include, e.item));
  });

  return Object.values(RESOURCE_PATHS);
}
