/**
 * Fake kubelets: one HTTPS listener per simulated node on 127.0.0.1, serving `/metrics/resource` and
 * `/stats/summary` from the cluster model, with a kubelet's authentication (bearer token or a client
 * certificate from the cluster CA; 401 `Unauthorized` otherwise), its authorization wording (403
 * `Forbidden (user=…, verb=…, resource=nodes, subresource(s)=[…])`) and per-node fault injection.
 *
 * Every response is recorded (a bounded history per node) with the samples it carried, as a decoder
 * reads them, so that tests can compute exact expected rates from what was actually served.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../shared/log.ts';
import type { CertificateAndKey } from '../shared/pki.ts';
import type { SimAuth, UserInfo } from './auth.ts';
import type { KubeletFault, KubeletView, SimCluster } from './model.ts';
import { createRng } from './random.ts';
import {
  hugeResourceMetricsParts,
  RESOURCE_METRICS_CONTENT_TYPE,
  renderResourceMetrics,
  renderResourceScrapeError,
  renderResourceWrongShape,
  resourceSamples,
  type ServedSample,
} from './resource-metrics.ts';
import {
  hugeSummaryParts,
  renderSummary,
  renderSummaryWrongShape,
  SUMMARY_CONTENT_TYPE,
  summarySamples,
} from './summary.ts';

export interface ServedRecord {
  servedAt: number;
  /** `/metrics/resource` or `/stats/summary` (with its query). */
  path: string;
  status: number;
  fault: KubeletFault['kind'];
  /** Keyed `namespace/pod/container` and `node`; empty unless a normal payload was served. */
  readonly samples: Map<string, ServedSample>;
}

export interface KubeletFleetOptions {
  cluster: SimCluster;
  /** Serving certificate per node name. */
  certificates: Map<string, CertificateAndKey>;
  /** CA whose client certificates authenticate callers (the API server's kubelet client cert). */
  clientCaPem: string;
  auth: SimAuth;
  /** Node i listens on portBase + i; default: an ephemeral port each. */
  portBase?: number;
  host?: string;
  /** Responses remembered per node; default 8. 0 turns recording off (benchmarks). */
  history?: number;
  /**
   * The kubelets' clock; default Date.now. The benchmark holds it still during a cycle and renders every
   * payload ahead of it (`prerender`), so the simulator only sends bytes while the scraper is measured.
   */
  now?: () => number;
  /** How long an idle keep-alive connection stays open; default 90 s. */
  keepAliveMs?: number;
  logger?: Logger;
}

export interface KubeletFleet {
  /** Port of each node's kubelet. */
  readonly ports: ReadonlyMap<string, number>;
  /** The responses a node's kubelet sent, oldest first. */
  served(nodeName: string): readonly ServedRecord[];
  clearServed(): void;
  /**
   * Renders every node's normal payload for the clock's current instant now, instead of on the first
   * request after it changes (and its gzip form too when `gzip`).
   */
  prerender(endpoint: 'resource' | 'summary', gzip?: boolean): void;
  close(): Promise<void>;
}

const INTERNAL_ERROR =
  'Internal Error: failed to list pod stats: failed to list all container stats: rpc error: code = Unavailable desc = error reading from server: EOF';
const KEEP_ALIVE_MS = 90_000;
const SUBRESOURCES: [string, string][] = [
  ['/stats', 'stats'],
  ['/metrics', 'metrics'],
  ['/logs', 'log'],
  ['/spec', 'spec'],
  ['/pods', 'pods'],
  ['/checkpoint', 'checkpoint'],
];

