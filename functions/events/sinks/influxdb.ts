/**
 * `influxdb:http://host:8086?db=k8s&withfields=true&cluster_name=prod`: heapster's InfluxDB sink for
 * events, as line protocol over `fetch` (so it runs wherever `fetch` does), to InfluxDB 1.x (`/write`),
 * 2.x, Cloud and 1.8+ (`/api/v2/write`, `api=v2`) or 3.x (`/api/v3/write_lp`, `api=v3`).
 *
 * Schemas (reference/events.md §6), one point per record:
 *   default          `log/events`, field `value` = the Event as JSON; tags uid, hostname, cluster_name,
 *                    and pod_id, pod_name when the involved object is a Pod
 *   withfields=true  `events`, fields `message` and `count`; tags uid, object_name, type, kind,
 *                    component, reason, namespace_name, hostname, cluster_name, and pod_id for a Pod
 * The point's time is the record's time, so a redelivered record lands on the same series and time and
 * overwrites itself instead of adding a point.
 */
import { z } from 'zod';
import type { EventRecord } from '../record.ts';
import { deadline } from './abort.ts';
import { snippet, statusError, transportError, verdict } from './http.ts';
import { encodePoint, type FieldValue, type Point, unixNanos } from './line-protocol.ts';
import { bool, common, invalid, nonEmpty, oneOf, parseOptions, queryOptions, readSecret } from './options.ts';
import {
  type Delivery,
  type Rejection,
  type Sink,
  type SinkContext,
  SinkError,
  type SinkKind,
} from './sink.ts';
import { type Outcome, writeSplitting } from './split.ts';

const KIND = 'influxdb';
export const DEFAULT_TIMEOUT_MS = 10_000;
/** heapster's maxSendBatchSize. */
const MAX_BATCH = 1000;

const Options = z
  .strictObject({
    api: oneOf(['v1', 'v2', 'v3']).default('v1'),
    db: nonEmpty.default('k8s'),
    /** v1: the retention policy to write to (the database's default when not given). */
    rp: nonEmpty.optional(),
    /** v1: the duration of the database's default retention policy when this sink creates it. */
    retention: z
      .string()
      .regex(/^(0|INF|inf|(\d+(ns|u|µ|ms|s|m|h|d|w))+)$/, {
        error: 'expected an InfluxQL duration such as 0 (keep forever), 7d or 12h',
      })
      .default('0'),
    /** v2: organisation name or ID (InfluxDB 1.8's compatibility API ignores it). */
    org: nonEmpty.optional(),
    /** v2: the bucket (default: db, or db/rp, as InfluxDB 1.8 maps them). */
    bucket: nonEmpty.optional(),
    user: nonEmpty.optional(),
    pw_file: nonEmpty.optional(),
    token_file: nonEmpty.optional(),
    withfields: bool.default(false),
    cluster_name: z.string().default('default'),
    measurement: nonEmpty.optional(),
    /** heapster: https instead of http. */
    secure: bool.default(false),
    /** heapster: skip certificate verification; not offered (name a CA through NODE_EXTRA_CA_CERTS). */
    insecuressl: bool
      .refine((v) => !v, {
        error: 'certificate verification cannot be turned off; trust a private CA with NODE_EXTRA_CA_CERTS',
      })
      .optional(),
    /** heapster options that mean nothing here: accepted so that heapster's URIs carry over. */
    concurrency: z.string().optional(),
    disable_counter_metrics: z.string().optional(),
    ...common,
  })
  .refine((o) => o.pw_file === undefined || o.user !== undefined, {
    path: ['user'],
    error: 'is required with pw_file',
  });

/** The options, and the server's URL (scheme, host and any path) from the URI. */
export type InfluxOptions = z.output<typeof Options> & { url: string };

function parse(rest: string): InfluxOptions {
  // heapster's default server when the URI names none (`influxdb:` or `influxdb:?db=k8s`).
  const text = rest === '' || rest.startsWith('?') ? `http://localhost:8086${rest}` : rest;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid(KIND, `${JSON.stringify(rest)} is not a URL such as http://influxdb:8086?db=k8s`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw invalid(KIND, `the URL must start with http:// or https://, got ${JSON.stringify(rest)}`);
  }
  if (u.username || u.password) {
    throw invalid(KIND, 'credentials do not go in the URL: use user= and pw_file= (or token_file=)');
  }
  const raw = queryOptions(KIND, u.searchParams, { secrets: { pw: 'pw_file', token: 'token_file' } });
  u.search = '';
  u.hash = '';
  return { ...parseOptions(KIND, Options, raw), url: u.href.replace(/\/+$/, '') };
}

