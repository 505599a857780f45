/**
 * metrics-server's two-point storage, as pure functions: a batch in, two points per node and container
 * kept, a rate out (metrics-server-behaviour.md §3.3 and §4). The scraper keeps these points in Redis
 * between cycles (state.ts); everything here is deterministic and I/O-free.
 */

import type { Usage } from '../../shared/metrics-api.ts';
import type { ContainerSample, MetricsBatch, PodSamples, Sample } from './decode/batch.ts';

/** A sample as kept between cycles. `timestamp` may be fractional (a start time, for fresh containers). */
export interface Point {
  timestamp: number;
  cpu: number;
  memory: number;
  /** ns since the epoch; 0 when unknown (nodes, or kubelets that do not report it) */
  startTime: number;
}

/** The newest sample and an older one to compute a rate against (null: none usable yet). */
export interface Series {
  last: Point;
  prev: Point | null;
}

export interface ContainerState {
  name: string;
  series: Series;
}

export interface PodState {
  namespace: string;
  name: string;
  containers: ContainerState[];
}

export interface NodeState {
  /** When the cycle that last scraped this node successfully started (Redis clock, ms). */
  scrapedAt: number;
  /** Until when what was scraped then may be served (Redis clock, ms). */
  expiresAt: number;
  node: Series | null;
  /** Sorted by namespace, then name. */
  pods: PodState[];
}

/** Containers younger than this are too new for a meaningful rate (metrics-server's constant). */
export const FRESH_CONTAINER_MIN_MS = 10_000;

const point = (s: Sample, startTime = 0): Point => ({
  timestamp: s.timestamp,
  cpu: s.cpu,
  memory: s.memory,
  startTime,
});

/**
 * The node rule: a newer sample pushes the last one into prev; a repeated (cached) kubelet sample keeps
 * the older prev if it is still older than the new sample; anything else starts over without prev.
 */
export function advanceSeries(old: Series | null | undefined, next: Point): Series {
  if (!old) return { last: next, prev: null };
  if (next.timestamp > old.last.timestamp) return { last: next, prev: old.last };
  if (old.prev && old.prev.timestamp < next.timestamp) return { last: next, prev: old.prev };
  return { last: next, prev: null };
}

/**
 * The container rule, in metrics-server's order: (1) a container between 10 s and one resolution old gets a
 * synthetic prev at its start time with zero CPU, so it is served after one scrape with window = its age;
 * (2) a container that has not restarted since the last sample follows the node rule; (3) otherwise
 * (restarted, or never seen) it has no prev yet.
 */
export function advanceContainer(old: Series | undefined, s: ContainerSample, resolutionMs: number): Series {
  const next = point(s, s.startTime);
  const startMs = s.startTime / 1e6;
  const age = s.timestamp - startMs;
  if (s.startTime > 0 && startMs < s.timestamp && age >= FRESH_CONTAINER_MIN_MS && age < resolutionMs) {
    return { last: next, prev: { timestamp: startMs, cpu: 0, memory: s.memory, startTime: s.startTime } };
  }
  if (old && startMs < old.last.timestamp) return advanceSeries(old, next);
  return { last: next, prev: null };
}

/**
 * Where a node's previous series are found, for each container of a batch in turn: in a decoded state
 * (by name, stateSeries), or in place in the stored bytes when their names are the batch's (state.ts).
 */
export interface Prior {
  node: Series | null;
  /** The series kept for pod `pod` of the batch (`p`), its `at`-th container, the batch's `flat`-th overall. */
  container(pod: number, p: PodSamples, at: number, flat: number): Series | undefined;
}

/**
 * The old state's series. Its pods are found in step: a node's pods come in the same order every cycle
 * (sorted, and mostly the same ones), so each is usually the next one; only when pods came or went is an
 * index built (once per node), instead of a map of maps for every node every cycle. A container is the
 * one at the same position when the names agree, else found by name.
 */
class StatePrior implements Prior {
  readonly node: Series | null;
  readonly #pods: readonly PodState[];
  #next = 0;
  #index: Map<string, PodState> | null = null;
  /** The batch's pod last looked up, and what was found for it. */
  #at = -1;
  #found: PodState | undefined;

  constructor(old: NodeState | null) {
    this.node = old?.node ?? null;
    this.#pods = old?.pods ?? [];
  }

  #find(namespace: string, name: string): PodState | undefined {
    const p = this.#pods[this.#next];
    if (p !== undefined && p.name === name && p.namespace === namespace) {
      this.#next++;
      return p;
    }
    if (this.#index === null) {
      this.#index = new Map();
      for (const o of this.#pods) this.#index.set(`${o.namespace}/${o.name}`, o);
    }
    return this.#index.get(`${namespace}/${name}`);
  }

