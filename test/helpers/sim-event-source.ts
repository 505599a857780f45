/**
 * The reader's narrow EventSource (functions/events/reader.ts) over the simulator's own Events storage
 * and history (sim/events.ts, sim/history.ts), in process: the same resourceVersions, versions,
 * compaction (410 Gone) and old- and new-style events as the simulated API server serves over HTTPS,
 * without the network, and with a time scale, so that a pass's 5-second watch can last 200 ms. The
 * tests of the reader and of the function's composition use it; everything that goes through
 * @kubernetes/client-node runs against the simulated API server itself (startSim).
 *
 * It pages LISTs at one resourceVersion (continue tokens carry it; one older than the compaction is
 * 410), sends list items without kind and apiVersion (as the API server does), and ends each WATCH at
 * its timeout with a BOOKMARK 2 (scaled) seconds before (k8s.io/apiserver's cacher). Requests are
 * recorded (`list limit=N [continue]`, `watch rv=N`), and the next LIST or WATCH can be made to fail.
 */
import {
  type EventSource,
  type ListPage,
  ResourceExpired,
  type WatchEvent,
} from '../../functions/events/reader.ts';
import { EVENTS, type EventSpec, EventStore, type SimEvent } from '../../sim/events.ts';
import { type Change, History } from '../../sim/history.ts';
import { eventObject } from '../../sim/objects.ts';

export interface NewEvent {
  namespace?: string;
  /** The involved object's name (the event is named after it). */
  name?: string;
  kind?: string;
  reason?: string;
  type?: 'Normal' | 'Warning';
  /** New style (events.k8s.io recorder): eventTime, series, null lastTimestamp. */
  newStyle?: boolean;
}

const asListItem = (e: SimEvent) => {
  const { kind: _k, apiVersion: _a, ...rest } = eventObject(e);
  return rest;
};

export class SimEvents {
  #rv = 1000;
  #serial = 0;
  readonly history: History;
  readonly events: EventStore;
  /** What was asked, in order: `list limit=500`, `list limit=500 continue`, `watch rv=1012`. */
  readonly requests: string[] = [];
  /** The next LIST page or WATCH fails with this HTTP status (once); 410 is ResourceExpired. */
  failNext: { list?: number; watch?: number } = {};

