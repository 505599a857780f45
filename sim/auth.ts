/**
 * Who may do what in the simulated cluster: a users table (bearer tokens, or client certificates
 * signed by the cluster CA) and a fixed authorizer standing in for RBAC. The API server, its
 * TokenReview/SubjectAccessReview endpoints and every kubelet ask the same authorizer, so a token that
 * may read `nodes/metrics` can scrape a kubelet, and a serve function's SubjectAccessReview for a
 * user gets the answer that user would get from the API server.
 */
import { randomBytes } from 'node:crypto';

/**
 * admin: everything (system:masters). scraper: read nodes, pods, namespaces and the kubelet
 * subresources (nodes/metrics, nodes/stats, nodes/proxy), as metrics-server's ClusterRole.
 * serve: create TokenReviews and SubjectAccessReviews (system:auth-delegator), read the
 * extension-apiserver-authentication ConfigMap, read nodes/pods/namespaces. events: list and watch
 * Events only (the events function's ClusterRole). viewer: read everything except the kubelet
 * subresources. none: discovery only.
 */
export type SimRole = 'admin' | 'scraper' | 'serve' | 'events' | 'viewer' | 'none';

export interface SimUser {
  name: string;
  token: string;
  groups: string[];
  role: SimRole;
  uid: string;
}

export interface UserInfo {
  name: string;
  groups: string[];
  uid?: string;
}

export interface ResourceAttributes {
  verb: string;
  /** API group; '' for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}

export type Attributes = ResourceAttributes | NonResourceAttributes;

export interface Decision {
  allowed: boolean;
  reason: string;
}

const READ = new Set(['get', 'list', 'watch']);
const KUBELET_SUBRESOURCES = new Set(['metrics', 'stats', 'proxy', 'log', 'spec', 'pods', 'checkpoint']);
const DISCOVERY_PATHS = ['/api', '/apis', '/version', '/openapi', '/healthz', '/livez', '/readyz'];
/**
 * system:public-info-viewer, the only role bound to system:unauthenticated: exact paths (RBAC's
 * nonResourceURLs match exactly, or by a trailing `*`), so `/healthz/ping` is not among them.
 */
const PUBLIC_INFO_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/']);
const UNAUTHENTICATED = 'system:unauthenticated';

export interface UserSpec {
  name: string;
  token?: string;
  groups?: string[];
  role?: SimRole;
}

const AUTHENTICATED = 'system:authenticated';

function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, AUTHENTICATED];
}

export const DEFAULT_USERS: UserSpec[] = [
  { name: 'admin', groups: ['system:masters', AUTHENTICATED], role: 'admin' },
  {
    name: 'system:serviceaccount:kube-system:metrics-scraper',
    groups: serviceAccountGroups('kube-system'),
    role: 'scraper',
  },
  {
    name: 'system:serviceaccount:kube-system:metrics-serve',
    groups: serviceAccountGroups('kube-system'),
    role: 'serve',
  },
  {
    name: 'system:serviceaccount:kube-system:metrics-events',
    groups: serviceAccountGroups('kube-system'),
    role: 'events',
  },
  { name: 'viewer', groups: [AUTHENTICATED], role: 'viewer' },
  { name: 'nobody', groups: [AUTHENTICATED], role: 'none' },
];

export function isResourceAttributes(a: Attributes): a is ResourceAttributes {
  return 'resource' in a;
}

export class SimAuth {
  readonly users: SimUser[];
  readonly #byToken = new Map<string, SimUser>();
  readonly #byName = new Map<string, SimUser>();

