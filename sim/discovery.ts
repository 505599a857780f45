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

function groupVersion(name: string, version: string) {
  return {
    name,
    versions: [{ groupVersion: `${name}/${version}`, version }],
    preferredVersion: { groupVersion: `${name}/${version}`, version },
  };
}

/** The groups of /apis; metrics.k8s.io while an APIService is registered, reachable or not (as the aggregator lists it). */
export function apiGroups(metricsRegistered: boolean) {
  const groups = [
    groupVersion('authentication.k8s.io', 'v1'),
    groupVersion('authorization.k8s.io', 'v1'),
    groupVersion('events.k8s.io', 'v1'),
  ];
  if (metricsRegistered) groups.push(groupVersion(METRICS_GROUP, 'v1beta1'));
  return groups;
}

export function apiGroupList(metricsRegistered: boolean) {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups(metricsRegistered) };
}

export function apiGroup(name: string, metricsRegistered: boolean) {
  const group = apiGroups(metricsRegistered).find((g) => g.name === name);
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
