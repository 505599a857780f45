/**
 * The documents that do not depend on data: API discovery (byte for byte what metrics-server serves,
 * since the aggregator and kubectl read it), the index of paths and /version. Discovery never touches
 * Redis: the aggregator gives the backend 5 s to answer it, even on a cold start.
 */
import {
  GROUP,
  groupVersion,
  type MetricsVersion,
  PREFERRED_VERSION,
  VERSIONS,
} from '../../shared/metrics-api.ts';

const discoveryVersion = (v: MetricsVersion) => `{"groupVersion":"${groupVersion(v)}","version":"${v}"}`;
// Versions in order of preference, as the generic apiserver lists a group's (v1 before v1beta1).
const API_GROUP_BODY = `"name":"${GROUP}","versions":[${VERSIONS.map(discoveryVersion).join(',')}],"preferredVersion":${discoveryVersion(PREFERRED_VERSION)}`;

/** `/apis/metrics.k8s.io/<version>`: the same resources in every version. */
export function apiResourceList(version: MetricsVersion): string {
  return (
    `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"${groupVersion(version)}","resources":[` +
    '{"name":"nodes","singularName":"","namespaced":false,"kind":"NodeMetrics","verbs":["get","list"]},' +
    '{"name":"pods","singularName":"","namespaced":true,"kind":"PodMetrics","verbs":["get","list"]}]}'
  );
}

/** `/apis/metrics.k8s.io` */
export const API_GROUP = `{"kind":"APIGroup","apiVersion":"v1",${API_GROUP_BODY}}`;

/** `/apis` */
export const API_GROUP_LIST = `{"kind":"APIGroupList","apiVersion":"v1","groups":[{${API_GROUP_BODY}}]}`;

/**
 * `/`: the listed paths, sorted, as the generic apiserver's index writes them (indented JSON, like every
 * non-API object it writes with WriteRawJSON).
 */
export function indexDocument(paths: readonly string[]): string {
  return JSON.stringify({ paths: [...paths].sort() }, null, 2);
}

/** `/version`: k8s.io/apimachinery `version.Info`. */
export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

/** A version.Info for a semantic version such as `0.1.0`; the runtime fields describe JavaScript. */
export function versionInfo(version: string, runtime = 'unknown', platform = 'unknown'): VersionInfo {
  const [major = '', minor = ''] = version.split('.');
  return {
    major,
    minor,
    gitVersion: `v${version}`,
    gitCommit: '',
    gitTreeState: '',
    buildDate: '',
    goVersion: runtime,
    compiler: 'javascript',
    platform,
  };
}

export function versionDocument(v: VersionInfo): string {
  return JSON.stringify(v, null, 2);
}
