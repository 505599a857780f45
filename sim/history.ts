/**
 * What the development API server remembers of changes, standing in for etcd's revisions and
 * kube-apiserver's watch cache: every change to a watched resource, in revision order, with the object
 * before and after it, kept for a window of time and a number of changes per resource.
 *
 * From it come the three answers that need the past: a watch from a resourceVersion (the changes after
 * it), a list at an older resourceVersion (the current objects with the later changes undone: what a
 * continue token or `resourceVersionMatch=Exact` reads), and `410 Gone` when the past asked for is no
 * longer held. The revision counter itself is the cluster's (`SimCluster.resourceVersion`), shared by
 * every resource as etcd's is.
 *
 * Deviation: one window per resource serves watches, continue tokens and exact lists alike (a real
 * server has a watch cache per resource and a separate, global etcd compaction every 5 minutes).
 */

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change<T = unknown> {
  type: ChangeType;
  /** The revision this change made. */
  rv: number;
  /** The object's key in its resource: `namespace/name`, or `name` for cluster-scoped objects. */
  key: string;
  /** The object as of this change; for DELETED its last state, carrying the deletion's revision. */
  object: T;
  /** The object just before the change (undefined for ADDED). */
  prev: T | undefined;
  /** When it happened (the cluster's clock). */
  atMs: number;
}

export interface HistoryOptions {
  /** The cluster-wide revision counter, read when a resourceVersion is "now". */
  currentRv: () => number;
  now: () => number;
  /** How long changes are kept; default 5 min (kube-apiserver's `--etcd-compaction-interval`). */
  windowMs?: number;
  /** At most this many changes per resource; default 102,400 (the watch cache's largest capacity). */
  maxPerResource?: number;
}

/** The past asked for is gone: kube-apiserver's "too old resource version: <rv> (<oldest>)". */
export interface Expired {
  expired: true;
  /** The oldest resourceVersion still answered. */
  oldest: number;
}

export const DEFAULT_WINDOW_MS = 5 * 60_000;
export const DEFAULT_MAX_PER_RESOURCE = 100 * 1024;

class Log {
  entries: Change[] = [];
  head = 0;
  /** Every change after this revision is held; a read at an older one is too old. */
  compactedRv: number;
  readonly listeners = new Set<(c: Change) => void>();
  /** Overlays by the revision they are at, extended as changes arrive (see History.overlay). */
  readonly overlays = new Map<number, { map: Map<string, unknown>; upTo: number }>();

  constructor(rv: number) {
    this.compactedRv = rv;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Index of the first held change with a revision above `rv`. */
  firstAfter(rv: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  dropThrough(index: number): void {
    if (index <= this.head) return;
    this.compactedRv = Math.max(this.compactedRv, this.entries[index - 1]!.rv);
    this.head = index;
    // Drop the dead prefix now and then, so that trimming stays O(1) per change on average.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    for (const rv of this.overlays.keys()) if (rv < this.compactedRv) this.overlays.delete(rv);
  }
}

export class History {
  readonly #opts: Required<HistoryOptions>;
  readonly #logs = new Map<string, Log>();
  #lastRv: number;
  /** Where a resource with no change recorded yet is answered from: the start, or the last compaction. */
  #floor: number;

  constructor(opts: HistoryOptions) {
    this.#opts = {
      windowMs: DEFAULT_WINDOW_MS,
      maxPerResource: DEFAULT_MAX_PER_RESOURCE,
      ...opts,
    };
    this.#lastRv = opts.currentRv();
    this.#floor = this.#lastRv;
  }

  /** The cluster's current revision: what a list "now" is at. */
  get resourceVersion(): number {
    return this.#opts.currentRv();
  }

  /** Records a change made just now (its revision is the newest) and tells the resource's watchers. */
  record<T>(resource: string, change: Omit<Change<T>, 'atMs'>): void {
    if (change.rv <= this.#lastRv) {
      throw new Error(
        `history: a change to ${resource} "${change.key}" at resourceVersion ${change.rv} is not newer than ${this.#lastRv}`,
      );
    }
    this.#lastRv = change.rv;
    const log = this.#log(resource);
    const full: Change = { ...change, atMs: this.#opts.now() };
    log.entries.push(full);
    for (const l of log.listeners) l(full);
    this.#trim(log);
  }

  /** Calls `listener` with every change to `resource` from now on, synchronously and in order. */
  subscribe(resource: string, listener: (c: Change) => void): () => void {
    const log = this.#log(resource);
    log.listeners.add(listener);
    return () => log.listeners.delete(listener);
  }

  /** The oldest resourceVersion of `resource` that is still answered. */
  oldest(resource: string): number {
    return this.#log(resource).compactedRv;
  }

  /** The changes to `resource` after `rv`, oldest first, or Expired when some are no longer held. */
  since(resource: string, rv: number): Change[] | Expired {
    const log = this.#log(resource);
    if (rv < log.compactedRv) return { expired: true, oldest: log.compactedRv };
    return log.entries.slice(log.firstAfter(rv));
  }

  /**
   * The state of `resource` at `rv` for the keys changed since: key → the object then, or null when
   * it did not exist. Keys not in the map are as they are now. Expired when the changes are gone.
   * The map is kept and extended for later calls at the same `rv` (the pages of one list).
   */
  overlay<T>(resource: string, rv: number): Map<string, T | null> | Expired {
    const log = this.#log(resource);
    if (rv < log.compactedRv) return { expired: true, oldest: log.compactedRv };
    let o = log.overlays.get(rv);
    if (!o) {
      o = { map: new Map(), upTo: rv };
      log.overlays.set(rv, o);
      // A few lists in progress at a time; forget the oldest.
      if (log.overlays.size > 16) log.overlays.delete(log.overlays.keys().next().value!);
    }
    for (let i = log.firstAfter(o.upTo); i < log.entries.length; i++) {
      const c = log.entries[i]!;
      if (!o.map.has(c.key)) o.map.set(c.key, c.prev ?? null);
      o.upTo = c.rv;
    }
    return o.map as Map<string, T | null>;
  }

  /**
   * Forgets every change up to `rv` (default: all of them), as an etcd compaction does: reads and
   * watches from an older resourceVersion then answer 410 Gone.
   */
  compact(rv: number = this.resourceVersion): void {
    this.#floor = Math.max(this.#floor, Math.min(rv, this.resourceVersion));
    for (const log of this.#logs.values()) {
      log.dropThrough(log.firstAfter(rv));
      log.compactedRv = Math.max(log.compactedRv, Math.min(rv, this.resourceVersion));
      for (const at of log.overlays.keys()) if (at < log.compactedRv) log.overlays.delete(at);
    }
  }

  #log(resource: string): Log {
    let log = this.#logs.get(resource);
    if (!log) {
      log = new Log(this.#floor);
      this.#logs.set(resource, log);
    }
    return log;
  }

  #trim(log: Log): void {
    const { windowMs, maxPerResource } = this.#opts;
    let drop = Math.max(log.head, log.entries.length - maxPerResource);
    const cutoff = this.#opts.now() - windowMs;
    while (drop < log.entries.length - 1 && log.entries[drop]!.atMs < cutoff) drop++;
    log.dropThrough(drop);
  }
}
