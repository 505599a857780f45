/**
 * A loopback HTTP(S) server that records every request (method, path, query, headers, body) and answers
 * as the test says: the stand-in for a webhook receiver, or for InfluxDB 2/3 whose request shapes are
 * checked (no such server can be installed here).
 */
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** How to answer a request; `'hang'` never answers (a timeout test), `'reset'` drops the connection. */
export type Responder = (r: Recorded, n: number) => Answer | 'hang' | 'reset' | Promise<Answer>;

export interface Recorder {
  url: string;
  requests: Recorded[];
  respond: Responder;
  close(): Promise<void>;
}

/** `port`: a given one (a receiver brought back where it was), else a free one. */
export async function startRecorder(
  respond: Responder = () => ({ status: 204 }),
  tls?: { certPem: string; keyPem: string },
  port = 0,
): Promise<Recorder> {
  const requests: Recorded[] = [];
  const hanging = new Set<ServerResponse>();
  const recorder: Recorder = { url: '', requests, respond, close: async () => {} };
  const handle = (req: http.IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const r: Recorded = {
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      const a = await recorder.respond(r, requests.length);
      if (a === 'hang') {
        hanging.add(res);
        return;
      }
      if (a === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(a.status, a.headers);
      res.end(a.body ?? '');
    });
  };
  const server = tls
    ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handle)
    : http.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  recorder.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  recorder.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return recorder;
}
