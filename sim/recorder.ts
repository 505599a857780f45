/**
 * The events a real cluster's components would record as the simulated cluster's objects change: the
 * scheduler's (new-style: Scheduled, FailedScheduling), the kubelet's (old-style: Pulling, Pulled,
 * Created, Started, BackOff and the repeats folded into them, Killing, its node-status events), the
 * ReplicaSet and Job controllers' (SuccessfulCreate), the node controller's (RegisteredNode,
 * RemovingNode) and kube-proxy's (new-style Starting). It watches the history, so whatever changes the
 * model (a test, the activity driver, node removal) produces the events that change would.
 * Message texts are the components' own (kubelet 1.32, kube-scheduler 1.32).
 */

import type { EventSpec, EventStore, ObjectReference } from './events.ts';
import type { Change, History } from './history.ts';
import type { SimCluster, SimContainer, SimNode, SimPod } from './model.ts';
import { createRng } from './random.ts';

export interface RecorderOptions {
  cluster: SimCluster;
  history: History;
  events: EventStore;
}

export class EventRecorder {
  readonly #cluster: SimCluster;
  readonly #events: EventStore;
  readonly #unsubscribe: (() => void)[];

  constructor(opts: RecorderOptions) {
    this.#cluster = opts.cluster;
    this.#events = opts.events;
    this.#unsubscribe = [
      opts.history.subscribe('pods', (c) => this.#pod(c as Change<SimPod>)),
      opts.history.subscribe('nodes', (c) => this.#node(c as Change<SimNode>)),
    ];
  }

  /** What every kubelet and kube-proxy records when it starts (the simulated ones just did). */
  nodesStarted(atMs = this.#cluster.now()): void {
    for (const n of this.#cluster.nodes()) this.#kubeletStarted(n, atMs);
  }

  /** The scheduler tried `pod` (unscheduled) again and found no node: FailedScheduling, as a series. */
  schedulingFailed(pod: SimPod, atMs = this.#cluster.now()): void {
    const n = this.#cluster.nodes().length;
    this.#events.record(
      this.#scheduler(pod, {
        type: 'Warning',
        reason: 'FailedScheduling',
        action: 'Scheduling',
        message: `0/${n} nodes are available: ${n} Insufficient cpu. preemption: 0/${n} nodes are available: ${n} No preemption victims found for incoming pod.`,
      }),
      atMs,
    );
  }

  /** The kubelet is holding a crashed container back: BackOff, folded into one event as it repeats. */
  backOff(pod: SimPod, container: SimContainer, atMs = this.#cluster.now()): void {
    if (pod.nodeName === undefined) return;
    this.#events.record(
      kubelet(pod, container, {
        type: 'Warning',
        reason: 'BackOff',
        message: `Back-off restarting failed container ${container.name} in pod ${pod.name}_${pod.namespace}(${pod.uid})`,
      }),
      atMs,
    );
  }

  close(): void {
    for (const u of this.#unsubscribe) u();
  }

  #pod(c: Change<SimPod>): void {
    const at = c.atMs;
    const pod = c.object;
    const prev = c.prev;
    if (c.type === 'ADDED') {
      this.#controllerCreated(pod, at);
      if (pod.nodeName === undefined) {
        if (pod.phase === 'Pending') this.schedulingFailed(pod, at);
        return;
      }
      this.#events.record(
        this.#scheduler(pod, {
          reason: 'Scheduled',
          action: 'Binding',
          message: `Successfully assigned ${pod.namespace}/${pod.name} to ${pod.nodeName}`,
        }),
        at,
      );
      if (pod.phase === 'Pending') for (const ctr of pod.containers) this.#pulling(pod, ctr, at);
      if (pod.phase === 'Running') for (const ctr of pod.containers) this.#started(pod, ctr, at, true);
      return;
    }
    if (c.type === 'DELETED') {
      // A pod whose node is gone was not stopped by a kubelet (the node's removal took it).
      if (pod.phase !== 'Running' || pod.nodeName === undefined || !this.#cluster.node(pod.nodeName)) return;
      for (const ctr of pod.containers) {
        if (ctr.startedAtMs === undefined || ctr.finishedAtMs !== undefined) continue;
        this.#events.record(
          kubelet(pod, ctr, { reason: 'Killing', message: `Stopping container ${ctr.name}` }),
          at,
        );
      }
      return;
    }
    if (!prev || pod.nodeName === undefined) return;
    if (prev.phase === 'Pending' && pod.phase === 'Running') {
      for (const ctr of pod.containers) this.#started(pod, ctr, at, false);
      return;
    }
    pod.containers.forEach((ctr, i) => {
      const before = prev.containers[i];
      if (before && ctr.restartCount > before.restartCount) {
        this.backOff(pod, ctr, at);
        this.#started(pod, ctr, at, true);
      }
    });
  }

  #node(c: Change<SimNode>): void {
    const n = c.object;
    if (c.type === 'ADDED') {
      this.#kubeletStarted(n, c.atMs);
      this.#events.record(
        nodeController(n, 'RegisteredNode', `Registered Node ${n.name} in Controller`),
        c.atMs,
      );
    } else if (c.type === 'DELETED') {
      this.#events.record(
        nodeController(n, 'RemovingNode', `Removing Node ${n.name} from Controller`),
        c.atMs,
      );
    }
  }

  #kubeletStarted(n: SimNode, at: number): void {
    // The kubelet refers to its node by name, with the name as the UID (kubelet.go: nodeRef).
    const ref: ObjectReference = { kind: 'Node', name: n.name, uid: n.name };
    const source = { component: 'kubelet', host: n.name };
    const status = (reason: string) => ({
      involvedObject: ref,
      source,
      reason,
      message: `Node ${n.name} status is now: ${reason}`,
    });
    this.#events.record(
      { involvedObject: ref, source, reason: 'Starting', message: 'Starting kubelet.' },
      at,
    );
    for (const r of ['NodeHasSufficientMemory', 'NodeHasNoDiskPressure', 'NodeHasSufficientPID'])
      this.#events.record(status(r), at);
    this.#events.record(
      {
        involvedObject: ref,
        source,
        reason: 'NodeAllocatableEnforced',
        message: 'Updated Node Allocatable limit across pods',
      },
      at,
    );
    this.#events.record(status('NodeReady'), at);
    this.#events.record(
      {
        style: 'new',
        involvedObject: ref,
        reason: 'Starting',
        message: '',
        action: 'StartKubeProxy',
        reportingController: 'kube-proxy',
        reportingInstance: `kube-proxy-${n.name}`,
      },
      at,
    );
  }

  #pulling(pod: SimPod, ctr: SimContainer, at: number): void {
    this.#events.record(
      kubelet(pod, ctr, { reason: 'Pulling', message: `Pulling image "${ctr.image}"` }),
      at,
    );
  }

  /** Pulled (a pull, or the image already there), Created, Started. */
  #started(pod: SimPod, ctr: SimContainer, at: number, present: boolean): void {
    let pulled = `Container image "${ctr.image}" already present on machine`;
    if (!present) {
      // A pull's duration and size are the seed's, per pod and container.
      const rng = createRng(`${this.#cluster.seed}/pull/${pod.namespace}/${pod.name}/${ctr.name}`);
      const seconds = rng.logBetween(0.4, 12).toFixed(3);
      const size = rng.int(2_000_000, 400_000_000);
      pulled = `Successfully pulled image "${ctr.image}" in ${seconds}s (${seconds}s including waiting). Image size: ${size} bytes.`;
    }
    this.#events.record(kubelet(pod, ctr, { reason: 'Pulled', message: pulled }), at);
    this.#events.record(
      kubelet(pod, ctr, { reason: 'Created', message: `Created container: ${ctr.name}` }),
      at,
    );
    this.#events.record(
      kubelet(pod, ctr, { reason: 'Started', message: `Started container ${ctr.name}` }),
      at,
    );
  }

  /** The ReplicaSet or Job controller made this pod. */
  #controllerCreated(pod: SimPod, at: number): void {
    const owner = pod.owner;
    if (owner?.kind !== 'ReplicaSet' && owner?.kind !== 'Job') return;
    this.#events.record(
      {
        involvedObject: {
          kind: owner.kind,
          namespace: pod.namespace,
          name: owner.name,
          uid: owner.uid,
          apiVersion: owner.kind === 'Job' ? 'batch/v1' : 'apps/v1',
        },
        source: { component: owner.kind === 'Job' ? 'job-controller' : 'replicaset-controller' },
        reason: 'SuccessfulCreate',
        message: `Created pod: ${pod.name}`,
      },
      at,
    );
  }

  #scheduler(pod: SimPod, e: Pick<EventSpec, 'reason' | 'message' | 'action' | 'type'>): EventSpec {
    const controlPlane = this.#cluster.nodes()[0]?.name ?? 'control-plane';
    return {
      style: 'new',
      involvedObject: podRef(pod),
      reportingController: 'default-scheduler',
      reportingInstance: `default-scheduler-${controlPlane}`,
      ...e,
    };
  }
}

function podRef(pod: SimPod, fieldPath?: string): ObjectReference {
  return {
    kind: 'Pod',
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    apiVersion: 'v1',
    resourceVersion: String(pod.resourceVersion),
    ...(fieldPath === undefined ? {} : { fieldPath }),
  };
}

function kubelet(
  pod: SimPod,
  ctr: SimContainer,
  e: Pick<EventSpec, 'reason' | 'message' | 'type'>,
): EventSpec {
  return {
    involvedObject: podRef(pod, `spec.containers{${ctr.name}}`),
    source: { component: 'kubelet', host: pod.nodeName ?? '' },
    ...e,
  };
}

function nodeController(n: SimNode, reason: string, what: string): EventSpec {
  return {
    involvedObject: { kind: 'Node', name: n.name, uid: n.uid, apiVersion: 'v1' },
    source: { component: 'node-controller' },
    reason,
    message: `Node ${n.name} event: ${what}`,
  };
}
