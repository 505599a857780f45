/**
 * A sink that keeps what it was given, for the delivery tests: every batch (records and key) in the
 * order received, and what it accepted. It can be told to be down (throw SinkError) or to refuse some
 * records as malformed, as a real sink would answer.
 */
import type { EventRecord } from '../../functions/events/record.ts';
import { type Batch, type Delivery, type Sink, SinkError } from '../../functions/events/sinks/sink.ts';

export class RecordingSink implements Sink {
  readonly name: string;
  readonly maxBatch: number;
  readonly batches: { key: string; ids: string[] }[] = [];
  readonly accepted: EventRecord[] = [];
  down = false;
  /** While down, the Retry-After it answers with (ms), if any. */
  retryAfterMs: number | undefined;
  /** Record ids answered as malformed. */
  refuse = new Set<string>();
  /** Called with each batch before it is answered (to block, or to kill the process in a test). */
  onBatch: ((b: Batch) => Promise<void> | void) | null = null;

  constructor(name: string, maxBatch = 10) {
    this.name = name;
    this.maxBatch = maxBatch;
  }

  async deliver(batch: Batch): Promise<Delivery> {
    this.batches.push({ key: batch.key, ids: batch.records.map((r) => r.id) });
    await this.onBatch?.(batch);
    if (this.down) throw new SinkError(`${this.name} is down`, { retryAfterMs: this.retryAfterMs });
    const rejected = batch.records
      .filter((r) => this.refuse.has(r.id))
      .map((r) => ({ id: r.id, reason: 'malformed' }));
    this.accepted.push(...batch.records.filter((r) => !this.refuse.has(r.id)));
    return { rejected };
  }

  ids(): string[] {
    return this.accepted.map((r) => r.id);
  }

  async close(): Promise<void> {}
}
