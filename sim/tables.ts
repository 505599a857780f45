/**
 * Server-side printing (meta.k8s.io Table), as kube-apiserver's printers produce it for `kubectl get`:
 * the same columns, priorities and cell texts (pkg/printers/internalversion), and Go's
 * `duration.HumanDuration` for ages.
 */

import type { SimEvent } from './events.ts';
import type { SimNamespace, SimNode, SimPod } from './model.ts';
import type { SimConfigMap } from './objects.ts';
import { containerState } from './objects.ts';

export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const col = (name: string, description: string, priority = 0, format = ''): ColumnDefinition => ({
  name,
  type: 'string',
  format,
  description,
  priority,
});

const NAME = col('Name', 'Name must be unique within a namespace.', 0, 'name');
const AGE = col(
  'Age',
  'CreationTimestamp is a timestamp representing the server time when this object was created.',
);

export const NODE_COLUMNS: ColumnDefinition[] = [
  NAME,
  col('Status', 'The status of the node'),
  col('Roles', 'The roles of the node'),
  AGE,
  col('Version', 'Kubelet Version reported by the node.'),
  col(
    'Internal-IP',
    'List of addresses reachable to the node. Queried from cloud provider, if available.',
    1,
  ),
  col(
    'External-IP',
    'List of addresses reachable to the node. Queried from cloud provider, if available.',
    1,
  ),
  col(
    'OS-Image',
    'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).',
    1,
  ),
  col(
    'Kernel-Version',
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    1,
  ),
  col(
    'Container-Runtime',
    'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
    1,
  ),
];

export const POD_COLUMNS: ColumnDefinition[] = [
  NAME,
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'The aggregate status of the containers in this pod.'),
  col(
    'Restarts',
    'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
  ),
  AGE,
  col(
    'IP',
    'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
    1,
  ),
  col('Node', 'NodeName indicates in which node this pod is scheduled.', 1),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
];

export const NAMESPACE_COLUMNS: ColumnDefinition[] = [
  NAME,
  col('Status', 'The status of the namespace'),
  AGE,
];

export const CONFIGMAP_COLUMNS: ColumnDefinition[] = [
  NAME,
  {
    name: 'Data',
    type: 'integer',
    format: '',
    description: 'Data contains the configuration data.',
    priority: 0,
  },
  AGE,
];

/** The event printer's columns; the server sends all ten, kubectl shows the priority-0 ones. */
export const EVENT_COLUMNS: ColumnDefinition[] = [
  col('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'),
  col('Type', 'Type of this event (Normal, Warning), new types could be added in the future'),
  col(
    'Reason',
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  ),
  col('Object', 'The object that this event is about.'),
  col(
    'Subobject',
    'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].',
    1,
  ),
  col('Source', 'The component reporting this event. Should be a short machine understandable string.', 1),
  col('Message', 'A human-readable description of the status of this operation.'),
  col(
    'First Seen',
    'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
    1,
  ),
  col('Count', 'The number of times this event has occurred.', 1),
  col('Name', 'Name must be unique within a namespace.', 1, 'name'),
];

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const age = (createdAtMs: number, nowMs: number) =>
  humanDuration(nowMs - Math.floor(createdAtMs / 1000) * 1000);

export function nodeCells(n: SimNode, nowMs: number): unknown[] {
  const roles = Object.keys(n.labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '')
    .sort();
  return [
    n.name,
    'Ready',
    roles.length > 0 ? roles.join(',') : '<none>',
    age(n.createdAtMs, nowMs),
    n.kubeletVersion,
    n.internalIP,
    '<none>',
    n.osImage,
    n.kernelVersion,
    n.containerRuntimeVersion,
  ];
}

export function podCells(p: SimPod, nowMs: number): unknown[] {
  const states = p.containers.map((c) => containerState(p, c));
  const ready = states.filter((s) => s.ready).length;
  let reason: string = p.phase;
  for (const s of states) {
    const waiting = s.state.waiting as { reason?: string } | undefined;
    const terminated = s.state.terminated as { reason?: string } | undefined;
    if (waiting?.reason) reason = waiting.reason;
    else if (terminated?.reason && p.phase !== 'Running') reason = terminated.reason;
  }
  const restarts = p.containers.reduce((sum, c) => sum + c.restartCount, 0);
  const lastRestart = Math.max(...p.containers.map((c) => c.lastTerminatedAtMs ?? 0));
  return [
    p.name,
    `${ready}/${p.containers.length}`,
    reason,
    restarts > 0 && lastRestart > 0
      ? `${restarts} (${humanDuration(nowMs - lastRestart)} ago)`
      : String(restarts),
    age(p.createdAtMs, nowMs),
    p.phase === 'Pending' || p.podIP === undefined ? '<none>' : p.podIP,
    p.nodeName ?? '<none>',
    '<none>',
    '<none>',
  ];
}

export function namespaceCells(ns: SimNamespace, nowMs: number): unknown[] {
  return [ns.name, 'Active', age(ns.createdAtMs, nowMs)];
}

export function configMapCells(cm: SimConfigMap, nowMs: number): unknown[] {
  return [cm.name, Object.keys(cm.data).length, age(cm.createdAtMs, nowMs)];
}

/** printEvent: new-style events fall back to eventTime and series, a count of 0 shows as 1. */
export function eventCells(e: SimEvent, nowMs: number): unknown[] {
  const since = (ms: number | undefined) => (ms === undefined ? '<unknown>' : humanDuration(nowMs - ms));
  const first =
    e.firstTimestampMs !== undefined
      ? since(Math.floor(e.firstTimestampMs / 1000) * 1000)
      : since(e.eventTimeMs);
  let last = e.lastTimestampMs !== undefined ? since(Math.floor(e.lastTimestampMs / 1000) * 1000) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = since(e.series.lastObservedTimeMs);
    count = e.series.count;
  } else if (count === 0) {
    count = 1;
  }
  const o = e.involvedObject;
  const target = o.name ? `${o.kind.toLowerCase()}/${o.name}` : o.kind.toLowerCase();
  const component = e.source.component || e.reportingController;
  const instance = e.source.host || e.reportingInstance;
  return [
    last,
    e.type,
    e.reason,
    target,
    o.fieldPath ?? '',
    instance ? `${component}, ${instance}` : component,
    e.message.trim(),
    first,
    count,
    e.name,
  ];
}
