/**
 * What the serve function reads: every request costs one or two Redis commands (a namespace's pods are
 * one HGETALL, a pod one HGET), except the all-namespaces pod list, which streams namespace by namespace
 * in batches so its memory stays bounded.
 */
import { decodeEntry, type StoredEntry } from './entry.ts';
import { keys } from './keys.ts';
import { guarded, type RedisClient } from './redis.ts';

export interface MetricsReader {
  node(name: string): Promise<StoredEntry | null>;
  /** Unexpired entries, sorted by name (entries without metrics included: callers skip them). */
  nodes(): Promise<StoredEntry[]>;
  pod(namespace: string, name: string): Promise<StoredEntry | null>;
  namespacePods(namespace: string): Promise<StoredEntry[]>;
  /** Every namespace's unexpired pod entries: namespaces in order, each sorted by name. */
  allPods(): AsyncIterable<NamespacePods>;
  /** Throws StoreUnavailableError when Redis does not answer; also re-syncs the clock. */
  ping(): Promise<void>;
}

export interface NamespacePods {
  namespace: string;
  entries: StoredEntry[];
}

/** How many pods one round trip of the all-pods stream fetches at most (bounds memory). */
const ALL_PODS_BATCH = 5000;

const byName = (a: StoredEntry, b: StoredEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Reads served entries, dropping those past their expiry. Expiry instants come from Redis' clock (the
 * scraper stamps them with Redis TIME), so the reader keeps an estimate of the offset between its own
 * clock and Redis', refreshed by ping(): replicas with skewed clocks still agree on what has expired.
 */
export class RedisMetricsReader implements MetricsReader {
  #redis: RedisClient;
  #offsetMs = 0;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  /** Now, on Redis' clock. */
  now(): number {
    return Date.now() + this.#offsetMs;
  }

  async ping(): Promise<void> {
    await guarded(async () => {
      const before = Date.now();
      const [sec, usec] = await this.#redis.time();
      const after = Date.now();
      this.#offsetMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - (before + after) / 2;
    });
  }

  #live(name: string, value: string | null | undefined, now: number): StoredEntry | null {
    if (value == null) return null;
    const e = decodeEntry(name, value);
    return e !== null && e.expiresAt > now ? e : null;
  }

  #liveAll(hash: Record<string, string>, now: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const name in hash) {
      const e = this.#live(name, hash[name], now);
      if (e !== null) out.push(e);
    }
    return out.sort(byName);
  }

  node(name: string): Promise<StoredEntry | null> {
    return guarded(async () => this.#live(name, await this.#redis.hget(keys.nodes, name), this.now()));
  }

  nodes(): Promise<StoredEntry[]> {
    return guarded(async () => this.#liveAll(await this.#redis.hgetall(keys.nodes), this.now()));
  }

  pod(namespace: string, name: string): Promise<StoredEntry | null> {
    return guarded(async () =>
      this.#live(name, await this.#redis.hget(keys.pods(namespace), name), this.now()),
    );
  }

  namespacePods(namespace: string): Promise<StoredEntry[]> {
    return guarded(async () => this.#liveAll(await this.#redis.hgetall(keys.pods(namespace)), this.now()));
  }

  async *allPods(): AsyncIterable<NamespacePods> {
    const now = this.now();
    const index = await guarded(() => this.#redis.hgetall(keys.namespaces));
    const namespaces: { namespace: string; pods: number }[] = [];
    for (const namespace in index) {
      const [expiresAt, pods] = (index[namespace] ?? '').split('\t');
      if (Number(expiresAt) > now) namespaces.push({ namespace, pods: Number(pods) || 0 });
    }
    namespaces.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
    for (let i = 0; i < namespaces.length; ) {
      // One round trip per batch of namespaces holding up to ALL_PODS_BATCH pods (at least one namespace).
      const batch = [namespaces[i++]!];
      let pods = batch[0]!.pods;
      while (i < namespaces.length && pods + namespaces[i]!.pods <= ALL_PODS_BATCH) {
        pods += namespaces[i]!.pods;
        batch.push(namespaces[i++]!);
      }
      const hashes = await guarded(() =>
        Promise.all(batch.map((b) => this.#redis.hgetall(keys.pods(b.namespace)))),
      );
      for (let j = 0; j < batch.length; j++) {
        const entries = this.#liveAll(hashes[j]!, now);
        if (entries.length > 0) yield { namespace: batch[j]!.namespace, entries };
      }
    }
  }
}
