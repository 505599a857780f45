/**
 * The servers every function uses (shared/http/serving.ts), on loopback with real sockets and short
 * limits: which connections the table closes, when, and what a graceful stop does to each kind.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Serving } from '../../../shared/http/serving.ts';
import { createLogger } from '../../../shared/log.ts';
import { waitFor } from '../../../sim/processes.ts';

const FIRST_REQUEST_MS = 600;
const DRAIN_IDLE_MS = 400;

interface Started {
  serving: Serving;
  port: number;
  lines: string[];
  /** Resolves the response of the request to `/slow` that is waiting. */
  release(): void;
}

/** A plain-HTTP server: `/` answers at once, `/slow` when the test calls release(). */
async function start(maxOpenConnections = 100): Promise<Started> {
  const lines: string[] = [];
  const serving = new Serving({
    maxOpenConnections,
    log: createLogger({ write: (l) => lines.push(l) }),
    timeouts: { firstRequestMs: FIRST_REQUEST_MS, drainIdleMs: DRAIN_IDLE_MS },
  });
  let waiting: (() => void)[] = [];
  const { port } = await serving.listen({
    name: 'test',
    host: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      if (new URL(req.url).pathname === '/slow') await new Promise<void>((r) => waiting.push(r));
      return new Response('ok');
    },
  });
  return {
    serving,
    port,
    lines,
    release() {
      for (const r of waiting) r();
      waiting = [];
    },
  };
}

/** A raw TCP connection and what it has received; `closed` resolves when the server closed it. */
function raw(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

const REQUEST = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

interface Conn {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

/** How many complete responses (each ends with the body `ok`) a connection has received. */
const answers = (c: Conn) => c.received().split('\r\n\r\nok').length - 1;

/** Sends a GET on a keep-alive connection (a new one unless given) and waits for its answer. */
async function get(port: number, path: string, on?: Conn): Promise<Conn & { headers: string }> {
  const c = on ?? (await raw(port));
  const before = answers(c);
  c.socket.write(REQUEST(path));
  await waitFor(`the answer to ${path}`, 5000, async () => answers(c) > before);
  const responses = c.received().split('HTTP/1.1 ');
  return { ...c, headers: responses[responses.length - 1] ?? '' };
}

describe('connections that never finish a request', () => {
  test('one that says nothing, and one stalled mid-headers, are closed at the first-request deadline; a keep-alive one that completed a request is not', {
    timeout: 20_000,
  }, async () => {
    const s = await start();
    try {
      const silent = await raw(s.port);
      const stalled = await raw(s.port);
      stalled.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:');
      const healthy = await raw(s.port);
      healthy.socket.write(REQUEST('/'));
      const opened = Date.now();
      await Promise.all([silent.closed, stalled.closed]);
      assert.ok(Date.now() - opened >= FIRST_REQUEST_MS - 50, 'not before the deadline');
      assert.equal(silent.received(), '', 'closed without an answer');
      assert.match(healthy.received(), /^HTTP\/1.1 200 OK/);
      assert.equal(healthy.socket.destroyed, false, 'the keep-alive connection stays open');
      assert.deepEqual(s.serving.connections(), { open: 1, pending: 0, idle: 1, busy: 0 });
      assert.ok(s.lines.some((l) => l.includes('no complete request in time')));
      healthy.socket.destroy();
    } finally {
      await s.serving.shutdown(0, 1000);
    }
  });
});

describe('the connection limit', () => {
  test('a new connection replaces the oldest that has not completed a request, then the one idle longest; with every connection busy it is refused', {
    timeout: 20_000,
  }, async () => {
    const s = await start(3);
    try {
      // Two idle keep-alive connections (a, then b) and one that said nothing (c).
      const a = await get(s.port, '/');
      const b = await get(s.port, '/');
      const c = await raw(s.port);
      await waitFor('three open', 2000, async () => s.serving.connections().open === 3);

      // A fourth takes the place of c, which never completed a request.
      const d = await get(s.port, '/');
      await c.closed;
      assert.equal(a.socket.destroyed, false);

      // All three are idle now (a, b, d): a fifth takes the place of the one idle longest, a.
      const e = await get(s.port, '/');
      await a.closed;
      assert.equal(b.socket.destroyed, false);

      // Three busy requests, each replacing an idle connection, then a further one is refused.
      const busy: Conn[] = [];
      for (let i = 1; i <= 3; i++) {
        const conn = await raw(s.port);
        conn.socket.write(REQUEST('/slow'));
        busy.push(conn);
        await waitFor(`${i} busy`, 2000, async () => s.serving.connections().busy === i);
      }
      await Promise.all([b.closed, d.closed, e.closed]);
      const refused = await raw(s.port);
      await refused.closed;
      assert.equal(refused.received(), '');
      s.release();
      for (const conn of busy) {
        await waitFor('the slow answer', 2000, async () => answers(conn) === 1);
        conn.socket.destroy();
      }
      assert.ok(s.lines.some((l) => l.includes('replaced at the connection limit')));
    } finally {
      s.release();
      await s.serving.shutdown(0, 1000);
    }
  });
});

describe('graceful stop', () => {
  test('readiness flips at once and requests are answered through the delay; then the listener closes, a request in flight finishes with Connection: close, an idle connection is closed after a quiet period', {
    timeout: 20_000,
  }, async () => {
    const s = await start();
    const idle = await get(s.port, '/');
    const inFlight = await raw(s.port);
    inFlight.socket.write(REQUEST('/slow'));
    await waitFor('the slow request', 2000, async () => s.serving.connections().busy === 1);

    const stopped = s.serving.shutdown(300, 5000);
    assert.equal(s.serving.stopping, true, 'stopping at once');
    const during = await get(s.port, '/');
    assert.match(during.headers, /^200 OK/);
    assert.match(
      during.headers,
      /connection: keep-alive/i,
      'a new connection is served as usual during the delay',
    );

    // After the delay the listener is closed: a new connection is refused.
    await waitFor('the listener to close', 3000, async () =>
      raw(s.port).then(
        (c) => {
          c.socket.destroy();
          return false;
        },
        () => true,
      ),
    );
    // A request on a kept-alive connection during the drain is answered, and told to close.
    const late = await get(s.port, '/', during);
    assert.match(late.headers, /connection: close/i);
    await late.closed;
    // The request in flight finishes, and is told to close.
    s.release();
    await waitFor('the slow answer', 2000, async () => answers(inFlight) === 1);
    assert.match(inFlight.received(), /connection: close/i);
    await inFlight.closed;
    // The connection nobody uses is closed after the quiet period, and then the stop is done.
    await idle.closed;
    await stopped;
    assert.deepEqual(s.serving.connections(), { open: 0, pending: 0, idle: 0, busy: 0 });
  });

  test('what is still busy at the end of the drain timeout is cut', { timeout: 20_000 }, async () => {
    const s = await start();
    const stuck = await raw(s.port);
    stuck.socket.write(REQUEST('/slow'));
    await waitFor('the slow request', 2000, async () => s.serving.connections().busy === 1);
    await s.serving.shutdown(0, 300);
    await stuck.closed;
    assert.equal(answers(stuck), 0, 'cut before it was answered');
    assert.ok(s.lines.some((l) => l.includes('Cut connections still busy')));
    s.release();
  });
});
