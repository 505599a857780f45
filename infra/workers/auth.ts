/**
 * Who may call the Worker's serve handler. A Worker never sees a client certificate (Cloudflare ends
 * TLS at its edge), so of the serve function's authenticators only bearer tokens apply: each is
 * reviewed with a TokenReview and every request is authorized with a SubjectAccessReview, against the
 * API server at KUBE_API_SERVER with the Worker's own token KUBE_AUTH_TOKEN. It is the serve function's
 * guard, reviews and caches (functions/serve/auth), over fetch instead of node:https.
 *
 * One difference from the Node serve function: a request without a token may only reach the
 * always-allowed paths (--authorization-always-allow-paths: health); anywhere else it is a 401, as
 * kube-apiserver answers when it limits anonymous requests to some paths. A Worker faces the internet,
 * and an anonymous request there is nobody the cluster could know.
 *
 * Without an API server to ask, the Worker serves nothing: every request is a 500 Status naming what
 * to set. Only INSECURE_DISABLE_AUTHENTICATION=true lets everyone in, and then every response says so.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { fetchApiClient } from '../../functions/serve/auth/api-client.ts';
import { delegatingAuthorizer } from '../../functions/serve/auth/authorizer.ts';
import { authGuard } from '../../functions/serve/auth/guard.ts';
import { alwaysAllowPaths } from '../../functions/serve/auth/paths.ts';
import { tokenReviewAuthenticator } from '../../functions/serve/auth/token.ts';
import { internalError, statusResponse } from '../../functions/serve/status.ts';
import { ConfigError, loadServeConfig } from '../../shared/config/index.ts';
import type { Logger } from '../../shared/log.ts';
import { fileSettingProblem, type WorkerEnv } from './settings.ts';

/** The variable that turns authentication off. */
export const INSECURE_DISABLE_AUTHENTICATION = 'INSECURE_DISABLE_AUTHENTICATION';

/** What every response says while authentication is off (kubectl prints a Warning header's text). */
export const DISABLED_WARNING =
  `299 - "authentication is disabled (${INSECURE_DISABLE_AUTHENTICATION}=true): ` +
  `anyone who can reach this Worker can read the cluster's metrics"`;

export type WorkersAuthSettings =
  | { mode: 'delegated'; apiServer: string; token: string; alwaysAllowPaths: readonly string[] }
  | { mode: 'disabled' };

