/**
 * What the connection says about the caller, behind one small adapter: under @hono/node-server the
 * context's env is `{ incoming, outgoing }` and `incoming.socket` is the TLS socket (its client
 * certificate, whether node:tls verified it); tests pass the same shape to `app.request()`. Anywhere
 * else (Workers, plain HTTP) there is no peer certificate, and nothing can be believed from one.
 *
 * Header values are read from `incoming.headersDistinct` when there is one: a Fetch `Headers` joins a
 * repeated header with ", ", which would turn two X-Remote-Group headers into one group.
 */
import { X509Certificate } from 'node:crypto';
import { type PeerChain, type Subject, subjectOf } from './certificates.ts';

export interface PeerCertificate {
  /** node:tls verified the chain against the server's `ca` during the handshake. */
  readonly authorized: boolean;
  readonly chain: PeerChain;
  readonly subject: Subject;
}

interface RawCert {
  raw?: Buffer;
  subject?: { CN?: string | string[]; O?: string | string[] };
  issuerCertificate?: RawCert;
}

interface TlsSocketLike {
  authorized?: boolean;
  getPeerCertificate?: (detailed: true) => RawCert | null;
}

interface IncomingLike {
  socket?: TlsSocketLike;
  headersDistinct?: Record<string, string[] | undefined>;
}

function incomingOf(env: unknown): IncomingLike | undefined {
  if (typeof env !== 'object' || env === null || !('incoming' in env)) return undefined;
  const incoming = (env as { incoming: unknown }).incoming;
  return typeof incoming === 'object' && incoming !== null ? (incoming as IncomingLike) : undefined;
}

/** Parsing a chain costs tens of microseconds: once per connection is enough. */
const perSocket = new WeakMap<object, PeerCertificate | null>();

const MAX_CHAIN = 10;

function readPeer(socket: TlsSocketLike): PeerCertificate | null {
  const leaf = socket.getPeerCertificate?.(true);
  if (!leaf?.raw) return null;
  const chain: X509Certificate[] = [];
  const seen = new Set<Buffer>();
  for (
    let c: RawCert | undefined = leaf;
    c?.raw && !seen.has(c.raw) && chain.length < MAX_CHAIN;
    c = c.issuerCertificate
  ) {
    seen.add(c.raw);
    try {
      chain.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
    if (c.issuerCertificate === c) break;
  }
  if (chain.length === 0) return null;
  return { authorized: socket.authorized === true, chain, subject: subjectOf(leaf.subject) };
}

/** The verified-or-not client certificate of the connection, or null when none was presented. */
export function peerCertificate(env: unknown): PeerCertificate | null {
  const socket = incomingOf(env)?.socket;
  if (socket === undefined || typeof socket.getPeerCertificate !== 'function') return null;
  const cached = perSocket.get(socket);
  if (cached !== undefined) return cached;
  const peer = readPeer(socket);
  perSocket.set(socket, peer);
  return peer;
}

/** Every value of a request header, one entry per header line. */
export function headerValues(env: unknown, headers: Headers): (name: string) => string[] {
  const distinct = incomingOf(env)?.headersDistinct;
  if (distinct !== undefined) return (name) => distinct[name.toLowerCase()] ?? [];
  return (name) => {
    const v = headers.get(name);
    return v === null ? [] : [v];
  };
}

/** Header names present on the request (lower case), for the extra-header prefixes. */
export function headerNames(env: unknown, headers: Headers): string[] {
  const distinct = incomingOf(env)?.headersDistinct;
  if (distinct !== undefined) return Object.keys(distinct);
  return [...headers.keys()];
}
