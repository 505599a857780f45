/**
 * Events as the simulated cluster's components write them, for the events function's tests: a
 * kubelet's (core/v1 recorder: source, count, first/lastTimestamp) and the scheduler's (events.k8s.io
 * recorder: eventTime, series, null lastTimestamp), about the cluster's own pods; and a change elsewhere
 * in the cluster that moves the resourceVersion without touching any Event.
 */
import type { EventSpec, Sim, SimEvent } from '../../sim/index.ts';

let serial = 0;

/** A kubelet's event about one of the cluster's scheduled pods (the next one each call), or about a pod of `namespace`. */
export function kubeletEvent(
  sim: Sim,
  reason: string,
  type: 'Normal' | 'Warning' = 'Normal',
  namespace?: string,
): EventSpec {
  const pods = sim.cluster
    .pods()
    .filter((p) => p.nodeName !== undefined && (namespace === undefined || p.namespace === namespace));
  if (pods.length === 0) throw new Error(`no scheduled pod in namespace ${namespace}`);
  const p = pods[serial++ % pods.length]!;
  return {
    involvedObject: { kind: 'Pod', namespace: p.namespace, name: p.name, uid: p.uid, apiVersion: 'v1' },
    source: { component: 'kubelet', host: p.nodeName! },
    reason,
    type,
    message: `${reason} container ${p.containers[0]!.name} (${serial})`,
  };
}

/** The scheduler's FailedScheduling about one of the cluster's pods (new style: repeats bump series.count). */
export function schedulerEvent(sim: Sim): EventSpec {
  const pods = sim.cluster.pods();
  const p = pods[serial++ % pods.length]!;
  return {
    style: 'new',
    involvedObject: { kind: 'Pod', namespace: p.namespace, name: p.name, uid: p.uid, apiVersion: 'v1' },
    reportingController: 'default-scheduler',
    reportingInstance: 'default-scheduler-sim-node-0001',
    action: 'Scheduling',
    reason: 'FailedScheduling',
    type: 'Warning',
    message: `0/${sim.cluster.nodes().length} nodes are available: Insufficient memory.`,
  };
}

/** Something else in the cluster changes (a node's labels): the resourceVersion moves, no Event does. */
export function elsewhere(sim: Sim): void {
  const node = sim.cluster.nodes()[0]!;
  sim.cluster.setLabels({ node: node.name }, { ...node.labels, 'test.touched': String(++serial) });
}

/** The record id an event version is delivered as. */
export const idOf = (e: SimEvent): string => `${e.uid}/${e.resourceVersion}`;
