/**
 * Rendered namespace lists, kept by each replica until the scraper's next cycle. The HPA asks the same
 * namespace and selector every 15 s per HPA, and `kubectl top pods -n` the same namespace, while the
 * answer only changes once per cycle. A hit costs one small read (the namespace's `#cycle` field, the
 * same single round trip the floor server makes) and nothing is decoded, filtered or joined again.
 *
 * A kept body is served while both hold:
 * - the namespace's pods hash still names the cycle the body was built from (a cycle replaces the hash
 *   whole, with a new `#cycle`, so nothing can be added, changed or removed without it changing);
 * - no object in it has expired (Redis' clock): objects left out cannot come back without a new cycle,
 *   but one returned stops being servable at its own expiry.
 * Bounded by bytes (keys counted too), least recently used dropped first; a body above a size limit is
 * not kept.
 */

export interface CachedList {
  /** The `#cycle` of the pods hash the body was built from. */
  cycle: string;
  /** Redis-clock ms: the earliest expiry among the returned objects. */
  validUntil: number;
  /** JSON text, or bytes (JSON encoded once, or protobuf). */
  body: string | Uint8Array;
  /** The returned objects' metric timestamps (the freshness histogram observes each one served). */
  timestamps: number[];
}

export interface ListCacheLimits {
  /** All bodies together (UTF-16 code units for JSON, about its bytes; bytes for protobuf). */
  maxBytes: number;
  /**
   * A body larger than this is not kept (served from Redis each time). 4 MiB keeps a 5,000-node list
   * (about 1.6 MB) and a namespace of about 10,000 pods.
   */
  maxBody: number;
}

const DEFAULT_LIMITS: ListCacheLimits = { maxBytes: 64 * 1024 * 1024, maxBody: 4 * 1024 * 1024 };

const sizeOf = (key: string, v: CachedList) => key.length + v.body.length + 8 * v.timestamps.length + 64;

export class ListCache {
  readonly #limits: ListCacheLimits;
  /** Insertion order is recency: a hit moves its key to the end. */
  readonly #entries = new Map<string, CachedList>();
  #bytes = 0;

  constructor(limits: Partial<ListCacheLimits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * The key of one list request from its parts (what is read: namespace, selectors or the raw query;
   * how it is written: the shape), kept apart whatever characters they hold.
   */
  static key(...parts: string[]): string {
    return JSON.stringify(parts);
  }

  /** Whether anything is kept under `key` (a hit is then one cycle check away). */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The body kept under `key` if it is still valid for `cycle` at `now`; a stale one is dropped. */
  get(key: string, cycle: string | null, now: number): CachedList | null {
    const v = this.#entries.get(key);
    if (v === undefined) return null;
    this.#entries.delete(key);
    if (v.cycle !== cycle || now >= v.validUntil) {
      this.#bytes -= sizeOf(key, v);
      return null;
    }
    this.#entries.set(key, v);
    return v;
  }

  set(key: string, v: CachedList): void {
    const size = sizeOf(key, v);
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= sizeOf(key, old);
    }
    if (v.body.length > this.#limits.maxBody) return;
    this.#entries.set(key, v);
    this.#bytes += size;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= sizeOf(k, e);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
