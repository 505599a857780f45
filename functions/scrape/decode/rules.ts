/**
 * metrics-server's decode-time rules, in one place for both decoders: what makes a node or a pod
 * incomplete (and so left out of the batch), how duplicates in one payload are resolved, and the
 * order of the result. The decoders only read values; every judgement about them is made here.
 */
import type { ContainerSample, Dropped, MetricsBatch, PodSamples, Sample } from './batch.ts';

/**
 * A value as a decoder read it: `undefined` when the kubelet did not report it. Any other value is
 * passed through as read (0, negative, NaN, ±Infinity), so a drop reason can say what was wrong.
 */
type Reading = number | undefined;

export interface RawNode {
  /** Milliseconds since the epoch. */
  timestamp: Reading;
  /** Cumulative core-nanoseconds. */
  cpu: Reading;
  /** Working set, bytes. */
  memory: Reading;
}

export interface RawContainer extends RawNode {
  name: string;
  /** Nanoseconds since the epoch. */
  startTime: Reading;
}

export interface RawPod {
  namespace: string;
  name: string;
  /** As listed by the kubelet; the same name may appear more than once (see `newestTwin`). */
  containers: RawContainer[];
}

export interface RuleOptions {
  /**
   * Whether a container without a start time is incomplete. metrics-server v0.5 required it on
   * `/stats/summary`; on `/metrics/resource` the kubelet omits the series for unknown start times,
   * and metrics-server ≥ 0.6 accepts that (the start time is then 0: unknown).
   */
  requireStartTime: boolean;
}

/** A usable reading: present, finite and above zero (metrics-server treats zero as missing). */
const usable = (v: Reading): v is number => v !== undefined && v > 0 && Number.isFinite(v);

const orZero = (v: Reading): number => (usable(v) ? v : 0);

const complaint = (what: string, v: Reading): string => (v === undefined ? `no ${what}` : `${what} is ${v}`);

function nodeProblems(n: RawNode): string[] {
  const problems: string[] = [];
  if (!usable(n.cpu)) problems.push(complaint('CPU usage', n.cpu));
  if (!usable(n.memory)) problems.push(complaint('memory working set', n.memory));
  if (!usable(n.timestamp)) problems.push(complaint('timestamp', n.timestamp));
  return problems;
}

function containerProblems(c: RawContainer, options: RuleOptions): string[] {
  const problems = nodeProblems(c);
  if (options.requireStartTime && !usable(c.startTime)) problems.push(complaint('start time', c.startTime));
  return problems;
}

/** An all-zero twin is what a kubelet lists for a terminated container (kubernetes#65332). */
const allZero = (c: RawContainer): boolean => !usable(c.cpu) && !usable(c.memory);

/** Positive when `a` is the newer sample: by timestamp, then by start time. */
const newer = (a: RawContainer, b: RawContainer): number =>
  orZero(a.timestamp) - orZero(b.timestamp) || orZero(a.startTime) - orZero(b.startTime);

/**
 * DECIDED: duplicate container names in one pod (a restarted container listed next to its old
 * all-zero self, kubernetes#65332; leaked cgroups, kubernetes#137724) keep the newest twin by
 * timestamp, then by start time, ignoring all-zero twins while any other exists. On a tie the later
 * one wins, as metrics-server's map overwrite does. A twin's timestamp is its CPU sample's, so a
 * twin with no CPU sample counts as oldest. The twin kept is then checked like any other container:
 * when it is incomplete (say CPU but no memory yet) the pod fails, rather than an older twin
 * standing in for it.
 */
function newestTwin(twins: readonly RawContainer[]): RawContainer {
  let best = twins[0]!;
  for (let i = 1; i < twins.length; i++) {
    const twin = twins[i]!;
    const zero = allZero(twin);
    if (zero !== allZero(best)) {
      if (!zero) best = twin;
    } else if (newer(twin, best) >= 0) {
      best = twin;
    }
  }
  return best;
}

