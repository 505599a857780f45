/**
 * What the scraper writes and reads back. A cycle streams its writes (CycleStaging): each node's state
 * and served entries go out in bounded pipelines as soon as the node is done, into staging hashes private
 * to the cycle, and at the end every served hash is replaced by one RENAME of its staging hash (atomic):
 * a reader sees a namespace's pods (or the node list) wholly from one cycle or wholly from the previous
 * one, never a mix.
 */
import type { ChainableCommander } from 'ioredis';
import type { HashUpdate, StatsWrite } from '../metrics.ts';
import { CYCLE_FIELD, cycleChannel, keys } from './keys.ts';
import { databaseOf, guarded, type RedisClient } from './redis.ts';

/** One served hash, replaced as a whole. An empty `fields` deletes it. */
export interface HashWrite {
  fields: [name: string, value: string][];
  /** Redis-clock instant (ms) after which the whole key is gone: the latest expiry among its entries. */
  expireAt: number;
  /** For a namespace's pods: labels text → names of the pods with metrics that carry those labels. */
  labelIndex?: Map<string, string[]>;
}

export interface CycleWrite {
  nodes: HashWrite;
  /** Every namespace with at least one entry this cycle. */
  namespaces: Map<string, HashWrite>;
  /** Namespaces in the index before this cycle (readNamespaces); those absent from `namespaces` are deleted. */
  previousNamespaces: string[];
  /** The scraper's per-node memory, each kept for `stateTtlMs`. */
  states: [node: string, value: string][];
  stateTtlMs: number;
  /** Names the cycle in each namespace's pods hash and label index (CYCLE_FIELD); its start time. */
  cycle?: number;
}

export interface CycleStart {
  /** False when another instance already ran the cycle due now (this trigger does nothing). */
  acquired: boolean;
  /** Redis' clock, ms. */
  now: number;
  /** When the next cycle is due, Redis' clock, ms. */
  nextDue: number;
}

/**
 * One cycle per resolution across any number of instances, on Redis' clock: a trigger runs a cycle only
 * if the last one started at least a resolution ago (less a small tolerance for early cron ticks). The
 * key outlives the next due time, so if the instance that started a cycle dies, whichever instance is
 * triggered next after the due time takes over.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local resolution = tonumber(ARGV[1])
local last = redis.call('GET', KEYS[1])
if last then
  local started = tonumber(string.match(last, '^(%d+)'))
  if started and now < started + resolution - tonumber(ARGV[2]) then
    return {0, now, started + resolution}
  end
end
redis.call('SET', KEYS[1], now .. ' ' .. ARGV[3], 'PX', 2 * resolution)
return {1, now, now + resolution}
`;

/**
 * Moves `ms:{cycle}` forward to this cycle and announces it; never backwards, so a slow cycle finishing
 * after a newer one cannot make readers believe the older one is the newest.
 */
const ANNOUNCE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`;

/**
 * RENAMEs a cycle's staging hash over its served key only if it holds every field the cycle wrote into it
 * (ARGV[1]). Fewer means writes were lost: Redis failed over during the cycle (asynchronous replication
 * loses what the old master had not passed on, and the client sends the rest to the new master). Such a
 * hash would serve a list with nodes or pods missing; the cycle fails instead, and the next one writes
 * them all. KEYS: staging, served (same slot).
 */
const RENAME_WHOLE = `
local n = redis.call('HLEN', KEYS[1])
if n < tonumber(ARGV[1]) then
  return redis.error_reply('INCOMPLETE ' .. KEYS[1] .. ' holds ' .. n .. ' of the ' .. ARGV[1] .. ' fields its cycle wrote (a failover lost writes)')
