/**
 * The authenticators in apiserver's order (front proxy, client certificate, bearer token): the first
 * that names a user wins and the user joins `system:authenticated`. When none does, credentials that
 * were presented and refused (a certificate no CA vouches for, an unknown token) make the request fail
 * with 401; a request that presented nothing is anonymous, and authorization decides what it may do.
 */
import type { Authenticator, RequestCredentials } from './credentials.ts';
import { ANONYMOUS, type UserInfo, withAuthenticatedGroup } from './user.ts';

export type Authentication = { user: UserInfo } | { error: string };

export async function authenticate(
  authenticators: readonly Authenticator[],
  r: RequestCredentials,
): Promise<Authentication> {
  const errors: string[] = [];
  for (const a of authenticators) {
    const result = await a.authenticate(r);
    if (result === null) continue;
    if ('user' in result) return { user: withAuthenticatedGroup(result.user) };
    errors.push(`${a.name}: ${result.error}`);
  }
  return errors.length > 0 ? { error: errors.join('; ') } : { user: ANONYMOUS };
}
