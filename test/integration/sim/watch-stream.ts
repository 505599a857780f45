/**
 * A raw watch for the simulated API server's tests: one GET whose body is read line by line as watch
 * events, with a way to wait for the events a test expects and for the server to end the stream.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';

export interface WatchEvent {
  type: string;
  object: {
    kind?: string;
    apiVersion?: string;
    metadata?: {
      name?: string;
      namespace?: string;
      resourceVersion?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    [k: string]: unknown;
  };
}

export interface WatchStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every event so far, in order. */
  events: WatchEvent[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Waits until `count` events (after those already taken) match, and returns them. */
  take(count: number, match?: (e: WatchEvent) => boolean, timeoutMs?: number): Promise<WatchEvent[]>;
  close(): void;
}

export function openWatch(
  url: string,
  o: { ca: string; token: string; headers?: Record<string, string> },
): Promise<WatchStream> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        ca: o.ca,
        agent: false,
        headers: { authorization: `Bearer ${o.token}`, ...o.headers },
      },
      (res) => {
        const events: WatchEvent[] = [];
        let taken = 0;
        let waiter: (() => void) | undefined;
        let buf = '';
        let body = '';
        res.setEncoding('utf8');
        const ended = new Promise<void>((done) => {
          res.on('end', () => {
            waiter?.();
            done();
          });
          res.on('close', () => {
            waiter?.();
            done();
          });
        });
        res.on('data', (chunk: string) => {
          if (res.statusCode !== 200) {
            body += chunk;
            return;
          }
          buf += chunk;
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() !== '') events.push(JSON.parse(line) as WatchEvent);
            nl = buf.indexOf('\n');
          }
          waiter?.();
        });
        let done = false;
        void ended.then(() => {
          done = true;
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          ended,
          async take(count, match = () => true, timeoutMs = 10_000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
              const found: WatchEvent[] = [];
              let i = taken;
              for (; i < events.length && found.length < count; i++)
                if (match(events[i]!)) found.push(events[i]!);
              if (found.length === count) {
                taken = i;
                return found;
              }
              if (done)
                throw new Error(
                  `the watch ended after ${events.length} events: ${JSON.stringify(events.map((e) => e.type))}${body}`,
                );
              const left = deadline - Date.now();
              if (left <= 0)
                throw new Error(
                  `timed out waiting for ${count} events; have ${JSON.stringify(events.slice(taken).map((e) => [e.type, e.object.metadata?.name]))}`,
                );
              await new Promise<void>((r) => {
                const t = setTimeout(r, left);
                waiter = () => {
                  clearTimeout(t);
                  r();
                };
              });
              waiter = undefined;
            }
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
