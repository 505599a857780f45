/**
 * The serve app's guard: every request is authenticated, then authorized, before any route runs.
 * 401 and 403 are Kubernetes Status bodies; an authorizer that cannot be asked fails the request
 * (500), never lets it through. Health paths get through anonymously only because authorization
 * always allows them (`--authorization-always-allow-paths`), not because the guard skips them.
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../../shared/log.ts';
import { negotiate } from '../negotiate.ts';
import { type Status, statusResponse } from '../status.ts';
import { type RequestAttributes, RequestInfoError, requestAttributesOf } from './attributes.ts';
import { authenticate } from './authenticate.ts';
import { AuthorizationUnavailableError, type Authorizer } from './authorizer.ts';
import type { Authenticator, RequestCredentials } from './credentials.ts';
import { headerNames, headerValues, peerCertificate } from './peer.ts';
import { AUTHORIZATION_UNAVAILABLE, forbidden, requestInfoFailed, UNAUTHORIZED } from './status.ts';
import { throttled } from './throttle.ts';
import { ANONYMOUS, type UserInfo } from './user.ts';

export interface GuardOptions {
  authenticators: readonly Authenticator[];
  authorizer: Authorizer;
  log: Logger;
  /**
   * The paths a request without credentials may go on to as system:anonymous; everywhere by default
   * (authorization decides, as with apiserver's --anonymous-auth). Elsewhere it is a 401, as
   * kube-apiserver answers when its AuthenticationConfiguration limits `anonymous` to some paths.
   */
  anonymousPaths?: (path: string) => boolean;
}

/** The user a request was authenticated as, for handlers that want it (`c.get('user')`). */
export type GuardVariables = { user: UserInfo; attributes: RequestAttributes };

export function authGuard(o: GuardOptions): MiddlewareHandler<{ Variables: GuardVariables }> {
  const { log } = o;
  const report = throttled();
  return async (c, next) => {
    const fail = (s: Status, headers: Record<string, string> = {}) => {
      const res = statusResponse(s, negotiate(c.req.header('accept'), false) === null);
      for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
      return res;
    };
    let attributes: RequestAttributes;
    try {
      attributes = requestAttributesOf(c.req.method, c.req.url);
    } catch (err) {
      if (err instanceof RequestInfoError) return fail(requestInfoFailed(err.message));
      throw err;
    }
    const headers = c.req.raw.headers;
    const credentials: RequestCredentials = {
      peer: peerCertificate(c.env),
      header: headerValues(c.env, headers),
      headerNames: () => headerNames(c.env, headers),
    };

    const authn = await authenticate(o.authenticators, credentials);
    if ('error' in authn) {
      if (report(authn.error)) log.warn('Unable to authenticate the request', { err: authn.error });
      else log.debug(2, 'Unable to authenticate the request', { err: authn.error, path: attributes.path });
      return fail(UNAUTHORIZED);
    }
    const { user } = authn;
    if (user === ANONYMOUS && o.anonymousPaths && !o.anonymousPaths(attributes.path)) {
      log.debug(4, 'Unauthorized: no credentials', { path: attributes.path });
      return fail(UNAUTHORIZED);
    }

    let decision: { allowed: boolean; reason: string };
    try {
      decision = await o.authorizer.authorize(user, attributes);
    } catch (err) {
      if (!(err instanceof AuthorizationUnavailableError)) throw err;
      if (report(err.message)) log.error('Unable to authorize the request', { err: err.message });
      return fail(AUTHORIZATION_UNAVAILABLE);
    }
    if (!decision.allowed) {
      log.debug(4, 'Forbidden', { user: user.name, path: attributes.path, reason: decision.reason });
      return fail(forbidden(user, attributes, decision.reason), { 'x-content-type-options': 'nosniff' });
    }
    c.set('user', user);
    c.set('attributes', attributes);
    await next();
  };
}
