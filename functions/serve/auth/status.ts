/**
 * The Status bodies of authentication and authorization, worded as k8s.io/apiserver writes them
 * (`responsewriters.Forbidden`, `apierrors.NewUnauthorized`), so kubectl shows
 * `error: You must be logged in to the server (Unauthorized)` and
 * `Error from server (Forbidden): pods.metrics.k8s.io is forbidden: User "alice" cannot list …`.
 */
import { goQuote } from '../../../shared/selectors/text.ts';
import type { Status } from '../status.ts';
import type { RequestAttributes } from './attributes.ts';
import type { UserInfo } from './user.ts';

/** No authenticator accepted the request's credentials. The cause goes to the log, never to the caller. */
export const UNAUTHORIZED: Status = { message: 'Unauthorized', reason: 'Unauthorized', code: 401 };

/** `forbiddenMessage`: who cannot do what, where. */
export function forbiddenMessage(u: UserInfo, a: RequestAttributes): string {
  const who = `User ${goQuote(u.name)}`;
  if (a.kind === 'non-resource') return `${who} cannot ${a.verb} path ${goQuote(a.path)}`;
  const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  const what = `${who} cannot ${a.verb} resource ${goQuote(resource)} in API group ${goQuote(a.group)}`;
  return a.namespace === ''
    ? `${what} at the cluster scope`
    : `${what} in the namespace ${goQuote(a.namespace)}`;
}

/** `responsewriters.Forbidden` → `apierrors.NewForbidden(groupResource, name, message[: reason])`. */
export function forbidden(u: UserInfo, a: RequestAttributes, reason: string): Status {
  const text = reason === '' ? forbiddenMessage(u, a) : `${forbiddenMessage(u, a)}: ${reason}`;
  if (a.kind === 'non-resource')
    return { message: `forbidden: ${text}`, reason: 'Forbidden', code: 403, details: {} };
  const qualified = a.group === '' ? a.resource : `${a.resource}.${a.group}`;
  const subject =
    qualified === ''
      ? 'forbidden'
      : a.name === ''
        ? `${qualified} is forbidden`
        : `${qualified} ${goQuote(a.name)} is forbidden`;
  return {
    message: `${subject}: ${text}`,
    reason: 'Forbidden',
    code: 403,
    details: { name: a.name, group: a.group, kind: a.resource },
  };
}

/**
 * The authorizer could not decide (SubjectAccessReview failed). The generic apiserver answers 500 here
 * (`responsewriters.InternalError`); this is the same code as a Status, fail closed, with the cause
 * in the log rather than the body.
 */
export const AUTHORIZATION_UNAVAILABLE: Status = {
  message:
    'Internal error occurred: the request could not be authorized: the authorization service did not answer',
  reason: 'InternalError',
  code: 500,
  details: { causes: [{ message: 'the authorization service did not answer' }] },
};

/** RequestInfoFactory could not read the URL (the generic apiserver's 500 as well). */
export function requestInfoFailed(message: string): Status {
  return {
    message: `Internal error occurred: failed to create RequestInfo: ${message}`,
    reason: 'InternalError',
    code: 500,
    details: { causes: [{ message }] },
  };
}
