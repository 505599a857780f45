/**
 * A development kube-apiserver over HTTPS in front of the simulated cluster: discovery, Nodes, Pods,
 * Namespaces, Events (core/v1 and events.k8s.io/v1) and one ConfigMap (get and list: collections.ts;
 * watch: watch.ts, with resourceVersions, bookmarks and 410 Gone from history.ts), TokenReview and
 * SubjectAccessReview, the node proxy to the kubelets, and kube-aggregator's proxy of
 * `/apis/metrics.k8s.io` to a registered metrics backend with the front-proxy client certificate and
 * X-Remote-User/Group.
 *
 * Authentication: bearer tokens of the users table, or client certificates from the cluster CA
 * (user = CN, groups = O). Authorization: the simulated cluster's fixed roles (auth.ts).
 * It answers JSON only: kubectl and client-go ask for protobuf first and accept JSON.
 * Not served: writes to objects, OpenAPI, aggregated discovery (clients fall back to the
 * per-group discovery documents, as they do against any server that lacks it).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../shared/log.ts';
import type { CertificateAndKey } from '../shared/pki.ts';
import { forbiddenDetail, type SimAuth, type UserInfo } from './auth.ts';
import { createCollections } from './collections.ts';
import {
  apiGroup,
  apiGroupList,
  apiVersions,
  coreResources,
  groupResources,
  METRICS_GROUP,
  VERSION_INFO,
} from './discovery.ts';
import { DONE, type Done, readJson, sendJson, sendStatus, sendText } from './http-util.ts';
import type { Source } from './kinds.ts';
import { queryBool } from './list-options.ts';
import { forward, goError } from './proxy.ts';
import { attributesOf, type RequestInfo, type ResourceRequest, requestInfo } from './request-info.ts';
import { subjectAccessReview, tokenReview } from './reviews.ts';
import type { ApiState } from './state.ts';
import * as S from './status.ts';
import { createWatches, type Watches } from './watch.ts';

export interface MetricsBackendRegistration {
  /** `https://host:port` of the metrics.k8s.io server (the APIService's service). */
  url: string;
  /** CA that signed its serving certificate (the APIService caBundle). */
  caPem?: string;
  /** The APIService's `insecureSkipTLSVerify`. */
  insecureSkipTLSVerify?: boolean;
  /** TLS server name to verify, like the aggregator's `<service>.<namespace>.svc`; default the URL's host. */
  serverName?: string;
  /** The aggregator's client certificate (`--proxy-client-cert-file`), signed by the front-proxy CA. */
  frontProxyClient: CertificateAndKey;
  /**
   * The group versions registered, one APIService each (`v1beta1.metrics.k8s.io`, `v1.metrics.k8s.io`);
   * default v1beta1 alone, as metrics-server registers it. Only these are listed and proxied.
   */
  versions?: readonly string[];
}

export interface ApiServerOptions {
  /** The served objects and their history (state.ts). */
  state: ApiState;
  auth: SimAuth;
  /** Serving certificate, signed by the cluster CA. */
  serving: CertificateAndKey;
  /** Verifies client certificates (user = CN, groups = O); published as `client-ca-file`. */
  clusterCaPem: string;
  /** Verifies kubelet serving certificates on the node proxy. */
  kubeletCaPem: string;
  /** What the API server presents to kubelets (`--kubelet-client-certificate`). */
  kubeletClient: CertificateAndKey;
  /** Published as `requestheader-client-ca-file` in extension-apiserver-authentication. */
  frontProxyCaPem: string;
  port?: number;
  host?: string;
  /** Watch BOOKMARK period (default 60 s, the watch cache's). */
  bookmarkIntervalMs?: number;
  /** Changes a watcher may have unsent before the server ends its watch (default 100,000). */
  watchMaxPending?: number;
  logger?: Logger;
}

/** A TokenReview or SubjectAccessReview the API server answered: who asked, and what came back. */
export interface ReviewRecord {
  kind: 'TokenReview' | 'SubjectAccessReview' | 'SelfSubjectAccessReview';
  /** The caller (a delegating server's own identity). */
  caller: string;
  /** SubjectAccessReview: the spec asked about; TokenReview: only whether it authenticated (never the token). */
  spec?: unknown;
  authenticated?: boolean;
  allowed?: boolean;
}

