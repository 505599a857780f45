/**
 * metav1.Status bodies with kube-apiserver's wording, which kubectl prints as
 * `Error from server (<reason>): <message>` and client libraries surface as is.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  /** ListMeta: a 410 for a continue token carries a token to go on with. */
  metadata: { continue?: string };
  status: 'Failure';
  message: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export function failure(
  code: number,
  reason: string | undefined,
  message: string,
  details?: Status['details'],
  metadata: Status['metadata'] = {},
): Status {
  // kube-apiserver's field order: kind, apiVersion, metadata, status, message, reason, details, code.
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata,
    status: 'Failure',
    message,
    ...(reason === undefined ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** `pods` for the core group, `nodes.metrics.k8s.io` otherwise (schema.GroupResource.String()). */
export function qualified(resource: string, group: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export const unauthorized = () => failure(401, 'Unauthorized', 'Unauthorized');

export const notFoundPath = () =>
  failure(404, 'NotFound', 'the server could not find the requested resource', {});

export function notFound(resource: string, name: string, group = ''): Status {
  return failure(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
    name,
    ...(group === '' ? {} : { group }),
    kind: resource,
  });
}

export const badRequest = (message: string) => failure(400, 'BadRequest', message);

export const methodNotAllowed = () =>
  failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

export const notAcceptable = (message: string) => failure(406, 'NotAcceptable', message);

export function forbidden(
  resource: string | undefined,
  group: string,
  name: string | undefined,
  detail: string,
): Status {
  if (resource === undefined) return failure(403, 'Forbidden', `forbidden: ${detail}`, {});
  const subject = `${qualified(resource, group)}${name ? ` "${name}"` : ''}`;
  return failure(403, 'Forbidden', `${subject} is forbidden: ${detail}`, {
    ...(name ? { name } : {}),
    ...(group === '' ? {} : { group }),
    kind: resource,
  });
}

export const serviceUnavailable = (message: string) => failure(503, 'ServiceUnavailable', message);

export const internalError = (message: string) =>
  failure(500, 'InternalError', `Internal error occurred: ${message}`);

/** errors.NewResourceExpired: what a read or watch from a compacted resourceVersion gets (410). */
export const expired = (message: string, continueToken?: string) =>
  failure(410, 'Expired', message, undefined, continueToken === undefined ? {} : { continue: continueToken });

/** The watch cache's answer to a watch from before what it holds. */
export const tooOldResourceVersion = (rv: number, oldest: number) =>
  expired(`too old resource version: ${rv} (${oldest})`);

/** etcd3's answer to a list at a compacted revision. */
export const LIST_EXPIRED = 'The resourceVersion for the provided list is too old.';

/** etcd3's answer to a continue token whose revision is compacted (it comes with a new token). */
export const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** storage.NewTooLargeResourceVersionError: a read at a revision the server has not reached (504). */
export const tooLargeResourceVersion = (rv: number, current: number) =>
  failure(504, 'Timeout', `Timeout: Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