/** A setting the Worker cannot authenticate requests with; what to set instead. */
export class WorkersAuthError extends Error {
  override name = 'WorkersAuthError';
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The Worker's authentication settings from its variables; throws WorkersAuthError. */
export function workersAuthSettings(env: WorkerEnv): WorkersAuthSettings {
  const off = env[INSECURE_DISABLE_AUTHENTICATION] ?? '';
  if (off !== '' && off !== 'true' && off !== 'false') {
    throw new WorkersAuthError(
      `${INSECURE_DISABLE_AUTHENTICATION} must be true or false, not ${JSON.stringify(off)}`,
    );
  }
  let config: ReturnType<typeof loadServeConfig>;
  try {
    config = loadServeConfig([], env);
  } catch (err) {
    if (err instanceof ConfigError) throw new WorkersAuthError(err.message);
    throw err;
  }
  if (off === 'true') return { mode: 'disabled' };
  const file = fileSettingProblem([
    ['KUBECONFIG', config.kubeconfig !== ''],
    ['AUTHENTICATION_KUBECONFIG', config.authenticationKubeconfig !== ''],
    ['AUTHORIZATION_KUBECONFIG', config.authorizationKubeconfig !== ''],
    ['CLIENT_CA_FILE', config.clientCaFile !== ''],
    ['REQUESTHEADER_CLIENT_CA_FILE', config.requestheaderClientCaFile !== ''],
  ]);
  if (file !== undefined) throw new WorkersAuthError(file);
  const apiServer = (env.KUBE_API_SERVER ?? '').replace(/\/+$/, '');
  const token = env.KUBE_AUTH_TOKEN ?? '';
  if (apiServer === '' || token === '') {
    throw new WorkersAuthError(
      'the Worker reviews every request with the API server: set KUBE_API_SERVER (its URL, with a publicly ' +
        'trusted certificate) and the secret KUBE_AUTH_TOKEN (a ServiceAccount token bound to ' +
        `system:auth-delegator), or ${INSECURE_DISABLE_AUTHENTICATION}=true to serve anyone`,
    );
  }
  let url: URL;
  try {
    url = new URL(apiServer);
  } catch {
    throw new WorkersAuthError(`KUBE_API_SERVER ${JSON.stringify(apiServer)} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new WorkersAuthError(
      `KUBE_API_SERVER ${apiServer} is not https://: the callers' tokens would cross the network in clear`,
    );
  }
  return { mode: 'delegated', apiServer, token, alwaysAllowPaths: config.authorizationAlwaysAllowPaths };
}

/** Runs `serve` for a request once the guard has let it through; answers the guard's 401/403 otherwise. */
export type Gate = (request: Request, serve: (request: Request) => Promise<Response>) => Promise<Response>;

export type WorkersAuth =
  | { mode: 'delegated'; gate: Gate; apiServer: string }
  | { mode: 'disabled' }
  | { mode: 'refused'; reason: string };

export interface WorkersAuthOptions {
  log: Logger;
  /** Keeps an API server call alive past the response that started it (ctx.waitUntil). */
  keepAlive: (call: Promise<unknown>) => void;
}

/** The serve function's guard in front of whatever serves the request. */
export function gate(guard: MiddlewareHandler): Gate {
  const app = new Hono<{ Bindings: { serve: (request: Request) => Promise<Response> } }>();
  app.use('*', guard);
  app.all('*', (c) => c.env.serve(c.req.raw));
  app.onError((err) => statusResponse(internalError(err)));
  return async (request, serve) => app.fetch(request, { serve });
}

/** The guard for these settings: bearer tokens by TokenReview, everything by SubjectAccessReview. */
export function workersGuard(
  s: Extract<WorkersAuthSettings, { mode: 'delegated' }>,
  o: WorkersAuthOptions,
): MiddlewareHandler {
  const api = fetchApiClient({
    server: s.apiServer,
    headers: { authorization: `Bearer ${s.token}` },
    keepAlive: o.keepAlive,
  });
  const alwaysAllowed = alwaysAllowPaths(s.alwaysAllowPaths);
  return authGuard({
    authenticators: [tokenReviewAuthenticator({ api, log: o.log })],
    authorizer: delegatingAuthorizer({ api, alwaysAllowed }),
    log: o.log,
    anonymousPaths: alwaysAllowed,
  });
}

const SETTINGS = [
  INSECURE_DISABLE_AUTHENTICATION,
  'KUBE_API_SERVER',
  'KUBE_AUTH_TOKEN',
  'AUTHORIZATION_ALWAYS_ALLOW_PATHS',
  'KUBECONFIG',
  'AUTHENTICATION_KUBECONFIG',
  'AUTHORIZATION_KUBECONFIG',
  'CLIENT_CA_FILE',
  'REQUESTHEADER_CLIENT_CA_FILE',
] as const;

/**
 * One guard per isolate and settings: the review caches live as long as the isolate does, so they
 * serve every request it handles, as they serve every request of a Node process.
 */
let current: { key: string; auth: WorkersAuth } | undefined;

/** The Worker's authentication, built on first use and kept; the first use logs what it is. */
export function workersAuth(env: WorkerEnv, o: WorkersAuthOptions): WorkersAuth {
  const key = JSON.stringify(SETTINGS.map((k) => env[k] ?? null));
  if (current?.key === key) return current.auth;
  let auth: WorkersAuth;
  try {
    const s = workersAuthSettings(env);
    if (s.mode === 'disabled') {
      auth = s;
      o.log.warn(
        `Authentication is disabled (${INSECURE_DISABLE_AUTHENTICATION}=true): anyone who can reach this Worker can read the cluster's metrics`,
      );
    } else {
      auth = { mode: 'delegated', gate: gate(workersGuard(s, o)), apiServer: s.apiServer };
      o.log.info('Delegated authentication and authorization', {
        tokenReview: s.apiServer,
        subjectAccessReview: s.apiServer,
        anonymous: s.alwaysAllowPaths,
      });
    }
  } catch (err) {
    if (!(err instanceof WorkersAuthError)) throw err;
    auth = { mode: 'refused', reason: err.message };
  }
  current = { key, auth };
  return auth;
}
