/**
 * The EventSource of reader.ts through @kubernetes/client-node: its Watch for watches (the objects as
 * the API server sent them, no model classes), and a plain GET with the kubeconfig's credentials for
 * LIST pages (shared/kube.ts), so a record's event is the Event exactly as served.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiStatusError, KubeApi, kubeClient } from '../../shared/kube.ts';
import { type EventSource, type ListPage, ResourceExpired, type WatchEvent } from './reader.ts';

/** Events queued and not yet taken by the reader; beyond this the watch is ended (and resumed later). */
const MAX_QUEUED = 20_000;
const LIST_TIMEOUT_MS = 60_000;

export class KubeEventSource implements EventSource {
  readonly #kc: KubeConfig;
  readonly #api: KubeApi;
  readonly #path: string;

  constructor(kc: KubeConfig, namespace: string) {
    this.#kc = kc;
    this.#api = new KubeApi(kc);
    this.#path =
      namespace === '' ? '/api/v1/events' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  }

  async list(o: { limit: number; continue?: string }): Promise<ListPage> {
    const q = new URLSearchParams({ limit: String(o.limit) });
    if (o.continue) q.set('continue', o.continue);
    let body: unknown;
    try {
      body = await this.#api.getJson(`${this.#path}?${q}`, LIST_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof ApiStatusError && err.status === 410) throw new ResourceExpired(err.message);
      throw err;
    }
    const list = body as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
    if (!Array.isArray(list.items) || typeof list.metadata?.resourceVersion !== 'string')
      throw new Error(`${this.#path}: not an EventList (no items or metadata.resourceVersion)`);
    return {
      items: list.items,
      resourceVersion: list.metadata.resourceVersion,
      continue: typeof list.metadata.continue === 'string' ? list.metadata.continue : '',
    };
  }

  watch(o: {
    resourceVersion: string;
    timeoutSeconds: number;
    signal: AbortSignal;
  }): AsyncIterable<WatchEvent[]> {
    const kc = this.#kc;
    const path = this.#path;
    return {
      async *[Symbol.asyncIterator]() {
        const queue = new Chunks();
        const w = new (kubeClient().Watch)(kc);
        // client-node ends a watch after 30 s without data; bookmarks come about once a minute, so a
        // quiet watch would be cut every 30 s. The server's own timeout (plus a margin) bounds it instead.
        (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = (o.timeoutSeconds + 30) * 1000;
        const started = w.watch(
          path,
          { resourceVersion: o.resourceVersion, timeoutSeconds: o.timeoutSeconds, allowWatchBookmarks: true },
          (type: string, object: unknown) => queue.push(type, object),
          (err: unknown) => queue.end(err),
        );
        started.catch((err: unknown) => queue.end(err)); // e.g. an exec credential plugin that failed
        const abort = () =>
          void started.then(
            (c) => c.abort(),
            () => {},
          );
        // client-node resolves once the response has begun; an abort before that ends it as soon as it has.
        const stop = () => {
          queue.end(null);
          abort();
        };
        o.signal.addEventListener('abort', stop, { once: true });
        if (o.signal.aborted) stop();
        try {
          for (;;) {
            const chunk = await queue.take();
            if (chunk === null) return;
            yield chunk;
          }
        } finally {
          o.signal.removeEventListener('abort', stop);
          abort();
        }
      },
    };
  }

  close(): void {
    this.#api.close();
  }
}

/** What the watch callback delivered, until the reader takes it; its end (or failure) last. */
class Chunks {
  #events: WatchEvent[] = [];
  #ended = false;
  #error: unknown = null;
  #wake: (() => void) | null = null;

  push(type: string, object: unknown): void {
    if (this.#ended) return;
    if (type === 'ERROR') {
      const status = object as { code?: unknown; message?: unknown } | null;
      const message = typeof status?.message === 'string' ? status.message : 'watch error';
      this.end(
        status?.code === 410
          ? new ResourceExpired(message)
          : new Error(`watch ERROR ${String(status?.code)}: ${message}`),
      );
      return;
    }
    if (type === 'BOOKMARK') {
      const rv = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
      if (typeof rv === 'string' && rv !== '') this.#events.push({ type: 'BOOKMARK', resourceVersion: rv });
    } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
      this.#events.push({ type, object });
    }
    if (this.#events.length > MAX_QUEUED) {
      // Redis is slower than the API server right now: stop here, the checkpoint resumes it.
      this.end(
        new Error(`the watch delivered more than ${MAX_QUEUED} events faster than they could be journaled`),
      );
    }
    this.#notify();
  }

  end(err: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    const aborted = err instanceof Error && err.name === 'AbortError';
    if (status === 410) this.#error = new ResourceExpired('410 Gone');
    else if (err && !timedOut && !aborted) this.#error = err;
    this.#notify();
  }

  async take(): Promise<WatchEvent[] | null> {
    while (this.#events.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    if (this.#events.length > 0) {
      const out = this.#events;
      this.#events = [];
      return out;
    }
    if (this.#error) throw this.#error;
    return null;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
