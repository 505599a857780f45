/**
 * What the scraper writes and reads back. A cycle streams its writes (CycleStaging): each node's state
 * and served entries go out in bounded pipelines as soon as the node is done, into staging hashes private
 * to the cycle, and at the end every served hash is replaced by one RENAME of its staging hash (atomic):
 * a reader sees a namespace's pods (or the node list) wholly from one cycle or wholly from the previous
 * one, never a mix.
 */
import type { ChainableCommander } from 'ioredis';
import { type HashUpdate, nodeStatsFields, type StatsWrite } from '../metrics.ts';
import { type EntryHead, encodeOrder } from './entry.ts';
import { CYCLE_FIELD, cycleChannel, keys, ORDER_FIELD, PARTS_FIELD } from './keys.ts';
import { databaseOf, guarded, type RedisClient } from './redis.ts';
import { HsetBuilder, SetrangeBuilder, SetsBuilder } from './resp.ts';

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

/** What the scraper records after a cycle, beside the served hashes (RedisMetricsWriter.recordCycle). */
export interface CycleRecord {
  /** The cycle's figures (shared/metrics.ts); omitted, none are stored. */
  stats?: StatsWrite | undefined;
  /** Every node the cycle listed → its kubelet's `host:port` ('' without a usable address). */
  endpoints: ReadonlyMap<string, string>;
  /** Sessions kubelets issued since the last record (`host:port` → session)… */
  sessions?: [string, Buffer][];
  /** …and how long the sessions hash lives after this save (a kubelet's tickets expire anyway). */
  sessionsTtlMs?: number;
  /** Registered nodes the cycle's list no longer has: their state, statistics and registration go. */
  departed?: string[];
  /** Session fields of kubelets no listed node uses any more. */
  staleEndpoints?: string[];
}

/** Which kind of request a cycle answers: an operator's `--once`, or a trigger (POST /, a --loop tick, a cron). */
export type CycleKind = 'once' | 'trigger';

/** A cycle's state in the lock. `failed` counts as run: the next trigger waits for the next due time. */
export type CycleState = 'running' | 'done' | 'failed';

export interface CycleClaimRequest {
  kind: CycleKind;
  resolutionMs: number;
  /** How early a trigger may come and still run the cycle due (cron ticks jitter). */
  toleranceMs: number;
  /** How long the lease lasts unless its runner renews it (CycleLease renews it every third). */
  leaseMs: number;
  holder: string;
}

/** What the lock says: the cycle taken now, or the one that keeps this request from running. */
export interface CycleClaim {
  /**
   * `taken`: this instance runs a cycle now. `running`: another instance holds a live lease on a cycle
   * (a trigger is skipped, `--once` waits). `done`: the cycle due has already run (a trigger is skipped).
   */
  outcome: 'taken' | 'running' | 'done';
  /** Redis' clock, ms. */
  now: number;
  /** The cycle taken (its start names it), or the one in progress or last run. */
  start: number;
  /** Who holds or last ran that cycle; for `taken`, the runner whose lapsed lease was retaken ('' if none). */
  holder: string;
  /** When the next cycle is due (Redis clock). */
  nextDue: number;
  /** `taken` and `running`: the end of the lease; `done`: when the cycle ended. */
  until: number;
  /** `done`: how the cycle ended. */
  state: CycleState;
  /**
   * `taken`: the cycle the lock named just before (null: none, its record expired): which instance ran
   * the states in Redis last, and how that cycle ended.
   */
  previous: { start: number; holder: string; state: CycleState } | null;
}

export type CycleRenewal = { held: true; until: number } | { held: false; holder: string; state: string };

/**
 * The cycle lock, `keys.scrapeLock`: `<start> <next due> <until> <state> <holder>` (times in ms on Redis'
 * clock; `until` is the lease's end while `running`, the cycle's end once `done` or `failed`; the holder,
 * last, may contain spaces). The key lives until a resolution past the later of both times. An older
 * scraper's value, `<start> <holder>`, reads as a cycle that ended when it started.
 */
