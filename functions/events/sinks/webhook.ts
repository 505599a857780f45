/**
 * `webhook:https://host/path`: each batch is one POST of a JSON array of records, with an
 * `Idempotency-Key` header derived from the batch's ids alone, so a batch sent again (after a timeout,
 * a crash, a retry) carries the same key and a receiver that keeps keys can drop the repeat.
 *
 * Options (taken out of the URL; any other query parameter stays part of it): `ca_file` (PEM; it
 * replaces the public roots for this receiver), `timeout`, `max_batch`, `bearer_token_file`,
 * `headers_file` (lines `Name: value`, for credentials that are not a bearer token).
 *
 * A receiver's 400 or 422 is read as "malformed": the batch is split until the records refused on their
 * own are found, and only those are rejected. Every other failure is retried (see http.ts).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { deadline } from './abort.ts';
import { snippet, statusError, transportError, verdict } from './http.ts';
import { common, invalid, nonEmpty, parseOptions, readPem, readSecret } from './options.ts';
import type { Batch, Delivery, Sink, SinkContext, SinkKind } from './sink.ts';
import { type Outcome, type Part, writeSplitting } from './split.ts';

const KIND = 'webhook';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BATCH = 100;
/** Enough of an error answer to say what it was. */
const MAX_ANSWER_BYTES = 64 * 1024;

const Options = z.strictObject({
  ca_file: nonEmpty.optional(),
  bearer_token_file: nonEmpty.optional(),
  headers_file: nonEmpty.optional(),
  ...common,
});

export type WebhookOptions = z.output<typeof Options> & { url: string };

function parse(rest: string): WebhookOptions {
  let u: URL;
  try {
    u = new URL(rest);
  } catch {
    throw invalid(KIND, `${JSON.stringify(rest)} is not a URL such as https://receiver.example/events`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw invalid(KIND, `the URL must start with https:// or http://, got ${JSON.stringify(rest)}`);
  }
  if (u.username || u.password) {
    throw invalid(KIND, 'credentials do not go in the URL: use bearer_token_file= or headers_file=');
  }
  const raw: Record<string, string> = {};
  for (const key of Object.keys(Options.shape)) {
    const values = u.searchParams.getAll(key);
    if (values.length > 1) throw invalid(KIND, `option "${key}" is given more than once`);
    if (values.length === 1) raw[key] = values[0]!;
    u.searchParams.delete(key);
  }
  return { ...parseOptions(KIND, Options, raw), url: u.href };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `Name: value` lines (blank lines and `#` comments skipped), as a headers file holds them. */
export function parseHeaders(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!TOKEN.test(name)) {
      throw invalid(KIND, `option "headers_file": ${file} line ${i + 1} is not "Name: value"`);
    }
    out[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

/**
 * The Idempotency-Key of a part of a batch: the batch's own key for all of it, one derived from it and
 * the part's position otherwise (a refused batch is split the same way every time).
 */
export function idempotencyKey(batch: Batch, part: Pick<Part, 'start' | 'end'>): string {
  const whole = part.start === 0 && part.end === batch.records.length;
  if (whole && HEADER_SAFE.test(batch.key)) return batch.key;
  const name = whole ? batch.key : `${batch.key}/${part.start}-${part.end}`;
  return createHash('sha256').update(name).digest('hex').slice(0, 32);
}

/** What a key may hold to go into a header as it is (anything else is hashed). */
const HEADER_SAFE = /^[A-Za-z0-9._~:+/=-]{1,255}$/;

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

function create(name: string, o: WebhookOptions, ctx: SinkContext): Sink {
  const url = new URL(o.url);
  const headers: Record<string, string> = {
    ...(o.headers_file ? parseHeaders(readSecret(KIND, 'headers_file', o.headers_file), o.headers_file) : {}),
  };
  if (o.bearer_token_file) {
    headers.authorization = `Bearer ${readSecret(KIND, 'bearer_token_file', o.bearer_token_file)}`;
  }
  const ca = o.ca_file ? readPem(KIND, 'ca_file', o.ca_file) : undefined;
  const agent =
    url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(ca ? { ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 4 });
  const send = url.protocol === 'https:' ? https.request : http.request;
  const timeoutMs = o.timeout ?? DEFAULT_TIMEOUT_MS;
  const target = url.host;

  const post = (body: string, key: string, signal: AbortSignal) =>
    new Promise<Answer>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          agent,
          signal: deadline(signal, timeoutMs),
          headers: {
            'user-agent': 'metrics-serverless-events',
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'idempotency-key': key,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            if (bytes < MAX_ANSWER_BYTES) chunks.push(c);
            bytes += c.length;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              retryAfter: res.headers['retry-after'],
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    }).catch((err: unknown) => {
      throw transportError(err, signal, timeoutMs, target);
    });

  const write = async (batch: Batch, part: Part, signal: AbortSignal): Promise<Outcome> => {
    const a = await post(JSON.stringify(part.records), idempotencyKey(batch, part), signal);
    const v = verdict(a.status);
    if (v === 'accepted') return { kind: 'accepted' };
    if (v === 'malformed' || v === 'too-large') {
      ctx.log.debug(2, 'Webhook refused records', {
        status: a.status,
        from: part.start,
        records: part.records.length,
      });
      return { kind: 'refused', reason: `HTTP ${a.status}: ${snippet(a.body)}` };
    }
    throw statusError(a.status, a.body, a.retryAfter);
  };

  return {
    name,
    maxBatch: o.max_batch ?? MAX_BATCH,
    async deliver(batch, signal): Promise<Delivery> {
      return { rejected: await writeSplitting(batch.records, (part) => write(batch, part, signal)) };
    },
    async close() {
      agent.destroy();
    },
  };
}

export const webhookSink: SinkKind<WebhookOptions> = { kind: KIND, parse, create };