end
return redis.call('RENAME', KEYS[1], KEYS[2])
`;

/** Commands per pipeline (HSET fields count one each): bounds each round trip's size. */
const PIPELINE_COMMANDS = 4000;

/**
 * A cycle's streamed writes are sent once this many HSET fields or SETs are buffered… (a node's pods
 * spread over many namespaces, so a batch must be large for each HSET to carry several fields)
 */
const FLUSH_COMMANDS = 4000;
/** …or this many bytes of names and values, whichever comes first. */
const FLUSH_BYTES = 4 << 20;
/** Sends in flight before a writer waits for one to complete: bounds what the cycle holds. */
const MAX_IN_FLIGHT = 2;

/** Bytes per chunk that streamed values are encoded into. */
const CHUNK_BYTES = 1 << 20;

/**
 * Encodes strings (as UTF-8) into large shared chunks, each value a view of its bytes: one allocation
 * per chunk instead of one per value, and the rendered text is garbage at once (young generation) while
 * only the bytes wait for their pipeline, outside the heap the garbage collector traces.
 */
class ByteChunks {
  #chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #offset = 0;

  encode(text: string): Buffer {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (this.#chunk.length - this.#offset < text.length * 3) {
      this.#chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, text.length * 3));
      this.#offset = 0;
    }
    const start = this.#offset;
    this.#offset += this.#chunk.write(text, start, 'utf8');
    return this.#chunk.subarray(start, this.#offset);
  }
}

/** Commands that touch one key (so one Cluster slot), and about how many they are. */
interface Group {
  weight: number;
  add: (p: ChainableCommander) => void;
}

/**
 * Sends groups in pipelines of at most PIPELINE_COMMANDS (in Cluster mode one pipeline per group, so
 * each touches one slot), all at once: on one connection they still reach Redis in order.
 */
async function runGroups(redis: RedisClient, groups: Group[]): Promise<void> {
  const pipelines: ChainableCommander[] = [];
  let current: ChainableCommander | null = null;
  let weight = 0;
  for (const g of groups) {
    if (current === null || redis.isCluster || weight + g.weight > PIPELINE_COMMANDS) {
      current = redis.pipeline();
      pipelines.push(current);
      weight = 0;
    }
    g.add(current);
    weight += g.weight;
  }
  const results = await Promise.all(pipelines.map((p) => p.exec()));
  for (const result of results) {
    for (const [err] of result ?? []) if (err) throw err;
  }
}

/** HSET of `flat` (name, value, name, value, …) in commands of at most PIPELINE_COMMANDS fields. */
function hsetChunks(p: ChainableCommander, key: string, flat: (string | Buffer)[]): void {
  const step = PIPELINE_COMMANDS * 2;
  if (flat.length <= step) {
    if (flat.length > 0) p.hset(key, ...flat);
    return;
  }
  for (let i = 0; i < flat.length; i += step) p.hset(key, ...flat.slice(i, i + step));
}

export interface StagingOptions {
  /** The cycle's start (Redis clock, ms): names its staging keys, and `#cycle` (when `cycleField`). */
  cycle: number;
  /**
   * Each staging key gets this TTL with its first write, renewed by later sends while the cycle goes on,
   * so a crashed cycle leaks nothing. Must exceed the longest pause between two sends and the renames.
   */
  ttlMs: number;
  /**
   * Write CYCLE_FIELD in the nodes hash and each namespace's pods hash and label index, and announce the
   * cycle once it is in place (default true).
   */
  cycleField?: boolean;
  /** Buffered fields and SETs that make `flushIfFull` send (default FLUSH_COMMANDS). */
  flushCommands?: number;
}

/** A served hash at the end of a cycle: some fields already streamed, these still to write. */
export interface StagedHash extends HashWrite {
  /** How many fields the hash holds, streamed and `fields` together: 0 deletes the served hash. */
  size: number;
}

export interface StagedEnd {
  nodes: StagedHash;
  /** Every namespace with at least one entry this cycle (they are listed in the namespaces index). */
  namespaces: Map<string, StagedHash>;
  /** Namespaces in the index before this cycle (readNamespaces); those absent from `namespaces` are deleted. */
  previousNamespaces: string[];
}

