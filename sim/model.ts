/**
 * The simulated cluster: one source of truth for the development API server (Node, Pod and Namespace
 * objects) and for the fake kubelets (what each node's kubelet would report at a given instant).
 *
 * Built deterministically from a seed (see generate.ts). Usage is a pure function of time (usage.ts);
 * kubelets see it through housekeeping: every container, pod and node is sampled every
 * `housekeepingMs` with its own phase, and a scrape between two ticks sees the last tick's sample.
 */
import { type GeneratedCluster, generateCluster } from './generate.ts';
import { createRng, hashString, randomUid } from './random.ts';
import {
  cpuNanosecondsSince,
  cpuRateCores,
  lastTickMs,
  memoryBytesAt,
  PAGE_SIZE,
  type UsageProfile,
} from './usage.ts';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface ResourceList {
  cpu?: string;
  memory?: string;
}

export interface SimContainer {
  name: string;
  image: string;
  requests: ResourceList;
  limits: ResourceList;
  usage: UsageProfile;
  /** Float milliseconds (microsecond precision); undefined while the container has not started. */
  startedAtMs: number | undefined;
  finishedAtMs: number | undefined;
  /** Integer milliseconds: the first housekeeping sample after the start; later ones every interval. */
  firstSampleMs: number | undefined;
  restartCount: number;
  lastTerminatedAtMs: number | undefined;
  /** A container whose kubelet reports a zero working set (metrics-server then drops its pod). */
  zeroWorkingSet: boolean;
  /** The sample of the last housekeeping tick, as cAdvisor keeps it (filled in by the cluster). */
  lastSample?: ContainerSample | undefined;
}

export type OwnerKind = 'DaemonSet' | 'ReplicaSet' | 'Job' | 'StatefulSet' | 'Node';

export interface SimPod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owner: { kind: OwnerKind; name: string; uid: string } | undefined;
  phase: PodPhase;
  createdAtMs: number;
  startTimeMs: number | undefined;
  readyAtMs: number | undefined;
  podIP: string | undefined;
  hostNetwork: boolean;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  serviceAccountName: string;
  priorityClassName: string | undefined;
  containers: SimContainer[];
  /** Static (mirror) pods: the kubelet reports this config hash as the pod's UID. */
  staticConfigHash: string | undefined;
  /** Phase of the pod cgroup's own housekeeping (integer ms, in [0, interval)). */
  housekeepingPhaseMs: number;
  /** CPU of the pod cgroup beyond its containers (pause container, runtime shim), in cores. */
  overheadCores: number;
  overheadBytes: number;
  /** CPU of containers that restarted, kept in the pod counter so that it never goes backwards. */
  retiredCpuNs: number;
  resourceVersion: number;
  /** The pod cgroup's sample of its last housekeeping tick (filled in by the cluster). */
  lastSample?: CpuMemorySample | undefined;
}

export interface SimNode {
  name: string;
  index: number;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  createdAtMs: number;
  bootTimeMs: number;
  cpuCores: number;
  memoryBytes: number;
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  internalIP: string;
  podCIDR: string;
  kubeletPort: number;
  housekeepingPhaseMs: number;
  /** System daemons, kernel and the kubelet itself: what the node uses beyond its pods. */
  overhead: UsageProfile;
  /** CPU of containers that were deleted or restarted, kept in the node counter. */
  retiredCpuNs: number;
  machineID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  fault: KubeletFault;
  resourceVersion: number;
  /** The node's sample of its last housekeeping tick (filled in by the cluster). */
  lastSample?: CpuMemorySample | undefined;
}

export interface SimNamespace {
  name: string;
  uid: string;
  createdAtMs: number;
  labels: Record<string, string>;
  resourceVersion: number;
}

export type KubeletFault =
  | { kind: 'none' }
  /** 500 with the kubelet's `Internal Error: …` text. */
  | { kind: 'status-500' }
  /** 200 with bytes that are neither Prometheus text nor JSON. */
  | { kind: 'garbage' }
  /** 200 with valid Prometheus text / JSON of the wrong shape (missing labels, strings for numbers). */
  | { kind: 'wrong-shape' }
  /** 200 on /metrics/resource with only `resource_scrape_error 1` (500 on /stats/summary). */
  | { kind: 'scrape-error' }
  /** The kubelet is down: new connections are reset at once, open ones are closed (its port stays taken). */
  | { kind: 'refuse' }
  /**
   * Answers late: `stage: 'headers'` (default) holds the whole response for `delayMs`; `'body'` sends
   * the headers and half the body at once and the rest over `delayMs`. Without `delayMs`, never.
   */
  | { kind: 'slow'; delayMs?: number; stage?: 'headers' | 'body' }
  /** 200 with a body of `bytes` (default 32 MiB, far over a 16 MiB limit), streamed. */
  | { kind: 'huge'; bytes?: number };

