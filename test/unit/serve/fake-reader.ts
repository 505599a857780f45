/**
 * An in-memory MetricsReader (the narrow interface the serve app reads through) with a small cluster
 * written by hand: its items are literal JSON, as the scraper would have pre-rendered them, so every
 * expected body below is those literals concatenated.
 */

import type { Hono } from 'hono';
import { createApp } from '../../../functions/serve/app.ts';
import { createLogger } from '../../../shared/log.ts';
import type { MetricsVersion } from '../../../shared/metrics-api.ts';
import type { StoredEntry } from '../../../shared/store/entry.ts';
import type { MetricsReader, NamespacePods } from '../../../shared/store/reader.ts';
import { StoreUnavailableError } from '../../../shared/store/redis.ts';

export const NODE_A =
  '{"metadata":{"name":"node-a","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"kubernetes.io/hostname":"node-a","pool":"blue"}},' +
  '"timestamp":"2025-10-14T05:50:41Z","window":"20.114s","usage":{"cpu":"272335371n","memory":"4470464Ki"}}';
export const NODE_C =
  '{"metadata":{"name":"node-c","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"pool":"green"}},' +
  '"timestamp":"2025-10-14T05:50:45Z","window":"15s","usage":{"cpu":"1","memory":"2Gi"}}';
/** The reference's PodMetrics example (§1.4). */
export const NGINX =
  '{"metadata":{"name":"nginx","namespace":"default","creationTimestamp":"2023-07-18T14:30:20Z","labels":{"run":"nginx"}},' +
  '"timestamp":"2023-07-18T14:30:13Z","window":"26.279434112s",' +
  '"containers":[{"name":"nginx","usage":{"cpu":"1267873n","memory":"3136Ki"}}]}';
/** Two containers: 5m + 250u CPU, 10Mi + 1234567 bytes. */
export const WEB_1 =
  '{"metadata":{"name":"web-1","namespace":"default","creationTimestamp":"2023-07-18T14:30:20Z","labels":{"app":"web","tier":"front"}},' +
  '"timestamp":"2023-07-18T14:30:10Z","window":"15s",' +
  '"containers":[{"name":"app","usage":{"cpu":"5m","memory":"10Mi"}},{"name":"sidecar","usage":{"cpu":"250u","memory":"1234567"}}]}';
export const COREDNS =
  '{"metadata":{"name":"coredns","namespace":"kube-system","creationTimestamp":"2023-07-18T14:30:20Z","labels":{"k8s-app":"kube-dns"}},' +
  '"timestamp":"2023-07-18T14:30:11Z","window":"15s",' +
  '"containers":[{"name":"coredns","usage":{"cpu":"2m","memory":"12Mi"}}]}';
export const WEB_2 =
  '{"metadata":{"name":"web-2","namespace":"team-b","creationTimestamp":"2023-07-18T14:30:20Z","labels":{"app":"web","tier":"back"}},' +
  '"timestamp":"2023-07-18T14:30:12Z","window":"15s",' +
  '"containers":[{"name":"app","usage":{"cpu":"7m","memory":"20Mi"}}]}';

export function entry(name: string, item: string, labels: Record<string, string> = {}): StoredEntry {
  return { name, expiresAt: Number.MAX_SAFE_INTEGER, timestamp: 1, labels: JSON.stringify(labels), item };
}

/** Nodes by name: node-b is listed but has no servable metrics yet. */
export const NODES: StoredEntry[] = [
  entry('node-a', NODE_A, { 'kubernetes.io/hostname': 'node-a', pool: 'blue' }),
  entry('node-b', '', { pool: 'blue' }),
  entry('node-c', NODE_C, { pool: 'green' }),
];

/** Running pods by namespace (sorted), each sorted by name; `warming` is Running without metrics. */
export const PODS: NamespacePods[] = [
  {
    namespace: 'default',
    entries: [
      entry('nginx', NGINX, { run: 'nginx' }),
      entry('warming', '', { app: 'web', tier: 'front' }),
      entry('web-1', WEB_1, { app: 'web', tier: 'front' }),
    ],
  },
  { namespace: 'kube-system', entries: [entry('coredns', COREDNS, { 'k8s-app': 'kube-dns' })] },
  { namespace: 'team-b', entries: [entry('web-2', WEB_2, { app: 'web', tier: 'back' })] },
];

