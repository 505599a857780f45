/**
 * The serve function as a Hono app on Web-standard Request/Response: the same app runs under
 * @hono/node-server (server.ts), on Workers, and in tests through `app.request()`. It holds no state but
 * a cached readiness PING: every metrics request is answered from the store.
 *
 * Routes are metrics-server's (discovery, nodes and pods get/list, OpenAPI, /version, health); every
 * other path is a 404 Status, every other method on a known path a 405 Status, and every failure a
 * Status (503 when Redis does not answer).
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { GROUP, groupVersion, VERSIONS } from '../../shared/metrics-api.ts';
import type { MetricsReader } from '../../shared/store/reader.ts';
import { StoreUnavailableError } from '../../shared/store/redis.ts';
import {
  API_GROUP,
  API_GROUP_LIST,
  apiResourceList,
  indexDocument,
  type VersionInfo,
  versionDocument,
  versionInfo,
} from './discovery.ts';
import {
  type HealthEndpoints,
  installHealth,
  pingCheck,
  rootHealth,
  StoreProbe,
  shutdownCheck,
} from './health.ts';
import { installMetrics } from './metrics.ts';
import { negotiate } from './negotiate.ts';
import {
  type OpenApiDocument,
  type OpenApiDocuments,
  openApiDocuments,
  openApiV3GroupPath,
} from './openapi.ts';
import { JSON_HEADERS, jsonResponse } from './render.ts';
import { installResources, negotiated } from './resources.ts';
import {
  internalError,
  METHOD_NOT_ALLOWED,
  PATH_NOT_FOUND,
  STORE_UNAVAILABLE,
  StatusError,
  statusResponse,
} from './status.ts';

export interface AppOptions {
  reader: MetricsReader;
  log: Logger;
  /** The `redis` readiness check; by default one that PINGs through `reader`. */
  store?: StoreProbe;
  /** /version and the OpenAPI info.version. */
  version?: VersionInfo;
  /** True once graceful shutdown has begun: readiness fails (the `shutdown` check). */
  shuttingDown?: () => boolean;
  /**
   * Delegated authentication and authorization (auth/index.ts: front-proxy client certificate, client
   * CA, bearer tokens via TokenReview, SubjectAccessReview): runs before every route, /metrics included,
   * and lets only `--authorization-always-allow-paths` through anonymously. startServe always sets it;
   * the Workers wrapper runs the same guard in front of the app (before it opens Redis); an app without
   * one (unit tests) serves everyone.
   */
  guard?: MiddlewareHandler;
}

/** The health endpoints of a serve process. */
export function healthEndpoints(store: StoreProbe, shuttingDown: () => boolean): HealthEndpoints {
  return {
    healthz: [pingCheck],
    livez: [pingCheck],
    readyz: [pingCheck, store, shutdownCheck(shuttingDown)],
  };
}

/**
 * OpenFaaS' watchdog probes: `/_/health` is liveness, `/_/ready` readiness. faas-netes probes
 * `/_/health` for both, and of-watchdog fails it once SIGTERM arrived: so does this one.
 */
function installPlatformProbes(
  app: Hono,
  health: HealthEndpoints,
  log: Logger,
  shuttingDown: () => boolean,
): void {
  const live = rootHealth('livez', [...health.livez, shutdownCheck(shuttingDown)], log);
  const ready = rootHealth('readyz', health.readyz, log);
  app.get('/_/health', (c) => live(c.req.raw));
  app.get('/_/ready', (c) => ready(c.req.raw));
}

/** A Status response; as kube-apiserver does, indented when the Accept header admits no JSON. */
function errorResponse(c: Context, s: StatusError['status']) {
  return statusResponse(s, negotiate(c.req.header('accept'), false) === null);
}

function installErrors(app: Hono, paths: readonly string[], log: Logger, store: StoreProbe): void {
  // Registered after every GET route: a GET handler answers first, so only other methods get here.
  for (const path of paths) app.all(path, (c) => errorResponse(c, METHOD_NOT_ALLOWED));
  app.notFound((c) => errorResponse(c, PATH_NOT_FOUND));
  app.onError((err, c) => {
    if (err instanceof StatusError) return errorResponse(c, err.status);
    if (err instanceof StoreUnavailableError) {
      store.failed(err);
      log.debug(2, 'Answered 503: store unavailable', { path: c.req.path, err: err.message });
      return errorResponse(c, STORE_UNAVAILABLE);
    }
    log.error('Request failed', { method: c.req.method, path: c.req.path, err });
    return errorResponse(c, internalError(err));
  });
}