export type KubeletFaultInput = KubeletFault | KubeletFault['kind'];

export function normalizeFault(f: KubeletFaultInput): KubeletFault {
  return typeof f === 'string' ? ({ kind: f } as KubeletFault) : f;
}

export interface CpuMemorySample {
  /** The housekeeping tick the values were taken at (integer ms). */
  timestampMs: number;
  /** Cumulative CPU in whole nanoseconds. */
  cpuNs: number;
  memoryBytes: number;
  /** The instantaneous rate (what a kubelet would put in usageNanoCores). */
  cpuNanoCores: number;
}

export interface ContainerSample extends CpuMemorySample {
  startTimeMs: number;
}

export interface KubeletPodView {
  pod: SimPod;
  /** The pod cgroup's sample (pod_* series); absent before its first housekeeping tick. */
  sample: CpuMemorySample | undefined;
  containers: { container: SimContainer; sample: ContainerSample }[];
}

/** What one node's kubelet reports at an instant. */
export interface KubeletView {
  node: SimNode;
  nodeSample: CpuMemorySample;
  pods: KubeletPodView[];
  /** The view is the same from this instant (its latest sample) … */
  validFromMs: number;
  /** … until this one (the next housekeeping tick of any of its parts). */
  validUntilMs: number;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  requests?: ResourceList;
  limits?: ResourceList;
  /** A constant CPU rate in cores (no waves), for tests that compute expected rates by hand. */
  cpuCores?: number;
  /** A constant working set (floored to whole pages). */
  memoryBytes?: number;
  zeroWorkingSet?: boolean;
}

export interface AddPodSpec {
  namespace: string;
  name: string;
  nodeName?: string;
  labels?: Record<string, string>;
  /** The controller that owns it (a ReplicaSet's replacement pod keeps its ownerReferences). */
  owner?: SimPod['owner'];
  phase?: PodPhase;
  containers?: ContainerSpec[];
}

export type LabelTarget = { node: string } | { namespace: string; pod: string };

/**
 * A change to an API object, announced to `onChange` listeners synchronously after it is made (so a list
 * made in the listener already reflects it), in the order the changes happened, when `resourceVersion` is
 * the revision it made: what the watch layer (sim/state.ts) turns into watch events. A DELETED event
 * carries the object as it was last, with the resourceVersion of its deletion (as kube-apiserver's DELETED
 * watch events do): the model no longer has it. FAULT is no API change.
 */
export type ClusterEvent =
  | { type: 'ADDED' | 'MODIFIED'; kind: 'Pod'; namespace: string; name: string }
  | { type: 'DELETED'; kind: 'Pod'; namespace: string; name: string; object: SimPod }
  | { type: 'ADDED' | 'MODIFIED'; kind: 'Namespace'; name: string }
  | { type: 'ADDED' | 'MODIFIED'; kind: 'Node'; name: string }
  | { type: 'DELETED'; kind: 'Node'; name: string; object: SimNode }
  | { type: 'FAULT'; kind: 'Node'; name: string; fault: KubeletFault };

/**
 * An API object about to be changed in place or removed, sent before the change: its state then is
 * the version that watchers, and lists at an older resourceVersion, must still be able to see.
 */
export type BeforeChange = { kind: 'Pod'; pod: SimPod } | { kind: 'Node'; node: SimNode };

