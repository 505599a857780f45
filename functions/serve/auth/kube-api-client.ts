/**
 * The API client of the serve function on Node: JSON over node:https through a kubeconfig (its CA,
 * client certificates, tokens, exec credentials), with the deadline and errors of api-client.ts.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_TIMEOUT_MS, type ApiClient, ApiError, apiAnswer } from './api-client.ts';

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
          try {
            resolve(apiAnswer(what, res.statusCode ?? 0, res.statusMessage ?? '', text));
          } catch (err) {
            reject(err);
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