const LOCK_LUA = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function read(key, resolution)
  local v = redis.call('GET', key)
  if not v then return nil end
  local start, due, untilT, state, holder = string.match(v, '^(%d+) (%d+) (%d+) (%a+) (.*)$')
  if start then
    return {start = start, due = tonumber(due), untilT = tonumber(untilT), state = state, holder = holder}
  end
  start, holder = string.match(v, '^(%d+) ?(.*)$')
  if not start then return nil end
  return {start = start, due = tonumber(start) + resolution, untilT = tonumber(start), state = 'done', holder = holder}
end
local function write(key, start, due, untilT, state, holder, resolution, t)
  redis.call('SET', key, start .. ' ' .. due .. ' ' .. untilT .. ' ' .. state .. ' ' .. holder,
    'PX', math.max(due, untilT) + resolution - t)
end
`;

/**
 * Takes the cycle, or says why not (CycleClaim), atomically on Redis' clock. A live lease is never taken
 * over. A trigger runs only when the cycle due has not run (the last one ended, or failed, at least a
 * resolution less the tolerance ago) or was left unfinished by a runner whose lease lapsed; `--once`
 * runs whenever no live lease is held. A cycle that takes over a lapsed lease, and a `--once` before
 * the due time, keep the due time, so cron ticks and --loop tickers keep their cadence.
 * ARGV: kind, resolution, tolerance, lease, holder.
 */
const ACQUIRE = `${LOCK_LUA}
local t = now()
local resolution, tolerance, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local l = read(KEYS[1], resolution)
if l then
  if l.state == 'running' and l.untilT > t then
    return {'running', t, l.start, l.holder, l.due, l.untilT, l.state}
  end
  if ARGV[1] ~= 'once' and l.state ~= 'running' and t < l.due - tolerance then
    return {'done', t, l.start, l.holder, l.due, l.untilT, l.state}
  end
end
local due = t + resolution
if l and t < l.due - tolerance and (ARGV[1] == 'once' or l.state == 'running') then due = l.due end
write(KEYS[1], t, due, t + lease, 'running', ARGV[5], resolution, t)
local retaken = ''
if l and l.state == 'running' then retaken = l.holder end
if l then return {'taken', t, tostring(t), retaken, due, t + lease, 'running', l.start, l.holder, l.state} end
return {'taken', t, tostring(t), retaken, due, t + lease, 'running'}
`;

/** Extends the lease of the cycle `start` held by `holder`, if it still is. ARGV: start, holder, lease, resolution. */
const RENEW = `${LOCK_LUA}
local t = now()
local resolution = tonumber(ARGV[4])
local l = read(KEYS[1], resolution)
if l and l.start == ARGV[1] and l.holder == ARGV[2] and l.state == 'running' then
  write(KEYS[1], l.start, l.due, t + tonumber(ARGV[3]), 'running', l.holder, resolution, t)
  return {1, t + tonumber(ARGV[3])}
end
if not l then return {0, '', ''} end
return {0, l.holder, l.state}
`;

/** Marks the cycle `start` held by `holder` as ended (done or failed), if it still holds it. ARGV: start, holder, state, resolution. */
const END = `${LOCK_LUA}
local t = now()
local resolution = tonumber(ARGV[4])
local l = read(KEYS[1], resolution)
if l and l.start == ARGV[1] and l.holder == ARGV[2] and l.state == 'running' then
  write(KEYS[1], l.start, l.due, t, ARGV[3], l.holder, resolution, t)
  return 1
end
return 0
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
 * Replaces a served hash by a cycle's staging hash (or deletes both), unless a newer cycle wrote the
 * served one: a runner that lost its lease while stalled in its renames never overwrites a newer cycle.
 * And a staging hash is renamed only if it holds every field the cycle wrote into it: fewer means writes
 * were lost because Redis failed over during the cycle (asynchronous replication loses what the old
 * master had not passed on, and the client sends the rest to the new master). Such a hash would serve a
 * list with nodes or pods missing; the cycle fails instead, and the next one writes them all.
 * The same holds for the parts of pod items the hash's entries name: each must be exactly as long as its
 * writers wrote it, and without a NUL byte (a lost SETRANGE leaves the gap zero-filled; JSON text has no
 * NUL); once the hash is in place, they live as long as it does, and the parts the replaced hash named
 * (its PARTS_FIELD) are deleted with it: nothing of a pod outlives the first cycle without it. A reader
 * that read an entry just before finds its part gone and reads the entry again (reader.ts).
 * Where the cycle's writer holds every item of the namespace (OrderedItems), the first part is written
 * again in name order, a comma before each item: the entries and the order already name those places.
 * KEYS: served, staging, items parts (same slot); ARGV: the cycle's start, 'rename' | 'delete',
 * CYCLE_FIELD ('' for hashes that name no cycle), the fields the cycle wrote, the hash's expiry (ms),
 * PARTS_FIELD, the parts' key prefix (keys.podItems(namespace, '')), where the first part's items are
 * in name order (offset, length pairs as uint32 little-endian; '' to keep it as written), then each
 * part's length.
 */
