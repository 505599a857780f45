/**
 * Finding the malformed records of a refused batch. Most sinks refuse a whole request for one bad record
 * (InfluxDB's 400 for a field type conflict names no line; a webhook's 400 names nothing), so a refused
 * batch is split in halves and each half written again, down to the single records that are refused on
 * their own: k bad records of n cost about 2·k·log2(n) extra writes, and every good record is delivered.
 * Writing a record twice is harmless here, since every sink writes idempotently or at least once.
 * Halves are cut by position, so the same batch is always split the same way (the webhook's
 * Idempotency-Key of a half is the same on redelivery).
 */
import type { EventRecord } from '../record.ts';
import type { Rejection } from './sink.ts';

export type Outcome =
  /** Every record was written. */
  | { kind: 'accepted' }
  /** The write was refused for something in it; the sink did not say which record. */
  | { kind: 'refused'; reason: string }
  /** The sink named the records it refused; it wrote the others. */
  | { kind: 'partial'; rejected: Rejection[] };

/** Which part of the batch a write holds: records [start, end). */
export interface Part {
  records: readonly EventRecord[];
  start: number;
  end: number;
}

/**
 * Writes `records` through `write`, splitting refused parts, and returns the records refused on their
 * own, in journal order. A thrown error (a SinkError) ends it: the batch is retried whole.
 */
export async function writeSplitting(
  records: readonly EventRecord[],
  write: (part: Part) => Promise<Outcome>,
): Promise<Rejection[]> {
  const rejected: Rejection[] = [];
  const visit = async (start: number, end: number): Promise<void> => {
    const part = { records: records.slice(start, end), start, end };
    const outcome = await write(part);
    if (outcome.kind === 'accepted') return;
    if (outcome.kind === 'partial') {
      rejected.push(...outcome.rejected);
      return;
    }
    if (end - start === 1) {
      rejected.push({ id: records[start]!.id, reason: outcome.reason });
      return;
    }
    const middle = start + Math.ceil((end - start) / 2);
    await visit(start, middle);
    await visit(middle, end);
  };
  if (records.length > 0) await visit(0, records.length);
  return rejected;
}
