/**
 * Every connection of one process, on all its ports: how many may be open at once, how long one may stay
 * open before its first complete request, and what a graceful stop needs to know (which connections are
 * idle, which have a request in flight).
 *
 * Node's own timeouts leave a client that never finishes a request alone for as long as it likes:
 * `headersTimeout` and `requestTimeout` are only checked for a connection whose parser has begun a
 * message, and only every `connectionsCheckingInterval` (30 s by default); a TLS connection that sends
 * nothing after the handshake never begins one, and one that sends nothing at all is kept for the
 * 120 s of the default TLS handshake timeout. So the table gives every accepted connection a deadline
 * for its first complete request (32 s, kube-apiserver's `ReadHeaderTimeout`, counted from the accept,
 * so the TLS handshake is inside it) and bounds how many connections are open at all.
 *
 * At the bound a new connection takes the place of the oldest one that has not completed a request yet
 * (such a connection costs its client nothing to open, and is what a flood is made of), else of the one
 * idle longest; a connection with a request in flight is never closed for another; when every connection
 * is busy the new one is refused. A healthy keep-alive client (the aggregator) completes a request within
 * milliseconds of connecting and is in use, so it is the last to go.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';

/** kube-apiserver's `ReadHeaderTimeout`: the headers of a request must arrive within this. */
export const FIRST_REQUEST_TIMEOUT_MS = 32_000;
/** After a graceful stop began, a connection idle this long is closed (one in use is told to close). */
export const DRAIN_IDLE_MS = 2_000;
/** How often the draining connections are looked at. */
const DRAIN_SWEEP_MS = 100;
/** At most one summary line a minute of connections closed by the table (a flood must not flood the log). */
const LOG_EVERY_MS = 60_000;

type Reason =
  | 'no complete request in time'
  | 'replaced at the connection limit'
  | 'refused: every connection busy';

interface Entry {
  /** The accepted socket (for TLS the raw TCP socket: destroying it ends the TLS socket too). */
  readonly socket: Socket;
  readonly acceptedAt: number;
  /** Set when the first request's headers arrived. */
  requested: boolean;
  inFlight: number;
  /** When the last response ended (or the connection was accepted). */
  idleSince: number;
  /** Responses of this connection not finished yet (their headers may still say Connection: close). */
  readonly responses: Set<ServerResponse>;
  closed: boolean;
}

export interface ConnectionCounts {
  /** Every tracked connection. */
  open: number;
  /** Accepted, no complete request yet (TLS handshake included). */
  pending: number;
  /** Completed a request, nothing in flight now. */
  idle: number;
  /** A request in flight. */
  busy: number;
}

export interface ConnectionTableOptions {
  /** The most connections open at a time, on all ports of the process. */
  max: number;
  log: Logger;
  firstRequestMs?: number;
  drainIdleMs?: number;
  now?: () => number;
}

