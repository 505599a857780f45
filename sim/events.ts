/**
 * The core/v1 Events the development API server stores, as etcd holds them for kube-apiserver: each
 * write (a new event, or a repeat folded into it) is a new immutable version with the next cluster-wide
 * resourceVersion, told to the history (so watchers see ADDED and MODIFIED), and lives for the event
 * TTL after its last write (`--event-ttl`, default 1 h: kube-apiserver puts every event write on an etcd
 * lease of that length); expiry is a deletion with its own resourceVersion (DELETED to watchers).
 *
 * Both shapes clients meet are stored: old-style events, as client-go's core/v1 recorder writes them
 * (kubelet, controllers: `source`, `firstTimestamp`/`lastTimestamp`, `count` bumped in place), and
 * new-style ones, as the events.k8s.io recorder writes them (scheduler, kube-proxy: `eventTime`,
 * `series{count,lastObservedTime}` on repeats, `action`, `reportingController`/`reportingInstance`,
 * null `firstTimestamp`/`lastTimestamp`, no `count`).
 *
 * Deviation: every series repeat is written (the events.k8s.io library writes the second occurrence and
 * then folds further ones into a write every 30 minutes), so that consumers see series bumps.
 */
import type { History } from './history.ts';
import { createRng, randomUid } from './random.ts';
import { insertSorted, removeSorted } from './sorted.ts';

export interface ObjectReference {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  /** A part of the object, e.g. `spec.containers{web}`. */
  fieldPath?: string;
}

export type EventType = 'Normal' | 'Warning';

/** One version of a core/v1 Event (never changed once made). */
export interface SimEvent {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: number;
  readonly createdAtMs: number;
  readonly involvedObject: Readonly<ObjectReference>;
  readonly reason: string;
  readonly message: string;
  readonly type: EventType;
  /** Old-style: the reporting component and host; empty on new-style events. */
  readonly source: Readonly<{ component?: string; host?: string }>;
  readonly firstTimestampMs: number | undefined;
  readonly lastTimestampMs: number | undefined;
  readonly count: number | undefined;
  /** New-style (MicroTime): when it was first observed, float milliseconds. */
  readonly eventTimeMs: number | undefined;
  readonly series: Readonly<{ count: number; lastObservedTimeMs: number }> | undefined;
  readonly action: string | undefined;
  readonly related: Readonly<ObjectReference> | undefined;
  readonly reportingController: string;
  readonly reportingInstance: string;
}

/** What a component reports; the store makes the Event of it. */
export interface EventSpec {
  /** `old` (core/v1 recorder, the default) or `new` (events.k8s.io recorder). */
  style?: 'old' | 'new';
  involvedObject: ObjectReference;
  /** Default: the involved object's namespace, or `default` for cluster-scoped objects (as recorders do). */
  namespace?: string;
  reason: string;
  message: string;
  type?: EventType;
  /** Old-style: who reports it (`{component: 'kubelet', host: 'node-1'}`). */
  source?: { component: string; host?: string };
  /** New-style: who reports it; old-style events get the source's component and host. */
  reportingController?: string;
  reportingInstance?: string;
  /** New-style: what was done (`Binding`, `Scheduling`, …). */
  action?: string;
  related?: ObjectReference;
}

export interface EventStoreOptions {
  history: History;
  /** Takes the next cluster-wide resourceVersion. */
  nextResourceVersion: () => number;
  now: () => number;
  seed: string | number;
  /** How long an event lives after its last write; default 1 h (kube-apiserver's `--event-ttl`). */
  ttlMs?: number;
}

export const EVENTS = 'events';
export const DEFAULT_EVENT_TTL_MS = 3_600_000;
/** client-go's EventCorrelator remembers this many distinct events to fold repeats into. */
const CORRELATION_CACHE = 4096;

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

export class EventStore {
  readonly #opts: EventStoreOptions;
  #ttlMs: number;
  readonly #rng;
  /** Current version of every stored event, by `namespace/name`. */
  readonly #events = new Map<string, SimEvent>();
  /** The same keys, sorted (etcd's key order, what lists page through). */
  readonly #keys: string[] = [];
  /** Pending expiries: a min-heap on `at`; stale entries (rewritten since) are skipped. */
  readonly #expiries: { at: number; key: string; rv: number }[] = [];
  /** Repeat correlation: what a recorder would fold into an existing event (LRU by insertion order). */
  readonly #correlated = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closed = false;
  #lastNameNs = 0n;

