/**
 * WATCH (`?watch=true`) as kube-apiserver's watch cache serves it over HTTP: a chunked 200 whose body is
 * one JSON watch event per line (`{"type":"ADDED","object":{…}}`).
 *
 * - From a resourceVersion: every change after it, in revision order; from one older than the history
 *   holds, one ERROR event with a 410 Expired Status ("too old resource version: N (M)") and the end.
 * - From nothing or `0`: synthetic ADDED events for the current objects first (key order); with
 *   `sendInitialEvents=true&resourceVersionMatch=NotOlderThan` a BOOKMARK marked
 *   `k8s.io/initial-events-end` after them.
 * - Selectors as on the list, with the watch cache's rule for an object that moves in or out of them:
 *   ADDED when it starts to match, DELETED (its old state, at the change's revision) when it stops.
 * - `allowWatchBookmarks=true`: a BOOKMARK about every minute and 2 s before the timeout, carrying the
 *   cluster's latest resourceVersion (everything up to it has been sent).
 * - `timeoutSeconds`: the server ends the watch then; without it, after 30–60 minutes (kube-apiserver's
 *   `--min-request-timeout` 1800 s, times 1 to 2).
 * - Table and PartialObjectMetadata per event, as for lists (the Table's columns in the first one only).
 * - A watcher that does not read falls behind; past a bound the server ends its watch (as the watch
 *   cache closes unresponsive watchers) and the client starts again from the last resourceVersion it saw.
 *
 * Deviations: the deprecated `/api/v1/watch/…` paths are not served; a watch from a future
 * resourceVersion simply waits for changes after it; a BOOKMARK's object has only kind, apiVersion and
 * metadata (clients read its resourceVersion), and in a Table watch it is a Table without rows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../shared/log.ts';
import { readCollectionRequest } from './collections.ts';
import type { Change, History } from './history.ts';
import { DONE, type Done, drained, sendStatus } from './http-util.ts';
import type { Kind, Source } from './kinds.ts';
import { parseWatchPlan } from './list-options.ts';
import type { Representation } from './negotiation.ts';
import { createRng } from './random.ts';
import type { Include, Renderer } from './render.ts';
import * as S from './status.ts';

export interface WatchOptions {
  history: History;
  render: Renderer;
  now: () => number;
  seed: string | number;
  /** BOOKMARK period; default 60 s (the watch cache's bookmark frequency). */
  bookmarkIntervalMs?: number;
  /** The default timeout's base; default 1800 s (`--min-request-timeout`). */
  minRequestTimeoutMs?: number;
  /** Changes a watcher may have unsent before its watch is ended; default 100,000. */
  maxPending?: number;
  /** How long a watch not older than a future resourceVersion waits for it (3 s). */
  freshnessWaitMs?: number;
  logger?: Logger;
}

interface Pending {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** A ready line, or the object to write. */
  line?: string;
  object?: object;
  /** Counts toward the bound on unsent changes. */
  change?: boolean;
}