export interface SimApiServer {
  readonly url: string;
  readonly port: number;
  /** Every review answered so far, oldest first. */
  reviews(): readonly ReviewRecord[];
  /**
   * Changes kube-system/extension-apiserver-authentication (a key set to undefined is removed) and bumps
   * its resourceVersion, as kube-apiserver does when it rotates the front-proxy or client CA.
   */
  updateAuthenticationConfig(data: Record<string, string | undefined>): void;
  registerMetricsBackend(b: MetricsBackendRegistration): void;
  unregisterMetricsBackend(): void;
  /** Open watches, and test hooks on them: a BOOKMARK to every watcher that takes them; end them all. */
  readonly watches: Pick<Watches, 'active' | 'sendBookmarks' | 'closeAll'>;
  close(): Promise<void>;
}

/** What an anonymous caller may reach (the system:public-info-viewer role). */
const PUBLIC_PATHS = ['/healthz', '/livez', '/readyz', '/version'];
const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

export async function startApiServer(opts: ApiServerOptions): Promise<SimApiServer> {
  const { state, auth } = opts;
  const { cluster, sources, history, configMap } = state;
  const log = opts.logger;
  const host = opts.host ?? '127.0.0.1';
  let backend: { reg: MetricsBackendRegistration; agent: Agent; host: string; port: number } | undefined;
  /** The registered metrics.k8s.io versions (none without a backend). */
  const metricsVersions = (): readonly string[] => (backend ? (backend.reg.versions ?? ['v1beta1']) : []);
  const kubeletAgent = new Agent({
    keepAlive: true,
    ca: opts.kubeletCaPem,
    cert: opts.kubeletClient.certPem,
    key: opts.kubeletClient.keyPem,
  });
  const objects = createCollections({ history, now: cluster.now });
  const watches = createWatches({
    history,
    render: objects.render,
    now: cluster.now,
    seed: cluster.seed,
    ...(opts.bookmarkIntervalMs === undefined ? {} : { bookmarkIntervalMs: opts.bookmarkIntervalMs }),
    ...(opts.watchMaxPending === undefined ? {} : { maxPending: opts.watchMaxPending }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const reviewLog: ReviewRecord[] = [];

  const server = createServer(
    {
      key: opts.serving.keyPem,
      cert: opts.serving.certPem,
      // Client certificates are optional: verified against the cluster CA when sent.
      requestCert: true,
      rejectUnauthorized: false,
      ca: opts.clusterCaPem,
      keepAliveTimeout: 60_000,
    },
    (req, res) => {
      const started = Date.now();
      if (log?.enabled(4)) {
        res.on('finish', () =>
          log.debug(4, 'API request', {
            method: req.method,
            uri: req.url,
            status: res.statusCode,
            ms: Date.now() - started,
          }),
        );
      }
      handle(req, res).catch((err: unknown) => {
        log?.error('Simulated API server request failed', {
          uri: req.url,
          err: err instanceof Error ? err : String(err),
        });
        if (!res.headersSent)
          sendStatus(res, S.internalError(err instanceof Error ? err.message : String(err)));
        else res.destroy();
      });
    },
  );
  server.on('tlsClientError', () => {
    // A client that gives up mid-handshake is routine.
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  function authenticate(req: IncomingMessage): UserInfo | 'invalid' | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) return auth.authenticateHeader(header) ?? 'invalid';
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return undefined;
    const peer = socket.getPeerCertificate();
    if (!peer?.subject?.CN) return undefined;
    const o = peer.subject.O;
    return auth.authenticateCertificate(
      String(peer.subject.CN),
      o === undefined ? [] : ([] as string[]).concat(o),
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<Done> {
    res.setHeader('Audit-Id', randomUUID());
    res.setHeader('Cache-Control', 'no-cache, private');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
    const query = new URLSearchParams(rawQuery);
    let segments: string[];
    try {
      segments = rawPath
        .split('/')
        .filter((s) => s !== '')
        .map(decodeURIComponent);
    } catch {
      return sendStatus(res, S.badRequest(`invalid URL escape in path "${rawPath}"`));
    }
    const method = req.method ?? 'GET';
    const watch = queryBool(query, 'watch');
    const info = requestInfo(method, rawPath, segments, watch);

    const authenticated = authenticate(req);
    if (authenticated === 'invalid') return sendStatus(res, S.unauthorized());
    const isPublic =
      info.kind === 'non-resource' && PUBLIC_PATHS.some((p) => rawPath === p || rawPath.startsWith(`${p}/`));
    if (authenticated === undefined && !isPublic) return sendStatus(res, S.unauthorized());
    const user = authenticated ?? ANONYMOUS;
    if (authenticated !== undefined && !auth.authorize(user, attributesOf(info)).allowed) {
      return sendStatus(res, forbiddenFor(user, info));
    }

    if (info.kind === 'non-resource') return nonResource(req, res, rawPath, segments, method, query, user);
    if (info.group === METRICS_GROUP) return proxyToMetrics(req, res, rawPath, rawQuery, user);
    if (info.version === 'v1' && info.name === undefined && info.subresource === undefined) {
      if (info.group === 'authentication.k8s.io' && info.resource === 'tokenreviews') {
        return review(req, res, method, (body) => {
          const r = tokenReview(auth, body);
          const status = (r.body as { status?: { authenticated?: boolean } }).status;
          if (r.status === 201) {
            reviewLog.push({
              kind: 'TokenReview',
              caller: user.name,
              authenticated: status?.authenticated === true,
            });
          }
          return r;
        });
      }
      if (
        info.group === 'authorization.k8s.io' &&
        (info.resource === 'subjectaccessreviews' || info.resource === 'selfsubjectaccessreviews')
      ) {
        const self = info.resource === 'selfsubjectaccessreviews';
        return review(req, res, method, (body) => {
          const r = subjectAccessReview(auth, body, user, self);
          const answer = r.body as { spec?: unknown; status?: { allowed?: boolean } };
          if (r.status === 201) {
            reviewLog.push({
              kind: self ? 'SelfSubjectAccessReview' : 'SubjectAccessReview',
              caller: user.name,
              spec: answer.spec,
              allowed: answer.status?.allowed === true,
            });
          }
          return r;
        });
      }
    }
    if (info.group === 'events.k8s.io' && info.version === 'v1' && info.resource === 'events')
      return events(req, res, info, query, method, watch);
    if (info.group !== '' || info.version !== 'v1') return sendStatus(res, S.notFoundPath());
    return core(req, res, info, query, method, watch);
  }

  function forbiddenFor(user: UserInfo, info: RequestInfo): S.Status {
    const detail = forbiddenDetail(user, attributesOf(info));
    return info.kind === 'non-resource'
      ? S.forbidden(undefined, '', undefined, detail)
      : S.forbidden(info.resource, info.group, info.name, detail);
  }

  async function review(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    answer: (body: unknown) => { status: number; body: unknown },
  ): Promise<Done> {
    if (method !== 'POST') return sendStatus(res, S.methodNotAllowed());
    const body = await readJson(req);
    if ('error' in body) return sendStatus(res, body.status ?? S.badRequest(body.error));
    const r = answer(body.value);
    return sendJson(res, r.status, r.body);
  }

  function nonResource(
    req: IncomingMessage,
    res: ServerResponse,
    rawPath: string,
    segments: string[],
    method: string,
    query: URLSearchParams,
    user: UserInfo,
  ): Done {
    if (method !== 'GET' && method !== 'HEAD') return sendStatus(res, S.methodNotAllowed());
    const [first, group, version, ...more] = segments;
    const path = `/${segments.join('/')}`;
    if (['healthz', 'livez', 'readyz'].includes(first ?? '') && segments.length <= 2) {
      return sendText(res, 200, query.has('verbose') ? `[+]ping ok\n${first} check passed\n` : 'ok');
    }
    if (path === '/version') return sendJson(res, 200, VERSION_INFO);
    if (path === '/api') return sendJson(res, 200, apiVersions(`${host}:${port}`));
    if (path === '/api/v1') return sendJson(res, 200, coreResources());
    if (path === '/apis') return sendJson(res, 200, apiGroupList(metricsVersions()));
    if (first === 'apis' && group !== undefined && version === undefined) {
      // The aggregator serves an APIService's group document itself.
      const g = apiGroup(group, metricsVersions());
      return g ? sendJson(res, 200, g) : sendStatus(res, S.notFoundPath());
    }
    if (first === 'apis' && group === METRICS_GROUP && version !== undefined) {
      return proxyToMetrics(req, res, rawPath, query.toString(), user);
    }
    if (first === 'apis' && version === 'v1' && more.length === 0) {
      const list = groupResources(group ?? '');
      if (list) return sendJson(res, 200, list);
    }
    return sendStatus(res, S.notFoundPath());
  }

  function core(
    req: IncomingMessage,
    res: ServerResponse,
    info: ResourceRequest,
    query: URLSearchParams,
    method: string,
    watch: boolean,
  ): Done | Promise<Done> {
    const { resource, namespace, name, subresource } = info;
    if (resource === 'events') return events(req, res, info, query, method, watch);
    if (resource === 'nodes' && name !== undefined && subresource === 'proxy') {
      return proxyToKubelet(req, res, name, info.rest, query);
    }
    if (subresource !== undefined) return sendStatus(res, S.notFoundPath());
    if (method !== 'GET' && method !== 'HEAD') return sendStatus(res, S.methodNotAllowed());
    const collection = <T extends object>(source: Source<T>) =>
      listOrWatch(req, res, source, namespace, query, watch);
    switch (resource) {
      case 'pods':
        if (name === undefined) return collection(sources.pods);
        if (namespace === undefined) return sendStatus(res, S.notFoundPath());
        return objects.get(req, res, sources.pods.kind, cluster.pod(namespace, name), name, query);
      case 'nodes':
        if (namespace !== undefined) return sendStatus(res, S.notFoundPath());
        return name === undefined
          ? collection(sources.nodes)
          : objects.get(req, res, sources.nodes.kind, cluster.node(name), name, query);
      case 'namespaces':
        return name === undefined
          ? collection(sources.namespaces)
          : objects.get(req, res, sources.namespaces.kind, cluster.namespace(name), name, query);
      case 'configmaps': {
        if (name === undefined) return collection(sources.configMaps);
        if (namespace === undefined) return sendStatus(res, S.notFoundPath());
        const found = namespace === configMap.namespace && name === configMap.name ? configMap : undefined;
        return objects.get(req, res, sources.configMaps.kind, found, name, query);
      }
      default:
        return sendStatus(res, S.notFoundPath());
    }
  }

  function listOrWatch<T extends object>(
    req: IncomingMessage,
    res: ServerResponse,
    source: Source<T>,
    namespace: string | undefined,
    query: URLSearchParams,
    watch: boolean,
  ): Promise<Done> {
    return watch
      ? watches.serve(req, res, source, namespace, query)
      : objects.list(req, res, source, namespace, query);
  }

  /** Events, in core/v1 (`/api/v1/…/events`) or events.k8s.io/v1 (`/apis/events.k8s.io/v1/…/events`). */
  function events(
    req: IncomingMessage,
    res: ServerResponse,
    info: ResourceRequest,
    query: URLSearchParams,
    method: string,
    watch: boolean,
  ): Done | Promise<Done> {
    const { namespace, name, subresource } = info;
    const source = info.group === '' ? sources.events : sources.eventsV1;
    if (subresource !== undefined) return sendStatus(res, S.notFoundPath());
    if (method !== 'GET' && method !== 'HEAD') return sendStatus(res, S.methodNotAllowed());
    if (name === undefined) return listOrWatch(req, res, source, namespace, query, watch);
    if (namespace === undefined) return sendStatus(res, S.notFoundPath());
    return objects.get(req, res, source.kind, state.events.get(namespace, name), name, query);
  }

  /** `/api/v1/nodes/NAME/proxy/PATH`: the kubelet's answer, streamed, with the API server's credentials. */
  function proxyToKubelet(
    req: IncomingMessage,
    res: ServerResponse,
    nodeName: string,
    rest: string[],
    query: URLSearchParams,
  ): Done {
    const node = cluster.node(nodeName);
    if (!node) return sendStatus(res, S.notFound('nodes', nodeName));
    // The segments arrive decoded, so `stats%2Fsummary` (client-node) and `stats/summary` are one path.
    const path = `/${rest.map((s) => s.split('/').map(encodeURIComponent).join('/')).join('/')}`;
    const qs = query.toString();
    const headers: OutgoingHttpHeaders = {};
    for (const h of ['accept', 'accept-encoding', 'content-type', 'user-agent']) {
      if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    }
    const target = { host: node.internalIP, port: node.kubeletPort };
    forward(req, res, { ...target, path: qs ? `${path}?${qs}` : path, agent: kubeletAgent, headers }, (err) =>
      sendStatus(
        res,
        S.serviceUnavailable(`error trying to reach service: ${goError(err, target.host, target.port)}`),
      ),
    );
    return DONE;
  }

  /** kube-aggregator's proxy to the metrics.k8s.io APIService backend. */
  function proxyToMetrics(
    req: IncomingMessage,
    res: ServerResponse,
    rawPath: string,
    rawQuery: string,
    user: UserInfo,
  ): Done {
    // The aggregator only knows the group versions of registered APIServices.
    const version = rawPath.split('/')[3];
    if (!backend || version === undefined || !metricsVersions().includes(version))
      return sendStatus(res, S.notFoundPath());
    const target = backend;
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      // The caller's credentials, and any identity headers it made up, never reach the backend.
      const dropped =
        k === 'authorization' || k === 'host' || k === 'connection' || k.startsWith('x-remote-');
      if (v !== undefined && !dropped) headers[k] = v;
    }
    headers.host = `${target.host}:${target.port}`;
    headers['x-remote-user'] = user.name;
    headers['x-remote-group'] = user.groups;
    if (req.socket.remoteAddress) headers['x-forwarded-for'] = req.socket.remoteAddress;
    // The aggregator re-encodes the query (url.Values.Encode: keys sorted).
    const params = new URLSearchParams(rawQuery);
    params.sort();
    const qs = params.toString();
    forward(
      req,
      res,
      {
        host: target.host,
        port: target.port,
        path: qs ? `${rawPath}?${qs}` : rawPath,
        agent: target.agent,
        headers,
        ...(target.reg.serverName === undefined ? {} : { servername: target.reg.serverName }),
      },
      (err) => {
        // kube-aggregator's responder: http.Error(w, err.Error(), 503), a text body, not a Status.
        sendText(res, 503, `${goError(err, target.host, target.port)}\n`);
      },
    );
    return DONE;
  }

  return {
    url: `https://${host}:${port}`,
    port,
    reviews: () => reviewLog,
    updateAuthenticationConfig(data) {
      const kind = sources.configMaps.kind;
      const prev = kind.freeze(configMap, configMap.resourceVersion);
      for (const [k, v] of Object.entries(data)) {
        if (v === undefined) delete configMap.data[k];
        else configMap.data[k] = v;
      }
      // A write takes the next cluster-wide revision, as any etcd write does; watchers see it.
      const rv = ++cluster.resourceVersion;
      configMap.resourceVersion = rv;
      history.record(kind.resource, {
        type: 'MODIFIED',
        rv,
        key: kind.key(configMap),
        object: kind.freeze(configMap, rv),
        prev,
      });
    },
    registerMetricsBackend(reg) {
      const u = new URL(reg.url);
      if (u.protocol !== 'https:')
        throw new Error(`registerMetricsBackend: the aggregator only speaks HTTPS, got ${reg.url}`);
      backend?.agent.destroy();
      backend = {
        reg,
        host: u.hostname,
        port: Number(u.port || 443),
        agent: new Agent({
          keepAlive: true,
          ...(reg.caPem === undefined ? {} : { ca: reg.caPem }),
          rejectUnauthorized: !reg.insecureSkipTLSVerify,
          cert: reg.frontProxyClient.certPem,
          key: reg.frontProxyClient.keyPem,
        }),
      };
    },
    unregisterMetricsBackend() {
      backend?.agent.destroy();
      backend = undefined;
    },
    watches,
    close: () =>
      new Promise<void>((resolve) => {
        watches.closeAll();
        backend?.agent.destroy();
        kubeletAgent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