  constructor(specs: UserSpec[] = DEFAULT_USERS) {
    const merged = new Map<string, UserSpec>();
    for (const s of [...DEFAULT_USERS, ...specs]) merged.set(s.name, { ...merged.get(s.name), ...s });
    this.users = [...merged.values()].map((s) => ({
      name: s.name,
      token: s.token ?? randomBytes(24).toString('base64url'),
      groups: s.groups ?? [AUTHENTICATED],
      role: s.role ?? 'none',
      uid: randomBytes(16).toString('hex'),
    }));
    for (const u of this.users) {
      if (this.#byToken.has(u.token)) throw new Error(`users "${u.name}" and another user share a token`);
      this.#byToken.set(u.token, u);
      this.#byName.set(u.name, u);
    }
  }

  user(name: string): SimUser | undefined {
    return this.#byName.get(name);
  }

  /** The user a bearer token belongs to (the value after `Bearer `). */
  authenticateToken(token: string | undefined): SimUser | undefined {
    return token === undefined || token === '' ? undefined : this.#byToken.get(token);
  }

  /** From an `Authorization` header; undefined when absent, malformed or unknown. */
  authenticateHeader(header: string | undefined): SimUser | undefined {
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? this.authenticateToken(m[1]) : undefined;
  }

  /** A verified client certificate: user = CN, groups = O (kube-apiserver's x509 authenticator). */
  authenticateCertificate(commonName: string, organizations: string[]): UserInfo {
    return { name: commonName, groups: [...organizations, AUTHENTICATED] };
  }

  authorize(user: UserInfo, attrs: Attributes): Decision {
    const role = this.#roleOf(user);
    // Anonymous callers get system:public-info-viewer only (system:discovery is for system:authenticated).
    const anonymous = role === 'none' && user.groups.includes(UNAUTHENTICATED);
    const allowed = anonymous
      ? !isResourceAttributes(attrs) && attrs.verb === 'get' && PUBLIC_INFO_PATHS.has(attrs.path)
      : allowedFor(role, attrs);
    return { allowed, reason: allowed ? `allowed by the simulated cluster's "${role}" role` : '' };
  }

  #roleOf(user: UserInfo): SimRole {
    if (user.groups.includes('system:masters')) return 'admin';
    return this.#byName.get(user.name)?.role ?? 'none';
  }
}

function allowedFor(role: SimRole, a: Attributes): boolean {
  if (role === 'admin') return true;
  // system:basic-user: anyone authenticated may ask what they themselves may do.
  if (
    isResourceAttributes(a) &&
    a.group === 'authorization.k8s.io' &&
    a.resource === 'selfsubjectaccessreviews'
  ) {
    return a.verb === 'create';
  }
  if (!isResourceAttributes(a)) {
    const discovery = DISCOVERY_PATHS.some((p) => a.path === p || a.path.startsWith(`${p}/`));
    return a.verb === 'get' && (discovery || role !== 'none');
  }
  const read = READ.has(a.verb);
  const core = a.group === '';
  const kubeletSub =
    a.resource === 'nodes' && a.subresource !== undefined && KUBELET_SUBRESOURCES.has(a.subresource);
  switch (role) {
    case 'scraper':
      if (core && kubeletSub) return a.verb === 'get' || a.verb === 'create';
      return (
        read &&
        a.subresource === undefined &&
        ((core && ['nodes', 'pods', 'namespaces'].includes(a.resource)) || a.group === 'metrics.k8s.io')
      );
    case 'serve':
      if (a.verb === 'create' && a.group === 'authentication.k8s.io' && a.resource === 'tokenreviews')
        return true;
      if (a.verb === 'create' && a.group === 'authorization.k8s.io' && a.resource === 'subjectaccessreviews')
        return true;
      if (core && a.resource === 'configmaps') return read && a.namespace === 'kube-system';
      return (
        read && core && a.subresource === undefined && ['nodes', 'pods', 'namespaces'].includes(a.resource)
      );
    case 'events':
      return (
        read &&
        a.resource === 'events' &&
        a.subresource === undefined &&
        (core || a.group === 'events.k8s.io')
      );
    case 'viewer':
      return read && !kubeletSub && a.resource !== 'secrets';
    case 'none':
      return false;
  }
}

/** kube-apiserver's wording for a denied request (`forbiddenMessage`), without the resource prefix. */
export function forbiddenDetail(user: UserInfo, a: Attributes): string {
  if (!isResourceAttributes(a)) return `User "${user.name}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${scope}`;
}