  container(pod: number, p: PodSamples, at: number): Series | undefined {
    if (pod !== this.#at) {
      this.#at = pod;
      this.#found = this.#find(p.namespace, p.name);
    }
    const before = this.#found;
    if (before === undefined) return undefined;
    const name = p.containers[at]!.name;
    const c = before.containers[at];
    if (c !== undefined && c.name === name) return c.series;
    for (const o of before.containers) if (o.name === name) return o.series;
    return undefined;
  }
}

/** Replaces a node's state with what this batch says, keeping the history each rule allows. */
export function advanceNode(
  old: NodeState | null,
  batch: MetricsBatch,
  cycle: { startedAt: number; expiresAt: number; resolutionMs: number },
): NodeState {
  return advanceFrom(new StatePrior(old), batch, cycle);
}

/** advanceNode, with the previous series from `prior`. */
export function advanceFrom(
  prior: Prior,
  batch: MetricsBatch,
  cycle: { startedAt: number; expiresAt: number; resolutionMs: number },
): NodeState {
  const pods: PodState[] = new Array(batch.pods.length);
  let flat = 0;
  for (let i = 0; i < batch.pods.length; i++) {
    const p = batch.pods[i]!;
    const containers: ContainerState[] = new Array(p.containers.length);
    for (let j = 0; j < p.containers.length; j++) {
      const c = p.containers[j]!;
      containers[j] = {
        name: c.name,
        series: advanceContainer(prior.container(i, p, j, flat++), c, cycle.resolutionMs),
      };
    }
    pods[i] = { namespace: p.namespace, name: p.name, containers };
  }
  return {
    scrapedAt: cycle.startedAt,
    expiresAt: cycle.expiresAt,
    node: batch.node ? advanceSeries(prior.node, point(batch.node)) : null,
    pods,
  };
}

export interface Rate {
  usage: Usage;
  /** The newer sample's time, ms. */
  timestamp: number;
  /** The real time between the two samples, ns. */
  windowNs: number;
}

/**
 * The real time between a series' two points (ns), or 0 when no rate may be served: no prev, the
 * container's start time went backwards, the cumulative counter decreased (a reset we did not see), or
 * the points are not in order.
 */
export function rateWindowNs(s: Series): number {
  const { last, prev } = s;
  if (prev === null || last.startTime < prev.startTime || last.cpu < prev.cpu) return 0;
  const windowNs = Math.round((last.timestamp - prev.timestamp) * 1e6);
  return Math.max(windowNs, 0);
}

/** The CPU rate (nanocores) of a series over its window (rateWindowNs, not 0). */
export function cpuRate(s: Series, windowNs: number): number {
  // Go: float64(Δcpu) / window.Seconds(), where Seconds() = float64(sec) + float64(nsec)/1e9.
  const seconds = Math.floor(windowNs / 1e9) + (windowNs % 1e9) / 1e9;
  return Math.trunc((s.last.cpu - s.prev!.cpu) / seconds);
}

/** CPU rate and memory from two points, or null when no rate may be served (rateWindowNs). */
export function rate(s: Series): Rate | null {
  const windowNs = rateWindowNs(s);
  if (windowNs === 0) return null;
  return {
    usage: { cpuNanocores: cpuRate(s, windowNs), memoryBytes: s.last.memory },
    timestamp: s.last.timestamp,
    windowNs,
  };
}

export interface PodRate {
  timestamp: number;
  windowNs: number;
  containers: { name: string; usage: Usage }[];
}

/**
 * A pod is served only when every container has a rate (the HPA treats a partial pod as wrong data, and
 * an empty one as missing). metrics-server returns a pod with a failed container left out, or even with
 * no containers; we omit the pod instead. Timestamp and window are the earliest container's: its index
 * here, or -1 when the pod is not served.
 */
export function earliestContainer(p: PodState): number {
  let earliest = -1;
  for (let i = 0; i < p.containers.length; i++) {
    const s = p.containers[i]!.series;
    if (rateWindowNs(s) === 0) return -1;
    if (earliest < 0 || s.last.timestamp < p.containers[earliest]!.series.last.timestamp) earliest = i;
  }
  return earliest;
}

/** The pod's rates, when it is served (earliestContainer). */
export function podRate(p: PodState): PodRate | null {
  const earliest = earliestContainer(p);
  if (earliest < 0) return null;
  const first = p.containers[earliest]!.series;
  return {
    timestamp: first.last.timestamp,
    windowNs: rateWindowNs(first),
    containers: p.containers.map((c) => ({ name: c.name, usage: rate(c.series)!.usage })),
  };
}
