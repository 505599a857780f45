/**
 * Who a request comes from, as k8s.io/apiserver's `user.Info`: a name, a UID, groups and extra
 * attributes. Every authenticator produces one; the authorizer asks about one.
 */

export interface UserInfo {
  readonly name: string;
  /** '' when the authenticator knows none. */
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

export const ALL_AUTHENTICATED = 'system:authenticated';
export const ALL_UNAUTHENTICATED = 'system:unauthenticated';
/** Members are allowed everything without a SubjectAccessReview (the generic apiserver's AlwaysAllowGroups). */
export const SYSTEM_MASTERS = 'system:masters';

/** What a request without credentials becomes: authorization then decides what it may do. */
export const ANONYMOUS: UserInfo = Object.freeze({
  name: 'system:anonymous',
  uid: '',
  groups: Object.freeze([ALL_UNAUTHENTICATED]),
  extra: Object.freeze({}),
});

export function user(name: string, groups: readonly string[] = [], uid = '', extra = {}): UserInfo {
  return { name, uid, groups, extra };
}

/**
 * apiserver's AuthenticatedGroupAdder: every authenticated user is in `system:authenticated`, unless
 * the authenticator already put it in that group or in `system:unauthenticated`.
 */
export function withAuthenticatedGroup(u: UserInfo): UserInfo {
  if (u.groups.includes(ALL_AUTHENTICATED) || u.groups.includes(ALL_UNAUTHENTICATED)) return u;
  // A frozen user (one an authenticator keeps per identity) gets one frozen authenticated user.
  const kept = Object.isFrozen(u) ? authenticatedOf.get(u) : undefined;
  if (kept !== undefined) return kept;
  const authenticated = { ...u, groups: [...u.groups, ALL_AUTHENTICATED] };
  if (!Object.isFrozen(u)) return authenticated;
  Object.freeze(authenticated.groups);
  authenticatedOf.set(u, Object.freeze(authenticated));
  return authenticated;
}

const authenticatedOf = new WeakMap<UserInfo, UserInfo>();
