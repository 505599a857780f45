/**
 * Writing answers from the development API server: JSON bodies and Status errors, plain text, a JSON
 * array streamed in chunks, and reading a JSON request body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as S from './status.ts';

const CHUNK = 256;
const MAX_BODY = 1024 * 1024;

/** Returned by everything that has written (or started) the response. */
export type Done = true;
export const DONE: Done = true;

export function sendJson(res: ServerResponse, status: number, body: unknown): Done {
  return sendBody(res, status, JSON.stringify(body));
}

export function sendBody(res: ServerResponse, status: number, body: string): Done {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return DONE;
}

export function sendStatus(res: ServerResponse, status: S.Status): Done {
  // kube-apiserver turns a Status' retryAfterSeconds into the header clients back off by.
  const retry = status.details?.retryAfterSeconds;
  if (retry !== undefined && retry > 0) res.setHeader('Retry-After', String(retry));
  return sendJson(res, status.code, status);
}

export function sendText(res: ServerResponse, status: number, body: string): Done {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
  return DONE;
}

/** Resolves when the response can take more (or is gone). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes a JSON array in chunks, waiting for the socket to drain, so a huge list never sits in memory. */
export async function streamChunks<T>(
  res: ServerResponse,
  head: string,
  items: T[],
  render: (o: T) => string,
  tail: string,
): Promise<void> {
  let ok = res.write(head);
  for (let i = 0; i < items.length; i += CHUNK) {
    if (!ok) await drained(res);
    if (res.destroyed) return;
    const parts: string[] = [];
    for (let j = i; j < Math.min(items.length, i + CHUNK); j++) parts.push(render(items[j]!));
    ok = res.write((i === 0 ? '' : ',') + parts.join(','));
  }
  res.end(tail);
}

export async function readJson(
  req: IncomingMessage,
): Promise<{ value: unknown } | { error: string; status?: S.Status }> {
  const type = String(req.headers['content-type'] ?? 'application/json')
    .split(';')[0]!
    .trim();
  if (type !== 'application/json' && type !== '*/*') {
    req.resume();
    return {
      error: 'unsupported media type',
      status: S.failure(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json`,
      ),
    };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return { error: 'the request body is too large' };
    chunks.push(chunk as Buffer);
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return { error: `the request body is not JSON: ${(err as Error).message}` };
  }
}
