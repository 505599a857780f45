/**
 * The review caches: answers kept for a time-to-live (apiserver's TokenReview and SubjectAccessReview
 * caches, 10 s for allowed and for denied), a bound on entries so a flood of distinct keys cannot grow
 * memory without end, and one shared lookup per key in flight (apiserver's singleflight), so a burst of
 * identical requests costs one review. Failed lookups (the API server did not answer) are not kept.
 */

export interface TtlCacheOptions<V> {
  /** How long an answer is kept, by what it says (e.g. allowed vs denied). */
  ttlMs: (value: V) => number;
  maxEntries?: number;
  now?: () => number;
}

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #inFlight = new Map<string, Promise<V>>();
  readonly #o: Required<TtlCacheOptions<V>>;

  constructor(o: TtlCacheOptions<V>) {
    this.#o = { maxEntries: 10_000, now: Date.now, ...o };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached answer for `key`, or the one `lookup` gives (shared by concurrent callers). */
  get(key: string, lookup: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      if (hit.expires > this.#o.now()) return Promise.resolve(hit.value);
      this.#entries.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = lookup().then(
      (value) => {
        this.#inFlight.delete(key);
        this.#store(key, value);
        return value;
      },
      (err: unknown) => {
        this.#inFlight.delete(key);
        throw err;
      },
    );
    this.#inFlight.set(key, p);
    return p;
  }

  #store(key: string, value: V): void {
    const ttl = this.#o.ttlMs(value);
    if (ttl <= 0) return;
    if (this.#entries.size >= this.#o.maxEntries) this.#evict();
    this.#entries.set(key, { value, expires: this.#o.now() + ttl });
  }

  /** Drops expired entries; when none had expired, the oldest quarter (Map order is insertion order). */
  #evict(): void {
    const now = this.#o.now();
    for (const [k, e] of this.#entries) if (e.expires <= now) this.#entries.delete(k);
    if (this.#entries.size < this.#o.maxEntries) return;
    let drop = Math.ceil(this.#o.maxEntries / 4);
    for (const k of this.#entries.keys()) {
      if (drop-- <= 0) break;
      this.#entries.delete(k);
    }
  }
}
