/**
 * The journal: every event version (uid + resourceVersion) appended once to a Redis stream, in the
 * order the API server sent them, with the checkpoint (the resourceVersion to watch from) moved in the
 * same script. A crash therefore leaves either the whole batch journaled with the checkpoint after it,
 * or neither: a watch from the checkpoint never replays a journaled version and never skips one.
 *
 * What the journal knows of each event (its last journaled version, every resourceVersion seen) lives
 * in one small hash per event that expires --event-ttl (+15 min) after its last version, by which time
 * the API server has deleted the event too: a re-list after `410 Gone`, a restart without checkpoint or
 * a version the watch sends twice finds it there and appends nothing, while a genuine update (a count
 * or series.count bump) is appended as UPDATED with the previous version as old_event.
 *
 * Appending is two steps: read what is known of the batch's events, plan the records (pure, below),
 * then one script that checks nothing changed since the read, appends, marks and moves the checkpoint.
 * Only the lease holder writes (the script checks its token), so the check never fails in practice.
 */

import type { EventKeys } from '../../shared/store/keys.ts';
import type { RedisClient } from '../../shared/store/redis.ts';
import { guarded } from '../../shared/store/redis.ts';
import { FENCE, script } from './lua.ts';
import { buildRecord, type EventRecord, type KubeEvent, sameContent } from './record.ts';

/** What the journal knows of one event before a batch. */
export interface Known {
  /** The last resourceVersion seen ('' for none). */
  rv: string;
  /** The last journaled version (the next record's old_event), or null. */
  last: KubeEvent | null;
  /** Which of the batch's resourceVersions of this event were seen already. */
  seen: ReadonlySet<string>;
}

export interface PlannedVersion {
  uid: string;
  rv: string;
  /** The `rv` the journal must still hold for this event when the batch is written. */
  expect: string;
  /** The record to append; null for a version that changes nothing but its resourceVersion. */
  record: EventRecord | null;
}

export interface Plan {
  versions: PlannedVersion[];
  /** Already journaled (a replay, a re-list). */
  duplicates: number;
  /** A new resourceVersion with the same content: remembered, not journaled. */
  unchanged: number;
}

/**
 * Which of `versions` (in the API server's order) become records, given what the journal knew of their
 * events before: each version once; a version equal to the last journaled one but for its
 * resourceVersion is remembered without a record.
 */
export function planAppend(versions: readonly KubeEvent[], known: ReadonlyMap<string, Known>): Plan {
  const state = new Map<string, { rv: string; last: KubeEvent | null; seen: Set<string> }>();
  const out: Plan = { versions: [], duplicates: 0, unchanged: 0 };
  for (const v of versions) {
    const { uid, resourceVersion: rv } = v.metadata;
    let s = state.get(uid);
    if (!s) {
      const k = known.get(uid);
      s = { rv: k?.rv ?? '', last: k?.last ?? null, seen: new Set(k?.seen ?? []) };
      state.set(uid, s);
    }
    if (s.seen.has(rv)) {
      out.duplicates++;
      continue;
    }
    let record: EventRecord | null = null;
    if (s.last !== null && sameContent(v, s.last)) out.unchanged++;
    else {
      record = buildRecord(v, s.last);
      s.last = record.event;
    }
    out.versions.push({ uid, rv, expect: s.rv, record });
    s.rv = rv;
    s.seen.add(rv);
  }
  return out;
}

/**
 * What the journal knows of a batch's events, in one round trip (a chunk of a busy watch names hundreds
 * of events: one command each would be as many socket writes). KEYS: the events' hashes. ARGV: per key,
 * how many of the batch's resourceVersions it has, then those. Reply: per key its `rv` and `last` ('' for
 * none), then 1 or 0 per resourceVersion: seen before or not.
 */
const KNOWN = script(`
local out = {}
local a = 1
for i = 1, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  local hm = redis.call('HMGET', KEYS[i], 'rv', 'last')
  out[#out + 1] = hm[1] or ''
  out[#out + 1] = hm[2] or ''
  for _ = 1, n do
    out[#out + 1] = redis.call('HEXISTS', KEYS[i], 'v:' .. ARGV[a])
    a = a + 1
  end
end
return out
`);