export class FakeReader implements MetricsReader {
  nodeEntries: StoredEntry[];
  namespaces: NamespacePods[];
  /** When set, every call fails as the Redis store does when Redis is down. */
  down = false;
  /** When set, the all-pods stream fails after yielding this many namespaces. */
  failAllPodsAfter: number | null = null;
  /** When set, calls throw this (a bug, not an outage). */
  broken: Error | null = null;
  calls: string[] = [];
  pings = 0;
  /** Namespaces handed out by allPods() so far (to see how far the stream ran ahead of its reader). */
  yielded = 0;

  constructor(nodes = NODES, pods = PODS) {
    this.nodeEntries = nodes;
    this.namespaces = pods;
  }

  #enter(call: string): void {
    this.calls.push(call);
    if (this.broken) throw this.broken;
    if (this.down) throw new StoreUnavailableError(new Error('connect ECONNREFUSED 127.0.0.1:6399'));
  }

  async node(name: string) {
    this.#enter(`node ${name}`);
    return this.nodeEntries.find((e) => e.name === name) ?? null;
  }
  async nodes() {
    this.#enter('nodes');
    return this.nodeEntries;
  }
  async pod(namespace: string, name: string) {
    this.#enter(`pod ${namespace}/${name}`);
    return (
      this.namespaces.find((n) => n.namespace === namespace)?.entries.find((e) => e.name === name) ?? null
    );
  }
  async namespacePods(namespace: string) {
    this.#enter(`namespacePods ${namespace}`);
    return this.namespaces.find((n) => n.namespace === namespace)?.entries ?? [];
  }
  async *allPods(): AsyncIterable<NamespacePods> {
    this.#enter('allPods');
    for (const [i, n] of this.namespaces.entries()) {
      if (this.failAllPodsAfter !== null && i >= this.failAllPodsAfter) {
        throw new StoreUnavailableError(new Error('Connection is closed.'));
      }
      this.yielded++;
      yield n;
    }
  }
  async ping() {
    this.pings++;
    this.#enter('ping');
  }
}

export const quietLog = () => createLogger({ write: () => {} });

export function appWith(
  reader = new FakeReader(),
  extra: { shuttingDown?: () => boolean } = {},
): {
  app: Hono;
  reader: FakeReader;
} {
  return { app: createApp({ reader, log: quietLog(), ...extra }), reader };
}

/** One served version of metrics.k8s.io, and the documents it answers with. */
export interface ApiVersion {
  version: MetricsVersion;
  /** `metrics.k8s.io/<version>` */
  groupVersion: string;
  /** `/apis/metrics.k8s.io/<version>` */
  base: string;
  nodeList(...items: string[]): string;
  podList(...items: string[]): string;
  /** A GET's body: the stored item with kind and apiVersion in front. */
  object(kind: 'NodeMetrics' | 'PodMetrics', item: string): string;
}

function apiVersion(version: MetricsVersion): ApiVersion {
  const gv = `metrics.k8s.io/${version}`;
  const list = (kind: string, items: string[]) =>
    `{"kind":"${kind}List","apiVersion":"${gv}","metadata":{},"items":[${items.join(',')}]}`;
  return {
    version,
    groupVersion: gv,
    base: `/apis/${gv}`,
    nodeList: (...items) => list('NodeMetrics', items),
    podList: (...items) => list('PodMetrics', items),
    object: (kind, item) => `{"kind":"${kind}","apiVersion":"${gv}",${item.slice(1)}`,
  };
}

/** Every served version: each route, selector and error holds under each (v1 and v1beta1 are the same objects). */
export const API_VERSIONS: readonly ApiVersion[] = [apiVersion('v1beta1'), apiVersion('v1')];

const V1BETA1_API = API_VERSIONS[0]!;
export const V1BETA1 = V1BETA1_API.base;
export const nodeList = V1BETA1_API.nodeList;
export const podList = V1BETA1_API.podList;
