/**
 * The HTTP(S) servers of one process, each a Web-standard `fetch` handler (a Hono app) on a port, with
 * the protections every function's server needs and one graceful stop for all of them.
 *
 *   const serving = new Serving({ maxOpenConnections: config.maxOpenConnections, log });
 *   const { url } = await serving.listen({ name: 'trigger', fetch: app.fetch, port, host });
 *   // readiness: () => !serving.stopping
 *   onShutdown(log, async () => { await serving.shutdown(config.shutdownDelayDurationMs); … });
 *
 * Limits (kube-apiserver's where it has one): the TLS handshake within 10 s; the first request's headers
 * within 32 s of the accept, a later request's within 32 s of its first byte; a whole request within
 * 60 s; idle keep-alive connections kept 90 s (longer than the aggregator's and client-go's idle
 * timeouts, so a client never reuses a connection the server is closing); at most
 * `maxOpenConnections` connections on all ports together (connections.ts says which one goes at the
 * limit).
 *
 * Graceful stop (`shutdown`): `stopping` is true at once (readiness fails), requests are answered as
 * before for the shutdown delay (endpoints propagate meanwhile), then the listeners close, each
 * keep-alive connection is closed after its current response (which says `Connection: close`), idle
 * ones after 2 s of silence, requests in flight finish, and whatever is left after the drain timeout is
 * cut.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from '../log.ts';
import { ConnectionTable, type ConnectionTableOptions } from './connections.ts';

/** client-go's TLSHandshakeTimeout; the aggregator's transport uses the same. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** kube-apiserver's `ReadHeaderTimeout`, for every request after a connection's first. */
export const HEADERS_TIMEOUT_MS = 32_000;
/** kube-apiserver's default `--request-timeout`: the whole request (headers and body) must arrive in it. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** kube-apiserver's `IdleTimeout`: an idle keep-alive connection is kept this long. */
export const KEEP_ALIVE_TIMEOUT_MS = 90_000;
/** After the shutdown delay: how long requests in flight may take before their connections are cut. */
export const DRAIN_TIMEOUT_MS = 15_000;
/**
 * Connections the kernel may keep accepted for the process before it takes them. Node's default, 511,
 * makes the kernel drop the handshake's last ACK of a burst beyond it: the client believes it is
 * connected while the server only sees the connection seconds later. Go's listeners (kube-apiserver's)
 * ask for net.core.somaxconn; the kernel caps this one there too.
 */
const LISTEN_BACKLOG = 4096;
/** How often Node looks for requests past `HEADERS_TIMEOUT_MS` (its default, 30 s, would let one live 62 s). */
const CONNECTIONS_CHECK_MS = 1_000;

type Fetch = Parameters<typeof getRequestListener>[0];

export interface ServingOptions {
  /** `--max-open-connections`: the most connections open at a time, on all ports of the process. */
  maxOpenConnections: number;
  log: Logger;
  /** Tests only: shorter limits. */
  timeouts?: Pick<ConnectionTableOptions, 'firstRequestMs' | 'drainIdleMs'>;
}

export interface ListenOptions {
  /** Names the server in logs ("metrics API", "probes", "trigger"). */
  name: string;
  fetch: Fetch;
  port: number;
  host: string;
  /** HTTPS with these options (certificate, key, client certificate requests); plain HTTP without. */
  tls?: HttpsOptions;
}

export interface Listening {
  /** `http(s)://<host>:<port>`, unspecified addresses reached on loopback. */
  url: string;
  port: number;
  /** The Node server (for `setSecureContext`). */
  server: Server;
}

/** A URL host for a listening address: unspecified addresses are reached on loopback. */
function urlHost(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

export class Serving {
  readonly #log: Logger;
  readonly #connections: ConnectionTable;
  readonly #servers: { name: string; server: Server }[] = [];
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(o: ServingOptions) {
    this.#log = o.log;
    this.#connections = new ConnectionTable({ max: o.maxOpenConnections, log: o.log, ...o.timeouts });
  }

  /** True from the moment a graceful stop began: readiness checks fail on it. */
  get stopping(): boolean {
    return this.#stopping;
  }

  connections() {
    return this.#connections.counts();
  }

  async listen(o: ListenOptions): Promise<Listening> {
    if (this.#stopping) throw new Error(`cannot listen for ${o.name}: shutting down`);
    const limits = {
      keepAlive: true, // TCP keep-alive: a peer that vanished is noticed
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    };
    const server: Server = o.tls
      ? createHttpsServer({ ...o.tls, ...limits, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS })
      : createHttpServer(limits);
    const table = this.#connections;
    const secure = o.tls !== undefined;
    // Node's own connection listener (TLS wrapping, or the HTTP parser) runs first.
    server.on('connection', (socket: Socket) => table.accept(socket, secure));
    if (secure) server.on('secureConnection', (socket: Socket) => table.secured(socket));
    const handle = getRequestListener(o.fetch);
    server.on('request', (req, res) => {
      table.requestStarted(req.socket, res);
      void handle(req, res);
    });
    this.#servers.push({ name: o.name, server });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: o.port, host: o.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
    return { url: `${secure ? 'https' : 'http'}://${urlHost(o.host)}:${port}`, port, server };
  }

  /**
   * The graceful stop of every server (see the module comment); resolves when every connection is
   * closed. Calling it again returns the same stop.
   */
  shutdown(delayMs: number, drainTimeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    this.#stopping = true;
    this.#stopped ??= this.#shutdown(delayMs, drainTimeoutMs);
    return this.#stopped;
  }

  async #shutdown(delayMs: number, drainTimeoutMs: number): Promise<void> {
    const log = this.#log;
    if (delayMs > 0) {
      log.info('Not ready; still serving for the shutdown delay', { delay: `${delayMs}ms` });
      await new Promise((r) => setTimeout(r, delayMs));
    }
    const open = this.#connections.counts();
    log.info('Closing the listeners; open connections close after their current response', { ...open });
    // net.Server#close only stops accepting. http.Server#close would also destroy every idle keep-alive
    // connection at once, resetting any request a client is writing on one at that moment.
    const closed = Promise.all(
      this.#servers.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            NetServer.prototype.close.call(server, () => resolve());
          }),
      ),
    );
    const { cut } = await this.#connections.drain(drainTimeoutMs);
    if (cut > 0) log.warn('Cut connections still busy at the end of the drain', { cut, drainTimeoutMs });
    await closed;
    // Now that nothing is open, http.Server#close only stops Node's header-timeout checks.
    for (const { server } of this.#servers) server.close();
  }
}