/**
 * KEYS: lease, journal, checkpoint, then the events' hashes. ARGV: token, checkpoint ('' = keep),
 * hash TTL (ms), the number of versions, then five per version: its hash's index in KEYS, rv, the rv
 * expected before it, its record's JSON ('' = none: only remembered) and its event's JSON (`last`). All checks first: Redis does not
 * undo a script's writes when it fails halfway.
 */
const APPEND = script(`${FENCE}
local count = tonumber(ARGV[4])
local current = {}
for i = 0, count - 1 do
  local b = 5 + i * 5
  local k = KEYS[tonumber(ARGV[b])]
  if current[k] == nil then current[k] = redis.call('HGET', k, 'rv') or '' end
  if current[k] ~= ARGV[b + 2] or redis.call('HEXISTS', k, 'v:' .. ARGV[b + 1]) == 1 then
    return redis.error_reply('STALE the journal changed since this batch was planned')
  end
  current[k] = ARGV[b + 1]
end
local n = tonumber(redis.call('HGET', KEYS[3], 'n') or '0')
local last = ''
for i = 0, count - 1 do
  local b = 5 + i * 5
  local k = KEYS[tonumber(ARGV[b])]
  local rv = ARGV[b + 1]
  if ARGV[b + 3] ~= '' then
    n = n + 1
    last = redis.call('XADD', KEYS[2], '*', 'n', n, 'r', ARGV[b + 3])
    redis.call('HSET', k, 'rv', rv, 'v:' .. rv, '1', 'last', ARGV[b + 4])
  else
    redis.call('HSET', k, 'rv', rv, 'v:' .. rv, '1')
  end
  redis.call('PEXPIRE', k, ARGV[3])
end
redis.call('HSET', KEYS[3], 'n', n)
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[3], 'rv', ARGV[2], 'at', t[1] * 1000 + math.floor(t[2] / 1000))
end
return {n, last}
`);

export interface AppendResult {
  journaled: number;
  duplicates: number;
  unchanged: number;
  /** The id of the last entry appended ('' when none was). */
  lastId: string;
}

export interface Checkpoint {
  /** The resourceVersion to watch from; null: list first. */
  rv: string | null;
  /** When it last moved (Redis ms), null if never. */
  at: number | null;
  /** Records appended so far (the last entry's `n`). */
  appended: number;
}

export interface JournalEntry {
  /** The stream id: `<Redis ms when journaled>-<seq>`. */
  id: string;
  /** Its sequence number, from 1: backlogs are differences of these. */
  n: number;
  /** null only for an entry that is not a record (written by something else): skipped, with a log line. */
  record: EventRecord | null;
}

/** How much longer than --event-ttl an event's versions are remembered (the API server's TTL is coarse). */
export const EVENT_MEMORY_MARGIN_MS = 15 * 60_000;

export class Journal {
  readonly #redis: RedisClient;
  readonly #keys: EventKeys;
  readonly #memoryMs: number;

  constructor(redis: RedisClient, keys: EventKeys, o: { eventTtlMs: number }) {
    this.#redis = redis;
    this.#keys = keys;
    this.#memoryMs = o.eventTtlMs + EVENT_MEMORY_MARGIN_MS;
  }

  checkpoint(): Promise<Checkpoint> {
    return guarded(async () => {
      const [rv, at, n] = await this.#redis.hmget(this.#keys.checkpoint, 'rv', 'at', 'n');
      return { rv: rv || null, at: at ? Number(at) : null, appended: Number(n ?? 0) };
    });
  }

