/**
 * The Redis key layout: the one place that knows it.
 *
 * Served points (what the serve function reads, pre-rendered by the scraper):
 *   ms:nodes                 hash   node name  → entry (see entry.ts); `#cycle` names the cycle that wrote it
 *   ms:pods:{<namespace>}    hash   pod name   → entry; one key per namespace, so a namespace's pods
 *                                                (the HPA's query) are one HGETALL and a pod one HGET.
 *                                                A pod's entry names its item's bytes in a part
 *                                                (below) rather than holding them; `#order` (ORDER_FIELD),
 *                                                when one part holds every item, lists them in name
 *                                                order, so the unselected list is read as bytes
 *   ms:pods:{<namespace>}:items:<part>  string  pod items' bytes as one writer of one cycle appended
 *                                       them (entry.ts: itemRef), or, written by an unsharded cycle, its
 *                                       items in name order, a comma before each (entry.ts: isJoined:
 *                                       the unselected list as it is sent); `<part>` names that writer and cycle
 *                                       (`<cycle start>`, a shard's `<cycle start>.<shard>.<token>`), so a
 *                                       part is never written again once its cycle is published, and
 *                                       lives as long as the hash that names it
 *   ms:namespaces            hash   namespace  → `<expiresAt>\t<pod count>` (which ms:pods keys exist)
 *   ms:pods:{<namespace>}:labels  hash  labels JSON text → the names (newline-separated) of the pods
 *                                       with metrics that carry exactly those labels: a label selector
 *                                       (the HPA's query) is matched once per distinct label set, and only
 *                                       the matching pods are read (HMGET) instead of the whole namespace.
 *                                       `#cycle` in both hashes names the cycle that wrote them, so a
 *                                       reader knows the two came from the same cycle.
 *   ms:{cycle}               string the newest cycle whose hashes are all renamed in place; each time it moves the
 *                                   scraper also PUBLISHes it on `ms:{cycle}:announce:<db>`, so a serve replica
 *                                   knows when its kept lists (functions/serve/list-cache.ts) are stale
 *                                   without asking Redis per request.
 * The scraper's own memory (previous cumulative samples, for rates):
 *   ms:state:{<node>}        string the node's last/prev samples (functions/scrape/state.ts)
 *   ms:{scrape}:lock         string `<start> <next due> <until> <running|done|failed> <holder>` (ms, Redis
 *                                   clock; `until`: the lease's end while running, else when it ended): one
 *                                   cycle at a time across instances, for triggers one per resolution
 *                                   (shared/store/writer.ts, docs/behaviour.md)
 *   ms:{scrape}:tls          hash   kubelet `host:port` → its last TLS session, so a fresh scraper process
 *                                   resumes sessions instead of a full handshake with every kubelet
 *   ms:{scrape}:nodes        hash   node name → its kubelet's `host:port` ('' without a usable address):
 *                                   every node the scraper keeps anything for (below)
 * The scraper's own metrics (shared/metrics.ts), for every serve replica's /metrics:
 *   ms:{scrape}:stats        hash   counters and the tick histogram (HINCRBY: monotonic across instances),
 *                                   gauges (HSET): `total:<success>`, `tick:b:<i>|sum|count`, `points:<type>`
 *   ms:{scrape}:stats:kubelet hash  per node: `b:<i>:<node>`, `sum:<node>`, `count:<node>`, `last:<node>`
 *
 * Nothing outlives its node. The served hashes, label indexes and the namespaces index are rebuilt from
 * each cycle's lists, so a node and its pods leave them at the first cycle that no longer lists them.
 * What the scraper keeps per node beyond one cycle is tied to ms:{scrape}:nodes: each cycle's record
 * (RedisMetricsWriter.recordCycle) registers every listed node there in the same transactions that add
 * its statistics fields and its kubelet's TLS session field (so no other cycle's forgetting can fall in
 * between), after the cycle wrote its state key. Each cycle reads that hash beside the node list, and its
 * record forgets every registered node the list no longer has (state key, then statistics fields and
 * registration together) and every session field whose `host:port` no listed node uses. So one cycle
 * after a node leaves the API server's list nothing in Redis names it, however many nodes come and go; a
 * record that fails is retried by the next cycle, and a state key also expires by itself (3 resolutions).
 *
 * The events function (functions/events), per reading scope `<scope>` (eventsScope: `all`, or `ns:<namespace>`
 * under --namespace), every key in the one hash tag `{ev:<scope>}` so that each journal script touches one
 * Cluster slot, and two deployments reading different namespaces share nothing:
 *   ms:{ev:<scope>}:journal      stream  one entry per journaled event version: `n` (its sequence number,
 *                                        from 1) and `r` (the record's JSON); trimmed to what every sink has
 *                                        acknowledged and to --journal-max-age
 *   ms:{ev:<scope>}:checkpoint   hash    `rv` the resourceVersion to watch from (absent: list first), `at`
 *                                        when it last moved (Redis ms), `n` the last sequence number used
 *   ms:{ev:<scope>}:lease        string  the reading instance's token; PX = the lease duration, renewed while
 *                                        it reads. Every write above checks it (fencing)
 *   ms:{ev:<scope>}:event:<uid>  hash    what the journal knows of one event: `rv` and `last` (the JSON of its
 *                                        last journaled version, the next record's old_event), and `v:<rv>`
 *                                        for every version seen; PEXPIRE --event-ttl + 15m after the last
 *   ms:{ev:<scope>}:cursors      hash    sink name → `<journal id> <n>`: what that sink has acknowledged
 *   ms:{ev:<scope>}:inflight     hash    sink name → `<after id> <last id> <last n>`: the batch being sent, recorded
 *                                        before sending so that a redelivery sends exactly it again
 *   ms:{ev:<scope>}:sinks        hash    sink name → when it was last configured (Redis ms): a sink gone for
 *                                        --journal-max-age loses its cursor
 *
 * Names from the cluster only ever appear as hash fields, or inside a key after `encodeName`, which
 * escapes everything but [a-z0-9.-]: no name can add a `{`, `}`, `*`, `:` or whitespace to a key, so a
 * name never changes which key (or Redis Cluster slot) a command touches. Every key holds its own
 * `{…}` hash tag, so each key's slot is fixed by its own name, and the staging key a hash is built under
 * before its atomic RENAME (`<key>:next:<cycle start>`, private to the cycle) lands on the same slot.
 */

