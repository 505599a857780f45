/**
 * metav1.Status bodies with kube-apiserver's wording, which kubectl prints as
 * `Error from server (<reason>): <message>` and client libraries surface as is.
 */

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

export function failure(
  code: number,
  reason: string | undefined,
  message: string,
  details?: Status['details'],
): Status {
  // kube-apiserver's field order: kind, apiVersion, metadata, status, message, reason, details, code.
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
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
