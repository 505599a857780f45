/**
 * What the HTTP sinks (influxdb, webhook) share: one reading of a status code, of Retry-After, and of a
 * failed connection, so both retry and reject the same things.
 *
 *   2xx                     accepted
 *   400, 422                the records are malformed: split the batch to find which, reject those
 *   413                     too large: split; a single record that is still too large is rejected
 *   408, 425, 429, 5xx      retry later (SinkError), after Retry-After when the server gives one
 *   any other (401, 403,    the sink refuses every request until its configuration is fixed: retry
 *   404, 3xx, …)            later, so nothing is lost while the journal holds it
 */
import { SinkError } from './sink.ts';

export type Verdict = 'accepted' | 'malformed' | 'too-large' | 'retry' | 'refused';

export function verdict(status: number): Verdict {
  if (status >= 200 && status < 300) return 'accepted';
  if (status === 400 || status === 422) return 'malformed';
  if (status === 413) return 'too-large';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'refused';
}

/** Retry-After (delay-seconds or an HTTP-date) as milliseconds from `now`, if it says anything. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The first line of a body, short enough for a log line. */
export function snippet(body: string, max = 300): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** A SinkError for an answer that is neither accepted nor about the records. */
export function statusError(status: number, body: string, retryAfter?: string | null): SinkError {
  const why = verdict(status) === 'refused' ? ' (refused until the sink configuration is fixed)' : '';
  const text = snippet(body);
  const ms = retryAfterMs(retryAfter);
  return new SinkError(
    `HTTP ${status}${why}${text ? `: ${text}` : ''}`,
    ms === undefined ? {} : { retryAfterMs: ms },
  );
}

/**
 * A request that never got an answer, as a SinkError naming the cause: the caller's abort, the timeout,
 * or the connection error (`connect ECONNREFUSED 127.0.0.1:8086`).
 */
export function transportError(
  err: unknown,
  caller: AbortSignal,
  timeoutMs: number,
  target: string,
): SinkError {
  if (caller.aborted) return new SinkError(`${target}: aborted`, { cause: err });
  const e = err as { name?: string; message?: string; cause?: { message?: string; code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new SinkError(`${target}: no answer within ${timeoutMs} ms`, { cause: err });
  }
  const cause = e?.cause?.message ?? e?.message ?? String(err);
  return new SinkError(`${target}: ${cause}`, { cause: err });
}