const REPLACE_UNLESS_NEWER = `
if ARGV[3] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') or 0
  if current > tonumber(ARGV[1]) then
    for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
    return 0
  end
end
local function dropOldParts(keep)
  local old = redis.call('HGET', KEYS[1], ARGV[6])
  if not old then return end
  for part in string.gmatch(old, '%S+') do
    local k = ARGV[7] .. part
    if not keep[k] then redis.call('DEL', k) end
  end
end
if ARGV[2] == 'delete' then
  dropOldParts({})
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
local n = redis.call('HLEN', KEYS[2])
if n < tonumber(ARGV[4]) then
  return redis.error_reply('INCOMPLETE ' .. KEYS[2] .. ' holds ' .. n .. ' of the ' .. ARGV[4] .. ' fields its cycle wrote (a failover lost writes)')
end
local keep = {}
for i = 3, #KEYS do
  local items = redis.call('GET', KEYS[i]) or ''
  if #items ~= tonumber(ARGV[i + 6]) or string.find(items, '\0', 1, true) then
    return redis.error_reply('INCOMPLETE ' .. KEYS[i] .. ' holds ' .. #items .. ' of the ' .. ARGV[i + 6] .. ' bytes its cycle wrote, or a gap (a failover lost writes)')
  end
  if i == 3 and ARGV[8] ~= '' then
    -- The first part's items in the order ARGV[8] names them, a comma before each.
    local from, picked = ARGV[8], {''}
    for j = 1, #from / 8 do
      local offset, length = struct.unpack('<I4I4', from, 8 * j - 7)
      picked[j + 1] = string.sub(items, offset + 1, offset + length)
    end
    items = table.concat(picked, ',')
  end
  -- Written again whole: the appends grew the string with room to spare (up to twice its size).
  redis.call('SET', KEYS[i], items)
  keep[KEYS[i]] = true
end
dropOldParts(keep)
redis.call('RENAME', KEYS[2], KEYS[1])
for i = 3, #KEYS do redis.call('PEXPIREAT', KEYS[i], ARGV[5]) end
return 1
`;

/** Commands per pipeline (HSET fields count one each): bounds each round trip's size. */
const PIPELINE_COMMANDS = 4000;
/** Commands per transaction: Redis runs each at once, so it is kept to about a millisecond's work. */
const TRANSACTION_COMMANDS = 1000;
/** Listed nodes per transaction of a cycle's record (a few commands each). */
const NODES_PER_TRANSACTION = 250;

/**
 * A cycle's streamed writes are sent once this many HSET fields or SETs are buffered… (a node's pods
 * spread over many namespaces, so a batch must be large for each HSET to carry several fields)
 */
const FLUSH_COMMANDS = 4000;
/** …or this many bytes of names and values, whichever comes first. */
const FLUSH_BYTES = 4 << 20;
/** Sends in flight before a writer waits for one to complete: bounds what the cycle holds. */
const MAX_IN_FLIGHT = 2;

/** One writer's part of a namespace's pod items (keys.podItems), as it is being written. */
interface ItemsPart {
  key: string;
  /** Bytes appended so far, sent or not. */
  length: number;
  /** The bytes appended since the last send (null: none), to be written from offset `sentTo`. */
  pending: SetrangeBuilder | null;
  sentTo: number;
  /** The bytes the last send took (sizes the next builder's first buffer). */
  lastBytes: number;
}

/** A command builder (resp.ts), whose buffer goes back to the pool once its pipeline has settled. */
type Built = { release(): void };