/**
 * One cycle's writes, streamed: node states and served entries are buffered as each node is done and
 * sent in bounded pipelines while the cycle goes on; `finish` writes what only the end knows (entries
 * without metrics, label indexes, `#cycle`, expiries), then RENAMEs each staging hash over its served
 * key (atomic: a reader sees a hash wholly from one cycle or the previous one) and the namespaces index
 * last. Staging keys are `<served key>:next:<cycle>` (keys.staging): private to the cycle, so two
 * overlapping cycles never mix, on the served key's Cluster slot, and expiring unless renamed.
 */
export class CycleStaging {
  readonly #redis: RedisClient;
  readonly #o: Required<StagingOptions>;
  /**
   * Buffered HSET fields (flat name, value, …) per staging key. Values are encoded to bytes one by one
   * (ByteChunks): as strings, ioredis would join a pipeline's arguments into one huge string, which costs
   * several times more to flatten and encode when the socket writes it.
   */
  #hashes = new Map<string, (string | Buffer)[]>();
  /** Buffered state SETs: key, value, TTL. */
  #states: [string, Buffer, number][] = [];
  #commands = 0;
  #bytes = 0;
  /** Staging key → when its TTL was last set (local clock), for every key this cycle wrote. */
  readonly #expirySet = new Map<string, number>();
  readonly #podKeys = new Map<string, string>();
  readonly #nodesKey: string;
  readonly #inFlight = new Set<Promise<void>>();
  #error: unknown = null;
  readonly #bytesOf = new ByteChunks();

  constructor(redis: RedisClient, o: StagingOptions) {
    this.#redis = redis;
    this.#o = { cycleField: true, flushCommands: FLUSH_COMMANDS, ...o };
    this.#nodesKey = keys.staging(keys.nodes, o.cycle);
  }

  /** The node's state, kept `ttlMs`. */
  setState(node: string, value: string, ttlMs: number): void {
    this.#states.push([keys.state(node), this.#bytesOf.encode(value), ttlMs]);
    this.#commands++;
    this.#bytes += value.length;
  }

