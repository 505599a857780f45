/**
 * What the serve function reads: every request costs a round trip or two (a namespace's pods are one
 * HGETALL and one GET per part of its items, a pod one HGET and one GETRANGE), except the all-namespaces
 * pod list, which streams namespace by namespace in batches so its memory stays bounded, each namespace
 * read as its items' bytes in name order where the scraper stored that order.
 */
import type { Logger } from '../log.ts';
import type { StoredStats } from '../metrics.ts';
import { CycleWatch } from './cycle-watch.ts';
import { decodeEntry, decodeOrder, isJoined, itemRefSpan, parseItemRef, type StoredEntry } from './entry.ts';
import { CYCLE_FIELD, isStoreField, keys, ORDER_FIELD } from './keys.ts';
import { guarded, type RedisClient } from './redis.ts';

export interface MetricsReader {
  node(name: string): Promise<StoredEntry | null>;
  /** Unexpired entries, sorted by name (entries without metrics included: callers skip them). */
  nodes(): Promise<StoredEntry[]>;
  pod(namespace: string, name: string): Promise<StoredEntry | null>;
  namespacePods(namespace: string): Promise<StoredEntry[]>;
  /**
   * A namespace's unexpired entries whose stored labels text `match`es, sorted by name, reading only
   * those (through the namespace's label index); null when there is no usable index, and the caller
   * reads the whole namespace instead. Optional: a reader without an index simply lacks it.
   */
  namespacePodsMatching?(
    namespace: string,
    match: (labels: string) => boolean,
  ): Promise<StoredEntry[] | null>;
  /**
   * The cycle that wrote a namespace's pods (its `#cycle` field; null without one): one small read, which
   * tells a replica whether what it built from that namespace earlier is still current. Optional, with
   * `now`: a reader without them simply has every list built again.
   */
  namespaceCycle?(namespace: string): Promise<string | null>;
  /** The cycle that wrote the nodes hash (its `#cycle` field; null without one), as namespaceCycle. */
  nodesCycle?(): Promise<string | null>;
  /** Now, on the clock entries' expiry instants are written in (Redis'). */
  now?(): number;
  /**
   * The newest cycle as the scraper announced it (cycle-watch.ts), when this replica is sure of it: a
   * list built from that cycle is then current without a read. Null when it may not be known.
   */
  latestCycle?(): string | null;
  /**
   * Every namespace's unexpired pod entries: namespaces in order, each sorted by name. With `ordered`, a
   * namespace whose items are stored in name order comes as those bytes instead (NamespacePods.ordered).
   */
  allPods(o?: { ordered?: boolean }): AsyncIterable<NamespacePods>;
  /** Throws StoreUnavailableError when Redis does not answer; also re-syncs the clock. */
  ping(): Promise<void>;
}

export interface NamespacePods {
  namespace: string;
  /** Sorted by name; empty when `ordered` holds the namespace's items instead. */
  entries: StoredEntry[];
  /**
   * The namespace's servable items in name order, as bytes: each item's span (offset, length) in
   * `bytes` and its metric timestamp; `joined` when `bytes` is those items and nothing else, a comma
   * before each (entry.ts: isJoined). Only when asked for (allPods' `ordered`): from the part an
   * unsharded cycle stores in name order, or from the parts a sharded cycle's entries name.
   */
  ordered?: OrderedItems;
}

export interface OrderedItems {
  bytes: Buffer;
  spans: Uint32Array;
  timestamps: Float64Array;
  joined: boolean;
}

/** A namespace's label index as read: the cycle that wrote it, and each label set's pod names. */
interface LabelIndex {
  cycle: string;
  sets: [labels: string, names: string[]][];
}

/** Namespaces whose label index a reader keeps at most. */
const INDEXES_KEPT = 4096;

/** Above this many matching pods, a label-selected read reads the whole namespace instead. */
const INDEX_READ_MAX = 5000;

/** How many pods one round trip of the all-pods stream fetches at most (bounds memory). */
const ALL_PODS_BATCH = 5000;

