/**
 * Clients that never finish a request, as an attacker or a broken client opens them, and well-behaved
 * ones that keep asking meanwhile.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * - `silent`: a TCP connection that sends nothing (for a TLS port: not even a ClientHello);
 * - `silent-after-handshake`: a TLS connection that completes the handshake, then sends nothing;
 * - `mid-headers`: the start of a request's headers (after the handshake on a TLS port), then nothing.
 */
export type Stall = 'silent' | 'silent-after-handshake' | 'mid-headers';

export interface HeldConnection {
  /** When the client began to connect (ms, Date.now()). */
  readonly openedAt: number;
  /** When the client saw it closed. */
  closedAt: number | undefined;
}

export interface Held {
  readonly connections: readonly HeldConnection[];
  /** How many the server has not closed yet. */
  open(): number;
  /** The longest time any of them stayed open, closed or not (ms). */
  longestMs(now?: number): number;
  destroy(): void;
}

const PARTIAL_REQUEST =
  'GET /apis/metrics.k8s.io/v1beta1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow';

function openOne(port: number, tls: boolean, stall: Stall, held: HeldConnection): Promise<Socket> {
  return new Promise((resolve) => {
    const onClose = () => {
      held.closedAt ??= Date.now();
    };
    const ready = (s: Socket) => {
      if (stall === 'mid-headers') s.write(PARTIAL_REQUEST);
      resolve(s);
    };
    let socket: Socket;
    if (tls && stall !== 'silent') {
      const t = connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => ready(t));
      socket = t;
    } else {
      const s = connectTcp({ port, host: '127.0.0.1' }, () => ready(s));
      socket = s;
    }
    socket.on('error', () => {});
    // Whatever the server answers (a 408) is read, so its close is seen: a paused socket with unread
    // data would never emit 'end'.
    socket.on('data', () => {});
    socket.on('close', () => {
      onClose();
      resolve(socket);
    });
  });
}

/**
 * Opens `count` connections of one kind to 127.0.0.1:`port`, `concurrency` at a time (so the listen
 * backlog never overflows into SYN retries), and resolves once every one is open (or already closed).
 */
export async function holdConnections(o: {
  port: number;
  tls: boolean;
  stall: Stall;
  count: number;
  concurrency?: number;
}): Promise<Held> {
  const connections: HeldConnection[] = [];
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async () => {
    while (next < o.count) {
      next++;
      const held: HeldConnection = { openedAt: Date.now(), closedAt: undefined };
      connections.push(held);
      sockets.push(await openOne(o.port, o.tls, o.stall, held));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 50 }, worker));
  return {
    connections,
    open: () => connections.filter((c) => c.closedAt === undefined).length,
    longestMs: (now = Date.now()) => Math.max(0, ...connections.map((c) => (c.closedAt ?? now) - c.openedAt)),
    destroy: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export interface Asked {
  ok: number;
  failed: string[];
}

/**
 * Asks each probe (resolving an HTTP status) every `everyMs` until stop(); a probe counts as answered
 * only with 200.
 */
export function keepAsking(probes: Record<string, () => Promise<number>>, everyMs = 250) {
  const results: Record<string, Asked> = {};
  for (const name of Object.keys(probes)) results[name] = { ok: 0, failed: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        Object.entries(probes).map(async ([name, probe]) => {
          const r = results[name]!;
          try {
            const status = await probe();
            if (status === 200) r.ok++;
            else r.failed.push(`HTTP ${status}`);
          } catch (err) {
            r.failed.push(err instanceof Error ? err.message : String(err));
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop(): Promise<Record<string, Asked>> {
      running = false;
      await loop;
      return results;
    },
  };
}
