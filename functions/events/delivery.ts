/**
 * Every sink delivered from its own cursor on the journal: in journal order, in batches of at most the
 * sink's maxBatch, acknowledged only once the sink accepted them. Before a batch is sent its range is
 * recorded (cursors.ts), so after a crash, a lost lease or a failure the same records are sent again in
 * the same batch (the same Batch.key) before anything newer. A sink that fails is retried with
 * exponential backoff (1 s doubling to 1 min, with jitter) while every other sink goes on; records it
 * rejects as malformed are logged with their ids, counted, and passed over. Records its routing does
 * not give it are acknowledged without being sent.
 */
import type { Logger } from '../../shared/log.ts';
import type { InFlight, Position, SinkPositions, SinkState } from './cursors.ts';
import type { Journal, JournalEntry } from './journal.ts';
import { isLeaseLost } from './lua.ts';
import type { EventsMetrics } from './metrics.ts';
import type { EventRecord } from './record.ts';
import { type Route, routed } from './routing.ts';
import { untilAborted } from './sinks/abort.ts';
import { batchOf, type Sink, SinkError } from './sinks/sink.ts';
import { sleep } from './sleep.ts';

export interface Target {
  sink: Sink;
  route: Route;
}

export interface DeliveryDeps {
  journal: Journal;
  positions: SinkPositions;
  log: Logger;
  metrics: EventsMetrics;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 60_000 };

/** The wait before retry `failures` (1, 2, …): doubling from base to max, the upper half randomised. */
export function backoffDelay(b: Backoff, failures: number, random: () => number = Math.random): number {
  const d = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(d / 2 + (random() * d) / 2);
}

export type Step =
  /** Nothing after the cursor. */
  | { kind: 'idle' }
  /** A batch was accepted (or entries not routed to this sink passed). */
  | { kind: 'done'; sent: number; rejected: number }
  /** A batch is filling: send it when full, or at `untilMs` (performance.now()). */
  | { kind: 'waiting'; untilMs: number }
  | { kind: 'failed'; error: string; retryInMs: number };

export interface DrainResult {
  sink: string;
  caughtUp: boolean;
  delivered: number;
  rejected: number;
  failures: number;
  /** The last failure, when it ended behind. */
  error?: string;
}