const byName = (a: StoredEntry, b: StoredEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The served items of `entries` by reference (entry.ts: itemRef, `@part:offset:length`): the parts
 * named, each item's part (an index into them), span and metric timestamp. Null when an item is kept
 * in its entry or a reference is not the writer's form. Consecutive entries mostly name the same part:
 * it is compared in place, not cut out of each reference.
 */
function partRefs(entries: readonly StoredEntry[]) {
  const names: string[] = [];
  const served = entries.filter((e) => e.item !== '');
  const part = new Uint16Array(served.length);
  const spans = new Uint32Array(2 * served.length);
  const timestamps = new Float64Array(served.length);
  let n = 0;
  let last = -1;
  for (const e of served) {
    const item = e.item;
    const r = itemRefSpan(item);
    if (r === null) return null;
    const { partEnd, offset, length } = r;
    if (length === 0) continue; // an empty item: not served
    let p = last;
    if (p < 0 || names[p]!.length !== partEnd - 1 || !item.startsWith(names[p]!, 1)) {
      const name = item.slice(1, partEnd);
      p = names.indexOf(name);
      if (p < 0) {
        if (names.length === 0xffff) return null;
        p = names.push(name) - 1;
      }
      last = p;
    }
    part[n] = p;
    spans[2 * n] = offset;
    spans[2 * n + 1] = length;
    timestamps[n] = e.timestamp;
    n++;
  }
  return {
    names,
    part: part.subarray(0, n),
    spans: spans.subarray(0, 2 * n),
    timestamps: timestamps.subarray(0, n),
  };
}

/**
 * Reads served entries, dropping those past their expiry. Expiry instants come from Redis' clock (the
 * scraper stamps them with Redis TIME), so the reader keeps an estimate of the offset between its own
 * clock and Redis', refreshed by ping(): replicas with skewed clocks still agree on what has expired.
 */
export class RedisMetricsReader implements MetricsReader {
  #redis: RedisClient;
  #offsetMs = 0;
  /** Label indexes by namespace, each with the cycle that wrote it (bounded: dropped whole when full). */
  #indexes = new Map<string, LabelIndex>();
  #watch: CycleWatch | null = null;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  /** Follows the scraper's cycle announcements (a subscriber connection) until the returned close. */
  watchCycles(log: Logger): () => void {
    const watch = new CycleWatch(this.#redis, log);
    this.#watch = watch;
    return () => {
      watch.close();
      if (this.#watch === watch) this.#watch = null;
    };
  }

  latestCycle(): string | null {
    const latest = this.#watch?.latest() ?? null;
    return latest === null || latest === 0 ? null : String(latest);
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

  /**
   * A hash's fields and values as Redis sends them (name, value, name, value, …): ioredis' HGETALL would
   * build an object of them first, which for a namespace's thousands of pods costs more than reading them.
   */
  #fields(key: string): Promise<string[]> {
    return this.#redis.call('HGETALL', key) as Promise<string[]>;
  }

  /** A hash's unexpired entries, sorted by name (fields such as `#cycle` and `#order` skipped). */
  #liveAll(fields: readonly string[], now: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      if (name.charCodeAt(0) === 35 /* # */ && isStoreField(name)) continue;
      const e = this.#live(name, fields[i + 1], now);
      if (e !== null) out.push(e);
    }
    return out.sort(byName);
  }

  /**
   * Reads entries and puts each one's item text in place of its reference (entry.ts: itemRef). A part
   * is deleted when the cycle after its own is published: entries read just before then name a part
   * gone by the time it is read, and are read once more (from the new cycle); an item still missing
   * after that (an entry past its expiry, seen by a clock behind Redis') is left out. `whole`: read each
   * part whole (every item of the namespace is wanted), else only each item's range. `first`: the
   * entries when the caller has read them already.
   */
  async #resolved(
    namespace: string,
    read: () => Promise<StoredEntry[]>,
    whole: boolean,
    first?: StoredEntry[],
  ): Promise<StoredEntry[]> {
    const once = await this.#resolve(namespace, first ?? (await read()), whole);
    if (once.complete) return once.entries;
    return (await this.#resolve(namespace, await read(), whole)).entries;
  }

  async #resolve(
    namespace: string,
    entries: StoredEntry[],
    whole: boolean,
  ): Promise<{ entries: StoredEntry[]; complete: boolean }> {
    const refs = entries.map((e) => parseItemRef(e.item));
    if (refs.every((r) => r === null)) return { entries, complete: true };
    // Each item's text ('' for an empty item, null where it could not be read), all reads at once.
    let texts: (string | null)[];
    if (whole) {
      const names = [...new Set(refs.flatMap((r) => (r === null ? [] : [r.part])))];
      const read = await this.#parts(namespace, names);
      const parts = new Map(names.map((part, i) => [part, read[i] ?? null]));
      texts = refs.map((r) => {
        if (r !== null && r.length === 0) return '';
        const bytes = r === null ? null : parts.get(r.part)!;
        return r === null || bytes === null || r.offset + r.length > bytes.length
          ? null
          : bytes.toString('utf8', r.offset, r.offset + r.length);
      });
    } else {
      texts = await guarded(() =>
        Promise.all(
          refs.map((r) =>
            r === null || r.length === 0
              ? ''
              : this.#redis
                  .getrange(keys.podItems(namespace, r.part), r.offset, r.offset + r.length - 1)
                  .then((t) => t || null),
          ),
        ),
      );
    }
    // The entries are this read's own: each gets its text in place.
    const out: StoredEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const text = refs[i] === null ? entries[i]!.item : texts[i];
      if (text == null) continue;
      entries[i]!.item = text;
      out.push(entries[i]!);
    }
    return { entries: out, complete: out.length === entries.length };
  }

  node(name: string): Promise<StoredEntry | null> {
    return guarded(async () => this.#live(name, await this.#redis.hget(keys.nodes, name), this.now()));
  }

  nodes(): Promise<StoredEntry[]> {
    return guarded(async () => this.#liveAll(await this.#fields(keys.nodes), this.now()));
  }

  pod(namespace: string, name: string): Promise<StoredEntry | null> {
    return guarded(async () => {
      const read = async () => {
        const e = this.#live(name, await this.#redis.hget(keys.pods(namespace), name), this.now());
        return e === null ? [] : [e];
      };
      return (await this.#resolved(namespace, read, false))[0] ?? null;
    });
  }

  namespaceCycle(namespace: string): Promise<string | null> {
    return guarded(() => this.#redis.hget(keys.pods(namespace), CYCLE_FIELD));
  }

  nodesCycle(): Promise<string | null> {
    return guarded(() => this.#redis.hget(keys.nodes, CYCLE_FIELD));
  }

  namespacePods(namespace: string): Promise<StoredEntry[]> {
    return guarded(async () =>
      this.#resolved(
        namespace,
        async () => this.#liveAll(await this.#fields(keys.pods(namespace)), this.now()),
        true,
      ),
    );
  }

  async namespacePodsMatching(
    namespace: string,
    match: (labels: string) => boolean,
  ): Promise<StoredEntry[] | null> {
    // The index changes once per cycle, so it is kept per namespace with the cycle that wrote it: a
    // query is then one HMGET of the cycle field and the matching pods, and the index is read again only
    // when that field names another cycle (or, the first time, when nothing is kept). Matching cycle
    // fields mean the index and the pods came from the same cycle.
    let index = this.#indexes.get(namespace);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (index === undefined) {
        const read = await this.#readIndex(namespace);
        if (read === null) return null;
        index = read;
      }
      const names: string[] = [];
      for (const [labels, pods] of index.sets) if (match(labels)) for (const name of pods) names.push(name);
      // Most of a big namespace matches: reading it whole is as cheap, and keeps HMGET's arguments few.
      if (names.length > INDEX_READ_MAX) return null;
      const values = await guarded(() => this.#redis.hmget(keys.pods(namespace), CYCLE_FIELD, ...names));
      if (values[0] !== index.cycle) {
        index = undefined;
        continue;
      }
      const now = this.now();
      const out: StoredEntry[] = [];
      for (let i = 0; i < names.length; i++) {
        const e = this.#live(names[i]!, values[i + 1], now);
        if (e !== null) out.push(e);
      }
      const resolved = await this.#resolve(namespace, out.sort(byName), false);
      if (resolved.complete || attempt > 0) return resolved.entries;
      // A part gone: this cycle's index and entries were replaced meanwhile; read them again.
      index = undefined;
    }
    return null;
  }

  /** Reads and keeps a namespace's label index; null (and nothing kept) when it has none. */
  async #readIndex(namespace: string): Promise<LabelIndex | null> {
    const hash = await guarded(() => this.#redis.hgetall(keys.podLabels(namespace)));
    const cycle = hash[CYCLE_FIELD];
    if (cycle === undefined) {
      this.#indexes.delete(namespace);
      return null;
    }
    const sets: [string, string[]][] = [];
    for (const labels in hash)
      if (labels !== CYCLE_FIELD) sets.push([labels, (hash[labels] ?? '').split('\n')]);
    if (this.#indexes.size >= INDEXES_KEPT) this.#indexes.clear();
    const index = { cycle, sets };
    this.#indexes.set(namespace, index);
    return index;
  }

  /** The scraper's stored metrics (shared/metrics.ts renders them); not part of MetricsReader. */
  scrapeStats(): Promise<StoredStats> {
    return guarded(async () => {
      const [stats, kubelet] = await Promise.all([
        this.#redis.hgetall(keys.scrapeStats),
        this.#redis.hgetall(keys.scrapeKubeletStats),
      ]);
      return { stats, kubelet };
    });
  }

  async *allPods(o: { ordered?: boolean } = {}): AsyncIterable<NamespacePods> {
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
      const ordered = o.ordered
        ? await this.#ordered(
            batch.map((b) => b.namespace),
            now,
          )
        : [];
      const hashes = await guarded(() =>
        Promise.all(batch.map((b, j) => (ordered[j] ? null : this.#fields(keys.pods(b.namespace))))),
      );
      for (let j = 0; j < batch.length; j++) {
        const { namespace } = batch[j]!;
        const live = ordered[j] ? [] : this.#liveAll(hashes[j]!, now);
        const kept = ordered[j] ?? (o.ordered ? await this.#inParts(namespace, live) : null);
        if (kept) {
          if (kept.timestamps.length > 0) yield { namespace, entries: [], ordered: kept };
          continue;
        }
        const read = async () => this.#liveAll(await this.#fields(keys.pods(namespace)), now);
        const entries = await this.#resolved(namespace, read, true, live);
        if (entries.length > 0) yield { namespace, entries };
      }
    }
  }

  /**
   * Each namespace's items in name order with their bytes, where the scraper stored that order and no
   * item has expired by `now`; null where the entries must be read instead.
   */
  async #ordered(namespaces: string[], now: number): Promise<(OrderedItems | null)[]> {
    const orders = await guarded(() =>
      Promise.all(namespaces.map((ns) => this.#redis.hgetBuffer(keys.pods(ns), ORDER_FIELD))),
    );
    const decoded = orders.map((v) => {
      const order = v === null ? null : decodeOrder(v);
      return order !== null && order.expiresAt > now ? order : null;
    });
    const parts = await guarded(() =>
      Promise.all(
        decoded.map((order, j) =>
          order === null ? null : this.#redis.getBuffer(keys.podItems(namespaces[j]!, order.part)),
        ),
      ),
    );
    return decoded.map((order, j) => {
      const bytes = parts[j];
      if (order === null || bytes == null) return null;
      const { spans, timestamps } = order;
      // Joined, every span is within the bytes; otherwise each is checked.
      if (isJoined(bytes, spans)) return { bytes, spans, timestamps, joined: true };
      for (let i = 0; i < spans.length; i += 2) if (spans[i]! + spans[i + 1]! > bytes.length) return null;
      return { bytes, spans, timestamps, joined: false };
    });
  }

  /** The namespace's parts of pod items named, each whole (null where one is gone). */
  #parts(namespace: string, names: readonly string[]): Promise<(Buffer | null)[]> {
    return guarded(() =>
      Promise.all(names.map((name) => this.#redis.getBuffer(keys.podItems(namespace, name)))),
    );
  }

  /**
   * A namespace's live entries (in name order) as bytes when every served item is in a part, as a
   * sharded cycle stores them (each shard instance its own part, no order across them): the parts read
   * whole and put one after another, each item's span in them. Null when an item is kept in its entry,
   * or a part is gone or shorter than an entry says (the next cycle's publication deleted it): then the
   * entries are read again and resolved one by one.
   */
  async #inParts(namespace: string, entries: readonly StoredEntry[]): Promise<OrderedItems | null> {
    const refs = partRefs(entries);
    if (refs === null) return null;
    const { names, part, spans } = refs;
    const read = await this.#parts(namespace, names);
    const at = new Float64Array(names.length);
    let total = 0;
    for (let p = 0; p < names.length; p++) {
      const bytes = read[p];
      if (bytes == null) return null;
      at[p] = total;
      total += bytes.length;
    }
    for (let i = 0; i < part.length; i++) {
      const p = part[i]!;
      if (spans[2 * i]! + spans[2 * i + 1]! > read[p]!.length) return null;
      spans[2 * i] = spans[2 * i]! + at[p]!;
    }
    const bytes = read.length === 1 ? read[0]! : Buffer.concat(read as Buffer[], total);
    return { bytes, spans, timestamps: refs.timestamps, joined: isJoined(bytes, spans) };
  }
}
