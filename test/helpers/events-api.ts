/**
 * A small model of kube-apiserver's core/v1 Events collection for the events function's tests, until
 * the development API server serves Events: resourceVersions from one counter, LIST with limit and
 * continue (items without kind/apiVersion, as the API server sends them), WATCH from a resourceVersion
 * with the history after it, BOOKMARKs 2 s before the watch's timeout (as k8s.io/apiserver's cacher
 * sends them), and `410 Gone` for a resourceVersion older than the compaction point.
 *
 * The same model is served two ways: `fakeSource()`, the EventSource the reader takes (with a time scale,
 * so a 5-second watch can last 100 ms in a test), and `serveEventsApi()`, real HTTPS with a bearer
 * token, that @kubernetes/client-node talks to.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type EventSource,
  type ListPage,
  ResourceExpired,
  type WatchEvent,
} from '../../functions/events/reader.ts';
import { createCA, issueCertificate } from '../../shared/pki.ts';
import { kubeconfig } from '../../sim/index.ts';

export type Obj = Record<string, unknown> & {
  metadata: { uid: string; resourceVersion: string; name: string; namespace: string; [k: string]: unknown };
};

interface Change {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

type Listener = (c: Change) => void;

export interface NewEvent {
  namespace?: string;
  name?: string;
  reason?: string;
  type?: 'Normal' | 'Warning';
  kind?: string;
  component?: string;
  message?: string;
  /** New style (events.k8s.io): eventTime set, lastTimestamp null. */
  newStyle?: boolean;
  extra?: Record<string, unknown>;
}

const clone = <T>(o: T): T => structuredClone(o);

export class EventStore {
  #rv = 1000;
  readonly #events = new Map<string, Obj>();
  readonly #history: Change[] = [];
  #compactedBelow = 0;
  readonly #listeners = new Set<Listener>();
  /** Watch and list requests, for assertions: `list limit=…` / `watch rv=…`. */
  readonly requests: string[] = [];
  /** Make the next list (page) or watch fail with this HTTP status (once). */
  failNext: { list?: number; watch?: number } = {};

