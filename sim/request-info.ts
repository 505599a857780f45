/**
 * kube-apiserver's RequestInfo: what a request path and method mean to the authorizer (verb, group,
 * resource, subresource, namespace, name) or, for paths outside the API, the non-resource path.
 */
import type { Attributes } from './auth.ts';

export interface ResourceRequest {
  kind: 'resource';
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
  /** Path segments after the subresource (the node proxy's target path). */
  rest: string[];
}

export interface NonResourceRequest {
  kind: 'non-resource';
  verb: string;
  path: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** `segments` are the path's segments, already percent-decoded. */
export function requestInfo(
  method: string,
  rawPath: string,
  segments: string[],
  watch: boolean,
): RequestInfo {
  const nonResource = (): NonResourceRequest => ({
    kind: 'non-resource',
    verb: method === 'GET' || method === 'HEAD' ? 'get' : (VERBS[method] ?? method.toLowerCase()),
    path: rawPath,
  });
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else {
    return nonResource();
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  } else if (rest[0] === 'namespaces' && rest.length === 2) {
    // `namespaces/NAME` is the namespace object itself, which kube-apiserver treats as in its own namespace.
    namespace = rest[1];
  }
  const [resource = '', name, subresource, ...after] = rest;
  let verb = VERBS[method] ?? (method === 'GET' || method === 'HEAD' ? 'get' : method.toLowerCase());
  if (verb === 'get' && name === undefined) verb = watch ? 'watch' : 'list';
  return { kind: 'resource', verb, group, version, resource, subresource, namespace, name, rest: after };
}

export function attributesOf(info: RequestInfo): Attributes {
  if (info.kind === 'non-resource') return { verb: info.verb, path: info.path };
  return {
    verb: info.verb,
    group: info.group,
    resource: info.resource,
    ...(info.subresource === undefined ? {} : { subresource: info.subresource }),
    ...(info.namespace === undefined ? {} : { namespace: info.namespace }),
    ...(info.name === undefined ? {} : { name: info.name }),
  };
}
