/**
 * `s3:?bucket=B&prefix=events&region=R&endpoint=URL`: each batch is one NDJSON object (one record per
 * line) at `<prefix>/YYYY/MM/DD/HHMMSSZ-<batch key>.ndjson`, dated by the batch's first record. The name
 * depends on the batch's ids alone, so a retried upload replaces itself instead of adding a copy, and
 * a failed upload leaves the batch in the journal (eventrouter truncated its buffer either way).
 *
 * Credentials come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a web
 * identity token file as IRSA mounts it, ~/.aws, the instance role). `endpoint` names an S3-compatible
 * server (MinIO, Ceph, R2…), addressed path-style unless `force_path_style=false`.
 *
 * S3 refuses no record: every failure is retried (the SDK's own retries are off, delivery's backoff
 * is the one retry policy), so nothing is dropped while the journal holds it.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { EventRecord } from '../record.ts';
import { deadline } from './abort.ts';
import { transportError } from './http.ts';
import { bool, common, invalid, nonEmpty, parseOptions, queryOptions } from './options.ts';
import { type Batch, type Delivery, type Sink, type SinkContext, SinkError, type SinkKind } from './sink.ts';

const KIND = 's3';
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BATCH = 1000;

const Options = z.strictObject({
  bucket: nonEmpty,
  prefix: z
    .string()
    .regex(/^[^/].*[^/]$|^[^/]?$/, { error: 'must not begin or end with /' })
    .default(''),
  region: nonEmpty.optional(),
  endpoint: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  force_path_style: bool.optional(),
  ...common,
});

export type S3Options = z.output<typeof Options>;

function parse(rest: string): S3Options {
  if (rest !== '' && !rest.startsWith('?')) {
    throw invalid(KIND, `expected s3:?bucket=NAME&…, got s3:${rest}`);
  }
  return parseOptions(KIND, Options, queryOptions(KIND, new URLSearchParams(rest)));
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Where a batch goes: under the UTC date of its first record (zero-padded, so keys sort by date), named
 * by the time of that record and the batch key. `undefined` when no record has a time (never, for
 * records the journal built).
 */
export function objectKey(prefix: string, batch: Batch): string | undefined {
  const at = batch.records.map((r) => Date.parse(r.time)).find((t) => !Number.isNaN(t));
  if (at === undefined) return undefined;
  const d = new Date(at);
  const day = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  const name = /^[A-Za-z0-9._-]{1,128}$/.test(batch.key)
    ? batch.key
    : createHash('sha256').update(batch.key).digest('hex').slice(0, 32);
  return `${prefix ? `${prefix}/` : ''}${day}/${time}-${name}.ndjson`;
}

export const ndjson = (records: readonly EventRecord[]) =>
  records.map((r) => `${JSON.stringify(r)}\n`).join('');

function describe(err: unknown): string | undefined {
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    return `${err.name}${status ? ` (HTTP ${status})` : ''}: ${err.message}`;
  }
  return undefined;
}

function create(name: string, o: S3Options, ctx: SinkContext): Sink {
  const timeoutMs = o.timeout ?? DEFAULT_TIMEOUT_MS;
  const client = new S3Client({
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.force_path_style ?? o.endpoint !== undefined,
    maxAttempts: 1,
    // S3-compatible servers do not all know the newer checksum headers; S3 does not require them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 10_000), requestTimeout: timeoutMs },
  });
  const target = `bucket ${o.bucket}${o.endpoint ? ` at ${new URL(o.endpoint).host}` : ''}`;

  return {
    name,
    maxBatch: o.max_batch ?? MAX_BATCH,
    async deliver(batch, signal): Promise<Delivery> {
      const key = objectKey(o.prefix, batch);
      if (key === undefined) {
        return {
          rejected: batch.records.map((r) => ({
            id: r.id,
            reason: `time ${JSON.stringify(r.time)} is not RFC 3339`,
          })),
        };
      }
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: o.bucket,
            Key: key,
            Body: ndjson(batch.records),
            ContentType: 'application/x-ndjson',
          }),
          { abortSignal: deadline(signal, timeoutMs) },
        );
      } catch (err) {
        const service = describe(err);
        if (service && !signal.aborted) throw new SinkError(`${target}: ${service}`, { cause: err });
        throw transportError(err, signal, timeoutMs, target);
      }
      ctx.log.debug(4, 'Uploaded to S3', { bucket: o.bucket, key, records: batch.records.length });
      return { rejected: [] };
    },
    async close() {
      client.destroy();
    },
  };
}

export const s3Sink: SinkKind<S3Options> = { kind: KIND, parse, create };