/** Commands that touch one key (so one Cluster slot), and about how many they are. */
interface Group {
  weight: number;
  add: (p: ChainableCommander) => void;
}

/**
 * Sends groups in pipelines of at most PIPELINE_COMMANDS (in Cluster mode one pipeline per group, so
 * each touches one slot), all at once: on one connection they still reach Redis in order. With
 * `transaction`, every group is applied whole or not at all (MULTI/EXEC, at most TRANSACTION_COMMANDS
 * each, so that no transaction holds Redis up for long); all groups must then share one slot. The
 * command builders in `built` are released once every pipeline has settled.
 */
async function runGroups(
  redis: RedisClient,
  groups: Group[],
  o: { transaction?: boolean; built?: readonly Built[] } = {},
): Promise<void> {
  const transaction = o.transaction ?? false;
  const pipelines: ChainableCommander[] = [];
  let current: ChainableCommander | null = null;
  let weight = 0;
  const limit = transaction ? TRANSACTION_COMMANDS : PIPELINE_COMMANDS;
  for (const g of groups) {
    if (current === null || (redis.isCluster && !transaction) || weight + g.weight > limit) {
      current = transaction ? redis.multi() : redis.pipeline();
      pipelines.push(current);
      weight = 0;
    }
    g.add(current);
    weight += g.weight;
  }
  // Every pipeline settled before any error is thrown, and before the builders' buffers go back.
  const results = await Promise.allSettled(pipelines.map((p) => p.exec()));
  for (const b of o.built ?? []) b.release();
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    if (r.value === null) throw new Error('a Redis transaction was aborted');
    for (const [err] of r.value) if (err) throw err;
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
  /**
   * Names this writer's parts of pod items (keys.podItems; [0-9a-z.] only): the default, the cycle's
   * start, for the one writer of an unsharded cycle; every writer of a sharded cycle needs its own.
   */
  part?: string;
}

export type { EntryHead } from './entry.ts';

/** A served hash at the end of a cycle: some fields already streamed, these still to write. */
export interface StagedHash extends HashWrite {
  /** How many fields the hash holds, streamed and `fields` together: 0 deletes the served hash. */
  size: number;
  /** Parts of pod items other writers (a sharded cycle's shards) wrote for it: part → bytes. */
  parts?: [part: string, bytes: number][];
  /** The namespace's served pods in name order, when this writer wrote all their items (OrderedItems). */
  ordered?: OrderedItems;
}

/**
 * A namespace's served pods in name order, each item put in this writer's part by podItemBytes (an
 * unsharded cycle). `finish` writes the part again in this order with a comma before each item
 * (entry.ts: isJoined), so the unselected list is the parts' bytes one after another; each pod's entry,
 * naming its item's place there; and the order itself (ORDER_FIELD, entry.ts: encodeOrder).
 */
export interface OrderedItems {
  names: string[];
  heads: EntryHead[];
  /** Per pod: where podItemBytes put its item (offset, length). */
  spans: Uint32Array;
}

/**
 * Where each item of `o` is once its part is in name order, a comma before each (entry.ts: isJoined):
 * the spans of ORDER_FIELD; and the earliest expiry among them.
 */