  /** A pod's entry in its namespace's staging hash (a later one for the same pod replaces it). */
  podEntry(namespace: string, name: string, value: string): void {
    let key = this.#podKeys.get(namespace);
    if (key === undefined) {
      key = keys.staging(keys.pods(namespace), this.#o.cycle);
      this.#podKeys.set(namespace, key);
    }
    this.#hset(key, name, value);
  }

  nodeEntry(name: string, value: string): void {
    this.#hset(this.#nodesKey, name, value);
  }

  #hset(key: string, name: string, value: string): void {
    let flat = this.#hashes.get(key);
    if (flat === undefined) {
      flat = [];
      this.#hashes.set(key, flat);
    }
    flat.push(name, this.#bytesOf.encode(value));
    this.#commands++;
    this.#bytes += name.length + value.length;
  }

  /**
   * Sends what is buffered once it reaches a pipeline's worth, and waits while too many sends are in
   * flight (backpressure). Throws the error of any earlier send.
   */
  flushIfFull(): Promise<void> {
    return guarded(async () => {
      if (this.#commands >= this.#o.flushCommands || this.#bytes >= FLUSH_BYTES) this.#send();
      while (this.#inFlight.size > MAX_IN_FLIGHT) await Promise.race(this.#inFlight);
      if (this.#error !== null) throw this.#error;
    });
  }

  /** Sends everything buffered and waits for every send; throws the first error. */
  async #drain(): Promise<void> {
    if (this.#commands > 0) this.#send();
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    if (this.#error !== null) throw this.#error;
  }

  #send(): void {
    const groups: Group[] = [];
    const now = Date.now();
    const { ttlMs } = this.#o;
    // Each key's TTL is set with its first write, and renewed (for every key the cycle wrote, sent now or
    // not) once a third of it has passed: a long cycle keeps all its keys, a crashed one loses them all.
    const renew = (key: string) => {
      const last = this.#expirySet.get(key);
      if (last !== undefined && now - last <= ttlMs / 3) return false;
      this.#expirySet.set(key, now);
      return true;
    };
    for (const [key, flat] of this.#hashes) {
      const expire = renew(key);
      groups.push({
        weight: flat.length / 2 + 1,
        add: (p) => {
          hsetChunks(p, key, flat);
          if (expire) p.pexpire(key, ttlMs);
        },
      });
    }
    for (const key of this.#expirySet.keys()) {
      if (!this.#hashes.has(key) && renew(key)) groups.push({ weight: 1, add: (p) => p.pexpire(key, ttlMs) });
    }
    for (const [key, value, ttl] of this.#states) {
      groups.push({ weight: 1, add: (p) => p.set(key, value, 'PX', ttl) });
    }
    this.#hashes = new Map();
    this.#states = [];
    this.#commands = 0;
    this.#bytes = 0;
    const sent: Promise<void> = runGroups(this.#redis, groups)
      .catch((err: unknown) => {
        this.#error ??= err;
      })
      .finally(() => this.#inFlight.delete(sent));
    this.#inFlight.add(sent);
  }

  /** The end of the cycle (see the class comment); throws StoreUnavailableError when Redis failed. */
  finish(end: StagedEnd): Promise<void> {
    return guarded(async () => {
      await this.#drain();
      const { cycle: start, cycleField } = this.#o;
      const groups: Group[] = [];
      const replaceHash = (key: string, h: StagedHash, extra: [string, string][] = []) => {
        const next = keys.staging(key, start);
        groups.push({
          weight: h.fields.length + extra.length + 3,
          add: (p) => {
            if (h.size === 0) {
              p.del(key);
              if (this.#expirySet.has(next)) p.del(next);
              return;
            }
            hsetChunks(p, next, [...h.fields.flat(), ...extra.flat()]);
            p.pexpireat(next, h.expireAt);
            p.eval(RENAME_WHOLE, 2, next, key, h.size + extra.length);
          },
        });
      };
      const cycle: [string, string][] = cycleField ? [[CYCLE_FIELD, String(start)]] : [];
      /** A namespace's pods, and its label index beside it (both naming this cycle, so readers can tell). */
      const replacePods = (namespace: string, h: StagedHash) => {
        const index = h.labelIndex && cycle.length > 0 ? h.labelIndex : null;
        replaceHash(keys.pods(namespace), h, index ? cycle : []);
        const fields: [string, string][] = [];
        if (index && h.size > 0) {
          for (const [labels, names] of index) fields.push([labels, names.join('\n')]);
          fields.push(...cycle);
        }
        // An index is written even with no pod that has metrics (just the cycle), so readers trust it.
        replaceHash(keys.podLabels(namespace), { fields, size: fields.length, expireAt: h.expireAt });
      };
      for (const [namespace, h] of end.namespaces) replacePods(namespace, h);
      for (const namespace of end.previousNamespaces) {
        if (!end.namespaces.has(namespace)) replacePods(namespace, { fields: [], size: 0, expireAt: 0 });
      }
      // The nodes hash names its cycle too, so replicas can keep the node list as they keep namespaces'.
      replaceHash(keys.nodes, end.nodes, cycle);
      // The index last: a namespace is listed only once its pods are written.
      let indexExpiry = 0;
      const index: [string, string][] = [];
      for (const [namespace, h] of end.namespaces) {
        index.push([namespace, `${h.expireAt}\t${h.size}`]);
        indexExpiry = Math.max(indexExpiry, h.expireAt);
      }
      replaceHash(keys.namespaces, { fields: index, size: index.length, expireAt: indexExpiry });
      await runGroups(this.#redis, groups);
      // Only once every hash is in place: readers that hear of this cycle find all of it.
      if (cycleField) {
        await this.#redis.eval(
          ANNOUNCE,
          1,
          keys.latestCycle,
          String(start),
          cycleChannel(databaseOf(this.#redis)),
          Math.max(indexExpiry, end.nodes.expireAt),
        );
      }
    });
  }

  /** After a failed cycle: deletes its staging keys (best effort: they expire anyway). */
  async abandon(): Promise<void> {
    try {
      await this.#drain();
    } catch {
      // Already failed; what was sent is deleted below or expires.
    }
    const staged = [...this.#expirySet.keys()];
    await Promise.all(staged.map((k) => this.#redis.del(k))).catch(() => undefined);
  }
}

export class RedisMetricsWriter {
  #redis: RedisClient;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  acquireCycle(resolutionMs: number, toleranceMs: number, holder: string): Promise<CycleStart> {
    return guarded(async () => {
      const r = (await this.#redis.eval(
        ACQUIRE,
        1,
        keys.scrapeLock,
        resolutionMs,
        toleranceMs,
        holder,
      )) as number[];
      return { acquired: r[0] === 1, now: Number(r[1]), nextDue: Number(r[2]) };
    });
  }

  /** The previous states of these nodes, in the same order (null where none is kept). */
  readStates(nodes: string[]): Promise<(string | null)[]> {
    // Auto-pipelining sends these GETs in one round trip (per cluster node).
    return guarded(() => Promise.all(nodes.map((n) => this.#redis.get(keys.state(n)))));
  }

  readNamespaces(): Promise<string[]> {
    return guarded(async () => this.#redis.hkeys(keys.namespaces));
  }

  /** One node's previous state (null when none is kept); auto-pipelining batches concurrent reads. */
  readState(node: string): Promise<string | null> {
    return guarded(() => this.#redis.get(keys.state(node)));
  }

  /** Starts writing a cycle's served hashes under staging keys private to it (CycleStaging). */
  stageCycle(o: StagingOptions): CycleStaging {
    return new CycleStaging(this.#redis, o);
  }

  /** A whole cycle in one call, through CycleStaging: what the cycle streams, given all at once. */
  async writeCycle(w: CycleWrite): Promise<void> {
    const staging = this.stageCycle({
      cycle: w.cycle ?? Date.now(),
      ttlMs: Math.max(60_000, w.stateTtlMs),
      cycleField: w.cycle !== undefined,
    });
    for (const [node, value] of w.states) staging.setState(node, value, w.stateTtlMs);
    const size = (h: HashWrite): StagedHash => ({ ...h, size: h.fields.length });
    await staging.finish({
      nodes: size(w.nodes),
      namespaces: new Map([...w.namespaces].map(([ns, h]) => [ns, size(h)])),
      previousNamespaces: w.previousNamespaces,
    });
  }

  /** The TLS sessions a previous scraper process saved (`host:port` → session). */
  readTlsSessions(): Promise<[string, Buffer][]> {
    return guarded(async () => {
      const all = await this.#redis.hgetallBuffer(keys.tlsSessions);
      return Object.entries(all);
    });
  }

  /** Saves sessions kubelets issued; the hash lives `ttlMs` after the last save (tickets expire anyway). */
  writeTlsSessions(sessions: [string, Buffer][], ttlMs: number): Promise<void> {
    if (sessions.length === 0) return Promise.resolve();
    return guarded(async () => {
      const p = this.#redis.pipeline();
      hsetChunks(p, keys.tlsSessions, sessions.flat());
      p.pexpire(keys.tlsSessions, ttlMs);
      await this.#exec(p);
    });
  }

  /** Adds a cycle's figures to the scraper's stored metrics (shared/metrics.ts). */
  writeScrapeStats(w: StatsWrite): Promise<void> {
    return guarded(async () => {
      // Both keys share the {scrape} hash tag: one pipeline, one Cluster slot.
      const p = this.#redis.pipeline();
      const update = (key: string, u: HashUpdate) => {
        for (const [field, by] of u.incr) p.hincrby(key, field, by);
        for (const [field, by] of u.incrFloat) p.hincrbyfloat(key, field, by);
        hsetChunks(p, key, u.set.flat());
      };
      update(keys.scrapeStats, w.stats);
      update(keys.scrapeKubeletStats, w.kubelet);
      await this.#exec(p);
    });
  }

  async #exec(p: ChainableCommander): Promise<void> {
    for (const [err] of (await p.exec()) ?? []) if (err) throw err;
  }
}
