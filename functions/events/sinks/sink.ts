/**
 * The one narrow interface delivery needs from a sink (declared where delivery uses it): a name, and
 * "deliver this batch, tell me what was accepted". Each sink is one file beside this one.
 *
 * Contract:
 *   - `deliver` gets records in journal order; the same records may be delivered again after a crash or
 *     a retry (at-least-once), always cut into the same batches, so a sink that can deduplicate
 *     (record.id, batchKey) turns redelivery into a no-op.
 *   - It resolves when the sink accepted the batch. Records the sink refused as malformed (a 4xx that will
 *     never succeed) are listed in `rejected`: delivery logs and counts them and moves on; they are never
 *     retried. Everything not listed was accepted.
 *   - It throws SinkError when the batch should be retried later (sink down, timeout, 5xx, throttled):
 *     nothing of it is acknowledged, and the same batch is sent again after a backoff.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../../shared/log.ts';
import type { RedisClient } from '../../../shared/store/redis.ts';
import type { EventRecord } from '../record.ts';

export interface Rejection {
  id: string;
  reason: string;
}

export interface Delivery {
  rejected: Rejection[];
}

export interface Batch {
  records: readonly EventRecord[];
  /**
   * A key derived from the batch's record ids alone (the same records → the same key): the webhook's
   * Idempotency-Key, the S3 object name.
   */
  key: string;
}

/** Batch.key: 32 hex digits of SHA-256 over the records' ids, in order. */
export function batchKey(records: readonly EventRecord[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(`${r.id}\n`);
  return h.digest('hex').slice(0, 32);
}

/** A batch of these records, keyed by their ids. */
export const batchOf = (records: readonly EventRecord[]): Batch => ({ records, key: batchKey(records) });

export interface Sink {
  /** As the operator named it (`influxdb`, or the name in --sink-config): in logs and /metrics. */
  readonly name: string;
  /** The most records one `deliver` call takes. */
  readonly maxBatch: number;
  deliver(batch: Batch, signal: AbortSignal): Promise<Delivery>;
  close(): Promise<void>;
}

/** A failure worth retrying: nothing of the batch is acknowledged. */
export class SinkError extends Error {
  override name = 'SinkError';
  /** The least wait the sink asked for (HTTP Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** What a sink may use besides its own options. */
export interface SinkContext {
  /** Already carries the sink's name. */
  log: Logger;
  /** The function's own Redis (--redis-*), for a sink that writes there (`redis:?stream=…`). */
  redis?: RedisClient;
}

/**
 * One kind of sink, as `--sink KIND:REST` names it (heapster's form: `influxdb:http://host:8086?db=k8s`,
 * `kafka:?brokers=h:9092&topic=t`). `parse` runs once at start, for every --sink and --sink-config entry:
 * it turns REST into validated options (a zod schema per kind, types inferred from it), or throws
 * InvalidSink naming what is wrong. Secrets are never URI values: a sink takes `*_file` options naming
 * files (mounted Secrets) and reads them in `create`.
 */
export interface SinkKind<O> {
  readonly kind: string;
  parse(rest: string): O;
  create(name: string, options: O, context: SinkContext): Sink;
}

/** A bad --sink URI or --sink-config entry: the program stops at start with this message. */
export class InvalidSink extends Error {
  override name = 'InvalidSink';
}
