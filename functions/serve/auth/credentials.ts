/** What the authenticators read from a request, and what each one answers. */
import type { PeerCertificate } from './peer.ts';
import type { UserInfo } from './user.ts';

export interface RequestCredentials {
  /** The connection's client certificate, or null when none was presented. */
  readonly peer: PeerCertificate | null;
  /** Every value of a header (one per header line). */
  header(name: string): string[];
  /** The request's header names, lower case. */
  headerNames(): string[];
}

/**
 * An authenticator's answer, as apiserver's `(response, ok, err)`: a user; an error (credentials were
 * presented and are not good: the request fails with 401 unless another authenticator accepts it); or
 * null (this authenticator has nothing to say about the request).
 */
export type AuthnResult = { user: UserInfo } | { error: string } | null;

export interface Authenticator {
  readonly name: string;
  authenticate(r: RequestCredentials): AuthnResult | Promise<AuthnResult>;
}
