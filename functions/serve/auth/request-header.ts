/**
 * The front proxy (kube-aggregator) authenticator, as k8s.io/apiserver's request-header authenticator:
 * the identity headers are believed only from a connection whose client certificate chains to the
 * request-header CA and, when allowed names are configured, whose common name is one of them.
 * Without such a certificate the headers are never read: anyone can write `X-Remote-User: admin`.
 *
 * Username: the first non-empty value among the username headers; groups: every value of every group
 * header; extra: every header starting with an extra prefix, the rest of its name lower-cased and
 * percent-decoded as the key (`X-Remote-Extra-Scopes` → `scopes`).
 */
import { memoize } from '../../../shared/memo.ts';
import { type CaBundle, verifyChain } from './certificates.ts';
import type { Authenticator, AuthnResult, RequestCredentials } from './credentials.ts';

export interface RequestHeaderConfig {
  readonly ca: CaBundle;
  /** Empty: any common name the CA signed. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
}

function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key; // as Go: an undecodable key is kept as written
  }
}

/** The extra-header prefixes of a configuration, lower-cased, read once per configuration. */
const prefixesOf = new WeakMap<RequestHeaderConfig, string[]>();

function extraPrefixes(cfg: RequestHeaderConfig): string[] {
  let prefixes = prefixesOf.get(cfg);
  if (prefixes === undefined) {
    prefixes = cfg.extraHeaderPrefixes.map((p) => p.toLowerCase()).filter((p) => p !== '');
    prefixesOf.set(cfg, prefixes);
  }
  return prefixes;
}

/**
 * One frozen user per identity the headers assert: the front proxy asserts the same few users over and
 * over, and a shared user lets what is derived from it (the authenticated group, the review cache's key)
 * be kept with it instead of being built again for every request.
 */
const keptUser = memoize(4096, (identity: string) => {
  const [name, groups, extra] = JSON.parse(identity) as [string, string[], Record<string, string[]>];
  return Object.freeze({ name, uid: '', groups: Object.freeze(groups), extra: Object.freeze(extra) });
});

/** Identities longer than this (its JSON) are not kept: the kept users stay a few MiB at most. */
const KEPT_IDENTITY_MAX = 1024;

/** The user the headers name, or null when no username header has a value. */
export function userFromHeaders(cfg: RequestHeaderConfig, r: RequestCredentials): AuthnResult {
  let name = '';
  for (const h of cfg.usernameHeaders) {
    name = r.header(h)[0] ?? '';
    if (name !== '') break;
  }
  if (name === '') return null;
  const groups: string[] = [];
  for (const h of cfg.groupHeaders) for (const v of r.header(h)) if (v !== '') groups.push(v);
  const extra: Record<string, string[]> = {};
  const prefixes = extraPrefixes(cfg);
  if (prefixes.length > 0) {
    for (const header of r.headerNames()) {
      const lower = header.toLowerCase();
      const prefix = prefixes.find((p) => lower.startsWith(p));
      if (prefix === undefined) continue;
      const key = unescapeExtraKey(lower.slice(prefix.length));
      const values = r.header(header).filter((v) => v !== '');
      if (values.length > 0) extra[key] = [...(extra[key] ?? []), ...values];
    }
  }
  const identity = JSON.stringify([name, groups, extra]);
  if (identity.length > KEPT_IDENTITY_MAX) return { user: { name, uid: '', groups, extra } };
  return { user: keptUser(identity) };
}

/** Whether the connection's certificate lets its holder assert users, and why not. */
export function frontProxyProblem(cfg: RequestHeaderConfig, r: RequestCredentials): string | null {
  const peer = r.peer;
  if (peer === null) return 'no client certificate';
  if (!peer.authorized) return 'x509: certificate signed by unknown authority';
  const problem = verifyChain(peer.chain, cfg.ca);
  if (problem !== null) return problem;
  const cn = peer.subject.commonName;
  if (cfg.allowedNames.length > 0 && !cfg.allowedNames.includes(cn)) {
    return `x509: subject with cn=${cn} is not in the allowed list`;
  }
  return null;
}

export function requestHeaderAuthenticator(config: () => RequestHeaderConfig | null): Authenticator {
  return {
    name: 'request-header',
    authenticate(r) {
      const cfg = config();
      if (cfg === null || r.peer === null) return null;
      const problem = frontProxyProblem(cfg, r);
      return problem === null ? userFromHeaders(cfg, r) : { error: problem };
    },
  };
}
