/**
 * What a request asks to do, in the terms authorization speaks: k8s.io/apiserver's RequestInfoFactory
 * ported. `/api/…` and `/apis/<group>/<version>/…` with a resource are resource requests (verb from
 * the method: get, or list/watch without a name); everything else (discovery, /openapi, /version,
 * /metrics, health) is a non-resource request whose verb is the lower-cased method.
 *
 * Segments are percent-decoded one by one, as the router decodes route parameters, so the namespace
 * and name authorized are exactly the ones the route then serves (`a%2Fb` is one segment, `a/b`).
 */
import { memoize } from '../../../shared/memo.ts';
import { parseFieldSelector } from '../../../shared/selectors/index.ts';
import { wantsWatch } from '../query.ts';

export interface ResourceAttributes {
  readonly kind: 'resource';
  readonly verb: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  readonly path: string;
}

export interface NonResourceAttributes {
  readonly kind: 'non-resource';
  readonly verb: string;
  readonly path: string;
}

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

/** A request RequestInfoFactory cannot read (the generic apiserver answers 500). */
export class RequestInfoError extends Error {
  override name = 'RequestInfoError';
}

const API_PREFIXES = new Set(['api', 'apis']);
const GROUPLESS_PREFIXES = new Set(['api']);
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // as the router: an undecodable segment is taken as written
  }
}

/** Go's `splitPath` of the decoded segments: leading and trailing empty ones dropped, inner ones kept. */
function trimmedParts(segments: readonly string[]): string[] {
  let start = 0;
  let end = segments.length;
  while (start < end && segments[start] === '') start++;
  while (end > start && segments[end - 1] === '') end--;
  return segments.slice(start, end);
}

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** `path.IsValidPathSegmentName`: what may stand as a name taken from a field selector. */
const validPathSegmentName = (name: string) => name !== '.' && name !== '..' && !/[/%]/.test(name);

/** The name a list's `fieldSelector` pins with `metadata.name=…`, as RequestInfoFactory reads it. */
function selectedName(query: URLSearchParams): string {
  const text = query.get('fieldSelector');
  if (text === null) return '';
  try {
    const name = parseFieldSelector(text).exactMatch('metadata.name');
    return name !== undefined && validPathSegmentName(name) ? name : '';
  } catch {
    return ''; // a bad selector is the handler's 400, after authorization
  }
}

/** URLs longer than this are read every time instead of kept (a flood of long URLs holds nothing). */
const KEPT_URL_MAX = 1024;

/**
 * The attributes by method and URL: a controller asks the same few URLs over and over (the HPA its
 * namespace's pods every 15 s), and reading one means parsing it, splitting and decoding its path and
 * reading its query. Kept frozen, so every request for the same URL shares one object.
 */
const keptAttributes = memoize(4096, (key: string): RequestAttributes => {
  const space = key.indexOf(' ');
  return Object.freeze(requestAttributes(key.slice(0, space), new URL(key.slice(space + 1))));
});

/** requestAttributes of an absolute URL's text, kept for URLs seen before. Throws RequestInfoError. */
export function requestAttributesOf(method: string, url: string): RequestAttributes {
  if (url.length > KEPT_URL_MAX) return requestAttributes(method, new URL(url));
  return keptAttributes(`${method} ${url}`);
}

/** The attributes of a request for `url` with `method`. Throws RequestInfoError. */
export function requestAttributes(method: string, url: URL): RequestAttributes {
  // One split of the raw path serves both: a decoded segment never adds or removes a '/' boundary.
  const segments = url.pathname.split('/').map(decodeSegment);
  const parts = trimmedParts(segments);
  const path = segments.join('/');
  const nonResource: NonResourceAttributes = { kind: 'non-resource', verb: method.toLowerCase(), path };
  if (parts.length < 3 || !API_PREFIXES.has(parts[0]!)) return nonResource;

  let rest = parts.slice(1);
  let group = '';
  if (!GROUPLESS_PREFIXES.has(parts[0]!)) {
    if (rest.length < 3) return nonResource;
    group = rest[0]!;
    rest = rest.slice(1);
  }
  const version = rest[0]!;
  rest = rest.slice(1);

  let verb: string;
  let fromMethod = false;
  if (SPECIAL_VERBS.has(rest[0]!)) {
    if (rest.length < 2) {
      throw new RequestInfoError(`unable to determine kind and namespace from url, ${url.pathname}`);
    }
    verb = rest[0]!;
    rest = rest.slice(1);
  } else {
    fromMethod = true;
    verb = METHOD_VERBS[method.toUpperCase()] ?? '';
  }

  let namespace = '';
  if (rest[0] === 'namespaces') {
    if (rest.length > 1) {
      namespace = rest[1]!;
      if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
    }
  }

  const resource = rest[0] ?? '';
  let name = rest[1] ?? '';
  const subresource = rest.length >= 3 && verb !== 'proxy' ? rest[2]! : '';

  if (name === '' && verb === 'get') {
    verb = wantsWatch(url.searchParams.getAll('watch')[0]) ? 'watch' : 'list';
    name = selectedName(url.searchParams);
  }
  if (name === '' && fromMethod && verb === 'delete') verb = 'deletecollection';

  return { kind: 'resource', verb, group, version, resource, subresource, namespace, name, path };
}
