/**
 * A small HTTPS client for the simulated cluster's tests: one request, the whole answer (or as much as
 * fits in `maxBytes`), with the CA, bearer token or client certificate the test chooses.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { gunzipSync } from 'node:zlib';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** Bytes received, also when reading stopped at `maxBytes`. */
  bytes: number;
}

export interface GetOptions {
  ca: string;
  token?: string;
  cert?: { certPem: string; keyPem: string };
  headers?: Record<string, string | string[]>;
  method?: string;
  body?: string;
  servername?: string;
  timeoutMs?: number;
  /** Stop reading (and close) after this many bytes. */
  maxBytes?: number;
}

export function fetchHttps(url: string, o: GetOptions): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...o.headers };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: o.method ?? 'GET',
        headers,
        ca: o.ca,
        agent: false,
        ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        let stopped = false;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (o.maxBytes !== undefined && bytes > o.maxBytes) {
            if (!stopped) {
              stopped = true;
              res.destroy();
              done();
            }
            return;
          }
          chunks.push(c);
        });
        const done = () => {
          let body = Buffer.concat(chunks);
          if (!stopped && res.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
            bytes,
          });
        };
        res.on('end', () => {
          if (!stopped) done();
        });
        res.on('error', (err) => {
          if (!stopped) reject(err);
        });
      },
    );
    if (o.timeoutMs !== undefined) {
      req.setTimeout(o.timeoutMs, () =>
        req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      );
    }
    req.on('error', reject);
    req.end(o.body);
  });
}

export const json = <T = Record<string, unknown>>(a: Answer): T => JSON.parse(a.text) as T;