/** Journal entries read per XRANGE while cutting a batch, and at most how many such reads per batch. */
const SCAN = 1000;
const MAX_SCANS = 10;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SinkDelivery {
  readonly name: string;
  readonly #target: Target;
  readonly #d: DeliveryDeps;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  /** Loaded from Redis on first use under a lease; this instance is then its only writer. */
  #state: SinkState | null = null;
  #failures = 0;
  /** The first record of a batch that is filling, and since when (performance.now()). */
  #pending: { first: string; since: number } | null = null;
  /**
   * Journal entries after the cursor already read (in order, none skipped): while a batch fills, each
   * step reads only what was appended since, rather than everything after the cursor again.
   */
  #ahead: JournalEntry[] = [];

  constructor(target: Target, deps: DeliveryDeps, backoff: Backoff = DEFAULT_BACKOFF) {
    this.name = target.sink.name;
    this.#target = target;
    this.#d = deps;
    this.#backoff = backoff;
    this.#log = deps.log.with({ sink: this.name });
  }

  /** Forgets what it knew of its cursor: after the lease changed hands, Redis is asked again. */
  reset(): void {
    this.#state = null;
    this.#pending = null;
    this.#ahead = [];
  }

  /**
   * One batch, if there is one: recorded in flight, sent, acknowledged. `flushMs` > 0 lets a batch that
   * is not full wait that long for more records. Throws what is not the sink's fault (Redis, the lease).
   */
  async step(token: string, signal: AbortSignal, flushMs = 0): Promise<Step> {
    const state = await this.#load();
    const cut = await this.#cut(state);
    if (cut === null) return { kind: 'idle' };
    const { records, range } = cut;
    if (records.length === 0) {
      await this.#ack(state, range, token);
      return { kind: 'done', sent: 0, rejected: 0 };
    }
    if (state.inflight === null && flushMs > 0 && records.length < this.#target.sink.maxBatch) {
      const first = records[0]!.id;
      const now = performance.now();
      if (this.#pending?.first !== first) this.#pending = { first, since: now };
      if (now < this.#pending.since + flushMs)
        return { kind: 'waiting', untilMs: this.#pending.since + flushMs };
    }
    this.#pending = null;
    if (state.inflight === null) {
      await this.#d.positions.begin(this.name, range, token);
      state.inflight = range;
    }
    let rejected: { id: string; reason: string }[];
    try {
      // A sink that ignores the signal is not waited for past it; what it does later is not acknowledged.
      const delivery = await untilAborted(
        () => this.#target.sink.deliver(batchOf(records), signal),
        signal,
        'delivery stopped (pass deadline, lease lost or shutdown)',
      );
      const ids = new Set(records.map((r) => r.id));
      rejected = delivery.rejected.filter((r) => ids.has(r.id));
    } catch (err) {
      this.#failures++;
      this.#d.metrics.failed(this.name);
      // A sink that said when to come back (Retry-After) is not asked sooner.
      const retryAfter = err instanceof SinkError ? (err.retryAfterMs ?? 0) : 0;
      const retryInMs = Math.max(retryAfter, backoffDelay(this.#backoff, this.#failures));
      const error = errorText(err);
      this.#log.warn('Sink did not take the batch; it is sent again', {
        records: records.length,
        first: records[0]!.id,
        err: error,
        attempt: this.#failures,
        retryIn: `${(retryInMs / 1000).toFixed(1)}s`,
      });
      return { kind: 'failed', error, retryInMs };
    }
    for (const r of rejected) {
      this.#log.warn('Sink rejected a record as malformed; it is not sent again', {
        id: r.id,
        reason: r.reason,
      });
    }
    await this.#ack(state, range, token);
    if (this.#failures > 0) this.#log.info('Sink is taking batches again', { after: this.#failures });
    this.#failures = 0;
    this.#d.metrics.delivered(this.name, records.length - rejected.length);
    this.#d.metrics.rejected(this.name, rejected.length);
    return { kind: 'done', sent: records.length - rejected.length, rejected: rejected.length };
  }

  /**
   * A pass: batches until the sink has everything journaled, `attempts` failures in a row, or the
   * deadline (performance.now() ms) would pass during a backoff. Throws when the lease is lost.
   */
  async drain(token: string, outer: AbortSignal, deadline: number, attempts: number): Promise<DrainResult> {
    const out: DrainResult = { sink: this.name, caughtUp: false, delivered: 0, rejected: 0, failures: 0 };
    const signal = Number.isFinite(deadline)
      ? AbortSignal.any([outer, AbortSignal.timeout(Math.max(1, Math.ceil(deadline - performance.now())))])
      : outer;
    let inARow = 0;
    while (!signal.aborted) {
      let s: Step;
      try {
        s = await this.#guardedStep(token, signal, 0);
      } catch (err) {
        if (isLeaseLost(err) || !signal.aborted || outer.aborted) throw err;
        break; // the pass deadline
      }
      if (s.kind === 'idle') {
        out.caughtUp = true;
        break;
      }
      if (s.kind === 'done') {
        out.delivered += s.sent;
        out.rejected += s.rejected;
        inARow = 0;
        continue;
      }
      if (s.kind === 'failed') {
        out.failures++;
        out.error = s.error;
        inARow++;
        if (inARow >= attempts || performance.now() + s.retryInMs > deadline) break;
        await sleep(s.retryInMs, signal);
      }
    }
    if (out.caughtUp) delete out.error;
    return out;
  }

  /** --loop: delivers as records are journaled (`wake`) until `signal` aborts; throws when the lease is lost. */
  async run(token: string, signal: AbortSignal, flushMs: number, wake: Wake): Promise<void> {
    while (!signal.aborted) {
      const seen = wake.version();
      const s = await this.#guardedStep(token, signal, flushMs);
      if (s.kind === 'idle') await wake.wait(seen, 30_000, signal);
      else if (s.kind === 'waiting')
        await wake.wait(seen, Math.max(1, s.untilMs - performance.now()), signal);
      else if (s.kind === 'failed') await sleep(s.retryInMs, signal);
    }
  }

  /** A step whose Redis failures become a retry (Redis may be back in a moment); a lost lease ends it. */
  async #guardedStep(token: string, signal: AbortSignal, flushMs: number): Promise<Step> {
    try {
      return await this.step(token, signal, flushMs);
    } catch (err) {
      if (isLeaseLost(err) || signal.aborted) throw err;
      this.reset(); // what was written is unknown: read it again
      this.#failures++;
      const retryInMs = backoffDelay(this.#backoff, this.#failures);
      this.#log.warn('Delivery could not read or move its cursor; retrying', {
        err: errorText(err),
        retryIn: `${(retryInMs / 1000).toFixed(1)}s`,
      });
      return { kind: 'failed', error: errorText(err), retryInMs };
    }
  }

  async #load(): Promise<SinkState> {
    if (this.#state === null) {
      const loaded = await this.#d.positions.load([this.name]);
      this.#state = loaded.get(this.name)!;
    }
    return this.#state;
  }

  async #ack(state: SinkState, range: InFlight, token: string): Promise<void> {
    const to: Position = { id: range.last, n: range.n };
    await this.#d.positions.ack(this.name, to, token);
    state.cursor = to;
    state.inflight = null;
    const i = this.#ahead.findIndex((e) => e.id === range.last);
    this.#ahead = i < 0 ? [] : this.#ahead.slice(i + 1);
  }

  /**
   * The next batch: the one in flight, exactly as it was recorded; otherwise the sink's next records,
   * with the entries between them not routed to it. null when nothing follows the cursor.
   */
  async #cut(state: SinkState): Promise<{ records: EventRecord[]; range: InFlight } | null> {
    const take = (e: JournalEntry, into: EventRecord[]) => {
      if (e.record === null) this.#log.warn('Skipping a journal entry that holds no record', { entry: e.id });
      else if (routed(this.#target.route, e.record)) into.push(e.record);
    };
    if (state.inflight !== null) {
      const records: EventRecord[] = [];
      for (const e of await this.#d.journal.between(state.inflight.after, state.inflight.last))
        take(e, records);
      return { records, range: state.inflight };
    }
    const max = this.#target.sink.maxBatch;
    const records: EventRecord[] = [];
    let last: JournalEntry | null = null;
    const takeUpTo = (entries: readonly JournalEntry[]): boolean => {
      for (const e of entries) {
        last = e;
        take(e, records);
        if (records.length === max) return true;
      }
      return false;
    };
    let full = takeUpTo(this.#ahead);
    let after = this.#ahead.at(-1)?.id ?? state.cursor.id;
    for (let scans = 0; scans < MAX_SCANS && !full; scans++) {
      const entries = await this.#d.journal.after(after, SCAN);
      this.#ahead.push(...entries);
      full = takeUpTo(entries);
      if (entries.length < SCAN) break;
      after = entries.at(-1)!.id;
    }
    if (last === null) return null;
    const end: JournalEntry = last;
    return { records, range: { after: state.cursor.id, last: end.id, n: end.n } };
  }
}

/** Tells sleeping sink loops that something was journaled. */
export class Wake {
  #version = 0;
  #waiters = new Set<() => void>();

  version(): number {
    return this.#version;
  }

  notify(): void {
    this.#version++;
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** Resolves on a notify after `seen`, after `ms`, or when `signal` aborts. */
  wait(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.#version !== seen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