  /**
   * Appends the versions that are new (in order) and, in the same script, moves the checkpoint to
   * `checkpoint` (null: leave it; a list's pages before its last). Throws LEASELOST (isLeaseLost) when
   * `token` no longer holds the lease: nothing is written then.
   */
  append(versions: readonly KubeEvent[], checkpoint: string | null, token: string): Promise<AppendResult> {
    return guarded(async () => {
      for (let attempt = 1; ; attempt++) {
        const plan = planAppend(versions, await this.#known(versions));
        try {
          const lastId = await this.#write(plan, checkpoint, token);
          return { journaled: plan.versions.filter((v) => v.record).length, ...counts(plan), lastId };
        } catch (err) {
          // Only a writer without the lease could have changed it: re-read once, then give up.
          if (attempt >= 2 || !(err instanceof Error) || !err.message.startsWith('STALE')) throw err;
        }
      }
    });
  }

  async #known(versions: readonly KubeEvent[]): Promise<Map<string, Known>> {
    const byUid = new Map<string, string[]>();
    for (const v of versions) {
      const rvs = byUid.get(v.metadata.uid) ?? [];
      rvs.push(v.metadata.resourceVersion);
      byUid.set(v.metadata.uid, rvs);
    }
    const known = new Map<string, Known>();
    if (byUid.size === 0) return known;
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const [uid, rvs] of byUid) {
      keys.push(this.#keys.event(uid));
      args.push(rvs.length, ...rvs);
    }
    const reply = (await KNOWN(this.#redis, keys, args)) as (string | number)[];
    let i = 0;
    for (const [uid, rvs] of byUid) {
      const rv = String(reply[i++]);
      const last = String(reply[i++]);
      const seen = new Set<string>();
      for (const r of rvs) if (reply[i++] === 1) seen.add(r);
      known.set(uid, { rv, last: last === '' ? null : (JSON.parse(last) as KubeEvent), seen });
    }
    return known;
  }

  async #write(plan: Plan, checkpoint: string | null, token: string): Promise<string> {
    if (plan.versions.length === 0 && checkpoint === null) return '';
    const keys: string[] = [this.#keys.lease, this.#keys.journal, this.#keys.checkpoint];
    const index = new Map<string, number>();
    const args: (string | number)[] = [token, checkpoint ?? '', this.#memoryMs, plan.versions.length];
    for (const v of plan.versions) {
      let at = index.get(v.uid);
      if (at === undefined) {
        keys.push(this.#keys.event(v.uid));
        at = keys.length; // Lua's KEYS are 1-based
        index.set(v.uid, at);
      }
      const record = v.record ? JSON.stringify(v.record) : '';
      const last = v.record ? JSON.stringify(v.record.event) : '';
      args.push(at, v.rv, v.expect, record, last);
    }
    const [, lastId] = (await APPEND(this.#redis, keys, args)) as [number, string];
    return lastId;
  }

  /** Up to `count` entries after `after` (exclusive; '0-0' for the oldest held). */
  after(after: string, count: number): Promise<JournalEntry[]> {
    return guarded(async () =>
      entries(await this.#redis.xrange(this.#keys.journal, `(${after}`, '+', 'COUNT', count)),
    );
  }

  /** The entries after `after` up to and including `last`: a batch recorded in flight, sent again. */
  between(after: string, last: string): Promise<JournalEntry[]> {
    return guarded(async () => entries(await this.#redis.xrange(this.#keys.journal, `(${after}`, last)));
  }

  /** The newest entry's id and sequence number, or null when the journal holds none. */
  newest(): Promise<{ id: string; n: number } | null> {
    return guarded(async () => {
      const [e] = entries(await this.#redis.xrevrange(this.#keys.journal, '+', '-', 'COUNT', 1));
      return e ? { id: e.id, n: e.n } : null;
    });
  }

  length(): Promise<number> {
    return guarded(() => this.#redis.xlen(this.#keys.journal));
  }
}

function counts(p: Plan) {
  return { duplicates: p.duplicates, unchanged: p.unchanged };
}

function entries(raw: [string, string[]][]): JournalEntry[] {
  return raw.map(([id, fields]) => {
    let n = 0;
    let record: EventRecord | null = null;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'n') n = Number(fields[i + 1]);
      else if (fields[i] === 'r') {
        try {
          record = JSON.parse(fields[i + 1]!) as EventRecord;
        } catch {
          record = null;
        }
      }
    }
    return { id, n, record };
  });
}

/** Stream ids compared as Redis does (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map((x) => BigInt(x));
  const [bm = 0n, bs = 0n] = b.split('-').map((x) => BigInt(x));
  return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0;
}

/** The journal time of an entry (Redis ms), from its id. */
export const idTime = (id: string): number => Number(id.split('-')[0]);