  constructor() {
    this.history = new History({ currentRv: () => this.#rv, now: Date.now });
    this.events = new EventStore({
      history: this.history,
      nextResourceVersion: () => ++this.#rv,
      now: Date.now,
      seed: `${process.pid}/${Math.random()}`,
    });
  }

  /** The cluster's current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Events stored now. */
  get size(): number {
    return this.events.size;
  }

  /** A new event, as a kubelet (old style) or the scheduler (new style) writes it. */
  add(o: NewEvent = {}): SimEvent {
    const n = ++this.#serial;
    const namespace = o.namespace ?? 'default';
    const spec: EventSpec = {
      involvedObject: { kind: o.kind ?? 'Pod', namespace, name: o.name ?? `pod-${n}`, apiVersion: 'v1' },
      reason: o.reason ?? 'Pulled',
      type: o.type ?? 'Normal',
      message: `${o.reason ?? 'Pulled'} (${n})`,
      ...(o.newStyle
        ? { style: 'new', reportingController: 'default-scheduler', reportingInstance: 'sched-1' }
        : { source: { component: 'kubelet', host: 'node-1' } }),
    };
    return this.events.emit(spec);
  }

  /** A repeat folded into the event: count (old style) or series.count (new style). */
  bump(e: SimEvent): SimEvent {
    return this.events.bump(e);
  }

  /** A new resourceVersion and nothing else (a storage migration rewrite). */
  rewrite(e: SimEvent): SimEvent {
    return this.events.rewrite(e);
  }

  /** Deleted (its TTL ran out). */
  remove(e: SimEvent): void {
    this.events.delete(`${e.namespace}/${e.name}`);
  }

  /** Something else in the cluster was written: the resourceVersion moves, no Event changes. */
  elsewhere(): void {
    this.#rv++;
  }

  /** etcd compaction: a watch or continue token from before now is answered 410 Gone. */
  compact(): void {
    this.history.compact();
  }

  list(o: { limit: number; continue?: string }): ListPage {
    this.requests.push(`list limit=${o.limit}${o.continue ? ' continue' : ''}`);
    this.#fail('list', 'The provided continue parameter is too old');
    let at = this.#rv;
    let after = '';
    if (o.continue) {
      ({ at, after } = JSON.parse(Buffer.from(o.continue, 'base64url').toString()) as {
        at: number;
        after: string;
      });
    }
    // The events as they were at `at`: the current ones, with what changed since undone.
    const then = this.history.overlay<SimEvent>(EVENTS, at);
    if ('expired' in then) throw new ResourceExpired('The provided continue parameter is too old');
    const keys = new Set([...this.events.sortedKeys(), ...then.keys()]);
    const items = [...keys]
      .filter((k) => k > after)
      .sort()
      .map((k) => (then.has(k) ? then.get(k) : this.events.byKey(k)))
      .filter((e): e is SimEvent => e !== null && e !== undefined);
    const page = items.slice(0, o.limit);
    const more = items.length > o.limit;
    const last = page.at(-1);
    return {
      items: page.map(asListItem),
      resourceVersion: String(at),
      continue:
        more && last
          ? Buffer.from(JSON.stringify({ at, after: `${last.namespace}/${last.name}` })).toString('base64url')
          : '',
    };
  }

  /** The reader's EventSource; `secondMs` is how long one of a watch's seconds lasts (1000: real time). */
  source(secondMs = 1000): EventSource {
    return {
      list: async (o) => this.list(o),
      watch: (o) => this.#watch(o.resourceVersion, o.timeoutSeconds * secondMs, 2 * secondMs, o.signal),
    };
  }

  /** Stops the TTL timer. */
  close(): void {
    this.events.close();
  }

  #fail(what: 'list' | 'watch', expired: string): void {
    const status = this.failNext[what];
    if (status === undefined) return;
    delete this.failNext[what];
    if (status === 410) throw new ResourceExpired(expired);
    throw new Error(`HTTP ${status}`);
  }

  /** What changed after `from`, then live changes, a bookmark `bookmarkBeforeMs` before the end. */
  #watch(from: string, timeoutMs: number, bookmarkBeforeMs: number, signal: AbortSignal) {
    this.requests.push(`watch rv=${from}`);
    const self = this;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent[]> {
        // As the client-node source does: a watch that cannot start fails when it is iterated.
        self.#fail('watch', 'too old resource version');
        const since = self.history.since(EVENTS, Number(from));
        if ('expired' in since)
          throw new ResourceExpired(`too old resource version: ${from} (${since.oldest})`);
        const toEvent = (c: Change): WatchEvent => ({
          type: c.type,
          object: eventObject(c.object as SimEvent),
        });
        let queue: WatchEvent[] = since.map(toEvent);
        let wake: (() => void) | null = null;
        let ended = false;
        const unsubscribe = self.history.subscribe(EVENTS, (c) => {
          queue.push(toEvent(c));
          wake?.();
        });
        const end = () => {
          ended = true;
          wake?.();
        };
        const bookmark = setTimeout(
          () => {
            queue.push({ type: 'BOOKMARK', resourceVersion: self.resourceVersion });
            wake?.();
          },
          Math.max(0, timeoutMs - bookmarkBeforeMs),
        );
        const timer = setTimeout(end, timeoutMs);
        signal.addEventListener('abort', end, { once: true });
        try {
          for (;;) {
            if (queue.length > 0) {
              const chunk = queue;
              queue = [];
              yield chunk;
              continue;
            }
            if (ended) return;
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
          }
        } finally {
          clearTimeout(bookmark);
          clearTimeout(timer);
          signal.removeEventListener('abort', end);
          unsubscribe();
        }
      },
    };
  }
}
