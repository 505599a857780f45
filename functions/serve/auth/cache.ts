/**
 * The review caches: answers kept for a time-to-live (apiserver's TokenReview and SubjectAccessReview
 * caches, 10 s for allowed and for denied), a bound on entries so a flood of distinct keys cannot grow
 * memory without end, and one shared lookup per key in flight (apiserver's singleflight), so a burst of
 * identical requests costs one review. Failed lookups (the API server did not answer) are not kept.
 *
 * Better than apiserver's: an answer in use is refreshed ahead of its expiry. A hit in the last part of
 * its life (`refreshAheadMs`, a quarter of the TTL by default) is answered from the cache at once while
 * one review runs in the background, so a busy caller (the HPA, a dashboard) never waits for the review
 * round trip every TTL, and no answer is ever served older than its TTL. A failed refresh leaves the
 * entry to expire as it would have.
 */

export interface TtlCacheOptions<V> {
  /** How long an answer is kept, by what it says (e.g. allowed vs denied). */
  ttlMs: (value: V) => number;
  maxEntries?: number;
  now?: () => number;
  /** How long before its expiry an entry that is hit is refreshed in the background (0: never). */
  refreshAheadMs?: (ttlMs: number) => number;
}

interface Entry<V> {
  value: V;
  expires: number;
  /** From this instant, a hit also starts a background refresh. */
  refreshAt: number;
}

export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #inFlight = new Map<string, Promise<V>>();
  readonly #o: Required<TtlCacheOptions<V>>;

  constructor(o: TtlCacheOptions<V>) {
    this.#o = { maxEntries: 10_000, now: Date.now, refreshAheadMs: (ttl) => ttl / 4, ...o };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached answer for `key`, or the one `lookup` gives (shared by concurrent callers). */
  get(key: string, lookup: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      const now = this.#o.now();
      if (hit.expires > now) {
        if (now >= hit.refreshAt && !this.#inFlight.has(key)) {
          this.#lookup(key, lookup).catch(() => undefined); // the entry serves until it expires
        }
        return Promise.resolve(hit.value);
      }
      this.#entries.delete(key);
    }
    return this.#inFlight.get(key) ?? this.#lookup(key, lookup);
  }

  #lookup(key: string, lookup: () => Promise<V>): Promise<V> {
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
    if (this.#entries.size >= this.#o.maxEntries && !this.#entries.has(key)) this.#evict();
    const now = this.#o.now();
    const ahead = Math.min(ttl, Math.max(0, this.#o.refreshAheadMs(ttl)));
    this.#entries.delete(key); // re-inserted last: eviction drops the least recently refreshed first
    this.#entries.set(key, { value, expires: now + ttl, refreshAt: now + ttl - ahead });
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
