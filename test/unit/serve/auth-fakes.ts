/**
 * Test doubles for the auth tests: an API server client that answers reviews from a table and records
 * what it was asked, TLS sockets carrying real certificates (as node:tls hands them to the app), and a
 * clock the tests move by hand.
 */
import { X509Certificate } from 'node:crypto';
import type { ApiClient } from '../../../functions/serve/auth/api-client.ts';
import { ApiError } from '../../../functions/serve/auth/api-client.ts';

export interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

/** Answers with `answer(call)`; a thrown error is what the client would throw. */
export class FakeApi implements ApiClient {
  readonly server = 'https://fake-apiserver:6443';
  readonly calls: Call[] = [];
  answer: (call: Call) => unknown;

  constructor(answer: (call: Call) => unknown) {
    this.answer = answer;
  }

  async get(path: string): Promise<unknown> {
    const call: Call = { method: 'GET', path };
    this.calls.push(call);
    return this.answer(call);
  }

  async post(path: string, body: unknown): Promise<unknown> {
    const call: Call = { method: 'POST', path, body };
    this.calls.push(call);
    return this.answer(call);
  }

  posts(path: string): Call[] {
    return this.calls.filter((c) => c.method === 'POST' && c.path === path);
  }
}

export const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
export const SARS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** A SubjectAccessReview answer allowing what `allow` says of the spec. */
export function sarAnswer(allow: (spec: Record<string, unknown>) => boolean, reason = '') {
  return (call: Call) => {
    const spec = (call.body as { spec: Record<string, unknown> }).spec;
    const allowed = allow(spec);
    return { kind: 'SubjectAccessReview', status: allowed ? { allowed, reason } : { allowed } };
  };
}

export function unreachable(): never {
  throw new ApiError('POST https://fake-apiserver:6443/apis/…: connect ECONNREFUSED 10.0.0.1:6443', 0);
}

/** A node:tls server-side socket whose peer presented `chainPem` (leaf first). */
export function tlsSocket(chainPem: string[], authorized: boolean) {
  const certs = chainPem.map(
    (p) => new X509Certificate(p).toLegacyObject() as unknown as Record<string, unknown>,
  );
  certs.forEach((c, i) => {
    c.issuerCertificate = certs[i + 1] ?? c;
  });
  return { authorized, getPeerCertificate: () => certs[0] ?? {} };
}

/** The env @hono/node-server passes to the app: the incoming request's socket and headers. */
export function nodeEnv(
  socket: object | undefined,
  headers: Record<string, string | string[]> = {},
): { incoming: { socket?: object; headersDistinct: Record<string, string[]> } } {
  const distinct: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) distinct[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return { incoming: { ...(socket ? { socket } : {}), headersDistinct: distinct } };
}

/** Headers for a Request: repeated values joined as Fetch joins them (the app must not read these). */
export function fetchHeaders(headers: Record<string, string | string[]>): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
  return h;
}

export class Clock {
  t = 1_700_000_000_000;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