export async function startKubelets(opts: KubeletFleetOptions): Promise<KubeletFleet> {
  const host = opts.host ?? '127.0.0.1';
  const historySize = opts.history ?? 8;
  const history = new Map<string, ServedRecord[]>();
  const kubelets = new Map<string, Kubelet>();
  const ports = new Map<string, number>();

  const record = (node: string, r: ServedRecord) => {
    if (historySize === 0) return;
    const list = history.get(node) ?? [];
    list.push(r);
    if (list.length > historySize) list.splice(0, list.length - historySize);
    history.set(node, list);
  };

  for (const node of opts.cluster.nodes()) {
    const cert = opts.certificates.get(node.name);
    if (!cert) throw new Error(`startKubelets: no serving certificate for node "${node.name}"`);
    kubelets.set(node.name, new Kubelet(node.name, cert, opts, record));
  }
  const list = [...kubelets.values()];
  try {
    // Listen in batches: thousands of concurrent listen() calls gain nothing.
    for (let i = 0; i < list.length; i += 256) {
      await Promise.all(
        list
          .slice(i, i + 256)
          .map((k) =>
            k.listen(
              host,
              opts.portBase === undefined ? 0 : opts.portBase + opts.cluster.node(k.nodeName)!.index,
            ),
          ),
      );
    }
  } catch (err) {
    await Promise.all(list.map((k) => k.close()));
    throw err;
  }
  for (const k of list) {
    ports.set(k.nodeName, k.port);
    opts.cluster.setKubeletPort(k.nodeName, k.port);
    if (opts.cluster.node(k.nodeName)!.fault.kind === 'refuse') k.applyFault('refuse');
  }
  const closing = new Set<Promise<void>>();
  const unsubscribe = opts.cluster.onChange((e) => {
    if (e.type === 'FAULT') kubelets.get(e.name)?.applyFault(e.fault.kind);
    if (e.type === 'DELETED' && e.kind === 'Node') {
      // The node left the cluster: its kubelet stops answering (connections refused, open ones closed)
      // and the fleet keeps nothing of it.
      const k = kubelets.get(e.name);
      if (!k) return;
      kubelets.delete(e.name);
      ports.delete(e.name);
      history.delete(e.name);
      list.splice(list.indexOf(k), 1);
      const closed = k.close().finally(() => closing.delete(closed));
      closing.add(closed);
    }
  });

  return {
    ports,
    served: (nodeName) => history.get(nodeName) ?? [],
    clearServed: () => history.clear(),
    prerender: (endpoint, gzip = false) => {
      for (const k of list) k.prerender(endpoint, gzip);
    },
    close: async () => {
      unsubscribe();
      await Promise.all([...list.map((k) => k.close()), ...closing]);
    },
  };
}

type Recorder = (node: string, r: ServedRecord) => void;

interface Payload {
  view: KubeletView;
  body: string;
  encoding: 'latin1' | 'utf8';
  gzip?: Buffer;
}

class Kubelet {
  readonly nodeName: string;
  port = 0;
  readonly #server: Server;
  readonly #opts: KubeletFleetOptions;
  readonly #record: Recorder;
  readonly #now: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  #refusing = false;
  #closed = false;
  /**
   * The last rendered payload per endpoint, reused while the view is unchanged (until the next
   * housekeeping tick of any of its parts). One flat string each: thousands of kubelets' payloads are
   * a few thousand heap objects, and writing a string allocates no Buffer (which, as external memory,
   * would push V8 into full collections).
   */
  readonly #cache = new Map<string, Payload>();

