/**
 * Delegated authentication and authorization for the serve function, composed from its flags: the
 * guard middleware for the app, the TLS options that make clients present certificates, and the
 * periodic reload that keeps the CAs current (kube-apiserver rotates the front-proxy CA by updating
 * kube-system/extension-apiserver-authentication; CA files may be rewritten by a Secret mount).
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../../shared/log.ts';
import type { ApiClient } from './api-client.ts';
import {
  type AuthenticationConfig,
  AuthenticationConfigError,
  type AuthenticationFlags,
  loadAuthenticationConfig,
  needsConfigMap,
  sameAuthentication,
} from './authentication-config.ts';
import { delegatingAuthorizer } from './authorizer.ts';
import { unionPem } from './certificates.ts';
import { clientCertificateAuthenticator } from './client-certificate.ts';
import type { Authenticator } from './credentials.ts';
import { authGuard } from './guard.ts';
import { apiClient } from './kube-api-client.ts';
import { authKubeConfig } from './kubeconfig.ts';
import { AlwaysAllowPathError, alwaysAllowPaths } from './paths.ts';
import { requestHeaderAuthenticator } from './request-header.ts';
import { tokenReviewAuthenticator } from './token.ts';

export { AuthenticationConfigError } from './authentication-config.ts';

export interface AuthFlags extends AuthenticationFlags {
  authenticationKubeconfig: string;
  authorizationKubeconfig: string;
  authorizationAlwaysAllowPaths: readonly string[];
  /** How long TokenReview and SubjectAccessReview answers are kept (apiserver's flags; 0: not kept). */
  authenticationTokenWebhookCacheTtlMs: number;
  authorizationWebhookCacheAuthorizedTtlMs: number;
  authorizationWebhookCacheUnauthorizedTtlMs: number;
}

/** What the TLS server needs: ask every client for a certificate, verify it against both CAs, admit all. */
export interface ClientCertificateOptions {
  requestCert: true;
  rejectUnauthorized: false;
  ca?: string;
}

export interface ServeAuth {
  guard: MiddlewareHandler;
  tlsOptions(): ClientCertificateOptions;
  /** Called after a reload changed the CAs, with the new TLS options. */
  onTlsChange(listener: (o: ClientCertificateOptions) => void): void;
  /** Reloads now (the timer does it every `refreshMs`); resolves whether anything changed. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface StartAuthOptions {
  log: Logger;
  /** How often the CA files and the ConfigMap are read again; default 30 s. */
  refreshMs?: number;
  env?: Readonly<Record<string, string | undefined>>;
}

export const REFRESH_MS = 30_000;

function apiFor(path: string, flag: string, env: StartAuthOptions['env']): ApiClient | null {
  const kc = authKubeConfig(path, flag, env);
  return kc === null ? null : apiClient(kc);
}

/** Throws AuthenticationConfigError when the serve function could not authenticate anyone. */
export async function startAuth(flags: AuthFlags, o: StartAuthOptions): Promise<ServeAuth> {
  const { log } = o;
  let alwaysAllowed: (path: string) => boolean;
  try {
    alwaysAllowed = alwaysAllowPaths(flags.authorizationAlwaysAllowPaths);
  } catch (err) {
    if (err instanceof AlwaysAllowPathError)
      throw new AuthenticationConfigError(`--authorization-always-allow-paths: ${err.message}`);
    throw err;
  }
  const authnApi = apiFor(flags.authenticationKubeconfig, 'authentication-kubeconfig', o.env);
  const authzApi =
    flags.authorizationKubeconfig === flags.authenticationKubeconfig
      ? authnApi
      : apiFor(flags.authorizationKubeconfig, 'authorization-kubeconfig', o.env);

  if (authnApi === null) {
    if (needsConfigMap(flags)) {
      log.warn(
        'No authentication kubeconfig: configmap/extension-apiserver-authentication cannot be read, so only CAs given by flags are trusted',
      );
    }
    log.warn('No authentication kubeconfig: bearer tokens cannot be reviewed and are refused');
  }
  if (authzApi === null) {
    log.warn(
      'No authorization kubeconfig: SubjectAccessReviews cannot be asked, so only system:masters and --authorization-always-allow-paths are allowed',
    );
  }

  let current: AuthenticationConfig = await loadAuthenticationConfig(flags, authnApi);
  if (current.requestHeader === null && current.clientCa === null && authnApi === null) {
    throw new AuthenticationConfigError(
      'nothing could authenticate a caller: give a kubeconfig (--kubeconfig, --authentication-kubeconfig, $KUBECONFIG or in-cluster) ' +
        'that may read configmap/extension-apiserver-authentication in kube-system, or --requestheader-client-ca-file',
    );
  }
  if (current.requestHeader === null) {
    log.warn(
      'No request-header CA (--requestheader-client-ca-file or requestheader-client-ca-file in configmap/extension-apiserver-authentication): ' +
        "requests through the API server's aggregation cannot be authenticated",
    );
  }
  const describe = (c: AuthenticationConfig) => ({
    requestHeaderCa: c.sources.requestHeader,
    allowedNames: c.requestHeader?.allowedNames ?? [],
    clientCa: c.sources.clientCa,
    tokenReview: authnApi?.server ?? 'none',
    subjectAccessReview: authzApi?.server ?? 'none',
  });
  log.info('Delegated authentication and authorization', describe(current));

  const authenticators: Authenticator[] = [
    requestHeaderAuthenticator(() => current.requestHeader),
    clientCertificateAuthenticator(() => current.clientCa),
  ];
  if (authnApi !== null) {
    authenticators.push(
      tokenReviewAuthenticator({ api: authnApi, log, ttlMs: flags.authenticationTokenWebhookCacheTtlMs }),
    );
  }
  const authorizer = delegatingAuthorizer({
    api: authzApi,
    alwaysAllowed,
    allowTtlMs: flags.authorizationWebhookCacheAuthorizedTtlMs,
    denyTtlMs: flags.authorizationWebhookCacheUnauthorizedTtlMs,
  });
  const guard: MiddlewareHandler = authGuard({ authenticators, authorizer, log });

  const tlsOptions = (): ClientCertificateOptions => {
    const ca = unionPem([current.requestHeader?.ca ?? null, current.clientCa]);
    return ca === undefined
      ? { requestCert: true, rejectUnauthorized: false }
      : { requestCert: true, rejectUnauthorized: false, ca };
  };
  const listeners: ((o: ClientCertificateOptions) => void)[] = [];
  let failing = false;
  const reload = async (): Promise<boolean> => {
    let next: AuthenticationConfig;
    try {
      next = await loadAuthenticationConfig(flags, authnApi);
    } catch (err) {
      // Keep what was trusted: a transient API server outage must not stop authentication.
      if (!failing)
        log.warn('Reloading the authentication configuration failed; keeping the last one', { err });
      failing = true;
      return false;
    }
    if (failing) log.info('Reloading the authentication configuration works again');
    failing = false;
    if (sameAuthentication(current, next)) return false;
    current = next;
    log.info('Authentication configuration changed', describe(current));
    const options = tlsOptions();
    for (const l of listeners) l(options);
    return true;
  };
  const timer = setInterval(() => void reload(), o.refreshMs ?? REFRESH_MS);
  timer.unref();

  return {
    guard,
    tlsOptions,
    onTlsChange: (l) => listeners.push(l),
    reload,
    close: () => clearInterval(timer),
  };
}
