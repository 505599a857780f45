/**
 * The API server as an informer's ListWatchSource (informer.ts): list pages and a watch of one
 * collection, plain HTTPS with the kubeconfig's credentials and TLS settings (as shared/kube.ts lists
 * pods: client-node's model classes cost more than the request), each object turned into what the
 * caller keeps by `parse` (null: not kept, e.g. a pod without a name).
 */
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { type ListPage, type ListWatchSource, ResourceExpired, type WatchEvent } from './informer.ts';
import { ApiStatusError, type KubeApi } from './kube.ts';

export interface CollectionOptions<T> {
  /** The collection, e.g. `/api/v1/pods`. */
  path: string;
  /** Extra query parameters of both the list and the watch (a field selector). */
  query?: Record<string, string>;
  accept: string;
  parse(object: unknown): T | null;
  /** Objects per list page (500). */
  pageSize?: number;
  /** The server ends each watch after this long, or sooner (300 s; kube-apiserver picks 30–60 min). */
  watchTimeoutSeconds?: number;
  /** A watch that sends nothing (not even a BOOKMARK) for this long is taken for dead (150 s). */
  idleMs?: number;
  listTimeoutMs?: number;
}

interface RawList {
  items?: unknown;
  metadata?: { resourceVersion?: unknown; continue?: unknown };
}

const rvOf = (o: unknown): string => {
  const rv = (o as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : '';
};

export function kubeListWatch<T>(kc: KubeConfig, api: KubeApi, o: CollectionOptions<T>): ListWatchSource<T> {
  const pageSize = o.pageSize ?? 500;
  const query = (extra: Record<string, string>) => new URLSearchParams({ ...o.query, ...extra }).toString();
  return {
    async list(token) {
      const params: Record<string, string> = { limit: String(pageSize) };
      if (token) params.continue = token;
      let body: unknown;
      try {
        body = await api.getJson(`${o.path}?${query(params)}`, o.listTimeoutMs ?? 60_000, o.accept);
      } catch (err) {
        if (err instanceof ApiStatusError && err.status === 410) throw new ResourceExpired(err.message);
        throw err;
      }
      const list = body as RawList;
      if (!Array.isArray(list.items)) throw new Error(`${o.path}: the list has no items array`);
      const items: T[] = [];
      for (const raw of list.items) {
        const item = o.parse(raw);
        if (item !== null) items.push(item);
      }
      const next = list.metadata?.continue;
      return {
        items,
        resourceVersion: rvOf(list),
        continue: typeof next === 'string' ? next : '',
      } satisfies ListPage<T>;
    },

    async watch(resourceVersion, onEvent, signal) {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('no current cluster in the kubeconfig');
      const opts: https.RequestOptions = {};
      // Per watch: an exec or token-file credential may rotate.
      await kc.applyToHTTPSOptions(opts);
      const params = {
        watch: 'true',
        allowWatchBookmarks: 'true',
        resourceVersion,
        timeoutSeconds: String(o.watchTimeoutSeconds ?? 300),
      };
      const url = new URL(`${cluster.server.replace(/\/+$/, '')}${o.path}?${query(params)}`);
      const idleMs = o.idleMs ?? 150_000;
      await new Promise<void>((resolve, reject) => {
        let done = false;
        let idle: NodeJS.Timeout | undefined;
        const finish = (err: Error | null) => {
          if (done) return;
          done = true;
          clearTimeout(idle);
          signal.removeEventListener('abort', abort);
          req.destroy();
          if (err && !signal.aborted) reject(err);
          else resolve();
        };
        const abort = () => finish(null);
        const touch = () => {
          clearTimeout(idle);
          idle = setTimeout(() => finish(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
        };
        const req = https.request(
          url,
          { ...opts, method: 'GET', headers: { ...opts.headers, Accept: o.accept } },
          (res) => {
            if (res.statusCode !== 200) {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let message = text.slice(0, 200);
                try {
                  const m = (JSON.parse(text) as { message?: unknown }).message;
                  if (typeof m === 'string') message = m;
                } catch {
                  // not a Status
                }
                finish(
                  res.statusCode === 410
                    ? new ResourceExpired(message)
                    : new ApiStatusError(res.statusCode ?? 0, message),
                );
              });
              return;
            }
            res.setEncoding('utf8');
            let partial = '';
            res.on('data', (chunk: string) => {
              touch();
              let text = partial + chunk;
              let nl = text.indexOf('\n');
              let start = 0;
              while (nl >= 0 && !done) {
                const line = text.slice(start, nl);
                start = nl + 1;
                nl = text.indexOf('\n', start);
                if (line.trim() === '') continue;
                const err = deliver(line, onEvent, o.parse);
                if (err) finish(err);
              }
              text = text.slice(start);
              partial = text;
            });
            res.on('error', (err) => finish(err));
            res.on('end', () => finish(null));
            res.on('close', () => finish(null));
          },
        );
        req.on('error', (err) => finish(err));
        signal.addEventListener('abort', abort, { once: true });
        if (signal.aborted) abort();
        touch();
        req.end();
      });
    },
  };
}

/** One watch line to `onEvent`; an error (an ERROR event, or a line that is not an event) to end the watch. */
function deliver<T>(
  line: string,
  onEvent: (e: WatchEvent<T>) => void,
  parse: (o: unknown) => T | null,
): Error | null {
  let e: { type?: unknown; object?: unknown };
  try {
    e = JSON.parse(line) as typeof e;
  } catch {
    return new Error(`a watch line is not JSON: ${line.slice(0, 120)}`);
  }
  const resourceVersion = rvOf(e.object);
  switch (e.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const object = parse(e.object);
      // An object we do not keep (no name…) cannot be in the cache either: nothing to do.
      if (object !== null) onEvent({ type: e.type, object, resourceVersion });
      return null;
    }
    case 'BOOKMARK':
      if (resourceVersion !== '') onEvent({ type: 'BOOKMARK', resourceVersion });
      return null;
    case 'ERROR': {
      const status = e.object as { code?: unknown; message?: unknown } | null;
      const message = typeof status?.message === 'string' ? status.message : 'watch ERROR';
      return status?.code === 410
        ? new ResourceExpired(message)
        : new Error(`watch ERROR ${String(status?.code)}: ${message}`);
    }
    default:
      return new Error(`a watch event of unknown type ${String(e.type)}`);
  }
}
