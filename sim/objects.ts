/**
 * The Kubernetes API objects (core/v1 JSON) of the simulated cluster: Node, Pod, Namespace, Event and
 * the extension-apiserver-authentication ConfigMap, as kube-apiserver 1.32 would return them, plus their
 * metadata-only form (PartialObjectMetadata) and the fields their field selectors read.
 */
import type { ObjectReference, SimEvent } from './events.ts';
import type { OwnerKind, SimContainer, SimNamespace, SimNode, SimPod } from './model.ts';

/** metav1.Time: whole seconds. */
export function rfc3339(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** metav1.MicroTime: always six fractional digits (`2006-01-02T15:04:05.000000Z`). */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.floor((ms - whole) * 1000 + 1e-6);
  return `${new Date(whole).toISOString().slice(0, 23)}${String(Math.min(999, micros)).padStart(3, '0')}Z`;
}

type Json = Record<string, unknown>;

const OWNER_API_VERSION: Record<OwnerKind, string> = {
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  Job: 'batch/v1',
  Node: 'v1',
};

export function nodeMetadata(n: SimNode): Json {
  return {
    name: n.name,
    uid: n.uid,
    resourceVersion: String(n.resourceVersion),
    creationTimestamp: rfc3339(n.createdAtMs),
    labels: n.labels,
    annotations: n.annotations,
  };
}