export interface SimClusterOptions {
  nodes: number;
  /** Running pods each kubelet reports (daemonsets, static pods and deployments); default 30. */
  podsPerNode?: number;
  seed?: string | number;
  /** Application namespaces (kube-system, kube-public, kube-node-lease always exist). */
  namespaces?: string[];
  /** Kubelet/cAdvisor housekeeping interval; default 10 s. */
  housekeepingMs?: number;
  /** The instant the cluster's ages are relative to; default now. */
  startMs?: number;
  /** The clock that mutations use when no instant is passed; default Date.now. */
  now?: () => number;
  /**
   * The cluster-wide resourceVersion before its first object (etcd's revision counter); default 1000.
   * Two clusters that start from different bases never hand out the same resourceVersions.
   */
  resourceVersionBase?: number;
  /**
   * The pods metrics-server must treat specially (default true): one Pending and one Succeeded pod
   * that kubelets do not report, one Running pod with a zero working set, and a few very young pods.
   */
  specialPods?: boolean;
  /**
   * A cluster generated already, taken as it is instead of generating one from the options above
   * (`nodes`, `podsPerNode`, `namespaces`, `specialPods` are then not used): e.g. a share of another
   * cluster's nodes with their pods, for kubelets served by another process (`bench/kubelet-workers.ts`).
   */
  generated?: GeneratedCluster;
}

export interface SpecialPods {
  pending: string | undefined;
  succeeded: string | undefined;
  zeroWorkingSet: string | undefined;
  young: string[];
}

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