/** One container per name, sorted by name. */
function dedupeContainers(containers: RawContainer[]): RawContainer[] {
  // The decoders own their arrays: one container is returned as it came.
  if (containers.length === 1) return containers;
  const byName = new Map<string, RawContainer[]>();
  for (const c of containers) {
    const twins = byName.get(c.name);
    if (twins) twins.push(c);
    else byName.set(c.name, [c]);
  }
  const unique: RawContainer[] = [];
  for (const twins of byName.values()) unique.push(twins.length === 1 ? twins[0]! : newestTwin(twins));
  return unique.sort((a, b) => compareText(a.name, b.name));
}

/** Code-unit order, as Go's and the API server's string sorts (not locale order). */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const newestTimestamp = (containers: readonly RawContainer[]): number =>
  containers.reduce((max, c) => Math.max(max, orZero(c.timestamp)), 0);

interface Listing {
  namespace: string;
  name: string;
  containers: RawContainer[];
  newest: number;
}

const byPod = (a: Listing, b: Listing): number =>
  compareText(a.namespace, b.namespace) || compareText(a.name, b.name);

/**
 * Applies the rules to one payload's readings.
 *
 * - The node is `null` (with a Dropped entry) when its CPU, memory or timestamp is zero or missing.
 * - A pod is dropped whole (one Dropped entry naming each failing container and why) when any
 *   container lacks a usable CPU, memory or timestamp, or, with `requireStartTime`, start time.
 *   metrics-server: "we explicitly want to discard pods with partial results, since the horizontal
 *   pod autoscaler takes special action when a pod is missing metrics".
 * - A pod without containers is simply absent (no Dropped entry): there is nothing to report.
 * - DECIDED: a pod listed twice in one payload keeps the listing whose newest container timestamp is
 *   newer (the first on a tie), then is checked as above. metrics-server keeps whichever comes first.
 * - Pods are sorted by namespace then name, containers by name; Dropped entries list the node
 *   first, then pods in the same order.
 *
 * The decoders hand over readings they own: `applyRules` may keep their arrays in what it returns.
 */
export function applyRules(node: RawNode, pods: Iterable<RawPod>, options: RuleOptions): MetricsBatch {
  const dropped: Dropped[] = [];

  let nodeSample: Sample | null = null;
  if (usable(node.cpu) && usable(node.memory) && usable(node.timestamp)) {
    nodeSample = { timestamp: node.timestamp, cpu: node.cpu, memory: node.memory };
  } else {
    dropped.push({ what: 'node', reason: nodeProblems(node).join(', ') });
  }

  const listings: Listing[] = [];
  for (const pod of pods) {
    if (pod.containers.length === 0) continue;
    const containers = dedupeContainers(pod.containers);
    listings.push({
      namespace: pod.namespace,
      name: pod.name,
      containers,
      newest: newestTimestamp(containers),
    });
  }
  // A stable sort keeps listings of one pod in payload order, next to each other.
  listings.sort(byPod);

  const kept: PodSamples[] = [];
  const { requireStartTime } = options;
  for (let i = 0; i < listings.length; i++) {
    let listing = listings[i]!;
    while (i + 1 < listings.length && byPod(listing, listings[i + 1]!) === 0) {
      const later = listings[++i]!;
      if (later.newest > listing.newest) listing = later;
    }
    const samples: ContainerSample[] = [];
    let failed = false;
    for (const c of listing.containers) {
      if (
        usable(c.cpu) &&
        usable(c.memory) &&
        usable(c.timestamp) &&
        (!requireStartTime || usable(c.startTime))
      ) {
        samples.push({
          name: c.name,
          timestamp: c.timestamp,
          cpu: c.cpu,
          memory: c.memory,
          startTime: orZero(c.startTime),
        });
      } else {
        failed = true;
      }
    }
    if (failed) {
      const failures: string[] = [];
      for (const c of listing.containers) {
        const problems = containerProblems(c, options);
        if (problems.length > 0) failures.push(`container ${JSON.stringify(c.name)}: ${problems.join(', ')}`);
      }
      dropped.push({ what: `${listing.namespace}/${listing.name}`, reason: failures.join('; ') });
    } else {
      kept.push({ namespace: listing.namespace, name: listing.name, containers: samples });
    }
  }
  return { node: nodeSample, pods: kept, dropped };
}