// ---- points ----------------------------------------------------------------------------------------

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

export interface Schema {
  withFields: boolean;
  clusterName: string;
  measurement?: string | undefined;
}

/** The point heapster's eventer would write for this record (with its time from the fallback chain). */
export function pointOf(record: EventRecord, s: Schema): Point {
  const e = record.event as Record<string, unknown>;
  const meta = obj(e.metadata);
  const involved = obj(e.involvedObject);
  const source = obj(e.source);
  const isPod = involved.kind === 'Pod';
  const time = unixNanos(record.time);
  const tags: Record<string, string | undefined> = {
    uid: text(meta.uid),
    hostname: text(source.host),
    cluster_name: s.clusterName,
    pod_id: isPod ? text(involved.uid) : undefined,
  };
  if (!s.withFields) {
    if (isPod) tags.pod_name = text(involved.name);
    return { measurement: s.measurement ?? 'log/events', tags, fields: { value: JSON.stringify(e) }, time };
  }
  Object.assign(tags, {
    object_name: text(involved.name),
    type: text(e.type),
    kind: text(involved.kind),
    component: text(source.component),
    reason: text(e.reason),
    namespace_name: text(meta.namespace),
  });
  const fields: Record<string, FieldValue> = { message: text(e.message) ?? '' };
  const n = obj(e.series).count ?? e.count;
  if (typeof n === 'number' && Number.isSafeInteger(n)) fields.count = BigInt(n);
  return { measurement: s.measurement ?? 'events', tags, fields, time };
}

// ---- requests --------------------------------------------------------------------------------------

export interface WriteRequest {
  url: string;
  headers: Record<string, string>;
}

export interface Credentials {
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
}

const basic = (user: string, password = '') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The write endpoint of each flavour, with its precision and authorization (§7.2). */
export function writeRequest(o: InfluxOptions, c: Credentials): WriteRequest {
  const base = o.secure ? o.url.replace(/^http:/, 'https:') : o.url;
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  const q = new URLSearchParams();
  let path: string;
  if (o.api === 'v1') {
    path = '/write';
    q.set('db', o.db);
    if (o.rp) q.set('rp', o.rp);
    q.set('precision', 'ns');
    if (c.user !== undefined) headers.authorization = basic(c.user, c.password);
  } else if (o.api === 'v2') {
    path = '/api/v2/write';
    if (o.org) q.set('org', o.org);
    q.set('bucket', o.bucket ?? (o.rp ? `${o.db}/${o.rp}` : o.db));
    q.set('precision', 'ns');
    // InfluxDB 1.8's compatibility API takes `Token user:password`.
    const token = c.token ?? (c.user !== undefined ? `${c.user}:${c.password ?? ''}` : undefined);
    if (token !== undefined) headers.authorization = `Token ${token}`;
  } else {
    path = '/api/v3/write_lp';
    q.set('db', o.db);
    q.set('precision', 'nanosecond');
    q.set('accept_partial', 'true');
    if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
  }
  return { url: `${base}${path}?${q}`, headers };
}