/** `heartbeatMs`: when the node last reported (the conditions' lastHeartbeatTime). */
export function nodeObject(n: SimNode, heartbeatMs: number): Json {
  const heartbeat = rfc3339(heartbeatMs);
  const since = rfc3339(n.createdAtMs + 15_000);
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: heartbeat,
    lastTransitionTime: since,
    reason,
    message,
  });
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: nodeMetadata(n),
    spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR], providerID: `sim://${n.name}` },
    status: {
      capacity: n.capacity,
      allocatable: n.allocatable,
      conditions: [
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'kubelet has sufficient memory available',
        ),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: n.internalIP },
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: n.kubeletPort } },
      nodeInfo: {
        machineID: n.machineID,
        systemUUID: n.uid,
        bootID: n.bootID,
        kernelVersion: n.kernelVersion,
        osImage: n.osImage,
        containerRuntimeVersion: n.containerRuntimeVersion,
        kubeletVersion: n.kubeletVersion,
        kubeProxyVersion: n.kubeletVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

export function podMetadata(p: SimPod): Json {
  const m: Json = { name: p.name };
  if (p.owner && p.owner.kind !== 'Node') m.generateName = p.name.slice(0, p.name.lastIndexOf('-') + 1);
  m.namespace = p.namespace;
  m.uid = p.uid;
  m.resourceVersion = String(p.resourceVersion);
  m.creationTimestamp = rfc3339(p.createdAtMs);
  if (Object.keys(p.labels).length > 0) m.labels = p.labels;
  if (Object.keys(p.annotations).length > 0) m.annotations = p.annotations;
  if (p.owner) {
    m.ownerReferences = [
      {
        apiVersion: OWNER_API_VERSION[p.owner.kind],
        kind: p.owner.kind,
        name: p.owner.name,
        uid: p.owner.uid,
        controller: true,
        ...(p.owner.kind === 'Node' ? {} : { blockOwnerDeletion: true }),
      },
    ];
  }
  return m;
}

function qosClass(p: SimPod): string {
  const all = p.containers;
  if (all.every((c) => !c.requests.cpu && !c.requests.memory && !c.limits.cpu && !c.limits.memory))
    return 'BestEffort';
  const guaranteed = all.every(
    (c) =>
      c.limits.cpu !== undefined &&
      c.limits.memory !== undefined &&
      (c.requests.cpu ?? c.limits.cpu) === c.limits.cpu &&
      (c.requests.memory ?? c.limits.memory) === c.limits.memory,
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function resources(c: SimContainer): Json {
  const r: Json = {};
  if (Object.keys(c.limits).length > 0) r.limits = c.limits;
  if (Object.keys(c.requests).length > 0) r.requests = c.requests;
  return r;
}

/** The container's state in `status.containerStatuses`, and whether it is ready. */
export function containerState(p: SimPod, c: SimContainer): { state: Json; ready: boolean } {
  if (c.startedAtMs === undefined)
    return { state: { waiting: { reason: 'ContainerCreating' } }, ready: false };
  if (c.finishedAtMs !== undefined) {
    const failed = p.phase === 'Failed';
    return {
      state: {
        terminated: {
          exitCode: failed ? 1 : 0,
          reason: failed ? 'Error' : 'Completed',
          startedAt: rfc3339(c.startedAtMs),
          finishedAt: rfc3339(c.finishedAtMs),
          containerID: containerId(p, c),
        },
      },
      ready: false,
    };
  }
  return { state: { running: { startedAt: rfc3339(c.startedAtMs) } }, ready: p.readyAtMs !== undefined };
}

function containerId(p: SimPod, c: SimContainer): string {
  const seed = `${p.uid}${c.name}${c.restartCount}`;
  let h = '';
  for (let i = 0; h.length < 64; i++)
    h += ((seed.charCodeAt(i % seed.length) * 2654435761 + i * 40503) >>> 0).toString(16);
  return `containerd://${h.slice(0, 64)}`;
}

export function podObject(p: SimPod, node: SimNode | undefined): Json {
  const volume = `kube-api-access-${p.uid.slice(0, 5)}`;
  const spec: Json = {
    volumes: [
      {
        name: volume,
        projected: {
          sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          defaultMode: 420,
        },
      },
    ],
    containers: p.containers.map((c) => ({
      name: c.name,
      image: c.image,
      resources: resources(c),
      volumeMounts: [
        { name: volume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
      ],
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
    })),
    restartPolicy: p.restartPolicy,
    terminationGracePeriodSeconds: 30,
    dnsPolicy: p.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    serviceAccountName: p.serviceAccountName,
    serviceAccount: p.serviceAccountName,
  };
  if (p.nodeName !== undefined) spec.nodeName = p.nodeName;
  if (p.hostNetwork) spec.hostNetwork = true;
  spec.securityContext = {};
  spec.schedulerName = 'default-scheduler';
  spec.tolerations = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    {
      key: 'node.kubernetes.io/unreachable',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 300,
    },
  ];
  if (p.priorityClassName) {
    spec.priorityClassName = p.priorityClassName;
    spec.priority = p.priorityClassName === 'system-node-critical' ? 2000001000 : 2000000000;
  } else {
    spec.priority = 0;
  }
  spec.enableServiceLinks = true;
  spec.preemptionPolicy = 'PreemptLowerPriority';

  const scheduledAt = rfc3339(p.createdAtMs);
  const states = p.containers.map((c) => containerState(p, c));
  const allReady = p.phase === 'Running' && states.every((s) => s.ready);
  const readyTime = rfc3339(p.readyAtMs ?? p.createdAtMs);
  const started = p.startTimeMs !== undefined;
  const condition = (type: string, status: boolean, at: string, reason?: string) => ({
    type,
    status: status ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: at,
    ...(reason ? { reason } : {}),
  });
  const conditions =
    p.nodeName === undefined
      ? [condition('PodScheduled', false, scheduledAt, 'Unschedulable')]
      : [
          condition(
            'PodReadyToStartContainers',
            started && p.phase === 'Running',
            rfc3339(p.startTimeMs ?? p.createdAtMs),
          ),
          condition('Initialized', true, scheduledAt),
          condition(
            'Ready',
            allReady,
            readyTime,
            allReady ? undefined : p.phase === 'Succeeded' ? 'PodCompleted' : 'ContainersNotReady',
          ),
          condition(
            'ContainersReady',
            allReady,
            readyTime,
            allReady ? undefined : p.phase === 'Succeeded' ? 'PodCompleted' : 'ContainersNotReady',
          ),
          condition('PodScheduled', true, scheduledAt),
        ];
  const status: Json = { phase: p.phase, conditions };
  if (node) {
    status.hostIP = node.internalIP;
    status.hostIPs = [{ ip: node.internalIP }];
  }
  if (p.podIP !== undefined && p.phase !== 'Pending') {
    status.podIP = p.podIP;
    status.podIPs = [{ ip: p.podIP }];
  }
  if (p.startTimeMs !== undefined) status.startTime = rfc3339(p.startTimeMs);
  status.containerStatuses = p.containers.map((c, i) => {
    const { state, ready } = states[i]!;
    const s: Json = { name: c.name, state };
    s.lastState =
      c.lastTerminatedAtMs === undefined
        ? {}
        : {
            terminated: {
              exitCode: 137,
              reason: 'Error',
              startedAt: rfc3339(p.startTimeMs ?? p.createdAtMs),
              finishedAt: rfc3339(c.lastTerminatedAtMs),
            },
          };
    s.ready = ready;
    s.restartCount = c.restartCount;
    s.image = c.image;
    s.imageID = `${c.image.split(':')[0]}@sha256:${containerId(p, c).slice(13, 77)}`;
    if (c.startedAtMs !== undefined) s.containerID = containerId(p, c);
    s.started = c.startedAtMs !== undefined && c.finishedAtMs === undefined;
    return s;
  });
  status.qosClass = qosClass(p);
  return { kind: 'Pod', apiVersion: 'v1', metadata: podMetadata(p), spec, status };
}

/** The value of a field a pods field selector may name (core/v1 `PodToSelectableFields`). */
export function podField(p: SimPod, field: string): string | undefined {
  switch (field) {
    case 'metadata.name':
      return p.name;
    case 'metadata.namespace':
      return p.namespace;
    case 'spec.nodeName':
      return p.nodeName ?? '';
    case 'spec.restartPolicy':
      return p.restartPolicy;
    case 'spec.schedulerName':
      return 'default-scheduler';
    case 'spec.serviceAccountName':
      return p.serviceAccountName;
    case 'spec.hostNetwork':
      return String(p.hostNetwork);
    case 'status.phase':
      return p.phase;
    case 'status.podIP':
    case 'status.podIPs':
      return p.phase === 'Pending' ? '' : (p.podIP ?? '');
    case 'status.nominatedNodeName':
      return '';
    default:
      return undefined;
  }
}

export const POD_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'spec.hostNetwork',
  'status.phase',
  'status.podIP',
  'status.podIPs',
  'status.nominatedNodeName',
];

export const NODE_FIELDS = ['metadata.name', 'spec.unschedulable'];
export const NAMESPACE_FIELDS = ['metadata.name', 'status.phase'];
export const CONFIGMAP_FIELDS = ['metadata.name', 'metadata.namespace'];

export function nodeField(n: SimNode, field: string): string | undefined {
  if (field === 'metadata.name') return n.name;
  if (field === 'spec.unschedulable') return 'false';
  return undefined;
}

export function namespaceMetadata(ns: SimNamespace): Json {
  return {
    name: ns.name,
    uid: ns.uid,
    resourceVersion: String(ns.resourceVersion),
    creationTimestamp: rfc3339(ns.createdAtMs),
    labels: ns.labels,
  };
}

export function namespaceObject(ns: SimNamespace): Json {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: namespaceMetadata(ns),
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function namespaceField(ns: SimNamespace, field: string): string | undefined {
  if (field === 'metadata.name') return ns.name;
  if (field === 'status.phase') return 'Active';
  return undefined;
}

export interface SimConfigMap {
  namespace: string;
  name: string;
  uid: string;
  createdAtMs: number;
  resourceVersion: number;
  data: Record<string, string>;
}

export function configMapMetadata(cm: SimConfigMap): Json {
  return {
    name: cm.name,
    namespace: cm.namespace,
    uid: cm.uid,
    resourceVersion: String(cm.resourceVersion),
    creationTimestamp: rfc3339(cm.createdAtMs),
  };
}

export function configMapObject(cm: SimConfigMap): Json {
  return { kind: 'ConfigMap', apiVersion: 'v1', metadata: configMapMetadata(cm), data: cm.data };
}

/**
 * `kube-system/extension-apiserver-authentication`, as kube-apiserver publishes it for aggregated API
 * servers: the client CA, the front-proxy (request header) CA, and the header names as JSON arrays.
 */
export function extensionApiserverAuthentication(opts: {
  clientCaPem: string;
  requestHeaderCaPem: string;
  createdAtMs: number;
  uid: string;
  resourceVersion: number;
}): SimConfigMap {
  return {
    namespace: 'kube-system',
    name: 'extension-apiserver-authentication',
    uid: opts.uid,
    createdAtMs: opts.createdAtMs,
    resourceVersion: opts.resourceVersion,
    data: {
      'client-ca-file': opts.clientCaPem,
      'requestheader-allowed-names': '["front-proxy-client"]',
      'requestheader-client-ca-file': opts.requestHeaderCaPem,
      'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      'requestheader-group-headers': '["X-Remote-Group"]',
      'requestheader-uid-headers': '[]',
      'requestheader-username-headers': '["X-Remote-User"]',
    },
  };
}

function objectReference(r: Readonly<ObjectReference>): Json {
  // ObjectReference's field order; every field is omitempty.
  const o: Json = { kind: r.kind };
  if (r.namespace) o.namespace = r.namespace;
  o.name = r.name;
  if (r.uid) o.uid = r.uid;
  if (r.apiVersion) o.apiVersion = r.apiVersion;
  if (r.resourceVersion) o.resourceVersion = r.resourceVersion;
  if (r.fieldPath) o.fieldPath = r.fieldPath;
  return o;
}

/** What only old-style events fill in: the source, first and last seen (null when unset, as Go writes a zero Time). */
function oldStyleParts(e: SimEvent): { source: Json; first: string | null; last: string | null } {
  const source: Json = {};
  if (e.source.component) source.component = e.source.component;
  if (e.source.host) source.host = e.source.host;
  return {
    source,
    first: e.firstTimestampMs === undefined ? null : rfc3339(e.firstTimestampMs),
    last: e.lastTimestampMs === undefined ? null : rfc3339(e.lastTimestampMs),
  };
}

export function eventMetadata(e: SimEvent): Json {
  return {
    name: e.name,
    namespace: e.namespace,
    uid: e.uid,
    resourceVersion: String(e.resourceVersion),
    creationTimestamp: rfc3339(e.createdAtMs),
  };
}

/**
 * A core/v1 Event in Go's field order: zero times are null (metav1.Time's JSON), `count` and `series`
 * are left out when unset, `reportingComponent`/`reportingInstance` are always there.
 */
export function eventObject(e: SimEvent): Json {
  const o: Json = {
    kind: 'Event',
    apiVersion: 'v1',
    metadata: eventMetadata(e),
    involvedObject: objectReference(e.involvedObject),
  };
  if (e.reason) o.reason = e.reason;
  if (e.message) o.message = e.message;
  const old = oldStyleParts(e);
  o.source = old.source;
  o.firstTimestamp = old.first;
  o.lastTimestamp = old.last;
  if (e.count) o.count = e.count;
  o.type = e.type;
  o.eventTime = e.eventTimeMs === undefined ? null : microTime(e.eventTimeMs);
  if (e.series)
    o.series = { count: e.series.count, lastObservedTime: microTime(e.series.lastObservedTimeMs) };
  if (e.action) o.action = e.action;
  if (e.related) o.related = objectReference(e.related);
  o.reportingComponent = e.reportingController;
  o.reportingInstance = e.reportingInstance;
  return o;
}

/** core/v1 Event's selectable fields (pkg/registry/core/event: ToSelectableFields). */
export const EVENT_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
];

export function eventField(e: SimEvent, field: string): string | undefined {
  const o = e.involvedObject;
  switch (field) {
    case 'metadata.name':
      return e.name;
    case 'metadata.namespace':
      return e.namespace;
    case 'involvedObject.kind':
      return o.kind;
    case 'involvedObject.namespace':
      return o.namespace ?? '';
    case 'involvedObject.name':
      return o.name;
    case 'involvedObject.uid':
      return o.uid ?? '';
    case 'involvedObject.apiVersion':
      return o.apiVersion ?? '';
    case 'involvedObject.resourceVersion':
      return o.resourceVersion ?? '';
    case 'involvedObject.fieldPath':
      return o.fieldPath ?? '';
    case 'reason':
      return e.reason;
    case 'reportingComponent':
      return e.reportingController;
    case 'source':
      return e.source.component || e.reportingController;
    case 'type':
      return e.type;
    default:
      return undefined;
  }
}

/**
 * The same Event as events.k8s.io/v1 writes it (Go's field order): `regarding` and `note` for
 * involvedObject and message, the old-style fields under `deprecated…` names.
 */
export function eventsV1Object(e: SimEvent): Json {
  const o: Json = {
    kind: 'Event',
    apiVersion: 'events.k8s.io/v1',
    metadata: eventMetadata(e),
    eventTime: e.eventTimeMs === undefined ? null : microTime(e.eventTimeMs),
  };
  if (e.series)
    o.series = { count: e.series.count, lastObservedTime: microTime(e.series.lastObservedTimeMs) };
  if (e.reportingController) o.reportingController = e.reportingController;
  if (e.reportingInstance) o.reportingInstance = e.reportingInstance;
  if (e.action) o.action = e.action;
  if (e.reason) o.reason = e.reason;
  o.regarding = objectReference(e.involvedObject);
  if (e.related) o.related = objectReference(e.related);
  if (e.message) o.note = e.message;
  o.type = e.type;
  const old = oldStyleParts(e);
  o.deprecatedSource = old.source;
  o.deprecatedFirstTimestamp = old.first;
  o.deprecatedLastTimestamp = old.last;
  if (e.count) o.deprecatedCount = e.count;
  return o;
}

/** events.k8s.io/v1's selectable fields: `regarding.*` for involvedObject, `reportingController`. */
export const EVENTS_V1_FIELDS = EVENT_FIELDS.map((f) =>
  f === 'reportingComponent' ? 'reportingController' : f.replace(/^involvedObject\./, 'regarding.'),
);

export function eventsV1Field(e: SimEvent, field: string): string | undefined {
  if (field === 'reportingController') return eventField(e, 'reportingComponent');
  if (field.startsWith('regarding.'))
    return eventField(e, `involvedObject.${field.slice('regarding.'.length)}`);
  return field.startsWith('involvedObject.') || field === 'reportingComponent'
    ? undefined
    : eventField(e, field);
}