  constructor(opts: EventStoreOptions) {
    this.#opts = opts;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_EVENT_TTL_MS;
    if (!(this.#ttlMs > 0)) throw new Error(`event TTL must be > 0, got ${this.#ttlMs} ms`);
    this.#rng = createRng(`${opts.seed}/events`);
  }

  /** The TTL applied to writes from now on (kube-apiserver puts each write on a lease of this length). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  set ttlMs(ms: number) {
    if (!(ms > 0)) throw new Error(`event TTL must be > 0, got ${ms} ms`);
    this.#ttlMs = ms;
  }

  get size(): number {
    return this.#events.size;
  }

  get(namespace: string, name: string): SimEvent | undefined {
    return this.#events.get(keyOf(namespace, name));
  }

  byKey(key: string): SimEvent | undefined {
    return this.#events.get(key);
  }

  /** Every stored event's key in order; shared, do not modify. */
  sortedKeys(): readonly string[] {
    return this.#keys;
  }

  /** Every stored event, in key order. */
  list(): SimEvent[] {
    return this.#keys.map((k) => this.#events.get(k)!);
  }

  /** Stores a new event (never folded into another). */
  emit(spec: EventSpec, atMs: number = this.#opts.now()): SimEvent {
    const style = spec.style ?? 'old';
    const namespace = spec.namespace ?? spec.involvedObject.namespace ?? 'default';
    const name = this.#newName(namespace, spec.involvedObject.name, atMs);
    const e: SimEvent = {
      namespace,
      name,
      uid: randomUid(this.#rng),
      resourceVersion: 0,
      createdAtMs: atMs,
      involvedObject: { ...spec.involvedObject },
      reason: spec.reason,
      message: spec.message,
      type: spec.type ?? 'Normal',
      source: style === 'old' ? { ...spec.source } : {},
      firstTimestampMs: style === 'old' ? atMs : undefined,
      lastTimestampMs: style === 'old' ? atMs : undefined,
      count: style === 'old' ? 1 : undefined,
      eventTimeMs: style === 'new' ? atMs : undefined,
      series: undefined,
      action: style === 'new' ? spec.action : undefined,
      related: spec.related === undefined ? undefined : { ...spec.related },
      reportingController: spec.reportingController ?? spec.source?.component ?? '',
      reportingInstance: spec.reportingInstance ?? spec.source?.host ?? '',
    };
    return this.#write(e, undefined, atMs);
  }

  /**
   * Reports an occurrence as a recorder does: a repeat of an event it reported before (same source,
   * object, type, reason and message) is folded into that event (`bump`), anything else is new.
   */
  record(spec: EventSpec, atMs: number = this.#opts.now()): SimEvent {
    const ckey = correlationKey(spec);
    const known = this.#correlated.get(ckey);
    if (known !== undefined && this.#events.has(known)) {
      this.#correlated.delete(ckey);
      this.#correlated.set(ckey, known);
      return this.bump(known, atMs);
    }
    const e = this.emit(spec, atMs);
    this.#correlated.set(ckey, keyOf(e.namespace, e.name));
    if (this.#correlated.size > CORRELATION_CACHE)
      this.#correlated.delete(this.#correlated.keys().next().value!);
    return e;
  }

  /**
   * One more occurrence of a stored event: old-style `count` and `lastTimestamp`, new-style
   * `series.count` (2 on the first repeat) and `series.lastObservedTime`. A new version.
   */
  bump(event: SimEvent | string, atMs: number = this.#opts.now()): SimEvent {
    const key = typeof event === 'string' ? event : keyOf(event.namespace, event.name);
    const cur = this.#events.get(key);
    if (!cur) throw new Error(`events: no event "${key}" to bump`);
    const next: SimEvent =
      cur.eventTimeMs !== undefined && cur.firstTimestampMs === undefined
        ? { ...cur, series: { count: (cur.series?.count ?? 1) + 1, lastObservedTimeMs: atMs } }
        : { ...cur, count: (cur.count ?? 1) + 1, lastTimestampMs: atMs };
    return this.#write(next, cur, atMs);
  }

  /**
   * A write that changes nothing but the resourceVersion, as kube-storage-version-migrator's rewrite of
   * every object does (watchers see MODIFIED with the same content). The TTL starts again, as on any write.
   */
  rewrite(event: SimEvent | string, atMs: number = this.#opts.now()): SimEvent {
    const key = typeof event === 'string' ? event : keyOf(event.namespace, event.name);
    const cur = this.#events.get(key);
    if (!cur) throw new Error(`events: no event "${key}" to rewrite`);
    return this.#write(cur, cur, atMs);
  }

  /** Deletes an event now (as `kubectl delete event` would); false when there is none. */
  delete(key: string): boolean {
    const cur = this.#events.get(key);
    if (!cur) return false;
    this.#remove(key, cur);
    return true;
  }

  /** Deletes every event whose TTL ran out by `atMs` (the sweep a timer also runs); how many went. */
  expire(atMs: number = this.#opts.now()): number {
    let n = 0;
    const heap = this.#expiries;
    while (heap.length > 0 && heap[0]!.at <= atMs) {
      const { key, rv } = popHeap(heap);
      const cur = this.#events.get(key);
      if (cur?.resourceVersion === rv) {
        this.#remove(key, cur);
        n++;
      }
    }
    this.#schedule();
    return n;
  }

  /** Stops the expiry timer (the stored events stay). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #write(e: SimEvent, prev: SimEvent | undefined, atMs: number): SimEvent {
    const rv = this.#opts.nextResourceVersion();
    const version: SimEvent = { ...e, resourceVersion: rv };
    const key = keyOf(version.namespace, version.name);
    if (!prev) insertSorted(this.#keys, key);
    this.#events.set(key, version);
    this.#opts.history.record(EVENTS, {
      type: prev ? 'MODIFIED' : 'ADDED',
      rv,
      key,
      object: version,
      prev,
    });
    pushHeap(this.#expiries, { at: atMs + this.#ttlMs, key, rv });
    this.#schedule();
    return version;
  }

  #remove(key: string, cur: SimEvent): void {
    const rv = this.#opts.nextResourceVersion();
    this.#events.delete(key);
    removeSorted(this.#keys, key);
    this.#opts.history.record(EVENTS, {
      type: 'DELETED',
      rv,
      key,
      object: { ...cur, resourceVersion: rv },
      prev: cur,
    });
  }

  /** `<involved object name>.<hex UnixNano>`, as recorders name events; unique in the namespace. */
  #newName(namespace: string, objectName: string, atMs: number): string {
    let ns = BigInt(Math.floor(atMs)) * 1_000_000n + BigInt(Math.floor((atMs % 1) * 1000)) * 1000n;
    if (ns <= this.#lastNameNs) ns = this.#lastNameNs + 1n;
    this.#lastNameNs = ns;
    let name = `${objectName}.${ns.toString(16)}`;
    while (this.#events.has(keyOf(namespace, name))) {
      ns++;
      name = `${objectName}.${ns.toString(16)}`;
    }
    return name;
  }

  /** One real timer at the earliest expiry (unref'd: it never keeps a process alive). */
  #schedule(): void {
    if (this.#closed) return;
    const next = this.#expiries[0]?.at ?? Infinity;
    if (next >= this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Infinity) return;
    const delay = Math.max(0, Math.min(next - this.#opts.now(), 2 ** 31 - 1));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.expire();
    }, delay);
    this.#timer.unref();
  }
}

/** client-go's EventCorrelator key (getEventKey) and the events.k8s.io recorder's isomorphism. */
function correlationKey(s: EventSpec): string {
  const o = s.involvedObject;
  return [
    s.style ?? 'old',
    s.source?.component ?? '',
    s.source?.host ?? '',
    s.reportingController ?? '',
    s.reportingInstance ?? '',
    s.action ?? '',
    o.kind,
    o.namespace ?? '',
    o.name,
    o.fieldPath ?? '',
    o.uid ?? '',
    o.apiVersion ?? '',
    s.type ?? 'Normal',
    s.reason,
    s.message,
  ].join('\u0000');
}

type Expiry = { at: number; key: string; rv: number };

function pushHeap(h: Expiry[], e: Expiry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.at <= h[i]!.at) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

function popHeap(h: Expiry[]): Expiry {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  return top;
}
