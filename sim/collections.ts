/**
 * The read side of the development API server's core/v1 objects: GET and LIST with label and field
 * selectors, limit/continue pagination in etcd key order, resourceVersion semantics (list-options.ts:
 * the latest revision, any, not older than N, exactly N), and the three representations clients ask for
 * (the object, PartialObjectMetadata, Table).
 *
 * A list reads one revision: the first page fixes it and its continue token carries it, so every page
 * shows the objects as they were then (the current objects with later changes undone from the history),
 * and a token older than the history's window gets 410 Expired with a token to go on at the latest
 * revision, as etcd3 answers. Lists are streamed; an object that changes while its page is being written
 * is written as it was.
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
import type { History } from './history.ts';
import { DONE, type Done, sendBody, sendStatus, streamChunks } from './http-util.ts';
import type { Candidates, Kind, Source } from './kinds.ts';
import { continueAfter, encodeContinue, type ListPlan, parseListPlan } from './list-options.ts';
import { negotiate, type Representation } from './negotiation.ts';
import { createRenderer, type Include, includeObject, type Renderer } from './render.ts';
import { lowerBound } from './sorted.ts';
import * as S from './status.ts';

type Json = Record<string, unknown>;

export interface CollectionsOptions {
  history: History;
  now: () => number;
  /** How long a read not older than a future resourceVersion waits for it (kube-apiserver: 3 s). */
  freshnessWaitMs?: number;
}

