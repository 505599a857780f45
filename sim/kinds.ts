/**
 * The resources the development API server serves, each described once for get, list and watch: its
 * key, selectable fields and labels, its JSON and table forms, how to freeze a version of it (what the
 * history keeps), and where its current objects are (the model's pods, nodes and namespaces, the event
 * store's events, the one ConfigMap).
 */
import type { FieldSelector } from '../shared/selectors/index.ts';
import { EVENTS, type EventStore, type SimEvent } from './events.ts';
import type { SimCluster, SimNamespace, SimNode, SimPod } from './model.ts';
import {
  CONFIGMAP_FIELDS,
  configMapMetadata,
  configMapObject,
  EVENT_FIELDS,
  EVENTS_V1_FIELDS,
  eventField,
  eventMetadata,
  eventObject,
  eventsV1Field,
  eventsV1Object,
  NAMESPACE_FIELDS,
  NODE_FIELDS,
  namespaceField,
  namespaceMetadata,
  namespaceObject,
  nodeField,
  nodeMetadata,
  nodeObject,
  POD_FIELDS,
  podField,
  podMetadata,
  podObject,
  type SimConfigMap,
} from './objects.ts';
import { namespaceRange } from './sorted.ts';
import {
  CONFIGMAP_COLUMNS,
  type ColumnDefinition,
  configMapCells,
  EVENT_COLUMNS,
  eventCells,
  NAMESPACE_COLUMNS,
  NODE_COLUMNS,
  namespaceCells,
  nodeCells,
  POD_COLUMNS,
  podCells,
} from './tables.ts';

type Json = Record<string, unknown>;

/** What get, list and watch need to know about one kind of object. */
export interface Kind<T extends object> {
  /** The resource's name, also its history's (events.k8s.io's Events share core/v1's storage). */
  resource: string;
  /** The API group ('' for core) and the apiVersion objects are written in. */
  group: string;
  apiVersion: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** The fields its field selectors may name. */
  fields: readonly string[];
  field(o: T, f: string): string | undefined;
  labels(o: T): Record<string, string>;
  version(o: T): number;
  /** `namespace/name`, or `name`: its etcd key within the resource. */
  key(o: T): string;
  /** A copy that stays as it is now, carrying resourceVersion `rv` (identity for immutable objects). */
  freeze(o: T, rv: number): T;
  object(o: T): Json;
  metadata(o: T): Json;
  columns: ColumnDefinition[];
  cells(o: T, nowMs: number): unknown[];
}

/** The objects a list looks at: keys in order, and how to get each. */
export interface Candidates<T> {
  keys: readonly string[];
  get(key: string): T | undefined;
}

/** A served resource: its kind, and its current objects (narrowed by namespace or selector when cheap). */
export interface Source<T extends object> {
  kind: Kind<T>;
  candidates(namespace: string | undefined, fs: FieldSelector): Candidates<T>;
}

const nsKey = (namespace: string, name: string) => `${namespace}/${name}`;

