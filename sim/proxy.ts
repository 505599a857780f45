/**
 * Streaming HTTPS forwarding for the API server's two proxies: the node proxy
 * (`/api/v1/nodes/NAME/proxy/...` to a kubelet) and the aggregator (`/apis/metrics.k8s.io/...` to the
 * metrics backend). Bodies are piped both ways, never buffered; a caller that goes away aborts the
 * upstream request.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Agent, request } from 'node:https';

export interface ForwardTarget {
  host: string;
  port: number;
  /** Path and query, already encoded. */
  path: string;
  agent: Agent;
  headers: OutgoingHttpHeaders;
  servername?: string;
}

// RFC 7230 §6.1 hop-by-hop headers, which a proxy must not forward.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function forwardableResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/**
 * Sends the request upstream and streams the answer back. `onError` is called, before anything was
 * written to `res`, when the upstream cannot be reached; after that a failure just ends the response.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  onError: (err: Error) => void,
): void {
  const upstream = request({
    host: target.host,
    port: target.port,
    path: target.path,
    method: req.method,
    headers: target.headers,
    agent: target.agent,
    ...(target.servername === undefined ? {} : { servername: target.servername }),
  });
  let answered = false;
  upstream.on('response', (answer) => {
    answered = true;
    res.writeHead(answer.statusCode ?? 502, forwardableResponseHeaders(answer.headers));
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (err) => {
    if (!answered && !res.headersSent) onError(err);
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** A Node.js socket error in the words Go's net/http would use (what kube-apiserver prints). */
export function goError(err: Error & { code?: string }, host: string, port: number): string {
  const addr = `${host}:${port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'ECONNRESET':
      return `read tcp ${addr}: read: connection reset by peer`;
    case 'ETIMEDOUT':
      return `dial tcp ${addr}: i/o timeout`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: certificate is valid for other names, not ${host}`;
    default:
      return err.message;
  }
}
