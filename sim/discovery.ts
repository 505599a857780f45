/**
 * The development API server's discovery documents (legacy, per group version: clients fall back to
 * them when the aggregated form is not offered) and its version.
 */

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0',
  gitCommit: '70d3cc986aa8221cd1dfb1121852688902d3bf53',
  gitTreeState: 'clean',
  buildDate: '2024-12-11T17:59:15Z',
  goVersion: 'go1.23.3',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export const METRICS_GROUP = 'metrics.k8s.io';

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupVersion(name: string, ...versions: string[]) {
  const entry = (version: string) => ({ groupVersion: `${name}/${version}`, version });
  return { name, versions: versions.map(entry), preferredVersion: entry(versions[0]!) };
}

/** Kubernetes' version order (kube-aware: GA before beta before alpha, higher first), as the aggregator sorts. */
function byPriority(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    return [m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
}

/**
 * The groups of /apis; metrics.k8s.io in the versions whose APIServices are registered, reachable or
 * not (as the aggregator lists them), the preferred first.
 */
export function apiGroups(metricsVersions: readonly string[]) {
  const groups = [
    groupVersion('authentication.k8s.io', 'v1'),
    groupVersion('authorization.k8s.io', 'v1'),
    groupVersion('events.k8s.io', 'v1'),
  ];
  if (metricsVersions.length > 0)
    groups.push(groupVersion(METRICS_GROUP, ...[...metricsVersions].sort(byPriority)));
  return groups;
}

export function apiGroupList(metricsVersions: readonly string[]) {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups(metricsVersions) };
}

export function apiGroup(name: string, metricsVersions: readonly string[]) {
  const group = apiGroups(metricsVersions).find((g) => g.name === name);
  return group ? { kind: 'APIGroup', apiVersion: 'v1', ...group } : undefined;
}

const resource = (
  name: string,
  singularName: string,
  kind: string,
  namespaced: boolean,
  verbs: string[],
) => ({
  name,
  singularName,
  namespaced,
  kind,
  verbs,
});

/** `/apis/<group>/v1` of the groups this server serves itself. */
export function groupResources(group: string) {
  const list = (resources: unknown[]) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${group}/v1`,
    resources,
  });
  if (group === 'authentication.k8s.io') {
    return list([resource('tokenreviews', 'tokenreview', 'TokenReview', false, ['create'])]);
  }
  if (group === 'events.k8s.io') {
    return list([
      {
        ...resource('events', 'event', 'Event', true, ['get', 'list', 'watch']),
        shortNames: ['ev'],
        storageVersionHash: 'r2yiGXH7wu8=',
      },
    ]);
  }
  if (group === 'authorization.k8s.io') {
    return list([
      resource('selfsubjectaccessreviews', 'selfsubjectaccessreview', 'SelfSubjectAccessReview', false, [
        'create',
      ]),
      resource('subjectaccessreviews', 'subjectaccessreview', 'SubjectAccessReview', false, ['create']),
    ]);
  }
  return undefined;
}

/** `/api/v1`: what is served of the core group. */
export function coreResources() {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'v1',
    resources: [
      {
        ...resource('configmaps', 'configmap', 'ConfigMap', true, ['get', 'list', 'watch']),
        shortNames: ['cm'],
        storageVersionHash: 'qFsyl6wFWjQ=',
      },
      {
        ...resource('events', 'event', 'Event', true, ['get', 'list', 'watch']),
        shortNames: ['ev'],
        storageVersionHash: 'r2yiGXH7wu8=',
      },
      {
        ...resource('namespaces', 'namespace', 'Namespace', false, ['get', 'list', 'watch']),
        shortNames: ['ns'],
        storageVersionHash: 'Q3oi5N2YM8M=',
      },
      {
        ...resource('nodes', 'node', 'Node', false, ['get', 'list', 'watch']),
        shortNames: ['no'],
        storageVersionHash: 'XwShjMxG9Fs=',
      },
      resource('nodes/proxy', '', 'NodeProxyOptions', false, ['create', 'delete', 'get', 'patch', 'update']),
      {
        ...resource('pods', 'pod', 'Pod', true, ['get', 'list', 'watch']),
        shortNames: ['po'],
        categories: ['all'],
        storageVersionHash: 'xPOwRZ+Yhw8=',
      },
    ],
  };
}