export function createCollections(opts: CollectionsOptions) {
  const { history, now } = opts;
  const render = createRenderer();
  const freshnessWaitMs = opts.freshnessWaitMs ?? 3000;

  function tableHead<T extends object>(
    kind: Kind<T>,
    apiVersion: string,
    metadata: Json,
    query: URLSearchParams,
  ) {
    return `{"kind":"Table","apiVersion":"${apiVersion}","metadata":${JSON.stringify(metadata)},"columnDefinitions":${render.columns(kind, query.get('noHeaders') === 'true')},"rows":[`;
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
    if (!o) return sendStatus(res, S.notFound(kind.resource, name, kind.group));
    switch (rep.kind) {
      case 'object':
        return sendBody(res, 200, render.object(kind, o));
      case 'partial':
        if (rep.list) {
          return sendStatus(
            res,
            S.notAcceptable(
              `you requested PartialObjectMetadataList, but the requested object is not a list (*${goPackage(kind)}.${kind.kind})`,
            ),
          );
        }
        return sendBody(res, 200, render.partial(kind, o, rep.apiVersion));
      case 'table': {
        const include = includeObject(query);
        if (typeof include !== 'string') return sendStatus(res, include);
        const head = tableHead(kind, rep.apiVersion, { resourceVersion: String(kind.version(o)) }, query);
        return sendBody(res, 200, `${head}${render.tableRow(kind, o, include, rep.apiVersion, now())}]}`);
      }
    }
  }

  /** LIST at the revision the request asks for, filtered by the selectors, one page of `limit`. */
  async function list<T extends object>(
    req: IncomingMessage,
    res: ServerResponse,
    source: Source<T>,
    namespace: string | undefined,
    query: URLSearchParams,
  ): Promise<Done> {
    const { kind } = source;
    const request = readCollectionRequest(req, res, kind, query);
    if (!request) return DONE;
    const { rep, selectors, include } = request;
    if (rep.kind === 'partial' && !rep.list) {
      return sendStatus(
        res,
        S.notAcceptable(
          `you requested PartialObjectMetadata, but the requested object is a list (*${goPackage(kind)}.${kind.listKind})`,
        ),
      );
    }
    const plan = parseListPlan(query);
    if ('code' in plan) return sendStatus(res, plan);

    if (plan.notOlderThan !== undefined && !(await reached(plan.notOlderThan))) {
      return sendStatus(res, S.tooLargeResourceVersion(plan.notOlderThan, history.resourceVersion));
    }
    const read = readAt(source, namespace, selectors.fields, plan);
    if ('code' in read) return sendStatus(res, read);
    const { rv, keys, extra, get: lookup, frozen } = read;

    const prefix = namespace === undefined || !kind.namespaced ? '' : `${namespace}/`;
    const inScope = (key: string) => prefix === '' || key.startsWith(prefix);
    const items: T[] = [];
    // Two sorted runs: the current keys, and keys deleted since the revision read (none at the latest).
    let i = lowerBound(keys, plan.start);
    let j = lowerBound(extra, plan.start);
    let lastKey = '';
    const limit = plan.limit;
    while (i < keys.length || j < extra.length) {
      const fromExtra = j < extra.length && (i >= keys.length || extra[j]! < keys[i]!);
      const key = fromExtra ? extra[j++]! : keys[i++]!;
      if (!inScope(key)) continue;
      const o = lookup(key);
      if (!o) continue;
      if (!selectors.labels.matches(kind.labels(o))) continue;
      if (!selectors.fields.matches((f) => kind.field(o, f))) continue;
      items.push(o);
      lastKey = key;
      if (limit > 0 && items.length === limit) break;
    }
    const metadata: Json = { resourceVersion: String(rv) };
    if (limit > 0 && items.length === limit && (i < keys.length || j < extra.length)) {
      metadata.continue = continueAfter(rv, lastKey);
      // kube-apiserver counts what is left only when no selector filters it.
      if (selectors.labels.empty && selectors.fields.empty) {
        let remaining = extra.length - j;
        for (let k = i; k < keys.length; k++) if (inScope(keys[k]!)) remaining++;
        metadata.remainingItemCount = remaining;
      }
    }

    const t = now();
    let head: string;
    let write: (o: T) => string;
    if (rep.kind === 'table') {
      head = tableHead(kind, rep.apiVersion, metadata, query);
      write = (o) => render.tableRow(kind, o, include, rep.apiVersion, t);
    } else if (rep.kind === 'partial') {
      head = `{"kind":"PartialObjectMetadataList","apiVersion":"${rep.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[`;
      write = (o) => render.partial(kind, o, rep.apiVersion);
    } else {
      head = `{"kind":"${kind.listKind}","apiVersion":"${kind.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[`;
      write = (o) => render.object(kind, o);
    }
    // Objects that change in place while the page is written are written as they were at `rv`.
    const asOf = new Map<string, T>();
    const off = history.subscribe(kind.resource, (c) => {
      if (c.prev !== undefined && !asOf.has(c.key)) asOf.set(c.key, c.prev as T);
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const asAt = (o: T) => {
      const key = kind.key(o);
      return frozen(key) ? o : (asOf.get(key) ?? o);
    };
    void streamChunks(res, head, items, (o) => write(asAt(o)), ']}').finally(off);
    return DONE;
  }

  /** Which objects a list at the plan's revision sees. */
  function readAt<T extends object>(
    source: Source<T>,
    namespace: string | undefined,
    fs: FieldSelector,
    plan: ListPlan,
  ):
    | {
        rv: number;
        keys: readonly string[];
        extra: readonly string[];
        get: (k: string) => T | undefined;
        /** Whether the object `get` gives for a key is a frozen past version (not the live one). */
        frozen: (k: string) => boolean;
      }
    | S.Status {
    const current = history.resourceVersion;
    const { keys, get } = source.candidates(namespace, fs) as Candidates<T>;
    if (plan.at === 'latest' || plan.at === current)
      return { rv: current, keys, extra: [], get, frozen: () => false };
    if (plan.at > current) return S.tooLargeResourceVersion(plan.at, current);
    const overlay = history.overlay<T>(source.kind.resource, plan.at);
    if ('expired' in overlay) {
      return plan.fromContinue
        ? S.expired(S.CONTINUE_EXPIRED, encodeContinue(-1, plan.start))
        : S.expired(S.LIST_EXPIRED);
    }
    // The overlay grows as changes arrive; this page reads it as it is now.
    const then = new Map(overlay);
    const extra: string[] = [];
    for (const [k, v] of then) if (v !== null && get(k) === undefined) extra.push(k);
    extra.sort();
    return {
      rv: plan.at,
      keys,
      extra,
      get: (k) => {
        const v = then.get(k);
        return v === undefined ? get(k) : (v ?? undefined);
      },
      frozen: (k) => then.has(k),
    };
  }

  /** Waits (a little) until the cluster has reached `rv`. */
  async function reached(rv: number): Promise<boolean> {
    const deadline = Date.now() + freshnessWaitMs;
    while (history.resourceVersion < rv) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  }

  return { get, list, render };
}

export type Collections = ReturnType<typeof createCollections>;

/** The Go package a type name is printed with (`*v1.PodList`). */
const goPackage = <T extends object>(kind: Kind<T>) => kind.apiVersion.split('/').at(-1)!;

/**
 * What a list or a watch reads first: the representation, the selectors, a Table's `includeObject`.
 * Undefined when the request is refused (the answer is sent).
 */
export function readCollectionRequest<T extends object>(
  req: IncomingMessage,
  res: ServerResponse,
  kind: Kind<T>,
  query: URLSearchParams,
):
  | { rep: Representation; selectors: { labels: LabelSelector; fields: FieldSelector }; include: Include }
  | undefined {
  const rep = representationFor(req, res);
  if (!rep) return undefined;
  const selectors = parseSelectors(kind.fields, query);
  if ('code' in selectors) {
    sendStatus(res, selectors);
    return undefined;
  }
  const include = rep.kind === 'table' ? includeObject(query) : 'Metadata';
  if (typeof include !== 'string') {
    sendStatus(res, include);
    return undefined;
  }
  return { rep, selectors, include };
}

export function representationFor(req: IncomingMessage, res: ServerResponse): Representation | undefined {
  const n = negotiate(req.headers.accept, true);
  if ('error' in n) {
    sendStatus(res, S.notAcceptable(n.error));
    return undefined;
  }
  return n.representation;
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

export type { Renderer };
