/**
 * Which representation a request's Accept header asks for, as kube-apiserver negotiates it: the first
 * media range it can serve wins. This server speaks JSON only, so protobuf and YAML ranges are passed
 * over (clients list JSON after them); `as=Table` and `as=PartialObjectMetadata[List]` in group
 * meta.k8s.io, versions v1 and v1beta1, select a transformed answer.
 */

export type Representation =
  | { kind: 'object' }
  | { kind: 'table'; apiVersion: string }
  | { kind: 'partial'; list: boolean; apiVersion: string };

export interface Negotiated {
  representation: Representation;
  /** The Content-Type of the answer. kube-apiserver writes transformed answers as plain JSON too. */
  contentType: 'application/json';
}

export type NegotiationResult = Negotiated | { error: string };

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [type = '', ...rest] = part.split(';');
      const params = new Map<string, string>();
      for (const p of rest) {
        const eq = p.indexOf('=');
        if (eq > 0)
          params.set(
            p.slice(0, eq).trim().toLowerCase(),
            p
              .slice(eq + 1)
              .trim()
              .replace(/^"|"$/g, ''),
          );
      }
      return { type: type.trim().toLowerCase(), params };
    });
}

const META_VERSIONS = new Set(['v1', 'v1beta1']);
export const NOT_ACCEPTABLE =
  'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf';

/**
 * `allowTransforms`: whether the endpoint serves API objects (Table/PartialObjectMetadata make sense);
 * discovery documents and errors only come as JSON.
 */
export function negotiate(accept: string | undefined, allowTransforms: boolean): NegotiationResult {
  if (accept === undefined || accept.trim() === '')
    return { representation: { kind: 'object' }, contentType: 'application/json' };
  for (const range of parseAccept(accept)) {
    const jsonish =
      range.type === 'application/json' || range.type === '*/*' || range.type === 'application/*';
    if (!jsonish) continue;
    const as = range.params.get('as');
    if (as === undefined) return { representation: { kind: 'object' }, contentType: 'application/json' };
    if (!allowTransforms) continue;
    const g = range.params.get('g');
    const v = range.params.get('v') ?? '';
    if (g !== 'meta.k8s.io' || !META_VERSIONS.has(v)) continue;
    const apiVersion = `meta.k8s.io/${v}`;
    if (as === 'Table')
      return { representation: { kind: 'table', apiVersion }, contentType: 'application/json' };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') {
      return {
        representation: { kind: 'partial', list: as === 'PartialObjectMetadataList', apiVersion },
        contentType: 'application/json',
      };
    }
  }
  return { error: NOT_ACCEPTABLE };
}