function orderedSpans(o: OrderedItems): { spans: Uint32Array; expiresAt: number } {
  const spans = new Uint32Array(o.spans.length);
  let at = 1;
  let expiresAt = Number.POSITIVE_INFINITY;
  for (let i = 0; i < o.names.length; i++) {
    const length = o.spans[2 * i + 1]!;
    spans[2 * i] = at;
    spans[2 * i + 1] = length;
    at += length + 1;
    expiresAt = Math.min(expiresAt, o.heads[i]!.expiresAt);
  }
  return { spans, expiresAt };
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
   * Buffered HSET fields per staging key, written as RESP as they come (resp.ts): as strings, ioredis
   * would join a pipeline's arguments into one huge string, and as Buffers convert each again.
   */
  #hashes = new Map<string, HsetBuilder>();
  /**
   * Each staging key's bytes of fields in its last send: the next builder's first buffer is sized from
   * it (a cycle's hundreds of keys each get a few KiB per send, and off-heap allocations count towards
   * what makes V8 collect).
   */
  readonly #hashBytes = new Map<string, number>();
  /** Buffered state SETs, written as RESP as they come (their values copied once, here). */
  #states: SetsBuilder | null = null;
  /** The state SETs' bytes in the last send (sizes the next builder's first buffer). */
  #stateBytes = 0;
  #commands = 0;
  #bytes = 0;
  /** Staging key → when its TTL was last set (local clock), for every key this cycle wrote. */
  readonly #expirySet = new Map<string, number>();
  readonly #podKeys = new Map<string, string>();
  readonly #nodesKey: string;
  readonly #inFlight = new Set<Promise<void>>();
  #error: unknown = null;
  /** Per namespace, this writer's part of its pod items: its key, its length, the bytes still to send. */
  readonly #items = new Map<string, ItemsPart>();

  constructor(redis: RedisClient, o: StagingOptions) {
    this.#redis = redis;
    this.#o = { cycleField: true, flushCommands: FLUSH_COMMANDS, part: String(o.cycle), ...o };
    this.#nodesKey = keys.staging(keys.nodes, o.cycle);
  }

  /** What names this writer's parts of pod items (StagingOptions.part). */
  get part(): string {
    return this.#o.part;
  }

  /** How many bytes of pod items this writer wrote per namespace (its part's length). */
  itemBytes(): Map<string, number> {
    return new Map([...this.#items].map(([namespace, p]) => [namespace, p.length]));
  }

  /** The node's state, kept `ttlMs` (its bytes are copied now). */
  setState(node: string, value: string | Buffer, ttlMs: number): void {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    this.#states ??= new SetsBuilder(this.#stateBytes);
    this.#states.add(keys.state(node), bytes, ttlMs);
    this.#commands++;
    this.#bytes += value.length;
  }

  /** A pod's entry in its namespace's staging hash (a later one for the same pod replaces it). */
  podEntry(namespace: string, name: string, value: string): void {
    this.#hset(this.#podKey(namespace), name, value);
  }

  /**
   * A pod's entry with its item: the item's bytes are appended to this writer's part of the namespace's
   * items, and the entry names them (itemRef). Returns where they are: offset, length.
   */
  podItem(namespace: string, name: string, head: EntryHead, item: string): [offset: number, length: number] {
    const [offset, length] = this.podItemBytes(namespace, item);
    // The entry, `encodeEntry({ ...head, item: itemRef(part, offset, length) })`, written as its bytes.
    this.#bytes += this.#builder(this.#podKey(namespace)).addEntryRef(
      name,
      head,
      this.#o.part,
      offset,
      length,
    );
    return [offset, length];
  }

  /**
   * A pod's item alone, appended to this writer's part of the namespace's items as podItem does; its
   * entry comes with `finish`, which names where the item is once the part is in name order
   * (StagedHash.ordered). Returns where the bytes are until then: offset, length.
   */
  podItemBytes(namespace: string, item: string): [offset: number, length: number] {
    let part = this.#items.get(namespace);
    if (part === undefined) {
      const key = keys.podItems(namespace, this.#o.part);
      part = { key, length: 0, pending: null, sentTo: 0, lastBytes: 0 };
      this.#items.set(namespace, part);
    }
    part.pending ??= new SetrangeBuilder(part.key, part.lastBytes);
    const length = part.pending.add(item);
    const offset = part.length;
    part.length += length;
    this.#bytes += length;
    this.#commands++;
    return [offset, length];
  }

  #podKey(namespace: string): string {
    let key = this.#podKeys.get(namespace);
    if (key === undefined) {
      key = keys.staging(keys.pods(namespace), this.#o.cycle);
      this.#podKeys.set(namespace, key);
    }
    return key;
  }

  nodeEntry(name: string, value: string): void {
    this.#hset(this.#nodesKey, name, value);
  }

  /** The HSET being built for `key` until the next send. */
  #builder(key: string): HsetBuilder {
    let h = this.#hashes.get(key);
    if (h === undefined) {
      h = new HsetBuilder(key, this.#hashBytes.get(key));
      this.#hashes.set(key, h);
    }
    return h;
  }

  #hset(key: string, name: string, value: string): void {
    this.#builder(key).add(name, value);
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

  /**
   * Sends everything buffered and waits for every send; throws the first error. A shard's end: its
   * fields are in the cycle's staging hashes, which the coordinator renames (finish) once every shard is
   * done; a shard never renames or deletes them (other shards write into the same hashes).
   */
  flush(): Promise<void> {
    return guarded(() => this.#drain());
  }

  /** Sends everything buffered and waits for every send; throws the first error. */
  async #drain(): Promise<void> {
    if (this.#commands > 0) this.#send();
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    if (this.#error !== null) throw this.#error;
  }

  #send(): void {
    const groups: Group[] = [];
    const built: Built[] = [];
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
    for (const [key, h] of this.#hashes) {
      this.#hashBytes.set(key, h.bytes);
      built.push(h);
      const expire = renew(key);
      groups.push({
        weight: h.fields + 1,
        add: (p) => {
          h.send(p);
          if (expire) p.pexpire(key, ttlMs);
        },
      });
    }
    // Each part's new bytes in one SETRANGE at their offset: a command sent twice (a reconnect) writes
    // the same bytes again, and one lost leaves a gap that finish's check finds.
    for (const part of this.#items.values()) {
      const items = part.pending;
      if (items === null) continue;
      const { key, sentTo } = part;
      part.pending = null;
      part.lastBytes = items.bytes;
      part.sentTo += items.bytes;
      built.push(items);
      const expire = renew(key);
      groups.push({
        weight: 1,
        add: (p) => {
          items.send(p, sentTo);
          if (expire) p.pexpire(key, ttlMs);
        },
      });
    }
    for (const key of this.#expirySet.keys()) {
      if (!this.#hashes.has(key) && renew(key)) groups.push({ weight: 1, add: (p) => p.pexpire(key, ttlMs) });
    }
    const states = this.#states;
    if (states !== null) {
      this.#stateBytes = states.bytes;
      built.push(states);
      for (let i = 0; i < states.count; i++) groups.push({ weight: 1, add: (p) => states.send(p, i) });
    }
    this.#hashes = new Map();
    this.#states = null;
    this.#commands = 0;
    this.#bytes = 0;
    const sent: Promise<void> = runGroups(this.#redis, groups, { built })
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
      /** The namespaces' ordered entries, built here. */
      const built: Built[] = [];
      const replaceHash = (
        key: string,
        h: StagedHash,
        extra: [string, string | Buffer][] = [],
        parts: { prefix: string; list: [part: string, bytes: number][] } = { prefix: '', list: [] },
        ordered: { entries: HsetBuilder; from: Buffer } | null = null,
      ) => {
        const next = keys.staging(key, start);
        groups.push({
          weight: h.fields.length + extra.length + 3 + (ordered?.entries.fields ?? 0),
          add: (p) => {
            if (h.size > 0) {
              ordered?.entries.send(p);
              hsetChunks(p, next, [...h.fields.flat(), ...extra.flat()]);
              p.pexpireat(next, h.expireAt);
            }
            const op = h.size > 0 ? 'rename' : 'delete';
            p.eval(
              REPLACE_UNLESS_NEWER,
              2 + parts.list.length,
              key,
              next,
              ...parts.list.map(([part]) => parts.prefix + part),
              start,
              op,
              cycleField ? CYCLE_FIELD : '',
              h.size + extra.length,
              h.expireAt,
              PARTS_FIELD,
              parts.prefix,
              ordered?.from ?? '',
              ...parts.list.map(([, bytes]) => bytes),
            );
          },
        });
      };
      const cycle: [string, string][] = cycleField ? [[CYCLE_FIELD, String(start)]] : [];
      /** A namespace's pods, and its label index beside it (both naming this cycle, so readers can tell). */
      const replacePods = (namespace: string, h: StagedHash) => {
        const index = h.labelIndex && cycle.length > 0 ? h.labelIndex : null;
        const list: [string, number][] = [];
        const own = this.#items.get(namespace);
        if (own !== undefined && h.size > 0) list.push([this.#o.part, own.length]);
        if (h.size > 0) list.push(...(h.parts ?? []));
        const parts = { prefix: keys.podItems(namespace, ''), list };
        const extra: [string, string | Buffer][] = index ? [...cycle] : [];
        if (list.length > 0) extra.push([PARTS_FIELD, list.map(([part]) => part).join(' ')]);
        const ordered =
          own !== undefined && h.size > 0 && h.ordered ? this.#ordered(namespace, h.ordered) : null;
        if (ordered) {
          built.push(ordered.entries);
          extra.push([ORDER_FIELD, ordered.order]);
        }
        replaceHash(keys.pods(namespace), h, extra, parts, ordered);
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
      await runGroups(this.#redis, groups, { built });
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

  /**
   * For a namespace whose items this writer holds (OrderedItems): each pod's entry naming its item's
   * place in the part once it is in name order, the order (ORDER_FIELD), and where the items are now
   * (offset, length pairs as uint32 little-endian: REPLACE_UNLESS_NEWER puts them in that order).
   */
  #ordered(namespace: string, o: OrderedItems): { entries: HsetBuilder; order: Buffer; from: Buffer } {
    const { spans, expiresAt } = orderedSpans(o);
    const part = this.#o.part;
    const entries = new HsetBuilder(this.#podKey(namespace), 128 * o.names.length);
    const timestamps = new Float64Array(o.names.length);
    for (let i = 0; i < o.names.length; i++) {
      const head = o.heads[i]!;
      entries.addEntryRef(o.names[i]!, head, part, spans[2 * i]!, spans[2 * i + 1]!);
      timestamps[i] = head.timestamp;
    }
    const from = Buffer.alloc(4 * o.spans.length);
    for (let i = 0; i < o.spans.length; i++) from.writeUInt32LE(o.spans[i]!, 4 * i);
    return { entries, order: encodeOrder({ part, expiresAt, spans, timestamps }), from };
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
  /** The cycle lock's connection: a lease renewal must not wait behind a cycle's pipelines. */
  #lock: RedisClient;

  /** @param lock a connection of its own for the cycle lock (default: `redis`). */
  constructor(redis: RedisClient, lock: RedisClient = redis) {
    this.#redis = redis;
    this.#lock = lock;
  }

  /** Takes the cycle, or learns who keeps this request from running (ACQUIRE). */
  acquireCycle(r: CycleClaimRequest): Promise<CycleClaim> {
    return guarded(async () => {
      const v = (await this.#lock.eval(
        ACQUIRE,
        1,
        keys.scrapeLock,
        r.kind,
        r.resolutionMs,
        r.toleranceMs,
        r.leaseMs,
        r.holder,
      )) as [
        CycleClaim['outcome'],
        number,
        string,
        string,
        number,
        number,
        CycleState,
        string?,
        string?,
        string?,
      ];
      return {
        previous:
          v[7] === undefined
            ? null
            : { start: Number(v[7]), holder: String(v[8]), state: String(v[9]) as CycleState },
        outcome: v[0],
        now: Number(v[1]),
        start: Number(v[2]),
        holder: String(v[3]),
        nextDue: Number(v[4]),
        until: Number(v[5]),
        state: v[6],
      };
    });
  }

  /** Extends the lease on cycle `start`, or learns that `holder` no longer holds it (RENEW). */
  renewCycle(start: number, holder: string, leaseMs: number, resolutionMs: number): Promise<CycleRenewal> {
    return guarded(async () => {
      const v = (await this.#lock.eval(RENEW, 1, keys.scrapeLock, start, holder, leaseMs, resolutionMs)) as [
        number,
        number | string,
        string,
      ];
      return v[0] === 1
        ? { held: true, until: Number(v[1]) }
        : { held: false, holder: String(v[1]), state: String(v[2]) };
    });
  }

  /** Marks cycle `start` ended, if `holder` still holds it; false when it does not (END). */
  endCycle(start: number, holder: string, state: 'done' | 'failed', resolutionMs: number): Promise<boolean> {
    return guarded(async () => {
      const v = await this.#lock.eval(END, 1, keys.scrapeLock, start, holder, state, resolutionMs);
      return v === 1;
    });
  }

  /** The previous states of these nodes, in the same order (null where none is kept). */
  readStates(nodes: string[]): Promise<(Buffer | null)[]> {
    // Auto-pipelining sends these GETs in one round trip (per cluster node).
    return guarded(() => Promise.all(nodes.map((n) => this.#redis.getBuffer(keys.state(n)))));
  }

  readNamespaces(): Promise<string[]> {
    return guarded(async () => this.#redis.hkeys(keys.namespaces));
  }

  /** One node's previous state (null when none is kept); auto-pipelining batches concurrent reads. */
  readState(node: string): Promise<Buffer | null> {
    return guarded(() => this.#redis.getBuffer(keys.state(node)));
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

  /** Every node the scraper keeps anything for, and its kubelet's `host:port` (keys.scrapeNodes). */
  readKnownNodes(): Promise<Map<string, string>> {
    return guarded(async () => new Map(Object.entries(await this.#redis.hgetall(keys.scrapeNodes))));
  }

  /**
   * What a cycle leaves beside the served hashes: every listed node registered (keys.scrapeNodes) in
   * one transaction with its figures and its kubelet's new TLS session, and departed nodes forgotten: a
   * departed node's state key first, then its statistics fields with its registration (one transaction),
   * so a failure anywhere leaves it registered, to be forgotten by the next cycle.
   */
  recordCycle(r: CycleRecord): Promise<void> {
    return guarded(async () => {
      const departed = r.departed ?? [];
      // Each state key has a slot of its own: not part of the transactions below.
      await Promise.all(departed.map((node) => this.#redis.del(keys.state(node))));
      const groups: Group[] = [];
      const increment = (p: ChainableCommander, key: string, u: HashUpdate) => {
        for (const [field, by] of u.incr) p.hincrby(key, field, by);
        for (const [field, by] of u.incrFloat) p.hincrbyfloat(key, field, by);
      };
      const stats = r.stats;
      if (stats) {
        const { incr, incrFloat, set } = stats.stats;
        groups.push({
          weight: incr.length + incrFloat.length + set.length,
          add: (p) => {
            increment(p, keys.scrapeStats, stats.stats);
            hsetChunks(p, keys.scrapeStats, set.flat());
          },
        });
      }

      // Nodes a transaction's worth at a time, their registrations and assignments one HSET each. A
      // session is kept only for a listed node's kubelet, and goes with the first node that uses it.
      const sessions = new Map(r.sessions ?? []);
      const listed = [...r.endpoints];
      for (let i = 0; i < listed.length; i += NODES_PER_TRANSACTION) {
        const registry: string[] = [];
        const set: string[] = [];
        const tls: (string | Buffer)[] = [];
        const increments: HashUpdate[] = [];
        let weight = 3;
        for (const [node, endpoint] of listed.slice(i, i + NODES_PER_TRANSACTION)) {
          registry.push(node, endpoint);
          const u = stats?.kubelet.get(node);
          if (u) {
            increments.push(u);
            for (const [field, value] of u.set) set.push(field, value);
            weight += u.incr.length + u.incrFloat.length;
          }
          const session = sessions.get(endpoint);
          if (session) {
            sessions.delete(endpoint);
            tls.push(endpoint, session);
          }
        }
        groups.push({
          weight,
          add: (p) => {
            p.hset(keys.scrapeNodes, ...registry);
            for (const u of increments) increment(p, keys.scrapeKubeletStats, u);
            if (set.length > 0) p.hset(keys.scrapeKubeletStats, ...set);
            if (tls.length > 0) p.hset(keys.tlsSessions, ...tls);
          },
        });
      }
      if ((r.sessions ?? []).length > 0) {
        const ttl = r.sessionsTtlMs ?? 0;
        groups.push({ weight: 1, add: (p) => p.pexpire(keys.tlsSessions, ttl) });
      }
      for (const node of departed) {
        const fields = nodeStatsFields(node);
        groups.push({
          weight: fields.length + 1,
          add: (p) => {
            p.hdel(keys.scrapeKubeletStats, ...fields);
            p.hdel(keys.scrapeNodes, node);
          },
        });
      }
      const stale = r.staleEndpoints ?? [];
      for (let i = 0; i < stale.length; i += TRANSACTION_COMMANDS) {
        const some = stale.slice(i, i + TRANSACTION_COMMANDS);
        groups.push({ weight: some.length, add: (p) => p.hdel(keys.tlsSessions, ...some) });
      }
      // All on the {scrape} slot, in transactions: another instance's cycle forgetting a node can never
      // fall between the node's registration and the fields it registers.
      await runGroups(this.#redis, groups, { transaction: true });
    });
  }
}
