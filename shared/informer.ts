/**
 * A list-then-watch cache of one kind of object, as client-go's informers keep metrics-server's nodes
 * and pods: a long-lived process lists once, then follows a watch from the list's resourceVersion, so
 * each cycle reads the cache instead of listing the whole cluster again.
 *
 * The cache is trusted only while its watch follows on from the list without a gap: a watch the server
 * ends (its timeout) is opened again from the last resourceVersion seen (events, or BOOKMARKs); a 410
 * (the resourceVersion is older than the server's history), a watch that fails or goes silent, or an
 * error in the list leaves the cache unsynced, and the next `items()` lists again (as a fresh process
 * does). So a cycle never works from a cache that missed changes it could not see; between two cycles
 * the watch's own delay (well under a second on a healthy API server) is the only staleness, as with an
 * informer. No HTTP here: the source (kube-watch.ts) does the requests.
 */
import type { Logger } from './log.ts';

export interface ListPage<T> {
  items: T[];
  /** The list's resourceVersion (every page of one list carries its first page's). */
  resourceVersion: string;
  /** '' on the last page. */
  continue: string;
}

export type WatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string };

/** The watch's resourceVersion is older than the API server keeps (HTTP 410, or an ERROR event of 410). */
export class ResourceExpired extends Error {
  override name = 'ResourceExpired';
}

export interface ListWatchSource<T> {
  /** One page of the list (the first with `continueToken` ''). */
  list(continueToken: string): Promise<ListPage<T>>;
  /**
   * A watch from `resourceVersion`: every event to `onEvent`, in order. Resolves when the server ends the
   * watch; rejects (ResourceExpired on a 410) when it fails; ends quietly when `signal` aborts.
   */
  watch(resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export interface InformerOptions<T> {
  /** What the objects are, for logs ("pods", "nodes"). */
  name: string;
  source: ListWatchSource<T>;
  /** The object's identity (namespace/name). */
  key: (item: T) => string;
  log: Logger;
  /** A watch the server ends sooner than this after it opened is opened again only after this long (1 s). */
  minWatchMs?: number;
}

/** What an informer did, for tests and logs. */
export interface InformerStats {
  lists: number;
  watches: number;
  events: number;
}

export class Informer<T> {
  readonly #o: Required<InformerOptions<T>>;
  #items = new Map<string, T>();
  #snapshot: T[] | null = null;
  #resourceVersion = '';
  #synced = false;
  /** The list in progress, shared by concurrent callers. */
  #listing: Promise<void> | null = null;
  /** Aborts the current watch loop (a new list starts another). */
  #watching: AbortController | null = null;
  #closed = false;
  readonly stats: InformerStats = { lists: 0, watches: 0, events: 0 };

  constructor(o: InformerOptions<T>) {
    this.#o = { minWatchMs: 1000, ...o };
  }

  /** True while the cache follows the API server without a gap (the next `items()` will not list). */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Every object, as the API server has it now (up to the watch's delay): the cache when synced, else a
   * new list (which throws what the list threw). The array is shared until the next change: read only.
   */
  async items(): Promise<T[]> {
    if (this.#closed) throw new Error(`the ${this.#o.name} informer is closed`);
    if (!this.#synced) {
      this.#listing ??= this.#list().finally(() => {
        this.#listing = null;
      });
      await this.#listing;
    }
    this.#snapshot ??= [...this.#items.values()];
    return this.#snapshot;
  }

  close(): void {
    this.#closed = true;
    this.#synced = false;
    this.#watching?.abort();
    this.#watching = null;
  }

  async #list(): Promise<void> {
    this.#watching?.abort();
    this.#watching = null;
    const items = new Map<string, T>();
    let token = '';
    let resourceVersion = '';
    do {
      const page = await this.#o.source.list(token);
      if (resourceVersion === '') resourceVersion = page.resourceVersion;
      for (const item of page.items) items.set(this.#o.key(item), item);
      token = page.continue;
    } while (token !== '');
    this.stats.lists++;
    this.#items = items;
    this.#snapshot = null;
    this.#resourceVersion = resourceVersion;
    if (this.#closed) return;
    this.#synced = true;
    const watching = new AbortController();
    this.#watching = watching;
    void this.#follow(watching.signal);
  }

  /** Watches from the cache's resourceVersion until aborted or the watch fails (then: unsynced). */
  async #follow(signal: AbortSignal): Promise<void> {
    const { source, key, log, name, minWatchMs } = this.#o;
    const onEvent = (e: WatchEvent<T>) => {
      if (signal.aborted) return;
      this.#resourceVersion = e.resourceVersion;
      if (e.type === 'BOOKMARK') return;
      this.stats.events++;
      this.#snapshot = null;
      if (e.type === 'DELETED') this.#items.delete(key(e.object));
      else this.#items.set(key(e.object), e.object);
    };
    while (!signal.aborted) {
      const opened = performance.now();
      this.stats.watches++;
      try {
        await source.watch(this.#resourceVersion, onEvent, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#synced = false;
        const expired = err instanceof ResourceExpired;
        log.info(
          expired
            ? `The ${name} watch's resourceVersion expired: the next cycle lists ${name} again`
            : `The ${name} watch failed: the next cycle lists ${name} again`,
          { resourceVersion: this.#resourceVersion, err: err instanceof Error ? err.message : String(err) },
        );
        return;
      }
      // The server ended it (its timeout): on from where it was. A server that ends every watch at once
      // is not asked again and again in a loop.
      const lasted = performance.now() - opened;
      if (lasted < minWatchMs) await new Promise((r) => setTimeout(r, minWatchMs - lasted));
    }
  }
}