// Kubernetes' name rules (RFC 1123), which also keep every name ASCII for the kubelets' text payloads.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkName(kind: string, name: string, rule: RegExp): void {
  if (!rule.test(name)) {
    throw new Error(
      `addPod: ${kind} name "${name}" is invalid: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
}

/** The cumulative CPU counter of a container at `tMs`, in whole nanoseconds (0 before it started). */
export function cumulativeCpuNs(c: SimContainer, tMs: number): number {
  if (c.startedAtMs === undefined || tMs <= c.startedAtMs) return 0;
  const end = c.finishedAtMs === undefined ? tMs : Math.min(tMs, c.finishedAtMs);
  return cpuNanosecondsSince(c.usage, end - c.startedAtMs);
}

/** The working set of a container at `tMs`, in bytes (a multiple of 4096; 0 when not running). */
export function workingSetBytes(c: SimContainer, tMs: number): number {
  if (!isRunningAt(c, tMs) || c.zeroWorkingSet) return 0;
  return memoryBytesAt(c.usage, tMs - c.startedAtMs!);
}

function isRunningAt(c: SimContainer, tMs: number): boolean {
  return (
    c.startedAtMs !== undefined &&
    tMs >= c.startedAtMs &&
    (c.finishedAtMs === undefined || tMs < c.finishedAtMs)
  );
}

function containerRateNanoCores(c: SimContainer, tMs: number): number {
  return isRunningAt(c, tMs) ? Math.round(cpuRateCores(c.usage, tMs - c.startedAtMs!) * 1e9) : 0;
}

/** A usage profile with no waves: exactly `cores` and `bytes` at every instant. */
export function constantUsage(cores: number, bytes: number): UsageProfile {
  return { cpuBaseCores: cores, cpuWaves: [], memoryBaseBytes: bytes, memoryWaves: [] };
}

export class SimCluster {
  readonly seed: string | number;
  readonly housekeepingMs: number;
  readonly startMs: number;
  readonly now: () => number;
  readonly specials: SpecialPods;
  /** Bumped by every change to an API object; objects carry the value of their last change. */
  resourceVersion: number;

  readonly #nodes: SimNode[];
  readonly #nodeByName = new Map<string, SimNode>();
  readonly #namespaces = new Map<string, SimNamespace>();
  readonly #pods = new Map<string, SimPod>();
  /** Pod keys in `namespace/name` order (what etcd's key order gives a list). */
  #sortedPodKeys: string[] | undefined;
  readonly #podsByNode = new Map<string, SimPod[]>();
  readonly #listeners = new Set<(e: ClusterEvent) => void>();
  readonly #beforeListeners = new Set<(b: BeforeChange) => void>();
  readonly #viewCache = new Map<string, { version: number; view: KubeletView }>();
  /** Per node: bumped when what its kubelet reports changes other than by the passage of time. */
  readonly #nodeVersion = new Map<string, number>();
  readonly #rngForAdds;

  constructor(opts: SimClusterOptions) {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 0) {
      throw new Error(`createSimCluster: nodes must be a whole number ≥ 0, got ${opts.nodes}`);
    }
    this.seed = opts.seed ?? 1;
    this.housekeepingMs = opts.housekeepingMs ?? 10_000;
    if (!(this.housekeepingMs > 0)) throw new Error(`createSimCluster: housekeepingMs must be > 0`);
    this.startMs = Math.floor(opts.startMs ?? Date.now());
    this.now = opts.now ?? Date.now;
    this.#rngForAdds = createRng(`${this.seed}/adds`);
    const generated =
      opts.generated ??
      generateCluster({
        nodes: opts.nodes,
        podsPerNode: opts.podsPerNode ?? 30,
        seed: this.seed,
        namespaces: opts.namespaces,
        housekeepingMs: this.housekeepingMs,
        startMs: this.startMs,
        specialPods: opts.specialPods ?? true,
      });
    this.resourceVersion = opts.resourceVersionBase ?? 1000;
    if (!Number.isSafeInteger(this.resourceVersion) || this.resourceVersion < 0)
      throw new Error(
        `createSimCluster: resourceVersionBase must be a whole number ≥ 0, got ${this.resourceVersion}`,
      );
    for (const ns of generated.namespaces) {
      ns.resourceVersion = ++this.resourceVersion;
      this.#namespaces.set(ns.name, ns);
    }
    this.#nodes = generated.nodes;
    for (const n of this.#nodes) {
      n.resourceVersion = ++this.resourceVersion;
      this.#nodeByName.set(n.name, n);
      this.#podsByNode.set(n.name, []);
    }
    for (const p of generated.pods) {
      p.resourceVersion = ++this.resourceVersion;
      this.#insertPod(p);
    }
    for (const list of this.#podsByNode.values()) list.sort(comparePods);
    this.specials = generated.specials;
  }

  // ---- reading -----------------------------------------------------------------------------------

  nodes(): readonly SimNode[] {
    return this.#nodes;
  }

  node(name: string): SimNode | undefined {
    return this.#nodeByName.get(name);
  }

  namespaces(): SimNamespace[] {
    return [...this.#namespaces.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  namespace(name: string): SimNamespace | undefined {
    return this.#namespaces.get(name);
  }

  pod(namespace: string, name: string): SimPod | undefined {
    return this.#pods.get(podKey(namespace, name));
  }

  /** Every pod in `namespace/name` order. */
  pods(): SimPod[] {
    return this.sortedPodKeys().map((k) => this.#pods.get(k)!);
  }

  /** Pod keys (`namespace/name`) in order; the array is shared, do not modify it. */
  sortedPodKeys(): readonly string[] {
    this.#sortedPodKeys ??= [...this.#pods.keys()].sort();
    return this.#sortedPodKeys;
  }

  podByKey(key: string): SimPod | undefined {
    return this.#pods.get(key);
  }

  /** The pods bound to a node, in `namespace/name` order. */
  podsOnNode(nodeName: string): readonly SimPod[] {
    return this.#podsByNode.get(nodeName) ?? [];
  }

  onChange(listener: (e: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called before every in-place change or removal of a Pod or Node (see BeforeChange). */
  onBeforeChange(listener: (b: BeforeChange) => void): () => void {
    this.#beforeListeners.add(listener);
    return () => this.#beforeListeners.delete(listener);
  }

  // ---- what kubelets see ---------------------------------------------------------------------------

  /** The sample a container's last housekeeping tick took, or undefined (not started, no tick yet, ended). */
  containerSample(c: SimContainer, nowMs: number): ContainerSample | undefined {
    if (c.firstSampleMs === undefined || c.startedAtMs === undefined || c.finishedAtMs !== undefined)
      return undefined;
    const tick = lastTickMs(c.firstSampleMs, this.housekeepingMs, nowMs);
    if (tick === undefined) return undefined;
    const cached = c.lastSample;
    if (cached?.timestampMs === tick) return cached;
    const sample: ContainerSample = {
      timestampMs: tick,
      cpuNs: cumulativeCpuNs(c, tick),
      memoryBytes: workingSetBytes(c, tick),
      cpuNanoCores: containerRateNanoCores(c, tick),
      startTimeMs: c.startedAtMs,
    };
    c.lastSample = sample;
    return sample;
  }

  /** The pod cgroup's sample at its last tick: its containers, their restarted predecessors, its overhead. */
  podSample(p: SimPod, nowMs: number): CpuMemorySample | undefined {
    if (p.phase !== 'Running' || p.startTimeMs === undefined) return undefined;
    const first = Math.ceil(p.startTimeMs) + p.housekeepingPhaseMs;
    const tick = lastTickMs(first, this.housekeepingMs, nowMs);
    if (tick === undefined) return undefined;
    const cached = p.lastSample;
    if (cached?.timestampMs === tick) return cached;
    let cpuNs = p.retiredCpuNs + Math.floor(p.overheadCores * (tick - p.startTimeMs) * 1e6);
    let memoryBytes = p.overheadBytes;
    let cpuNanoCores = Math.round(p.overheadCores * 1e9);
    for (const c of p.containers) {
      cpuNs += cumulativeCpuNs(c, tick);
      memoryBytes += workingSetBytes(c, tick);
      cpuNanoCores += containerRateNanoCores(c, tick);
    }
    const sample = { timestampMs: tick, cpuNs, memoryBytes, cpuNanoCores };
    p.lastSample = sample;
    return sample;
  }

  /** The node's sample at its last tick: system overhead since boot plus every container it ran. */
  nodeSample(n: SimNode, nowMs: number): CpuMemorySample {
    const tick = lastTickMs(n.bootTimeMs + n.housekeepingPhaseMs, this.housekeepingMs, nowMs) ?? n.bootTimeMs;
    const cached = n.lastSample;
    if (cached?.timestampMs === tick) return cached;
    const sinceBoot = tick - n.bootTimeMs;
    let cpuNs = n.retiredCpuNs + cpuNanosecondsSince(n.overhead, sinceBoot);
    let memoryBytes = memoryBytesAt(n.overhead, sinceBoot);
    let cpuNanoCores = Math.round(cpuRateCores(n.overhead, sinceBoot) * 1e9);
    for (const p of this.podsOnNode(n.name)) {
      for (const c of p.containers) {
        cpuNs += cumulativeCpuNs(c, tick);
        memoryBytes += workingSetBytes(c, tick);
        cpuNanoCores += containerRateNanoCores(c, tick);
      }
    }
    const sample = { timestampMs: tick, cpuNs, memoryBytes, cpuNanoCores };
    n.lastSample = sample;
    return sample;
  }

  /**
   * What the node's kubelet reports at `nowMs`: its Running pods whose containers have been sampled
   * (Pending and finished pods are not reported, as on a real kubelet), each with its samples.
   */
  kubeletView(nodeName: string, nowMs: number): KubeletView {
    const node = this.#nodeByName.get(nodeName);
    if (!node) throw new Error(`no node "${nodeName}" in the simulated cluster`);
    const version = this.#nodeVersion.get(nodeName) ?? 0;
    const cached = this.#viewCache.get(nodeName);
    if (cached?.version === version && nowMs >= cached.view.validFromMs && nowMs < cached.view.validUntilMs) {
      return cached.view;
    }
    const h = this.housekeepingMs;
    const nodeSample = this.nodeSample(node, nowMs);
    let validUntilMs = nodeSample.timestampMs + h;
    let validFromMs = nodeSample.timestampMs;
    const pods: KubeletPodView[] = [];
    for (const pod of this.podsOnNode(nodeName)) {
      if (pod.phase !== 'Running') continue;
      const containers: KubeletPodView['containers'] = [];
      for (const container of pod.containers) {
        const sample = this.containerSample(container, nowMs);
        if (sample) {
          containers.push({ container, sample });
          validUntilMs = Math.min(validUntilMs, sample.timestampMs + h);
          validFromMs = Math.max(validFromMs, sample.timestampMs);
        } else if (container.firstSampleMs !== undefined && container.finishedAtMs === undefined) {
          if (container.firstSampleMs > nowMs) validUntilMs = Math.min(validUntilMs, container.firstSampleMs);
        }
      }
      if (containers.length === 0) continue;
      const sample = this.podSample(pod, nowMs);
      if (sample) {
        validUntilMs = Math.min(validUntilMs, sample.timestampMs + h);
        validFromMs = Math.max(validFromMs, sample.timestampMs);
      } else if (pod.startTimeMs !== undefined) {
        validUntilMs = Math.min(validUntilMs, Math.ceil(pod.startTimeMs) + pod.housekeepingPhaseMs);
      }
      pods.push({ pod, sample, containers });
    }
    const view = { node, nodeSample, pods, validFromMs, validUntilMs };
    this.#viewCache.set(nodeName, { version, view });
    return view;
  }

  // ---- changes ---------------------------------------------------------------------------------------

  /** Adds a pod (and its namespace, if new). Its usage is drawn from the seed unless the spec fixes it. */
  addPod(spec: AddPodSpec, nowMs: number = this.now()): SimPod {
    checkName('namespace', spec.namespace, DNS_LABEL);
    checkName('pod', spec.name, DNS_SUBDOMAIN);
    for (const c of spec.containers ?? []) checkName('container', c.name, DNS_LABEL);
    const key = podKey(spec.namespace, spec.name);
    if (this.#pods.has(key))
      throw new Error(`addPod: pods "${spec.name}" already exists in namespace "${spec.namespace}"`);
    if (spec.nodeName !== undefined && !this.#nodeByName.has(spec.nodeName)) {
      throw new Error(`addPod: nodes "${spec.nodeName}" not found`);
    }
    this.#ensureNamespace(spec.namespace, nowMs);
    const rng = createRng(`${this.seed}/pod/${key}`);
    const phase = spec.phase ?? 'Running';
    const containers = (spec.containers ?? [{ name: spec.name.split('-')[0] || 'app' }]).map((cs) =>
      makeContainer(rng, cs),
    );
    const pod: SimPod = {
      namespace: spec.namespace,
      name: spec.name,
      uid: randomUid(this.#rngForAdds),
      nodeName: spec.nodeName,
      labels: { ...spec.labels },
      annotations: {},
      owner: spec.owner === undefined ? undefined : { ...spec.owner },
      phase: 'Pending',
      createdAtMs: nowMs,
      startTimeMs: undefined,
      readyAtMs: undefined,
      podIP: undefined,
      hostNetwork: false,
      restartPolicy: 'Always',
      serviceAccountName: 'default',
      priorityClassName: undefined,
      containers,
      staticConfigHash: undefined,
      housekeepingPhaseMs: rng.int(0, this.housekeepingMs - 1),
      overheadCores: 0,
      overheadBytes: 0,
      retiredCpuNs: 0,
      resourceVersion: ++this.resourceVersion,
    };
    if (spec.nodeName !== undefined) {
      const n = this.#nodeByName.get(spec.nodeName)!;
      pod.podIP = `10.${64 + (n.index >> 8)}.${n.index & 255}.${200 + (hashString(key) % 50)}`;
    }
    this.#insertPod(pod);
    this.#podsByNode.get(pod.nodeName ?? '')?.sort(comparePods);
    if (phase !== 'Pending') this.#transition(pod, phase, nowMs, rng);
    this.#touchNode(pod.nodeName);
    this.#emit({ type: 'ADDED', kind: 'Pod', namespace: pod.namespace, name: pod.name });
    return pod;
  }

  deletePod(namespace: string, name: string, nowMs: number = this.now()): void {
    const pod = this.#requirePod('deletePod', namespace, name);
    this.#willChange({ kind: 'Pod', pod });
    const node = pod.nodeName === undefined ? undefined : this.#nodeByName.get(pod.nodeName);
    if (node) {
      // The node's counter must not go backwards when the pod's containers disappear from it.
      for (const c of pod.containers) node.retiredCpuNs += cumulativeCpuNs(c, nowMs);
      const list = this.#podsByNode.get(node.name)!;
      list.splice(list.indexOf(pod), 1);
    }
    this.#pods.delete(podKey(namespace, name));
    this.#sortedPodKeys = undefined;
    pod.resourceVersion = ++this.resourceVersion;
    this.#touchNode(pod.nodeName);
    this.#emit({ type: 'DELETED', kind: 'Pod', namespace, name, object: pod });
  }

  /**
   * The node leaves the cluster (a scale-down, a reclaimed spot instance): every pod bound to it is
   * deleted (one DELETED event each), then the node (DELETED), and its kubelet stops answering: the
   * fleet closes its listener and connections on that event.
   */
  removeNode(name: string, nowMs: number = this.now()): void {
    const node = this.#nodeByName.get(name);
    if (!node) throw new Error(`removeNode: nodes "${name}" not found`);
    for (const pod of [...this.podsOnNode(name)]) this.deletePod(pod.namespace, pod.name, nowMs);
    this.#willChange({ kind: 'Node', node });
    this.#nodes.splice(this.#nodes.indexOf(node), 1);
    this.#nodeByName.delete(name);
    this.#podsByNode.delete(name);
    this.#viewCache.delete(name);
    this.#nodeVersion.delete(name);
    node.resourceVersion = ++this.resourceVersion;
    this.#emit({ type: 'DELETED', kind: 'Node', name, object: node });
  }

  setPodPhase(namespace: string, name: string, phase: PodPhase, nowMs: number = this.now()): void {
    const pod = this.#requirePod('setPodPhase', namespace, name);
    if (pod.phase === phase) return;
    this.#willChange({ kind: 'Pod', pod });
    this.#transition(pod, phase, nowMs, createRng(`${this.seed}/phase/${namespace}/${name}/${nowMs}`));
    pod.resourceVersion = ++this.resourceVersion;
    this.#touchNode(pod.nodeName);
    this.#emit({ type: 'MODIFIED', kind: 'Pod', namespace, name });
  }

  /** The container restarts now: a new start time, its counter starts again from 0. */
  restartContainer(
    namespace: string,
    podName: string,
    containerName: string,
    nowMs: number = this.now(),
  ): void {
    const pod = this.#requirePod('restartContainer', namespace, podName);
    const c = pod.containers.find((x) => x.name === containerName);
    if (!c)
      throw new Error(`restartContainer: pod ${namespace}/${podName} has no container "${containerName}"`);
    if (pod.phase !== 'Running')
      throw new Error(`restartContainer: pod ${namespace}/${podName} is ${pod.phase}`);
    this.#willChange({ kind: 'Pod', pod });
    const used = cumulativeCpuNs(c, nowMs);
    pod.retiredCpuNs += used;
    const node = pod.nodeName === undefined ? undefined : this.#nodeByName.get(pod.nodeName);
    if (node) node.retiredCpuNs += used;
    c.restartCount++;
    c.lastTerminatedAtMs = nowMs;
    c.startedAtMs = nowMs;
    c.firstSampleMs = Math.ceil(nowMs + 100 + (hashString(`${c.name}/${c.restartCount}`) % 1000));
    c.lastSample = undefined;
    pod.resourceVersion = ++this.resourceVersion;
    this.#touchNode(pod.nodeName);
    this.#emit({ type: 'MODIFIED', kind: 'Pod', namespace, name: podName });
  }

  /** Replaces the labels of a node or a pod. */
  setLabels(target: LabelTarget, labels: Record<string, string>): void {
    if ('node' in target) {
      const node = this.#nodeByName.get(target.node);
      if (!node) throw new Error(`setLabels: nodes "${target.node}" not found`);
      this.#willChange({ kind: 'Node', node });
      node.labels = { ...labels };
      node.resourceVersion = ++this.resourceVersion;
      this.#emit({ type: 'MODIFIED', kind: 'Node', name: node.name });
      return;
    }
    const pod = this.#requirePod('setLabels', target.namespace, target.pod);
    this.#willChange({ kind: 'Pod', pod });
    pod.labels = { ...labels };
    pod.resourceVersion = ++this.resourceVersion;
    this.#emit({ type: 'MODIFIED', kind: 'Pod', namespace: pod.namespace, name: pod.name });
  }

  /** Makes a node's kubelet misbehave (or behave again, with 'none') from the next request on. */
  setFault(nodeName: string, fault: KubeletFaultInput): void {
    const node = this.#nodeByName.get(nodeName);
    if (!node) throw new Error(`setFault: nodes "${nodeName}" not found`);
    node.fault = normalizeFault(fault);
    this.#emit({ type: 'FAULT', kind: 'Node', name: nodeName, fault: node.fault });
  }

  /** Records the port a node's kubelet listens on (status.daemonEndpoints.kubeletEndpoint.Port). */
  setKubeletPort(nodeName: string, port: number): void {
    const node = this.#nodeByName.get(nodeName);
    if (!node) throw new Error(`setKubeletPort: nodes "${nodeName}" not found`);
    if (node.kubeletPort === port) return;
    this.#willChange({ kind: 'Node', node });
    node.kubeletPort = port;
    node.resourceVersion = ++this.resourceVersion;
    this.#emit({ type: 'MODIFIED', kind: 'Node', name: nodeName });
  }

  // ---- internals -------------------------------------------------------------------------------------

  #insertPod(p: SimPod): void {
    this.#pods.set(podKey(p.namespace, p.name), p);
    this.#sortedPodKeys = undefined;
    if (p.nodeName !== undefined) this.#podsByNode.get(p.nodeName)?.push(p);
  }

  #requirePod(op: string, namespace: string, name: string): SimPod {
    const pod = this.#pods.get(podKey(namespace, name));
    if (!pod) throw new Error(`${op}: pods "${name}" not found in namespace "${namespace}"`);
    return pod;
  }

  #ensureNamespace(name: string, nowMs: number): void {
    if (this.#namespaces.has(name)) return;
    this.#namespaces.set(name, {
      name,
      uid: randomUid(this.#rngForAdds),
      createdAtMs: nowMs,
      labels: { 'kubernetes.io/metadata.name': name },
      resourceVersion: ++this.resourceVersion,
    });
    this.#emit({ type: 'ADDED', kind: 'Namespace', name });
  }

  #transition(pod: SimPod, phase: PodPhase, nowMs: number, rng: ReturnType<typeof createRng>): void {
    const node = pod.nodeName === undefined ? undefined : this.#nodeByName.get(pod.nodeName);
    if (phase === 'Running') {
      if (pod.nodeName === undefined)
        throw new Error(`pod ${pod.namespace}/${pod.name} cannot run: it has no node`);
      pod.startTimeMs ??= nowMs;
      for (const c of pod.containers) {
        if (c.startedAtMs !== undefined && c.finishedAtMs === undefined) continue;
        if (c.finishedAtMs !== undefined && node) node.retiredCpuNs += cumulativeCpuNs(c, nowMs);
        c.startedAtMs = nowMs + rng.int(0, 999) / 1000;
        c.finishedAtMs = undefined;
        c.firstSampleMs = Math.ceil(c.startedAtMs + rng.between(100, 1200));
        c.lastSample = undefined;
      }
      pod.readyAtMs = nowMs + 1000;
    } else if (phase === 'Succeeded' || phase === 'Failed') {
      for (const c of pod.containers) {
        if (c.startedAtMs !== undefined && c.finishedAtMs === undefined) c.finishedAtMs = nowMs;
      }
      pod.readyAtMs = undefined;
    } else {
      // Back to Pending: its containers are gone; keep what they used in the node's counter.
      for (const c of pod.containers) {
        if (node) node.retiredCpuNs += cumulativeCpuNs(c, nowMs);
        c.startedAtMs = undefined;
        c.finishedAtMs = undefined;
        c.firstSampleMs = undefined;
      }
      pod.readyAtMs = undefined;
    }
    pod.phase = phase;
  }

  #touchNode(nodeName: string | undefined): void {
    if (nodeName === undefined) return;
    this.#nodeVersion.set(nodeName, (this.#nodeVersion.get(nodeName) ?? 0) + 1);
    const node = this.#nodeByName.get(nodeName);
    if (node) node.lastSample = undefined;
  }

  #willChange(b: BeforeChange): void {
    for (const l of this.#beforeListeners) l(b);
  }

  #emit(e: ClusterEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function comparePods(a: SimPod, b: SimPod): number {
  const ka = podKey(a.namespace, a.name);
  const kb = podKey(b.namespace, b.name);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function makeContainer(rng: ReturnType<typeof createRng>, cs: ContainerSpec): SimContainer {
  const usage =
    cs.cpuCores !== undefined || cs.memoryBytes !== undefined
      ? constantUsage(cs.cpuCores ?? 0.01, Math.max(PAGE_SIZE, cs.memoryBytes ?? 16 * 1024 * 1024))
      : {
          cpuBaseCores: rng.logBetween(0.002, 0.3),
          cpuWaves: [],
          memoryBaseBytes: rng.logBetween(8, 256) * 1024 * 1024,
          memoryWaves: [],
        };
  if (usage.cpuWaves.length === 0 && cs.cpuCores === undefined) {
    const b = usage.cpuBaseCores;
    usage.cpuWaves = [
      { amplitude: b * 0.3, periodMs: rng.between(300_000, 900_000), phase: rng.between(0, 2 * Math.PI) },
      { amplitude: b * 0.1, periodMs: rng.between(20_000, 60_000), phase: rng.between(0, 2 * Math.PI) },
    ];
    usage.memoryWaves = [
      {
        amplitude: usage.memoryBaseBytes * 0.1,
        periodMs: rng.between(600_000, 1_800_000),
        phase: rng.next() * 6,
      },
    ];
  }
  return {
    name: cs.name,
    image: cs.image ?? `registry.sim.local/${cs.name}:1.0.${rng.int(0, 9)}`,
    requests: cs.requests ?? { cpu: '50m', memory: '64Mi' },
    limits: cs.limits ?? {},
    usage,
    startedAtMs: undefined,
    finishedAtMs: undefined,
    firstSampleMs: undefined,
    restartCount: 0,
    lastTerminatedAtMs: undefined,
    zeroWorkingSet: cs.zeroWorkingSet ?? false,
  };
}

export function createSimCluster(opts: SimClusterOptions): SimCluster {
  return new SimCluster(opts);
}