function documentResponse(request: Request, doc: OpenApiDocument, cacheControl: string): Response {
  const etag = `"${doc.hash}"`;
  const headers = { ...JSON_HEADERS, etag, 'cache-control': cacheControl };
  if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
  return new Response(doc.body, { status: 200, headers });
}

export function createApp(o: AppOptions): Hono {
  const { reader, log } = o;
  const shuttingDown = o.shuttingDown ?? (() => false);
  const store = o.store ?? new StoreProbe(() => reader.ping(), { log });
  const version = o.version ?? versionInfo('0.0.0');
  const app = new Hono();
  if (o.guard) app.use('*', o.guard);

  const listed: string[] = [];
  const routed: string[] = [];

  // Discovery (with and without a trailing slash, as the generic apiserver answers both).
  const discovery: [string, string][] = [
    ['/apis', API_GROUP_LIST],
    [`/apis/${GROUP}`, API_GROUP],
    ...VERSIONS.map((v): [string, string] => [`/apis/${groupVersion(v)}`, apiResourceList(v)]),
  ];
  for (const [path, body] of discovery) {
    const handler = (c: Context) => {
      negotiated(c, false);
      return jsonResponse(body);
    };
    app.get(path, handler);
    app.get(`${path}/`, handler);
    listed.push(path);
    routed.push(path, `${path}/`);
  }

  routed.push(
    ...installResources(app, {
      reader,
      onStreamError: (err) => {
        if (err instanceof StoreUnavailableError) store.failed(err);
        log.error('Pod list aborted while streaming', { err });
      },
    }),
  );

  const health = healthEndpoints(store, shuttingDown);
  const healthPaths = installHealth(app, health, log);
  listed.push(...healthPaths);
  routed.push(...healthPaths);
  installPlatformProbes(app, health, log, shuttingDown);
  routed.push('/_/health', '/_/ready');

  // OpenAPI, built on first use (hashing needs WebCrypto's async digest).
  let documents: Promise<OpenApiDocuments> | null = null;
  const docs = () => {
    documents ??= openApiDocuments(version.gitVersion);
    return documents;
  };
  app.get('/openapi/v2', async (c) => {
    negotiated(c, false);
    return documentResponse(c.req.raw, (await docs()).v2, 'no-cache, private');
  });
  app.get('/openapi/v3', async (c) => {
    negotiated(c, false);
    return jsonResponse((await docs()).v3Index);
  });
  listed.push('/openapi/v2', '/openapi/v3');
  routed.push('/openapi/v2', '/openapi/v3');
  for (const v of VERSIONS) {
    const groupPath = `/openapi/v3/${openApiV3GroupPath(v)}`;
    app.get(groupPath, async (c) => {
      negotiated(c, false);
      const doc = (await docs()).v3Groups.get(v)!;
      const hash = c.req.query('hash');
      // A stale hash is redirected to the current document, a current one may be cached for good.
      if (hash !== undefined && hash !== doc.hash) {
        return new Response(null, { status: 301, headers: { location: `${groupPath}?hash=${doc.hash}` } });
      }
      return documentResponse(c.req.raw, doc, hash === undefined ? 'no-cache, private' : 'public, immutable');
    });
    routed.push(groupPath);
  }

  const versionBody = versionDocument(version);
  app.get('/version', () => jsonResponse(versionBody));
  listed.push('/version');
  routed.push('/version');
  routed.push(...installMetrics(app, { reader, log }));

  const index = indexDocument(listed);
  for (const path of ['/', '/index.html']) {
    app.get(path, () => jsonResponse(index));
    routed.push(path);
  }

  installErrors(app, routed, log, store);
  return app;
}

/**
 * The plain-HTTP app for `--port`: health endpoints and the platform probes only. It is unauthenticated
 * by nature (no TLS, no client certificate), so it never serves metrics.
 */
export function createProbeApp(o: { log: Logger; store: StoreProbe; shuttingDown: () => boolean }): Hono {
  const app = new Hono();
  const health = healthEndpoints(o.store, o.shuttingDown);
  const paths = installHealth(app, health, o.log);
  installPlatformProbes(app, health, o.log, o.shuttingDown);
  installErrors(app, [...paths, '/_/health', '/_/ready'], o.log, o.store);
  return app;
}
