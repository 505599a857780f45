/**
 * Bearer tokens, reviewed by the API server (TokenReview, authentication.k8s.io/v1) as a delegating
 * apiserver does: answers cached 10 s whether authenticated or not, keyed by a hash of the token (the
 * token itself is never kept as a key, nor logged), one review in flight per token. When the API server
 * does not answer, the request fails closed (401), nothing is cached, and the log says why.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../../../shared/log.ts';
import type { ApiClient } from './api-client.ts';
import { TtlCache } from './cache.ts';
import type { Authenticator, AuthnResult } from './credentials.ts';
import { redact } from './redact.ts';
import type { UserInfo } from './user.ts';

export const TOKEN_CACHE_TTL_MS = 10_000;

const TokenReviewStatus = z.object({
  status: z
    .object({
      authenticated: z.boolean().optional(),
      error: z.string().optional(),
      user: z
        .object({
          username: z.string().optional(),
          uid: z.string().optional(),
          groups: z.array(z.string()).nullish(),
          extra: z.record(z.string(), z.array(z.string())).nullish(),
        })
        .optional(),
    })
    .optional(),
});

/** `Authorization: Bearer <token>` as apiserver's bearertoken authenticator reads it; '' when none. */
export function bearerToken(authorization: string | undefined): string {
  const auth = (authorization ?? '').trim();
  if (auth === '') return '';
  const parts = auth.split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer') return '';
  return parts[1]!;
}

type Review = { user: UserInfo } | { denied: string };

export interface TokenReviewOptions {
  api: ApiClient;
  log: Logger;
  ttlMs?: number;
  now?: () => number;
}

export function tokenReviewAuthenticator(
  o: TokenReviewOptions,
): Authenticator & { readonly cacheSize: number } {
  const ttl = o.ttlMs ?? TOKEN_CACHE_TTL_MS;
  const cache = new TtlCache<Review>({ ttlMs: () => ttl, ...(o.now ? { now: o.now } : {}) });

  async function review(token: string): Promise<Review> {
    let answer: unknown;
    try {
      answer = await o.api.post('/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      });
    } catch (err) {
      throw new Error(
        redact(`TokenReview failed: ${err instanceof Error ? err.message : String(err)}`, [token]),
      );
    }
    const parsed = TokenReviewStatus.safeParse(answer);
    if (!parsed.success) throw new Error('TokenReview failed: the answer is not a TokenReview');
    const s = parsed.data.status;
    const name = s?.user?.username ?? '';
    if (s?.authenticated !== true || name === '') {
      return { denied: redact(s?.error || 'invalid bearer token', [token]) };
    }
    return {
      user: {
        name,
        uid: s.user?.uid ?? '',
        groups: s.user?.groups ?? [],
        extra: s.user?.extra ?? {},
      },
    };
  }

  let lastFailureLog = 0;
  return {
    name: 'token',
    get cacheSize() {
      return cache.size;
    },
    async authenticate(r): Promise<AuthnResult> {
      const token = bearerToken(r.header('authorization')[0]);
      if (token === '') return null;
      const key = createHash('sha256').update(token).digest('base64');
      try {
        const result = await cache.get(key, () => review(token));
        return 'user' in result ? result : { error: result.denied };
      } catch (err) {
        // Fail closed. One error line per 10 s: an outage must be seen, not flood the log.
        const now = Date.now();
        if (now - lastFailureLog > 10_000) {
          lastFailureLog = now;
          o.log.error('Unable to authenticate the request: bearer tokens cannot be reviewed', {
            err: err instanceof Error ? err.message : String(err),
            apiServer: o.api.server,
          });
        }
        return { error: 'the token could not be reviewed' };
      }
    },
  };
}