/** v1: the database heapster would have created, with its retention when one is given. */
export function createDatabaseQuery(o: InfluxOptions): string {
  const name = `"${o.db.replace(/["\\]/g, '\\$&')}"`;
  const keep = o.retention === '0' || o.retention.toUpperCase() === 'INF';
  return keep ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} WITH DURATION ${o.retention}`;
}

/**
 * InfluxDB 3 names the lines it refused (`{"data":[{"line_number":2,"error_message":…}]}`, 1-based) and
 * writes the others; earlier versions say only `partial write: … dropped=N`, which names no record.
 */
export function refusedLines(body: string): { line: number; reason: string }[] | undefined {
  try {
    const data = (JSON.parse(body) as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length === 0) return undefined;
    const out: { line: number; reason: string }[] = [];
    for (const d of data) {
      const line = (d as { line_number?: unknown }).line_number;
      if (typeof line !== 'number' || !Number.isInteger(line)) return undefined;
      out.push({ line, reason: String((d as { error_message?: unknown }).error_message ?? 'refused') });
    }
    return out;
  } catch {
    return undefined;
  }
}

// ---- the sink --------------------------------------------------------------------------------------

function create(name: string, o: InfluxOptions, ctx: SinkContext): Sink {
  const credentials: Credentials = {
    user: o.user,
    password: o.pw_file === undefined ? undefined : readSecret(KIND, 'pw_file', o.pw_file),
    token: o.token_file === undefined ? undefined : readSecret(KIND, 'token_file', o.token_file),
  };
  for (const option of ['concurrency', 'disable_counter_metrics'] as const) {
    if (o[option] !== undefined) ctx.log.info('InfluxDB sink option has no effect here', { option });
  }
  const request = writeRequest(o, credentials);
  const target = new URL(request.url).host;
  const timeoutMs = o.timeout ?? DEFAULT_TIMEOUT_MS;
  const schema: Schema = {
    withFields: o.withfields,
    clusterName: o.cluster_name,
    measurement: o.measurement,
  };

  const post = async (url: string, body: string, headers: Record<string, string>, signal: AbortSignal) => {
    try {
      const res = await fetch(url, { method: 'POST', body, headers, signal: deadline(signal, timeoutMs) });
      return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
    } catch (err) {
      throw transportError(err, signal, timeoutMs, target);
    }
  };

  const createDatabase = async (signal: AbortSignal) => {
    const q = createDatabaseQuery(o);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (request.headers.authorization) headers.authorization = request.headers.authorization;
    const res = await post(
      `${request.url.replace(/\/write\?.*$/, '/query')}`,
      `q=${encodeURIComponent(q)}`,
      headers,
      signal,
    );
    // InfluxQL errors come as 200 with {"results":[{"error":…}]}.
    if (res.status !== 200 || /"error"/.test(res.body)) {
      throw new SinkError(
        `${target}: database ${o.db} not found, and ${q} failed: HTTP ${res.status}: ${snippet(res.body)}`,
      );
    }
    ctx.log.info('Created InfluxDB database', { db: o.db, server: target, query: q });
  };

  const write = async (
    lines: string[],
    records: readonly EventRecord[],
    signal: AbortSignal,
  ): Promise<Outcome> => {
    const body = lines.join('\n');
    let res = await post(request.url, body, request.headers, signal);
    if (o.api === 'v1' && res.status === 404 && res.body.includes('database not found')) {
      await createDatabase(signal);
      res = await post(request.url, body, request.headers, signal);
    }
    const v = verdict(res.status);
    if (v === 'accepted') return { kind: 'accepted' };
    if (v === 'malformed' || v === 'too-large') {
      const named = o.api === 'v3' ? refusedLines(res.body) : undefined;
      if (named?.every((n) => n.line >= 1 && n.line <= records.length)) {
        return {
          kind: 'partial',
          rejected: named.map((n) => ({ id: records[n.line - 1]!.id, reason: n.reason })),
        };
      }
      return { kind: 'refused', reason: `HTTP ${res.status}: ${snippet(res.body)}` };
    }
    throw statusError(res.status, res.body, res.retryAfter);
  };

  return {
    name,
    maxBatch: o.max_batch ?? MAX_BATCH,
    async deliver(batch, signal): Promise<Delivery> {
      const rejected: Rejection[] = [];
      const records: EventRecord[] = [];
      const lines: string[] = [];
      for (const r of batch.records) {
        try {
          lines.push(encodePoint(pointOf(r, schema)));
          records.push(r);
        } catch (err) {
          rejected.push({ id: r.id, reason: `not writable as a point: ${(err as Error).message}` });
        }
      }
      const refused = await writeSplitting(records, (part) => {
        if (part.records.length < records.length) {
          ctx.log.debug(2, 'Writing part of a refused batch', {
            from: part.start,
            records: part.records.length,
          });
        }
        return write(lines.slice(part.start, part.end), part.records, signal);
      });
      return { rejected: [...rejected, ...refused] };
    },
    async close() {},
  };
}

export const influxdbSink: SinkKind<InfluxOptions> = { kind: KIND, parse, create };
