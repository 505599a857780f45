/**
 * Fetching one node's usage from its kubelet: which address and port (metrics-server's rules), which
 * path, and an HTTPS GET bounded in time and size. Connections are kept alive and TLS sessions cached
 * across cycles, so a long-lived scraper does not pay a handshake per node per cycle; the sessions can
 * be exported and imported (kept in Redis by the scraper) so that a fresh process resumes them instead
 * of paying a full handshake to every kubelet. One TLS context serves every connection: building one per
 * connection (what passing `ca`/`cert`/`key` to each request does) costs more than the handshake.
 */

import type http from 'node:http';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext, type TLSSocket } from 'node:tls';
import type { NodeObject } from '../../shared/kube.ts';
import { BodyText } from './body-text.ts';
import { DecodeError, type MetricsBatch } from './decode/batch.ts';
import { decode } from './decode/index.ts';

export type KubeletEndpoint = 'resource' | 'summary';

export interface KubeletOptions {
  endpoint: KubeletEndpoint;
  via: 'direct' | 'proxy';
  port: number;
  useNodeStatusPort: boolean;
  preferredAddressTypes: string[];
  timeoutMs: number;
  maxBytes: number;
}

/** Where the kubelet lets us read usage; a node may override the resource path (as in metrics-server). */
export function kubeletPath(endpoint: KubeletEndpoint, node: NodeObject): string {
  if (endpoint === 'summary') return '/stats/summary?only_cpu_and_memory=true';
  return node.annotations['metrics.k8s.io/resource-metrics-path'] || '/metrics/resource';
}

/** The first address of the first preferred type the node has, as metrics-server picks it. */
export function nodeAddress(node: NodeObject, preferred: string[]): string {
  for (const type of preferred) {
    const a = node.addresses.find((x) => x.type === type);
    if (a) return a.address;
  }
  throw new Error(`no address matched types [${preferred.join(' ')}]`);
}

export function kubeletUrl(node: NodeObject, o: KubeletOptions, apiServer: string): URL {
  const path = kubeletPath(o.endpoint, node);
  if (o.via === 'proxy') {
    return new URL(
      `${apiServer.replace(/\/+$/, '')}/api/v1/nodes/${encodeURIComponent(node.name)}/proxy${path}`,
    );
  }
  const address = nodeAddress(node, o.preferredAddressTypes);
  const port = o.useNodeStatusPort && node.kubeletPort > 0 ? node.kubeletPort : o.port;
  const host = address.includes(':') ? `[${address}]` : address;
  return new URL(`https://${host}:${port}${path}`);
}

/** A failed kubelet request; the message is what the scrape log line shows as the cause. */
export class KubeletError extends Error {
  override name = 'KubeletError';
  readonly timeout: boolean;
  constructor(message: string, opts: { cause?: unknown; timeout?: boolean } = {}) {
    super(message, { cause: opts.cause });
    this.timeout = opts.timeout ?? false;
  }
}

export type TlsOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;

export interface Fetched {
  body: string;
  /** When the request started, ms (the timestamp for samples that carry none). */
  requestTime: number;
}

/** How one request went, for the scraper's own metrics (`metrics_server_kubelet_request_*`). */
export interface RequestObservation {
  node: string;
  durationSeconds: number;
  /** Unix seconds when the request started. */
  startedAt: number;
  success: boolean;
}

const ACCEPT: Record<KubeletEndpoint, string> = {
  resource: 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
  summary: 'application/json',
};

/**
 * Whatever answers at a node's address may echo the request back in an error page: the bearer token
 * we sent must never reach the log line that quotes it.
 */
export function withoutCredentials(text: string, headers: Readonly<Record<string, string>>): string {
  let out = text;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'authorization') continue;
    for (const secret of [value, value.replace(/^\S+\s+/, '')]) {
      if (secret.length >= 8) out = out.split(secret).join('[redacted]');
    }
  }
  return out;
}

/** How a kept-alive connection that the server closed as it was reused fails a request written to it. */
const closedOnReuse = (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || err.code === 'EPIPE';

function oneLine(s: string, max = 120): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/**
 * An https.Agent whose kept-alive sockets do not keep alive the request that opened them. Node's
 * `createConnection` leaves listeners on each socket (session caching, eviction on close) whose closure
 * also holds the `callback` it was given, which holds that first request, its response and whatever its
 * handlers hold (at 5,000 kubelets, hundreds of MiB of first bodies, for as long as the connections live).
 * Here the callback is reached through a reference dropped once the socket has served its first request
 * (or closed); until then it is called exactly as before.
 */
export class KeepAliveAgent extends https.Agent {
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    let pending = callback;
    const socket = super.createConnection(options, (err, stream) => pending?.(err, stream));
    if (socket) {
      const release = () => {
        pending = undefined;
      };
      socket.once('free', release);
      socket.once('close', release);
    }
    return socket;
  }
}