const PREFIX = 'ms:';

/** Percent-encodes every byte outside [a-z0-9.-], so the result is safe inside a key and a hash tag. */
export function encodeName(name: string): string {
  let plain = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46)) {
      plain = false;
      break;
    }
  }
  if (plain && name.length > 0) return name;
  let out = '';
  for (const byte of new TextEncoder().encode(name)) {
    const plainByte = (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte === 45 || byte === 46;
    out += plainByte ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // The empty name still needs a non-empty hash tag ("{}" would hash the whole key).
  return out === '' ? '%' : out;
}

export const keys = {
  nodes: `${PREFIX}{nodes}`,
  namespaces: `${PREFIX}{namespaces}`,
  pods: (namespace: string) => `${PREFIX}pods:{${encodeName(namespace)}}`,
  podLabels: (namespace: string) => `${PREFIX}pods:{${encodeName(namespace)}}:labels`,
  /** A part of a namespace's pod items (entry.ts: itemRef); `part` is [0-9a-z.] only. */
  podItems: (namespace: string, part: string) => `${PREFIX}pods:{${encodeName(namespace)}}:items:${part}`,
  state: (node: string) => `${PREFIX}state:{${encodeName(node)}}`,
  scrapeLock: `${PREFIX}{scrape}:lock`,
  scrapeStats: `${PREFIX}{scrape}:stats`,
  scrapeKubeletStats: `${PREFIX}{scrape}:stats:kubelet`,
  tlsSessions: `${PREFIX}{scrape}:tls`,
  /** Every node the scraper keeps anything for → its kubelet's `host:port` (the TLS session's field). */
  scrapeNodes: `${PREFIX}{scrape}:nodes`,
  /**
   * Where the cycle that started at `cycle` (ms) builds a served hash before renaming it over `key`:
   * same hash tag, same slot; private to that cycle, so overlapping cycles never write the same one.
   */
  staging: (key: string, cycle: number) => `${key}:next:${cycle}`,
  /** The newest cycle whose served hashes are all in place (string: its start, ms), and its channel. */
  latestCycle: `${PREFIX}{cycle}`,
} as const;

/** The hash tag of the events function's keys for one reading scope: all namespaces, or one. */
export const eventsScope = (namespace: string): string =>
  namespace === '' ? 'ev:all' : `ev:ns:${encodeName(namespace)}`;

/** The events function's keys for one scope (eventsScope). */
export function eventKeys(scope: string) {
  const base = `${PREFIX}{${scope}}`;
  return {
    journal: `${base}:journal`,
    checkpoint: `${base}:checkpoint`,
    lease: `${base}:lease`,
    event: (uid: string) => `${base}:event:${encodeName(uid)}`,
    cursors: `${base}:cursors`,
    inflight: `${base}:inflight`,
    sinks: `${base}:sinks`,
  } as const;
}

export type EventKeys = ReturnType<typeof eventKeys>;

/**
 * Where the scraper announces `keys.latestCycle` each time it moves (a message: the cycle's start).
 * Channels are server-wide, not per database: the database index keeps deployments that share a Redis
 * server on different databases from hearing each other.
 */
export const cycleChannel = (db: number) => `${PREFIX}{cycle}:announce:${db}`;

/**
 * The field naming the cycle that wrote a namespace's pods hash and its label index. No pod name (a DNS
 * subdomain) and no labels text (a JSON object) can be it, and readers of entries skip it (not an entry).
 */
export const CYCLE_FIELD = '#cycle';

/**
 * The field of a namespace's pods hash that lists its items in name order, when one part holds them all
 * (entry.ts: encodeOrder); like CYCLE_FIELD, no pod name can be it and readers of entries skip it.
 */
export const ORDER_FIELD = '#order';

/** The field of a namespace's pods hash naming the parts of items its entries point into (space-separated). */
export const PARTS_FIELD = '#parts';

/**
 * The store's own fields of a pods or nodes hash, which are not entries. Only these: a name that merely
 * starts with `#` (never a Kubernetes name, but data all the same) is an entry like any other.
 */
export function isStoreField(name: string): boolean {
  return name === CYCLE_FIELD || name === ORDER_FIELD || name === PARTS_FIELD;
}