/** The 4-tuple of a connection: the TLS socket and the raw socket under it report the same one. */
const tuple = (s: Socket): string => `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;

/** The first closing is logged at once, then one line a minute with what was closed since. */
function closingLog(log: Logger, counts: () => ConnectionCounts) {
  const since = new Map<Reason, number>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (since.size === 0) return;
    log.warn('Closed connections since the last report', { ...Object.fromEntries(since), ...counts() });
    since.clear();
    timer = setTimeout(flush, LOG_EVERY_MS).unref();
  };
  return {
    note(reason: Reason) {
      if (timer === undefined) {
        log.warn('Closing connections that would hold this process', { reason, ...counts() });
        timer = setTimeout(flush, LOG_EVERY_MS).unref();
        return;
      }
      since.set(reason, (since.get(reason) ?? 0) + 1);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

export class ConnectionTable {
  readonly #max: number;
  readonly #firstRequestMs: number;
  readonly #drainIdleMs: number;
  readonly #now: () => number;
  readonly #log: ReturnType<typeof closingLog>;
  /** No complete request yet, in accept order (so in deadline order). */
  readonly #pending = new Map<Socket, Entry>();
  /** Nothing in flight, in the order they became idle. */
  readonly #idle = new Map<Socket, Entry>();
  readonly #busy = new Set<Entry>();
  /** The accepted socket and, once its handshake is done, the TLS socket on it. */
  readonly #bySocket = new WeakMap<object, Entry>();
  /** Accepted TLS connections whose handshake is not done, by 4-tuple. */
  readonly #handshaking = new Map<string, Entry>();
  #deadline: NodeJS.Timeout | undefined;
  #draining: { since: number; finished: boolean; finish: () => void } | undefined;
  #drained: Promise<number> | undefined;

  constructor(o: ConnectionTableOptions) {
    this.#max = o.max;
    this.#firstRequestMs = o.firstRequestMs ?? FIRST_REQUEST_TIMEOUT_MS;
    this.#drainIdleMs = o.drainIdleMs ?? DRAIN_IDLE_MS;
    this.#now = o.now ?? Date.now;
    this.#log = closingLog(o.log, () => this.counts());
  }

  counts(): ConnectionCounts {
    const pending = this.#pending.size;
    const idle = this.#idle.size;
    const busy = this.#busy.size;
    return { open: pending + idle + busy, pending, idle, busy };
  }

  get draining(): boolean {
    return this.#draining !== undefined;
  }

  /** A connection was accepted (`connection` event); `tls` when a TLS handshake comes first. */
  accept(socket: Socket, tls: boolean): void {
    if (this.counts().open >= this.#max && !this.#makeRoom()) {
      this.#log.note('refused: every connection busy');
      socket.destroy();
      return;
    }
    const now = this.#now();
    const entry: Entry = {
      socket,
      acceptedAt: now,
      requested: false,
      inFlight: 0,
      idleSince: now,
      responses: new Set(),
      closed: false,
    };
    this.#pending.set(socket, entry);
    this.#bySocket.set(socket, entry);
    const key = tls ? tuple(socket) : undefined;
    if (key !== undefined) this.#handshaking.set(key, entry);
    socket.once('close', () => {
      if (key !== undefined && this.#handshaking.get(key) === entry) this.#handshaking.delete(key);
      this.#forget(entry);
    });
    this.#armDeadline();
  }

  /** The TLS handshake of an accepted connection is done (`secureConnection` event). */
  secured(tlsSocket: Socket): void {
    const key = tuple(tlsSocket);
    const entry = this.#handshaking.get(key);
    if (entry === undefined) return;
    this.#handshaking.delete(key);
    this.#bySocket.set(tlsSocket, entry);
  }

  /** A request's headers arrived on `socket` (`request` event); `res` is its response. */
  requestStarted(socket: Socket, res: ServerResponse): void {
    const entry = this.#bySocket.get(socket);
    if (entry === undefined || entry.closed) return;
    if (!entry.requested) {
      entry.requested = true;
      this.#pending.delete(entry.socket);
    }
    this.#idle.delete(entry.socket);
    this.#busy.add(entry);
    entry.inFlight++;
    entry.responses.add(res);
    // Draining: this response says Connection: close, and Node closes the connection after it.
    if (this.#draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      entry.responses.delete(res);
      entry.inFlight--;
      if (entry.inFlight > 0 || entry.closed) return;
      this.#busy.delete(entry);
      entry.idleSince = this.#now();
      this.#idle.set(entry.socket, entry);
    });
  }

  /**
   * Graceful stop of every connection (the listeners are closed by the caller first): each response not
   * yet begun says `Connection: close` and its connection closes after it; a connection idle for
   * `drainIdleMs` is closed (a client that is about to send on it would rather find it closed than be
   * reset mid-request); after `timeoutMs` whatever is left is cut. Resolves when none is open.
   */
  drain(timeoutMs: number): Promise<{ cut: number }> {
    this.#drained ??= new Promise<number>((resolve) => {
      let cut = 0;
      const hardStop = setTimeout(() => {
        const left = [...this.#pending.values(), ...this.#idle.values(), ...this.#busy];
        cut = left.length;
        for (const entry of left) this.#close(entry);
      }, timeoutMs);
      const sweep = setInterval(() => this.#sweepIdle(), DRAIN_SWEEP_MS);
      const finish = () => {
        clearTimeout(hardStop);
        clearInterval(sweep);
        clearTimeout(this.#deadline);
        this.#log.stop();
        resolve(cut);
      };
      for (const entry of this.#busy)
        for (const res of entry.responses) if (!res.headersSent) res.shouldKeepAlive = false;
      this.#draining = { since: this.#now(), finished: false, finish };
      this.#sweepIdle();
    });
    return this.#drained.then((cut) => ({ cut }));
  }

  /** Frees room for one more connection; false when every connection has a request in flight. */
  #makeRoom(): boolean {
    const victim = first(this.#pending) ?? first(this.#idle);
    if (victim === undefined) return false;
    this.#log.note('replaced at the connection limit');
    this.#close(victim);
    return true;
  }

  /** One timer for every first-request deadline: pending entries are kept in deadline order. */
  #armDeadline(): void {
    if (this.#deadline !== undefined) return;
    const head = first(this.#pending);
    if (head === undefined) return;
    const wait = Math.max(0, head.acceptedAt + this.#firstRequestMs - this.#now());
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined;
      const cutoff = this.#now() - this.#firstRequestMs;
      for (const entry of [...this.#pending.values()]) {
        if (entry.acceptedAt > cutoff) break;
        this.#log.note('no complete request in time');
        this.#close(entry);
      }
      this.#armDeadline();
    }, wait);
    this.#deadline.unref();
  }

  #sweepIdle(): void {
    const d = this.#draining;
    if (d === undefined || d.finished) return;
    const cutoff = this.#now() - this.#drainIdleMs;
    for (const map of [this.#pending, this.#idle]) {
      for (const entry of [...map.values()]) {
        if (Math.max(entry.idleSince, d.since) > cutoff) break;
        this.#close(entry);
      }
    }
    this.#settleDrain();
  }

  #settleDrain(): void {
    const d = this.#draining;
    if (d === undefined || d.finished || this.counts().open > 0) return;
    d.finished = true;
    d.finish();
  }

  #close(entry: Entry): void {
    this.#forget(entry);
    entry.socket.destroy();
  }

  #forget(entry: Entry): void {
    if (entry.closed) return;
    entry.closed = true;
    this.#pending.delete(entry.socket);
    this.#idle.delete(entry.socket);
    this.#busy.delete(entry);
    this.#settleDrain();
  }
}

function first<K, V>(map: Map<K, V>): V | undefined {
  for (const v of map.values()) return v;
  return undefined;
}