  constructor(nodeName: string, cert: CertificateAndKey, opts: KubeletFleetOptions, record: Recorder) {
    this.nodeName = nodeName;
    this.#opts = opts;
    this.#record = record;
    this.#now = opts.now ?? Date.now;
    this.#server = createServer(
      {
        key: cert.keyPem,
        cert: cert.certPem,
        // Client certificates are optional: verified against the cluster CA when sent.
        requestCert: true,
        rejectUnauthorized: false,
        ca: opts.clientCaPem,
        keepAliveTimeout: opts.keepAliveMs ?? KEEP_ALIVE_MS,
      },
      (req, res) => this.#handle(req, res),
    );
    // Before TLS: a refusing kubelet's connections end with a TCP reset (ECONNRESET), as a host answers
    // a port nobody listens on.
    this.#server.prependListener('connection', (socket: Socket) => {
      if (this.#refusing) socket.resetAndDestroy();
    });
    this.#server.on('tlsClientError', () => {
      // A client that gives up mid-handshake (a scraper's timeout) is routine for a kubelet.
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) =>
        reject(
          new Error(`kubelet of node "${this.nodeName}" cannot listen on ${host}:${port}: ${err.message}`),
        );
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const address = this.#server.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }

  /**
   * 'refuse' resets every new connection at once and closes the open ones; anything else answers again.
   * The port stays taken meanwhile: were it freed, another process on the machine could take it, and
   * the scraper would reach that instead of a kubelet that is down.
   */
  applyFault(kind: KubeletFault['kind']): void {
    if (this.#closed) return;
    this.#refusing = kind === 'refuse';
    if (this.#refusing) this.#server.closeAllConnections();
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        this.#server.closeAllConnections();
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  prerender(endpoint: 'resource' | 'summary', gzip: boolean): void {
    const payload = this.#payload(endpoint, endpoint === 'summary', this.#now());
    if (gzip && endpoint === 'resource')
      payload.gzip ??= gzipSync(Buffer.from(payload.body, payload.encoding));
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #authenticate(req: IncomingMessage): UserInfo | undefined {
    const byToken = this.#opts.auth.authenticateHeader(req.headers.authorization);
    if (byToken) return byToken;
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return undefined;
    const peer = socket.getPeerCertificate();
    if (!peer?.subject?.CN) return undefined;
    const o = peer.subject.O;
    return this.#opts.auth.authenticateCertificate(
      String(peer.subject.CN),
      o === undefined ? [] : ([] as string[]).concat(o),
    );
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const started = Date.now();
    const url = req.url ?? '/';
    if (this.#opts.logger?.enabled(5)) {
      res.on('finish', () =>
        this.#opts.logger?.debug(5, 'Kubelet request', {
          node: this.nodeName,
          method: req.method,
          path: url,
          status: res.statusCode,
          ms: Date.now() - started,
        }),
      );
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);

    const user = this.#authenticate(req);
    if (!user) {
      text(res, 401, 'Unauthorized');
      return;
    }
    // The kubelet's own mapping from path to subresource (pkg/kubelet/server/auth.go).
    const subresource = SUBRESOURCES.find(([prefix]) => path.startsWith(prefix))?.[1] ?? 'proxy';
    const verb = req.method === 'POST' ? 'create' : 'get';
    const decision = this.#opts.auth.authorize(user, {
      verb,
      group: '',
      resource: 'nodes',
      subresource,
      name: this.nodeName,
    });
    if (!decision.allowed) {
      text(
        res,
        403,
        `Forbidden (user=${user.name}, verb=${verb}, resource=nodes, subresource(s)=[${subresource}])\n`,
      );
      return;
    }
    if (path === '/healthz') {
      text(res, 200, 'ok');
      return;
    }
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/metrics/resource' && read) {
      this.#serve(req, res, 'resource', false);
    } else if (path === '/stats/summary' && (read || req.method === 'POST')) {
      // Only exactly `only_cpu_and_memory=true` selects the reduced summary (kubelet-apis.md §1.1).
      const only = new URLSearchParams(query).getAll('only_cpu_and_memory');
      this.#serve(req, res, 'summary', only.length === 1 && only[0] === 'true');
    } else {
      text(res, 404, '404 page not found\n');
    }
  }

  #serve(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: 'resource' | 'summary',
    onlyCpuAndMemory: boolean,
  ): void {
    const node = this.#opts.cluster.node(this.nodeName);
    if (!node) {
      // Removed from the cluster while this request was on its way: the kubelet is gone.
      req.socket.destroy();
      return;
    }
    const fault = node.fault;
    const now = this.#now();
    const recordAs = (status: number, samples?: () => [string, ServedSample][]) =>
      this.#record(this.nodeName, lazyRecord(now, req.url ?? '', status, fault.kind, samples));
    const contentType = endpoint === 'resource' ? RESOURCE_METRICS_CONTENT_TYPE : SUMMARY_CONTENT_TYPE;

    switch (fault.kind) {
      case 'refuse':
        req.socket.destroy();
        return;
      case 'status-500':
        recordAs(500);
        text(res, 500, INTERNAL_ERROR);
        return;
      case 'scrape-error':
        // /metrics/resource reports a failed stats call inside a 200; /stats/summary fails outright.
        if (endpoint === 'resource') {
          recordAs(200);
          send(res, 200, contentType, renderResourceScrapeError());
        } else {
          recordAs(500);
          text(res, 500, `Internal Error: failed to get node info: node "${this.nodeName}" not found`);
        }
        return;
      case 'garbage':
        recordAs(200);
        send(res, 200, contentType, garbage(this.nodeName));
        return;
      case 'wrong-shape':
        recordAs(200);
        send(
          res,
          200,
          contentType,
          endpoint === 'resource'
            ? renderResourceWrongShape(now)
            : renderSummaryWrongShape(this.nodeName, now),
        );
        return;
      case 'huge':
        recordAs(200);
        this.#streamHuge(res, endpoint, fault.bytes ?? 32 * 1024 * 1024, now);
        return;
      default:
        break;
    }

    const payload = this.#payload(endpoint, onlyCpuAndMemory, now);
    // Like promhttp, /metrics/resource is gzipped for clients that accept it; go-restful's
    // /stats/summary never is.
    const gzip = endpoint === 'resource' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const view = payload.view;
    recordAs(200, endpoint === 'resource' ? () => resourceSamples(view) : () => summarySamples(view));
    if (gzip) payload.gzip ??= gzipSync(Buffer.from(payload.body, payload.encoding));
    const body = gzip && payload.gzip ? payload.gzip : payload.body;
    const length = typeof body === 'string' ? Buffer.byteLength(body, payload.encoding) : body.length;
    const headers: Record<string, string> = { 'Content-Type': contentType };
    if (gzip) headers['Content-Encoding'] = 'gzip';
    if (fault.kind === 'slow') {
      this.#sendSlowly(res, headers, typeof body === 'string' ? Buffer.from(body) : body, fault);
      return;
    }
    headers['Content-Length'] = String(length);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else if (typeof body === 'string') res.end(body, payload.encoding);
    else res.end(body);
  }

  #payload(endpoint: 'resource' | 'summary', onlyCpuAndMemory: boolean, now: number): Payload {
    const view = this.#opts.cluster.kubeletView(this.nodeName, now);
    const key = endpoint === 'resource' ? 'resource' : `summary/${onlyCpuAndMemory}`;
    const cached = this.#cache.get(key);
    if (cached?.view === view) return cached;
    const text =
      endpoint === 'resource' ? renderResourceMetrics(view) : renderSummary(view, { onlyCpuAndMemory });
    // The text format is written as one-byte (ASCII) text; JSON goes out as UTF-8.
    const entry: Payload = { view, body: text, encoding: endpoint === 'resource' ? 'latin1' : 'utf8' };
    this.#cache.set(key, entry);
    return entry;
  }

  #sendSlowly(
    res: ServerResponse,
    headers: Record<string, string>,
    body: Buffer,
    fault: Extract<KubeletFault, { kind: 'slow' }>,
  ): void {
    const delay = fault.delayMs;
    if ((fault.stage ?? 'headers') === 'headers') {
      if (delay === undefined) return; // never answers; the connection stays open until the client gives up
      this.#later(delay, () => {
        if (res.destroyed) return;
        res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
        res.end(body);
      });
      return;
    }
    // Headers now, half the body now, the rest trickling in over the delay (or never).
    res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
    const half = Math.floor(body.length / 2);
    res.write(body.subarray(0, half));
    if (delay === undefined) return;
    const steps = 10;
    const chunk = Math.ceil((body.length - half) / steps);
    for (let i = 1; i <= steps; i++) {
      this.#later((delay * i) / steps, () => {
        if (res.destroyed) return;
        const part = body.subarray(half + (i - 1) * chunk, Math.min(body.length, half + i * chunk));
        if (i === steps) res.end(part);
        else res.write(part);
      });
    }
  }

  #streamHuge(res: ServerResponse, endpoint: 'resource' | 'summary', bytes: number, now: number): void {
    let head: string;
    let item: (i: number) => string;
    let tail = '';
    if (endpoint === 'resource') {
      ({ head, line: item } = hugeResourceMetricsParts(now));
    } else {
      ({ head, item, tail } = hugeSummaryParts(this.nodeName, now));
    }
    res.writeHead(200, {
      'Content-Type': endpoint === 'resource' ? RESOURCE_METRICS_CONTENT_TYPE : SUMMARY_CONTENT_TYPE,
    });
    let written = 0;
    let i = 0;
    const block = () => {
      const parts: string[] = [];
      let size = 0;
      while (size < 64 * 1024) {
        const s = item(i++);
        parts.push(s);
        size += s.length;
      }
      return parts.join('');
    };
    const pump = () => {
      if (res.destroyed) return;
      if (written === 0) {
        res.write(head);
        written += head.length;
      }
      while (written < bytes) {
        const b = block();
        written += b.length;
        if (!res.write(b)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end(tail);
    };
    pump();
  }
}

function lazyRecord(
  servedAt: number,
  path: string,
  status: number,
  fault: KubeletFault['kind'],
  samples: (() => [string, ServedSample][]) | undefined,
): ServedRecord {
  let map: Map<string, ServedSample> | undefined;
  return {
    servedAt,
    path,
    status,
    fault,
    get samples() {
      map ??= new Map(samples ? samples() : []);
      return map;
    },
  };
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(buf.length) });
  res.end(buf);
}

/** Bytes that are neither Prometheus text nor JSON (seeded, so the same node sends the same garbage). */
function garbage(nodeName: string): Buffer {
  const rng = createRng(`garbage/${nodeName}`);
  const noise = Buffer.alloc(4096);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rng.next() * 256);
  return Buffer.concat([Buffer.from('\u0000\u0001<html><body>{{{ not metrics'), noise]);
}
