/**
 * The development API server's state: the model's objects and the event store as served resources,
 * one history of their changes, and the recorder that turns changes into Events.
 *
 * The model reaches the history through one place (`connectModel`): before a Pod or Node changes in
 * place or goes, the model's `onBeforeChange` lets its current version be frozen; after, `onChange`
 * says what happened and the change is recorded with the object before and after. Anything that
 * changes the model through its methods (and tells those two listeners) therefore reaches every
 * watcher as ADDED, MODIFIED or DELETED, and every list at an older resourceVersion.
 */
import { EventStore } from './events.ts';
import { type Change, History } from './history.ts';
import { createSources, type Kind, type Sources } from './kinds.ts';
import type { BeforeChange, ClusterEvent, SimCluster } from './model.ts';
import { extensionApiserverAuthentication, type SimConfigMap } from './objects.ts';
import { EventRecorder } from './recorder.ts';

export interface ApiStateOptions {
  /** Event TTL (kube-apiserver's `--event-ttl`); default 1 h. */
  eventTtlMs?: number;
  /** How long changes are kept for watches and continue tokens; default 5 min. */
  historyWindowMs?: number;
  /** At most this many changes per resource; default 102,400. */
  historyMaxPerResource?: number;
  /** Record the kubelets' and kube-proxies' start-up events now (default true). */
  nodeStartupEvents?: boolean;
  /** The extension-apiserver-authentication ConfigMap's CAs. */
  clientCaPem: string;
  requestHeaderCaPem: string;
  configMapUid: string;
}

export interface ApiState {
  cluster: SimCluster;
  history: History;
  events: EventStore;
  recorder: EventRecorder;
  sources: Sources;
  configMap: SimConfigMap;
  close(): void;
}

export function createApiState(cluster: SimCluster, opts: ApiStateOptions): ApiState {
  const history = new History({
    currentRv: () => cluster.resourceVersion,
    now: cluster.now,
    ...(opts.historyWindowMs === undefined ? {} : { windowMs: opts.historyWindowMs }),
    ...(opts.historyMaxPerResource === undefined ? {} : { maxPerResource: opts.historyMaxPerResource }),
  });
  const events = new EventStore({
    history,
    nextResourceVersion: () => ++cluster.resourceVersion,
    now: cluster.now,
    seed: cluster.seed,
    ...(opts.eventTtlMs === undefined ? {} : { ttlMs: opts.eventTtlMs }),
  });
  const configMap = extensionApiserverAuthentication({
    clientCaPem: opts.clientCaPem,
    requestHeaderCaPem: opts.requestHeaderCaPem,
    createdAtMs: cluster.startMs - 40 * 86_400_000,
    uid: opts.configMapUid,
    resourceVersion: 42,
  });
  const sources = createSources(cluster, events, configMap);
  const disconnect = connectModel(cluster, history, sources);
  const recorder = new EventRecorder({ cluster, history, events });
  if (opts.nodeStartupEvents !== false) recorder.nodesStarted();
  return {
    cluster,
    history,
    events,
    recorder,
    sources,
    configMap,
    close() {
      recorder.close();
      disconnect();
      events.close();
    },
  };
}

/** Records every model change in the history, with the object before and after it. */
export function connectModel(cluster: SimCluster, history: History, sources: Sources): () => void {
  /** The frozen version of each object about to change, until its change arrives. */
  const before = new Map<string, unknown>();
  const offBefore = cluster.onBeforeChange((b: BeforeChange) => {
    if (b.kind === 'Pod') {
      const k = sources.pods.kind;
      before.set(`pods ${k.key(b.pod)}`, k.freeze(b.pod, b.pod.resourceVersion));
    } else {
      const k = sources.nodes.kind;
      before.set(`nodes ${k.key(b.node)}`, k.freeze(b.node, b.node.resourceVersion));
    }
  });
  const record = <T extends object>(
    kind: Kind<T>,
    type: Change['type'],
    key: string,
    current: T | undefined,
  ) => {
    const id = `${kind.resource} ${key}`;
    const prev = before.get(id) as T | undefined;
    before.delete(id);
    if (type !== 'ADDED' && prev === undefined) {
      throw new Error(
        `the simulated cluster changed ${kind.resource} "${key}" (${type}) without telling onBeforeChange first`,
      );
    }
    if (type === 'DELETED') {
      const rv = cluster.resourceVersion;
      history.record(kind.resource, { type, rv, key, object: kind.freeze(prev!, rv), prev });
      return;
    }
    if (!current)
      throw new Error(
        `the simulated cluster reported ${type} of ${kind.resource} "${key}", which it has not`,
      );
    const rv = kind.version(current);
    history.record(kind.resource, { type, rv, key, object: kind.freeze(current, rv), prev });
  };
  const offChange = cluster.onChange((e: ClusterEvent) => {
    switch (e.kind) {
      case 'Pod': {
        const key = `${e.namespace}/${e.name}`;
        record(sources.pods.kind, e.type, key, cluster.podByKey(key));
        break;
      }
      case 'Node':
        if (e.type !== 'FAULT') record(sources.nodes.kind, e.type, e.name, cluster.node(e.name));
        break;
      case 'Namespace':
        record(sources.namespaces.kind, e.type, e.name, cluster.namespace(e.name));
        break;
    }
  });
  return () => {
    offBefore();
    offChange();
  };
}
