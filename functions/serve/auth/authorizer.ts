/**
 * Authorization as k8s.io/apiserver's delegating authorizer: members of `system:masters` are allowed
 * outright, `--authorization-always-allow-paths` (non-resource requests only) are allowed for anyone,
 * and everything else is a SubjectAccessReview (authorization.k8s.io/v1) to the API server, the answer
 * cached 10 s when allowed and 10 s when denied. No API server, no review: everything else is denied.
 */
import { z } from 'zod';
import type { ApiClient } from './api-client.ts';
import type { RequestAttributes } from './attributes.ts';
import { TtlCache } from './cache.ts';
import { SYSTEM_MASTERS, type UserInfo } from './user.ts';

export const ALLOW_CACHE_TTL_MS = 10_000;
export const DENY_CACHE_TTL_MS = 10_000;

export interface Decision {
  allowed: boolean;
  /** Why, as the deciding authorizer said (part of a 403's message when not empty). */
  reason: string;
}

/** The API server could not be asked: the request fails closed (500) and the log says why. */
export class AuthorizationUnavailableError extends Error {
  override name = 'AuthorizationUnavailableError';
}

export interface Authorizer {
  authorize(u: UserInfo, a: RequestAttributes): Promise<Decision>;
}

const SubjectAccessReviewStatus = z.object({
  status: z
    .object({
      allowed: z.boolean().optional(),
      denied: z.boolean().optional(),
      reason: z.string().optional(),
      evaluationError: z.string().optional(),
    })
    .optional(),
});

/** The review's spec, fields Go would omit left out; also the cache key. */
export function subjectAccessReviewSpec(u: UserInfo, a: RequestAttributes): Record<string, unknown> {
  const spec: Record<string, unknown> = { user: u.name };
  if (u.uid !== '') spec.uid = u.uid;
  if (u.groups.length > 0) spec.groups = [...u.groups];
  if (Object.keys(u.extra).length > 0) spec.extra = u.extra;
  if (a.kind === 'non-resource') {
    spec.nonResourceAttributes = { path: a.path, verb: a.verb };
    return spec;
  }
  const attrs: Record<string, string> = {};
  for (const k of ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const) {
    if (a[k] !== '') attrs[k] = a[k];
  }
  spec.resourceAttributes = attrs;
  return spec;
}

/**
 * The review cache's key (the spec's JSON), kept per user and attributes when both are frozen objects
 * shared by every request of the same identity and URL (request-header.ts, attributes.ts): then a
 * controller's repeated request builds no spec and no JSON to find its cached answer.
 */
const keysOf = new WeakMap<UserInfo, WeakMap<RequestAttributes, string>>();

function reviewKey(u: UserInfo, a: RequestAttributes): string {
  if (!Object.isFrozen(u) || !Object.isFrozen(a)) return JSON.stringify(subjectAccessReviewSpec(u, a));
  let byAttributes = keysOf.get(u);
  if (byAttributes === undefined) {
    byAttributes = new WeakMap();
    keysOf.set(u, byAttributes);
  }
  let key = byAttributes.get(a);
  if (key === undefined) {
    key = JSON.stringify(subjectAccessReviewSpec(u, a));
    byAttributes.set(a, key);
  }
  return key;
}

export interface AuthorizerOptions {
  /** null: no API server to ask (only masters and always-allowed paths get through). */
  api: ApiClient | null;
  alwaysAllowed: (path: string) => boolean;
  allowTtlMs?: number;
  denyTtlMs?: number;
  now?: () => number;
}

export function delegatingAuthorizer(o: AuthorizerOptions): Authorizer & { readonly cacheSize: number } {
  const allowTtl = o.allowTtlMs ?? ALLOW_CACHE_TTL_MS;
  const denyTtl = o.denyTtlMs ?? DENY_CACHE_TTL_MS;
  const cache = new TtlCache<Decision>({
    ttlMs: (d) => (d.allowed ? allowTtl : denyTtl),
    ...(o.now ? { now: o.now } : {}),
  });

  async function review(api: ApiClient, spec: Record<string, unknown>): Promise<Decision> {
    let answer: unknown;
    try {
      answer = await api.post('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec,
      });
    } catch (err) {
      throw new AuthorizationUnavailableError(
        `SubjectAccessReview failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const parsed = SubjectAccessReviewStatus.safeParse(answer);
    if (!parsed.success)
      throw new AuthorizationUnavailableError(
        'SubjectAccessReview failed: the answer is not a SubjectAccessReview',
      );
    const s = parsed.data.status;
    return { allowed: s?.allowed === true && s.denied !== true, reason: s?.reason ?? '' };
  }

  return {
    get cacheSize() {
      return cache.size;
    },
    async authorize(u, a) {
      if (u.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: '' };
      if (a.kind === 'non-resource' && o.alwaysAllowed(a.path)) return { allowed: true, reason: '' };
      const api = o.api;
      if (api === null) return { allowed: false, reason: '' };
      const spec = () => subjectAccessReviewSpec(u, a);
      return cache.get(reviewKey(u, a), () => review(api, spec()));
    },
  };
}
