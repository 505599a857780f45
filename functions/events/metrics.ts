/**
 * The events function's /metrics (prom-client). Counters are this process' own (Prometheus sums them
 * across instances and handles restarts); the gauges describe the shared state and are read from Redis
 * at each scrape, so a standby shows the same backlog as the instance delivering.
 *
 * Sink names are the operator's (a handful), never a cluster's names: the labels stay small.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export const EVENT_METRICS = {
  delivered: 'events_sink_delivered_records_total',
  rejected: 'events_sink_rejected_records_total',
  failed: 'events_sink_failed_deliveries_total',
  backlog: 'events_sink_backlog_records',
  lag: 'events_sink_lag_seconds',
  journaled: 'events_journaled_records_total',
  skipped: 'events_skipped_versions_total',
  relists: 'events_relists_total',
  checkpointAge: 'events_checkpoint_age_seconds',
  journalRecords: 'events_journal_records',
  leaseHeld: 'events_lease_held',
} as const;

/** The shared state the gauges show. */
export interface EventsStatus {
  /** Since the checkpoint last moved; null before the first. */
  checkpointAgeSeconds: number | null;
  journalRecords: number;
  sinks: readonly SinkStatus[];
}

export interface SinkStatus {
  name: string;
  /** Journaled records the sink has not acknowledged. */
  backlog: number;
  /** How long the oldest of those has been waiting (0 when none). */
  lagSeconds: number;
}

export class EventsMetrics {
  readonly #registry = new Registry();
  readonly #status: () => Promise<EventsStatus>;
  #processMetrics: boolean;
  readonly #delivered: Counter<'sink'>;
  readonly #rejected: Counter<'sink'>;
  readonly #failed: Counter<'sink'>;
  readonly #journaled: Counter;
  readonly #skipped: Counter<'reason'>;
  readonly #relists: Counter;
  readonly #backlog: Gauge<'sink'>;
  readonly #lag: Gauge<'sink'>;
  readonly #checkpointAge: Gauge;
  readonly #journalRecords: Gauge;
  readonly #leaseHeld: Gauge;

  constructor(o: {
    sinks: readonly string[];
    status: () => Promise<EventsStatus>;
    processMetrics?: boolean;
  }) {
    this.#status = o.status;
    this.#processMetrics = o.processMetrics ?? true;
    const registers = [this.#registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const m = EVENT_METRICS;
    this.#delivered = counter(m.delivered, 'Records a sink accepted.', ['sink']);
    this.#rejected = counter(
      m.rejected,
      'Records a sink refused as malformed (logged with their ids; never retried).',
      ['sink'],
    );
    this.#failed = counter(m.failed, 'Batches a sink failed to take (retried with backoff).', ['sink']);
    this.#journaled = counter(m.journaled, 'Event versions appended to the journal.', []);
    this.#skipped = counter(
      m.skipped,
      'Event versions read but not journaled: already journaled (duplicate) or a new resourceVersion with nothing else changed (unchanged).',
      ['reason'],
    );
    this.#relists = counter(
      m.relists,
      'LISTs of all events: no checkpoint, or the API server answered 410 Gone.',
      [],
    );
    this.#backlog = gauge(m.backlog, 'Journaled records a sink has not acknowledged yet.', ['sink']);
    this.#lag = gauge(
      m.lag,
      'How long the oldest record a sink has not acknowledged has been in the journal.',
      ['sink'],
    );
    this.#checkpointAge = gauge(
      m.checkpointAge,
      'Seconds since the resourceVersion checkpoint last moved.',
      [],
    );
    this.#journalRecords = gauge(m.journalRecords, 'Records the journal holds.', []);
    this.#leaseHeld = gauge(
      m.leaseHeld,
      '1 while this instance holds the lease (reads and delivers), 0 on standby.',
      [],
    );
    // Every configured sink shows from the start, at zero.
    for (const sink of o.sinks) {
      this.#delivered.inc({ sink }, 0);
      this.#rejected.inc({ sink }, 0);
      this.#failed.inc({ sink }, 0);
    }
    this.#leaseHeld.set(0);
  }

  delivered(sink: string, n: number): void {
    if (n > 0) this.#delivered.inc({ sink }, n);
  }

  rejected(sink: string, n: number): void {
    if (n > 0) this.#rejected.inc({ sink }, n);
  }

  failed(sink: string): void {
    this.#failed.inc({ sink });
  }

  journaled(n: number, duplicates: number, unchanged: number): void {
    if (n > 0) this.#journaled.inc(n);
    if (duplicates > 0) this.#skipped.inc({ reason: 'duplicate' }, duplicates);
    if (unchanged > 0) this.#skipped.inc({ reason: 'unchanged' }, unchanged);
  }

  relisted(): void {
    this.#relists.inc();
  }

  leaseHeld(held: boolean): void {
    this.#leaseHeld.set(held ? 1 : 0);
  }

  /** The exposition; without Redis the shared gauges are left out (`statusError` says why). */
  async render(): Promise<{ contentType: string; body: string; statusError: unknown }> {
    if (this.#processMetrics) {
      this.#processMetrics = false;
      collectDefaultMetrics({ register: this.#registry });
    }
    let statusError: unknown = null;
    this.#backlog.reset();
    this.#lag.reset();
    this.#checkpointAge.reset();
    this.#journalRecords.reset();
    try {
      const s = await this.#status();
      for (const k of s.sinks) {
        this.#backlog.set({ sink: k.name }, k.backlog);
        this.#lag.set({ sink: k.name }, k.lagSeconds);
      }
      if (s.checkpointAgeSeconds !== null) this.#checkpointAge.set(s.checkpointAgeSeconds);
      this.#journalRecords.set(s.journalRecords);
    } catch (err) {
      statusError = err;
    }
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics(), statusError };
  }
}