export interface Watches {
  serve<T extends object>(
    req: IncomingMessage,
    res: ServerResponse,
    source: Source<T>,
    namespace: string | undefined,
    query: URLSearchParams,
  ): Promise<Done>;
  /** Watches open now. */
  readonly active: number;
  /** Sends every watcher that asked for bookmarks one now. */
  sendBookmarks(): void;
  /** Ends every watch (clients see the server close them, and watch again). */
  closeAll(): void;
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';
const CHUNK = 256;

export function createWatches(opts: WatchOptions): Watches {
  const { history, render, now } = opts;
  const bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
  const minRequestTimeoutMs = opts.minRequestTimeoutMs ?? 1_800_000;
  const maxPending = opts.maxPending ?? 100_000;
  const freshnessWaitMs = opts.freshnessWaitMs ?? 3000;
  const rng = createRng(`${opts.seed}/watch-timeouts`);
  const open = new Set<Watcher>();

  interface Watcher {
    bookmark(): void;
    end(): void;
    wantsBookmarks: boolean;
  }

  async function serve<T extends object>(
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
    const plan = parseWatchPlan(query);
    if ('code' in plan) return sendStatus(res, plan);

    let fresh = true;
    if (plan.notOlderThan !== undefined) {
      const deadline = Date.now() + freshnessWaitMs;
      while (history.resourceVersion < plan.notOlderThan && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25));
      fresh = history.resourceVersion >= plan.notOlderThan;
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const line = (type: Pending['type'], objectJson: string) => `{"type":"${type}","object":${objectJson}}\n`;
    if (!fresh) {
      res.end(
        line('ERROR', JSON.stringify(S.tooLargeResourceVersion(plan.notOlderThan!, history.resourceVersion))),
      );
      return DONE;
    }
    let backlog: Change[] = [];
    if (plan.from !== 'latest') {
      const since = history.since(kind.resource, plan.from);
      if ('expired' in since) {
        res.end(line('ERROR', JSON.stringify(S.tooOldResourceVersion(plan.from, since.oldest))));
        return DONE;
      }
      backlog = since;
    }

    const prefix = namespace === undefined || !kind.namespaced ? '' : `${namespace}/`;
    const passes = (o: T) =>
      (prefix === '' || kind.key(o).startsWith(prefix)) &&
      selectors.labels.matches(kind.labels(o)) &&
      selectors.fields.matches((f) => kind.field(o, f));

    const queue: Pending[] = [];
    let live = 0;
    let ended = false;
    let scheduled = false;
    let waitingForDrain = false;
    let headersSent = false;
    /** Initial objects changed in place before being written: their version at the start. */
    const asOf = new Map<string, T>();
    let initialLeft = 0;
    const encode = objectEncoder(render, kind, rep, include, now, () => {
      const first = !headersSent && query.get('noHeaders') !== 'true';
      headersSent = true;
      return !first;
    });

    let unsubscribe: () => void = () => {};
    const enqueue = (p: Pending) => {
      queue.push(p);
      if (p.change) live++;
      if (live > maxPending) {
        opts.logger?.info('Ending a watch whose client does not keep up', {
          resource: kind.resource,
          pending: live,
        });
        queue.length = 0;
        end();
        return;
      }
      schedule();
    };
    const onChange = (c: Change) => {
      if (initialLeft > 0 && c.prev !== undefined && !asOf.has(c.key)) asOf.set(c.key, c.prev as T);
      const cur = c.type === 'DELETED' ? false : passes(c.object as T);
      const before = c.prev !== undefined && passes(c.prev as T);
      if (cur && before) enqueue({ type: 'MODIFIED', object: c.object as T, change: true });
      else if (cur) enqueue({ type: 'ADDED', object: c.object as T, change: true });
      else if (before)
        enqueue({
          type: 'DELETED',
          object: c.type === 'DELETED' ? (c.object as T) : kind.freeze(c.prev as T, c.rv),
          change: true,
        });
    };

    const timeoutMs =
      plan.timeoutSeconds > 0 ? plan.timeoutSeconds * 1000 : minRequestTimeoutMs * (1 + rng.next());
    const deadline = Date.now() + timeoutMs;
    const timeout = setTimeout(() => end(), timeoutMs);
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const scheduleBookmark = () => {
      if (!plan.bookmarks || ended) return;
      const at = Math.min(Date.now() + bookmarkIntervalMs, deadline - 2000);
      if (at <= Date.now()) return;
      bookmarkTimer = setTimeout(() => {
        watcher.bookmark();
        scheduleBookmark();
      }, at - Date.now());
    };

    const write = async () => {
      scheduled = false;
      while (queue.length > 0 && !res.destroyed) {
        const parts: string[] = [];
        for (const p of queue.splice(0, CHUNK)) {
          if (p.change) live--;
          if (p.line !== undefined) {
            parts.push(p.line);
            continue;
          }
          let o = p.object as T;
          if (initialLeft > 0 && !p.change) {
            initialLeft--;
            o = asOf.get(kind.key(o)) ?? o;
            if (initialLeft === 0) asOf.clear();
          }
          parts.push(line(p.type, encode(o)));
        }
        if (!res.write(parts.join(''))) {
          waitingForDrain = true;
          await drained(res);
          waitingForDrain = false;
        }
      }
      if (ended && !res.destroyed && !res.writableEnded) res.end();
    };
    const schedule = () => {
      if (scheduled || waitingForDrain) return;
      scheduled = true;
      setImmediate(() => void write());
    };

    const end = () => {
      if (ended) return;
      ended = true;
      cleanup();
      if (!scheduled && !waitingForDrain && !res.writableEnded) res.end();
    };
    const cleanup = () => {
      unsubscribe();
      clearTimeout(timeout);
      if (bookmarkTimer) clearTimeout(bookmarkTimer);
      open.delete(watcher);
    };
    const watcher: Watcher = {
      wantsBookmarks: plan.bookmarks,
      bookmark() {
        if (!ended)
          enqueue({ type: 'BOOKMARK', line: bookmarkLine(kind, rep, history.resourceVersion, false) });
      },
      end,
    };
    // No await since reading the backlog, none between the current objects and subscribing: nothing is
    // missed, nothing doubled.
    for (const c of backlog) onChange(c);
    if (ended) return DONE; // the backlog alone was more than a watcher may hold
    if (plan.initialEvents) {
      const { keys, get } = source.candidates(namespace, selectors.fields);
      for (const key of keys) {
        const o = get(key);
        if (o && passes(o)) queue.push({ type: 'ADDED', object: o });
      }
      initialLeft = queue.length;
      if (plan.initialEventsEnd)
        queue.push({ type: 'BOOKMARK', line: bookmarkLine(kind, rep, history.resourceVersion, true) });
    }
    unsubscribe = history.subscribe(kind.resource, onChange);
    open.add(watcher);
    res.on('close', () => {
      ended = true;
      cleanup();
    });
    scheduleBookmark();
    schedule();
    return DONE;
  }

  return {
    serve,
    get active() {
      return open.size;
    },
    sendBookmarks() {
      for (const w of open) if (w.wantsBookmarks) w.bookmark();
    },
    closeAll() {
      for (const w of [...open]) w.end();
    },
  };
}

/** How an event's object is written; `noHeaders()` says whether a Table may leave out its columns. */
function objectEncoder<T extends object>(
  render: Renderer,
  kind: Kind<T>,
  rep: Representation,
  include: Include,
  now: () => number,
  noHeaders: () => boolean,
): (o: T) => string {
  if (rep.kind === 'object') return (o) => render.object(kind, o);
  if (rep.kind === 'partial') return (o) => render.partial(kind, o, rep.apiVersion);
  return (o) =>
    `{"kind":"Table","apiVersion":"${rep.apiVersion}","metadata":{"resourceVersion":"${kind.version(o)}"},"columnDefinitions":${render.columns(kind, noHeaders())},"rows":[${render.tableRow(kind, o, include, rep.apiVersion, now())}]}`;
}

/** A BOOKMARK: an empty object of the kind carrying only the resourceVersion (and the end mark). */
function bookmarkLine<T extends object>(
  kind: Kind<T>,
  rep: Representation,
  rv: number,
  initialEnd: boolean,
): string {
  const metadata: Record<string, unknown> = { resourceVersion: String(rv), creationTimestamp: null };
  if (initialEnd) metadata.annotations = { [INITIAL_EVENTS_END]: 'true' };
  let object: Record<string, unknown>;
  if (rep.kind === 'partial')
    object = { kind: 'PartialObjectMetadata', apiVersion: rep.apiVersion, metadata };
  else if (rep.kind === 'table')
    object = {
      kind: 'Table',
      apiVersion: rep.apiVersion,
      metadata: { resourceVersion: String(rv) },
      columnDefinitions: null,
      rows: [],
    };
  else object = { kind: kind.kind, apiVersion: kind.apiVersion, metadata };
  return `{"type":"BOOKMARK","object":${JSON.stringify(object)}}\n`;
}
