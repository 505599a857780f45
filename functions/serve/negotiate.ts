/**
 * Accept-header negotiation as the generic apiserver does it (handlers/negotiation), for the two
 * serializations this server writes. JSON everywhere: a clause is usable when its media range covers
 * `application/json` (`application/json`, `application/*`, `*\/*`); its `as`/`g`/`v` parameters ask
 * for a transformation, which resource endpoints offer for Table and PartialObjectMetadata(List) in
 * meta.k8s.io v1 and v1beta1. Kubernetes' protobuf (`application/vnd.kubernetes.protobuf`, protobuf.ts)
 * for the metrics objects themselves, as metrics-server serves them: kubectl top and the HPA's client
 * send `application/vnd.kubernetes.protobuf, *\/*` and get protobuf. Discovery, OpenAPI and Status
 * bodies are JSON only (clients ask for them with a JSON fallback); YAML and CBOR are not written.
 */

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** The media types listed in a 406: of resources, and of every other document. */
export const servedMediaTypes = (transforms: boolean): readonly string[] =>
  transforms ? ['application/json', PROTOBUF] : ['application/json'];

export type MetaVersion = 'v1' | 'v1beta1';

export type Output =
  | { as: 'json' }
  | { as: 'protobuf' }
  | { as: 'Table'; version: MetaVersion }
  | { as: 'PartialObjectMetadata' | 'PartialObjectMetadataList'; version: MetaVersion };

const JSON_OUTPUT: Output = { as: 'json' };
const PROTOBUF_OUTPUT: Output = { as: 'protobuf' };

interface Clause {
  type: string;
  subtype: string;
  q: number;
  params: Map<string, string>;
  index: number;
}

function parseAccept(header: string): Clause[] {
  const clauses: Clause[] = [];
  const parts = header.split(',');
  for (let index = 0; index < parts.length; index++) {
    const [range = '', ...rest] = parts[index]!.split(';');
    const slash = range.indexOf('/');
    const type = (slash < 0 ? range : range.slice(0, slash)).trim().toLowerCase();
    const subtype =
      slash < 0
        ? type === '*'
          ? '*'
          : ''
        : range
            .slice(slash + 1)
            .trim()
            .toLowerCase();
    if (type === '' || subtype === '') continue;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim();
      const value = p.slice(eq + 1).trim();
      if (key === 'q') q = Number.parseFloat(value) || 0;
      else params.set(key, value);
    }
    // q=0 means "not acceptable" (RFC 9110).
    if (q > 0) clauses.push({ type, subtype, q, params, index });
  }
  // Highest q first, then the more specific range (goautoneg's order); the header's order breaks ties.
  const specificity = (c: Clause) => (c.type === '*' ? 0 : c.subtype === '*' ? 1 : 2);
  return clauses.sort((a, b) => b.q - a.q || specificity(b) - specificity(a) || a.index - b.index);
}

function clauseOutput(c: Clause, transforms: boolean): Output | null {
  const stream = c.params.get('stream');
  if (stream !== undefined && stream !== '' && stream !== 'watch') return null;
  const as = c.params.get('as');
  const g = c.params.get('g');
  const v = c.params.get('v');
  const plain = as === undefined && g === undefined && v === undefined;
  if (c.type === 'application' && c.subtype === 'vnd.kubernetes.protobuf') {
    // Objects only; a Table or metadata transformation is written in JSON alone.
    return transforms && plain ? PROTOBUF_OUTPUT : null;
  }
  if (plain) return JSON_OUTPUT;
  if (!transforms || g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) return null;
  if (as === 'Table') return { as, version: v };
  if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { as, version: v };
  return null;
}

/**
 * What to answer for an Accept header, or null when nothing in it can be served (→ 406).
 * `transforms`: the endpoint serves objects (resources), so protobuf, Table and PartialObjectMetadata may
 * be asked for.
 */
export function negotiate(accept: string | undefined | null, transforms: boolean): Output | null {
  // The common cases, without parsing: no header, plain JSON, kubectl's and the HPA's protobuf-then-anything.
  if (!accept || accept === 'application/json') return JSON_OUTPUT;
  if (accept === `${PROTOBUF}, */*`) return transforms ? PROTOBUF_OUTPUT : JSON_OUTPUT;
  for (const c of parseAccept(accept)) {
    const usable =
      (c.type === 'application' &&
        (c.subtype === 'json' || c.subtype === '*' || c.subtype === 'vnd.kubernetes.protobuf')) ||
      (c.type === '*' && c.subtype === '*');
    if (!usable) continue;
    const out = clauseOutput(c, transforms);
    if (out !== null) return out;
  }
  return null;
}
