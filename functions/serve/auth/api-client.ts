/**
 * JSON over HTTPS to the API server through a kubeconfig, for the three things delegated auth asks of
 * it: TokenReview, SubjectAccessReview and the extension-apiserver-authentication ConfigMap. Each call
 * has a deadline (10 s, apiserver's webhook timeout) and fails with an ApiError whose text names the
 * call and the cause, never a request body: a TokenReview carries the caller's token.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export class ApiError extends Error {
  override name = 'ApiError';
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

export interface ApiClient {
  /** The API server's URL, for log lines. */
  readonly server: string;
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

export const API_TIMEOUT_MS = 10_000;

/** A Status body's message, else a one-line excerpt of at most 200 characters. */
function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (parsed.kind === 'Status' && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

export function apiClient(kc: KubeConfig, timeoutMs = API_TIMEOUT_MS): ApiClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ApiError('the kubeconfig has no current cluster', 0);
  const server = cluster.server.replace(/\/+$/, '');

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    // Per call: a token file or exec credential may have rotated (client-node caches its agent).
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const url = new URL(`${server}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { accept: 'application/json' };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const what = `${method} ${url.origin}${url.pathname}`;
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...opts, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new ApiError(`${what}: ${err.message}`, 0)));
        res.on('end', () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new ApiError(`${what}: ${status} ${res.statusMessage ?? ''}: ${errorText(text)}`, status));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new ApiError(`${what}: the answer is not JSON: ${errorText(text)}`, status));
          }
        });
      });
      // One deadline for the whole exchange, not only for idle sockets.
      const deadline = setTimeout(() => {
        req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(new ApiError(`${what}: ${err.message}`, 0));
      });
      req.end(payload);
    });
  }

  return { server, get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) };
}