export function createSources(cluster: SimCluster, events: EventStore, configMap: SimConfigMap) {
  const pods: Source<SimPod> = {
    kind: {
      resource: 'pods',
      group: '',
      apiVersion: 'v1',
      kind: 'Pod',
      listKind: 'PodList',
      namespaced: true,
      fields: POD_FIELDS,
      field: podField,
      labels: (p) => p.labels,
      version: (p) => p.resourceVersion,
      key: (p) => nsKey(p.namespace, p.name),
      // Pods change in place: their containers too (start times, restarts).
      freeze: (p, rv) => ({ ...p, containers: p.containers.map((c) => ({ ...c })), resourceVersion: rv }),
      object: (p) => podObject(p, p.nodeName === undefined ? undefined : cluster.node(p.nodeName)),
      metadata: podMetadata,
      columns: POD_COLUMNS,
      cells: podCells,
    },
    // Narrowed by namespace or node when the request pins one (the scraper's per-node lists).
    candidates(namespace, fs) {
      const get = (k: string) => cluster.podByKey(k);
      const onNode = fs.exactMatch('spec.nodeName');
      const ns = namespace ?? fs.exactMatch('metadata.namespace');
      if (onNode !== undefined) {
        const keys = cluster
          .podsOnNode(onNode)
          .filter((p) => ns === undefined || p.namespace === ns)
          .map((p) => nsKey(p.namespace, p.name));
        return { keys, get };
      }
      const all = cluster.sortedPodKeys();
      return { keys: ns === undefined ? all : namespaceRange(all, ns), get };
    },
  };
  const nodes: Source<SimNode> = {
    kind: {
      resource: 'nodes',
      group: '',
      apiVersion: 'v1',
      kind: 'Node',
      listKind: 'NodeList',
      namespaced: false,
      fields: NODE_FIELDS,
      field: nodeField,
      labels: (n) => n.labels,
      version: (n) => n.resourceVersion,
      key: (n) => n.name,
      freeze: (n, rv) => ({ ...n, resourceVersion: rv }),
      object: (n) => nodeObject(n, cluster.startMs),
      metadata: nodeMetadata,
      columns: NODE_COLUMNS,
      cells: nodeCells,
    },
    candidates: () => ({ keys: cluster.nodes().map((n) => n.name), get: (k) => cluster.node(k) }),
  };
  const namespaces: Source<SimNamespace> = {
    kind: {
      resource: 'namespaces',
      group: '',
      apiVersion: 'v1',
      kind: 'Namespace',
      listKind: 'NamespaceList',
      namespaced: false,
      fields: NAMESPACE_FIELDS,
      field: namespaceField,
      labels: (ns) => ns.labels,
      version: (ns) => ns.resourceVersion,
      key: (ns) => ns.name,
      freeze: (ns, rv) => ({ ...ns, resourceVersion: rv }),
      object: namespaceObject,
      metadata: namespaceMetadata,
      columns: NAMESPACE_COLUMNS,
      cells: namespaceCells,
    },
    candidates: () => ({
      keys: cluster.namespaces().map((n) => n.name),
      get: (k) => cluster.namespace(k),
    }),
  };
  const configMapKey = nsKey(configMap.namespace, configMap.name);
  const configMaps: Source<SimConfigMap> = {
    kind: {
      resource: 'configmaps',
      group: '',
      apiVersion: 'v1',
      kind: 'ConfigMap',
      listKind: 'ConfigMapList',
      namespaced: true,
      fields: CONFIGMAP_FIELDS,
      field: (cm, f) =>
        f === 'metadata.name' ? cm.name : f === 'metadata.namespace' ? cm.namespace : undefined,
      labels: () => ({}),
      version: (cm) => cm.resourceVersion,
      key: (cm) => nsKey(cm.namespace, cm.name),
      freeze: (cm, rv) => ({ ...cm, data: { ...cm.data }, resourceVersion: rv }),
      object: configMapObject,
      metadata: configMapMetadata,
      columns: CONFIGMAP_COLUMNS,
      cells: configMapCells,
    },
    candidates: (namespace) => ({
      keys: namespace === undefined || namespace === configMap.namespace ? [configMapKey] : [],
      get: () => configMap,
    }),
  };
  const eventSource: Source<SimEvent> = {
    kind: {
      resource: EVENTS,
      group: '',
      apiVersion: 'v1',
      kind: 'Event',
      listKind: 'EventList',
      namespaced: true,
      fields: EVENT_FIELDS,
      field: eventField,
      labels: () => ({}),
      version: (e) => e.resourceVersion,
      key: (e) => nsKey(e.namespace, e.name),
      freeze: (e, rv) => (e.resourceVersion === rv ? e : { ...e, resourceVersion: rv }),
      object: eventObject,
      metadata: eventMetadata,
      columns: EVENT_COLUMNS,
      cells: eventCells,
    },
    candidates(namespace, fs) {
      const all = events.sortedKeys();
      const ns = namespace ?? fs.exactMatch('metadata.namespace');
      return { keys: ns === undefined ? all : namespaceRange(all, ns), get: (k) => events.byKey(k) };
    },
  };
  // events.k8s.io/v1: the same stored events (and history) in that group's shape.
  const eventsV1: Source<SimEvent> = {
    kind: {
      ...eventSource.kind,
      group: 'events.k8s.io',
      apiVersion: 'events.k8s.io/v1',
      fields: EVENTS_V1_FIELDS,
      field: eventsV1Field,
      object: eventsV1Object,
    },
    candidates: eventSource.candidates,
  };
  return { pods, nodes, namespaces, configMaps, events: eventSource, eventsV1 };
}

export type Sources = ReturnType<typeof createSources>;