/**
 * A copy of `b` in memory of its own size. Node hands out each TLS session (under 1 KB) as a view of a
 * 64 KiB buffer, and a Redis reply's values are views of the whole reply: kept as they are, one session
 * per kubelet would hold 64 KiB each (320 MiB at 5,000 nodes).
 */
function compact(b: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}

export class KubeletClient {
  #agent: https.Agent;
  #headers: Record<string, string> = {};
  #o: KubeletOptions;
  #apiServer: string;
  /** The newest TLS session per `host:port`, as the kubelet last issued it (or as imported). */
  #sessions = new Map<string, Buffer>();
  /** Sessions issued since the last `takeNewSessions`. */
  #fresh = new Map<string, Buffer>();
  /** The kubelet (`host:port`) of every connection the client opened. */
  #endpointOf = new WeakMap<Socket, string>();
  /** When each kubelet (`host:port`) was last requested (performance.now()). */
  #lastUsed = new Map<string, number>();
  #observe: ((o: RequestObservation) => void) | null = null;

  /** @param apiServer the API server URL, for --kubelet-via=proxy */
  constructor(tls: TlsOptions, o: KubeletOptions, apiServer: string) {
    const { rejectUnauthorized, ...material } = tls;
    this.#agent = new KeepAliveAgent({
      keepAlive: true,
      // The client keeps the sessions itself (#sessions, compact copies) and offers one with every
      // request: the agent's own cache would hold each session again, as Node hands it out (below).
      maxCachedSessions: 0,
      secureContext: createSecureContext(material),
      rejectUnauthorized: rejectUnauthorized ?? true,
    });
    this.#o = o;
    this.#apiServer = apiServer;
  }

  /** Called after every scrape request with how it went (one place to count them for metrics). */
  onRequest(observe: (o: RequestObservation) => void): void {
    this.#observe = observe;
  }

  /** Adds sessions a previous process saved (`host:port` → serialized TLS session). */
  importSessions(entries: Iterable<[string, Buffer]>): void {
    // Copied: a session read from Redis is a view of the whole reply it came in.
    for (const [k, v] of entries) if (!this.#sessions.has(k)) this.#sessions.set(k, compact(v));
  }

  /** The sessions kubelets issued since the last call, to be saved for the next process. */
  takeNewSessions(): [string, Buffer][] {
    const out = [...this.#fresh];
    this.#fresh.clear();
    return out;
  }

  /** The `host:port` that `node`'s requests go to (and its TLS session is kept for); '' without an address. */
  endpoint(node: NodeObject): string {
    try {
      return kubeletUrl(node, this.#o, this.#apiServer).host;
    } catch {
      return '';
    }
  }

  /**
   * Forgets every kubelet outside `endpoints` (the cycle's nodes): its sessions and its kept-alive
   * connections, so that a long-lived scraper holds nothing for nodes that left the cluster.
   */
  retain(endpoints: ReadonlySet<string>): void {
    this.#forget((e) => !endpoints.has(e));
  }

  /**
   * Forgets every kubelet this client has not requested for `idleMs` (its session and connections): what
   * an instance that scrapes shards does instead of `retain`, since it sees only some of the cluster's
   * nodes at a time, never the list that says who left. A kubelet it scrapes again later is connected to
   * again (a full handshake, unless a session was imported for it).
   */
  forgetIdle(idleMs: number, now = performance.now()): void {
    const idle = new Set<string>();
    for (const [e, at] of this.#lastUsed) if (now - at > idleMs) idle.add(e);
    if (idle.size > 0) this.#forget((e) => idle.has(e));
  }

  #forget(gone: (endpoint: string) => boolean): void {
    for (const e of this.#sessions.keys()) if (gone(e)) this.#sessions.delete(e);
    for (const e of this.#fresh.keys()) if (gone(e)) this.#fresh.delete(e);
    for (const e of this.#lastUsed.keys()) if (gone(e)) this.#lastUsed.delete(e);
    for (const pool of [this.#agent.freeSockets, this.#agent.sockets]) {
      for (const sockets of Object.values(pool)) {
        for (const socket of sockets ?? []) {
          const e = this.#endpointOf.get(socket as Socket);
          if (e !== undefined && gone(e)) socket.destroy();
        }
      }
    }
  }

  /** Credentials for the next requests (set each cycle: a kubeconfig's bearer token may rotate). */
  setHeaders(headers: Record<string, string>): void {
    this.#headers = { ...headers, Accept: ACCEPT[this.#o.endpoint] };
  }

  /** Fetches and decodes one node's usage. Throws KubeletError (or DecodeError) naming the cause. */
  async scrape(node: NodeObject): Promise<MetricsBatch> {
    const url = kubeletUrl(node, this.#o, this.#apiServer);
    let fetched: Fetched;
    const started = performance.now();
    try {
      fetched = await this.fetch(url);
    } catch (err) {
      this.#observed(node.name, started, false);
      throw err;
    }
    this.#observed(node.name, started, true);
    const { body, requestTime } = fetched;
    try {
      return decode(this.#o.endpoint, body, requestTime);
    } catch (err) {
      if (err instanceof DecodeError)
        throw new KubeletError(`failed parsing metrics: ${err.message}`, { cause: err });
      throw err;
    }
  }

  #observed(node: string, started: number, success: boolean): void {
    if (!this.#observe) return;
    const durationMs = performance.now() - started;
    this.#observe({
      node,
      durationSeconds: durationMs / 1000,
      startedAt: (Date.now() - durationMs) / 1000,
      success,
    });
  }

  fetch(url: URL): Promise<Fetched> {
    const headers = this.#headers;
    const requestTime = Date.now();
    const { timeoutMs, maxBytes } = this.#o;
    const hostPort = url.host;
    this.#lastUsed.set(hostPort, performance.now());
    const session = this.#sessions.get(hostPort);
    return new Promise<Fetched>((resolve, reject) => {
      let settled = false;
      let req: ClientRequest | undefined;
      const fail = (err: KubeletError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req?.destroy();
        reject(err);
      };
      // One deadline for connect, headers and body (a retry included): a kubelet trickling bytes cannot hold a cycle.
      const timer = setTimeout(
        () => fail(new KubeletError(`timeout after ${timeoutMs / 1000}s`, { timeout: true })),
        timeoutMs,
      );
      // A saved session is offered only when the agent opens a new connection to this kubelet.
      const options: https.RequestOptions & { session?: Buffer } = {
        agent: this.#agent,
        headers,
        method: 'GET',
      };
      if (session) options.session = session;
      const send = (mayRetry: boolean) => {
        let responded = false;
        const sent = https.request(url, options, (res) => {
          responded = true;
          const text = new BodyText();
          res.on('data', (chunk: Buffer) => {
            if (text.size + chunk.length > maxBytes) {
              fail(new KubeletError(`response larger than ${maxBytes} bytes`));
              return;
            }
            text.add(chunk);
          });
          res.on('error', (err) => fail(new KubeletError(err.message, { cause: err })));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const body = text.text();
            const status = res.statusCode ?? 0;
            if (status !== 200) {
              const excerpt = oneLine(withoutCredentials(body, headers));
              reject(
                new KubeletError(
                  `request failed, status: "${status} ${res.statusMessage ?? ''}"${excerpt ? `: ${excerpt}` : ''}`,
                ),
              );
              return;
            }
            resolve({ body, requestTime });
          });
        });
        req = sent;
        sent.on('error', (err: NodeJS.ErrnoException) => {
          // A kept-alive connection the kubelet closed just as it was reused (its idle timeout ended
          // as the request went out): the kubelet never answered it, so the GET goes once more, on a
          // new connection, as Go's transport does. A connection of its own that fails is a failure.
          if (mayRetry && !settled && !responded && sent.reusedSocket && closedOnReuse(err)) {
            send(false);
            return;
          }
          fail(new KubeletError(err.message, { cause: err }));
        });
        sent.on('socket', (socket: Socket) => this.#watchSessions(socket as TLSSocket, hostPort));
        sent.end();
      };
      send(true);
    });
  }

  /**
   * Records the sessions a new connection is issued. The listener lives as long as the kept-alive
   * socket: it is made here, outside `fetch`, so that it holds only the client and the key, not the
   * request that opened the socket (its response, body and promise would otherwise stay alive with it).
   */
  #watchSessions(socket: TLSSocket, hostPort: string): void {
    if (this.#endpointOf.has(socket)) return;
    this.#endpointOf.set(socket, hostPort);
    socket.on('session', (ticket: Buffer) => {
      const session = compact(ticket);
      this.#sessions.set(hostPort, session);
      this.#fresh.set(hostPort, session);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