  get resourceVersion(): string {
    return String(this.#rv);
  }

  get size(): number {
    return this.#events.size;
  }

  #commit(type: Change['type'], object: Obj): Obj {
    this.#rv++;
    object.metadata.resourceVersion = String(this.#rv);
    const c: Change = { rv: this.#rv, type, object: clone(object) };
    this.#history.push(c);
    for (const l of this.#listeners) l(c);
    return clone(object);
  }

  /** Creates an event (old style unless `newStyle`), as a kubelet or the scheduler would. */
  add(e: NewEvent = {}): Obj {
    const uid = randomUUID();
    const now = new Date(Date.UTC(2026, 0, 1, 12, 0, this.#rv % 60)).toISOString().replace('.000Z', 'Z');
    const namespace = e.namespace ?? 'default';
    const name = e.name ?? `pod-${this.#rv}.${uid.slice(0, 8)}`;
    const object: Obj = {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace,
        uid,
        resourceVersion: '',
        creationTimestamp: now,
        managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: now }],
      },
      involvedObject: { kind: e.kind ?? 'Pod', namespace, name: name.split('.')[0], apiVersion: 'v1' },
      reason: e.reason ?? 'Pulled',
      message: e.message ?? 'Container image "nginx:1.27" already present on machine',
      source: { component: e.component ?? 'kubelet', host: 'node-1' },
      type: e.type ?? 'Normal',
      ...(e.newStyle
        ? {
            firstTimestamp: null,
            lastTimestamp: null,
            eventTime: now.replace('Z', '.123456Z'),
            reportingComponent: e.component ?? 'default-scheduler',
            reportingInstance: 'sched-1',
          }
        : { firstTimestamp: now, lastTimestamp: now, count: 1 }),
      ...e.extra,
    };
    this.#events.set(uid, object);
    return this.#commit('ADDED', object);
  }

  /** A repeat folded into the event: count (old style) or series.count (new style) bumped. */
  bump(uid: string): Obj {
    const o = this.#events.get(uid);
    if (!o) throw new Error(`no event ${uid}`);
    const when = new Date(Date.UTC(2026, 0, 1, 13, 0, this.#rv % 60)).toISOString().replace('.000Z', 'Z');
    if (o.eventTime !== undefined) {
      const series = (o.series as { count: number } | undefined) ?? { count: 1 };
      o.series = { count: series.count + 1, lastObservedTime: when.replace('Z', '.654321Z') };
    } else {
      o.count = (o.count as number) + 1;
      o.lastTimestamp = when;
    }
    return this.#commit('MODIFIED', o);
  }

  /** A write that changes nothing but the resourceVersion (a storage migration rewrite). */
  touch(uid: string): Obj {
    const o = this.#events.get(uid);
    if (!o) throw new Error(`no event ${uid}`);
    return this.#commit('MODIFIED', o);
  }

  /** The event's TTL ran out. */
  remove(uid: string): void {
    const o = this.#events.get(uid);
    if (!o) throw new Error(`no event ${uid}`);
    this.#events.delete(uid);
    this.#commit('DELETED', o);
  }

  /** Something else in the cluster was written: the resourceVersion moves, no Event changes. */
  elsewhere(): void {
    this.#rv++;
  }

  /** etcd compaction: a watch from before now is answered 410 Gone. */
  compact(): void {
    this.#compactedBelow = this.#rv;
    this.#history.length = 0;
  }

  list(o: { limit: number; continue?: string }): ListPage {
    this.requests.push(`list limit=${o.limit}${o.continue ? ' continue' : ''}`);
    if (this.failNext.list !== undefined) {
      const status = this.failNext.list;
      delete this.failNext.list;
      if (status === 410) throw new ResourceExpired('The provided continue parameter is too old');
      throw new Error(`HTTP ${status}`);
    }
    let listRv = this.#rv;
    let offset = 0;
    if (o.continue) {
      const [rv, at] = Buffer.from(o.continue, 'base64url').toString().split(':').map(Number);
      if ((rv ?? 0) < this.#compactedBelow)
        throw new ResourceExpired('The provided continue parameter is too old');
      listRv = rv!;
      offset = at!;
    }
    // The state as of listRv: current objects minus what changed after it (good enough for tests
    // that do not change events while paging, and exact when nothing changed).
    const items = [...this.#events.values()]
      .filter((e) => Number(e.metadata.resourceVersion) <= listRv)
      .sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace}/${b.metadata.name}`,
        ),
      );
    const page = items
      .slice(offset, offset + o.limit)
      .map(({ kind: _k, apiVersion: _a, ...rest }) => clone(rest));
    const next =
      offset + o.limit < items.length
        ? Buffer.from(`${listRv}:${offset + o.limit}`).toString('base64url')
        : '';
    return { items: page, resourceVersion: String(listRv), continue: next };
  }

  /**
   * The changes after `from`, then live ones, a bookmark `bookmarkBeforeMs` before the end, and the end
   * after `timeoutMs`; throws ResourceExpired when `from` is compacted.
   */
  watch(
    from: string,
    timeoutMs: number,
    bookmarkBeforeMs: number,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent[]> {
    this.requests.push(`watch rv=${from}`);
    if (this.failNext.watch !== undefined) {
      const status = this.failNext.watch;
      delete this.failNext.watch;
      if (status === 410) throw new ResourceExpired('too old resource version');
      throw new Error(`HTTP ${status}`);
    }
    const rv = Number(from);
    if (rv < this.#compactedBelow)
      throw new ResourceExpired(`too old resource version: ${from} (${this.#compactedBelow})`);
    const store = this;
    return {
      async *[Symbol.asyncIterator]() {
        let queue: WatchEvent[] = store.#history
          .filter((c) => c.rv > rv)
          .map((c) => ({ type: c.type, object: clone(c.object) }));
        let wake: (() => void) | null = null;
        let ended = false;
        const listener: Listener = (c) => {
          queue.push({ type: c.type, object: clone(c.object) });
          wake?.();
        };
        store.#listeners.add(listener);
        const end = () => {
          ended = true;
          wake?.();
        };
        const bookmark = setTimeout(
          () => {
            queue.push({ type: 'BOOKMARK', resourceVersion: store.resourceVersion });
            wake?.();
          },
          Math.max(0, timeoutMs - bookmarkBeforeMs),
        );
        const timer = setTimeout(end, timeoutMs);
        signal.addEventListener('abort', end, { once: true });
        try {
          for (;;) {
            if (queue.length > 0) {
              const chunk = queue;
              queue = [];
              yield chunk;
              continue;
            }
            if (ended) return;
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
          }
        } finally {
          clearTimeout(bookmark);
          clearTimeout(timer);
          signal.removeEventListener('abort', end);
          store.#listeners.delete(listener);
        }
      },
    };
  }
}

/** The store as the reader's EventSource; `secondMs` scales watch timeouts (1000 = real time). */
export function fakeSource(store: EventStore, secondMs = 1000): EventSource {
  return {
    list: async (o) => store.list(o),
    watch: (o) => {
      // As the client-node source does: a failure to start the watch surfaces when it is iterated.
      try {
        return store.watch(o.resourceVersion, o.timeoutSeconds * secondMs, 2 * secondMs, o.signal);
      } catch (err) {
        return {
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
        };
      }
    },
  };
}

export interface EventsApi {
  url: string;
  caPem: string;
  token: string;
  kubeconfigYaml: string;
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

/** The store over HTTPS at 127.0.0.1: `/api/v1/events` and `/api/v1/namespaces/NS/events`. */
export async function serveEventsApi(store: EventStore): Promise<EventsApi> {
  const ca = await createCA('events-api-test-ca');
  const cert = await issueCertificate(ca, {
    commonName: '127.0.0.1',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const token = randomUUID();
  const open = new Set<ServerResponse>();
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    void handle(store, token, req, res, open);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    caPem: ca.certPem,
    token,
    kubeconfigYaml: kubeconfig(url, ca.certPem, 'events-reader', token),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of open) r.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  store: EventStore,
  token: string,
  req: IncomingMessage,
  res: ServerResponse,
  open: Set<ServerResponse>,
): Promise<void> {
  const json = (code: number, body: unknown) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.headers.authorization !== `Bearer ${token}`)
    return json(401, status(401, 'Unauthorized', 'Unauthorized'));
  const u = new URL(req.url ?? '/', 'https://x');
  const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?events$/.exec(u.pathname);
  if (!m || req.method !== 'GET')
    return json(404, status(404, 'NotFound', 'the server could not find the requested resource'));
  const namespace = m[1];
  const mine = (o: unknown) => namespace === undefined || (o as Obj).metadata.namespace === namespace;
  const q = u.searchParams;
  if (q.get('watch') !== 'true') {
    try {
      const page = store.list({ limit: Number(q.get('limit') ?? 500), continue: q.get('continue') ?? '' });
      return json(200, {
        kind: 'EventList',
        apiVersion: 'v1',
        metadata: {
          resourceVersion: page.resourceVersion,
          ...(page.continue ? { continue: page.continue } : {}),
        },
        items: page.items.filter(mine),
      });
    } catch (err) {
      if (err instanceof ResourceExpired) return json(410, status(410, 'Expired', err.message));
      return json(500, status(500, 'InternalError', String(err)));
    }
  }
  const timeoutMs = Number(q.get('timeoutSeconds') ?? 1800) * 1000;
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  open.add(res);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders(); // as the API server does: a watch's response begins at once
  const line = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
  try {
    for await (const chunk of store.watch(q.get('resourceVersion') ?? '0', timeoutMs, 2000, ac.signal)) {
      for (const e of chunk) {
        if (e.type === 'BOOKMARK') {
          if (bookmarks)
            line('BOOKMARK', {
              kind: 'Event',
              apiVersion: 'v1',
              metadata: { resourceVersion: e.resourceVersion },
            });
        } else if (mine(e.object)) line(e.type, e.object);
      }
    }
  } catch (err) {
    // As the API server does: the watch starts, then an ERROR event carries the Status.
    if (err instanceof ResourceExpired) line('ERROR', status(410, 'Expired', err.message));
    else line('ERROR', status(500, 'InternalError', String(err)));
  } finally {
    open.delete(res);
    res.end();
  }
}
