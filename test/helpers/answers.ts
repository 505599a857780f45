/**
 * Whether an answer of the serve function is right, judged from what the simulated kubelets served (their
 * served records), never from the code under test. A list answer is right when:
 * - it is a well-formed NodeMetricsList / PodMetricsList;
 * - it names exactly the objects expected (every node, every pod with complete metrics: none missing,
 *   none extra);
 * - every value is metrics-server's rate between two samples one kubelet really served (CPU to the
 *   nanocore, memory to the byte, timestamp and window), whichever two the scraper kept;
 * - the newer of those samples was served by a cycle that is still live: its records are less than a
 *   resolution plus the grace older than the request;
 * - every object of one stored hash (the node list, one namespace's pods) comes from one cycle: their
 *   samples were served within one cycle's fan-out, never a mix of two cycles.
 * A 503 is right when it is a ServiceUnavailable Status with a Retry-After. Anything else (another
 * status, a body that does not parse, a reset) is wrong.
 */
import { parseDuration } from '../../shared/duration.ts';
import { NodeMetricsList, PodMetricsList } from '../../shared/metrics-api.ts';
import { parseBytes, parseCpuNanocores } from '../../shared/quantity.ts';
import type { ServedRecord } from '../../sim/index.ts';
import { fresh, startMs } from './served.ts';

export type Verdict =
  /** `cycle`: when the kubelets served the oldest sample in it (names the cycle that scraped it). */
  { kind: 'correct'; cycle: number } | { kind: 'unavailable' } | { kind: 'wrong'; why: string };

/** What the judge reads of the simulated cluster: its nodes, where each pod runs, what kubelets served. */
export interface SimView {
  cluster: {
    nodes(): readonly { name: string }[];
    pod(namespace: string, name: string): { nodeName?: string | undefined } | undefined;
  };
  kubelets: { served(node: string): readonly ServedRecord[] };
}

export interface Expected {
  sim: SimView;
  resolutionMs: number;
  /** How long past a resolution a cycle's points are still served (the scraper's grace). */
  graceMs: number;
  /** Every pod with complete metrics (`namespace/name`, sorted): completePods once the cycles run. */
  pods: readonly string[];
}

/** One cycle fetches every kubelet at once; two cycles are at least most of a resolution apart. */
const spreadMs = (resolutionMs: number) => resolutionMs / 2;

/** Go's time.Duration.Seconds(), as metrics-server divides by it. */
const goSeconds = (ns: number) => Math.floor(ns / 1e9) + (ns % 1e9) / 1e9;

/** How one served value came about: the newer sample's record, its time, and the window of the rate. */
interface Explanation {
  record: ServedRecord;
  timestampMs: number;
  windowNs: number;
}

/**
 * Every way `cpu` and `memory` of `key` (a node's `node`, or `namespace/pod/container`) are metrics-server's
 * answer for two samples the kubelet served: a newer sample with that memory, and an earlier one (or, for a
 * fresh container, its start) whose CPU rate over the window is `cpu`. Newest first.
 */
function explanations(
  records: readonly ServedRecord[],
  key: string,
  cpu: number,
  memory: number,
): Explanation[] {
  const out: Explanation[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const b = records[i]!.samples.get(key);
    if (!b || b.memoryBytes !== memory) continue;
    const froms: { timestampMs: number; cpuNs: number }[] = [];
    if (fresh(b, Number.POSITIVE_INFINITY)) froms.push({ timestampMs: startMs(b)!, cpuNs: 0 });
    for (let j = i - 1; j >= 0; j--) {
      const a = records[j]!.samples.get(key);
      if (a) froms.push(a);
    }
    for (const a of froms) {
      const windowNs = Math.round((b.timestampMs - a.timestampMs) * 1e6);
      if (windowNs > 0 && Math.trunc((b.cpuNs - a.cpuNs) / goSeconds(windowNs)) === cpu) {
        out.push({ record: records[i]!, timestampMs: b.timestampMs, windowNs });
      }
    }
  }
  return out;
}

/** An answer's timestamp: RFC 3339 to the second. */
const toSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/** Checks that `served` (records used by one stored hash) are one live cycle's; returns why not, or null. */
function oneLiveCycle(served: number[], sentAt: number, e: Expected, what: string): string | null {
  if (served.length === 0) return null;
  const oldest = Math.min(...served);
  const newest = Math.max(...served);
  if (newest - oldest > spreadMs(e.resolutionMs)) {
    return `${what} mixes two cycles: samples served ${newest - oldest}ms apart`;
  }
  if (sentAt - oldest >= e.resolutionMs + e.graceMs) {
    return `${what} is stale: served by the kubelets ${sentAt - oldest}ms before the request`;
  }
  return null;
}

function judgeNodes(body: unknown, sentAt: number, e: Expected): Verdict {
  const list = NodeMetricsList.safeParse(body);
  if (!list.success) return { kind: 'wrong', why: `not a NodeMetricsList: ${list.error.message}` };
  const names = list.data.items.map((n) => n.metadata.name);
  const want = e.sim.cluster
    .nodes()
    .map((n) => n.name)
    .sort();
  if (names.join(',') !== want.join(',')) return { kind: 'wrong', why: `nodes [${names}], not [${want}]` };
  const served: number[] = [];
  for (const item of list.data.items) {
    const name = item.metadata.name;
    const cpu = parseCpuNanocores(item.usage.cpu);
    const found = explanations(e.sim.kubelets.served(name), 'node', cpu, parseBytes(item.usage.memory)).find(
      (x) =>
        toSecond(x.timestampMs) === Date.parse(item.timestamp) && x.windowNs === parseDuration(item.window),
    );
    if (!found)
      return { kind: 'wrong', why: `node ${name}: no two served samples give ${JSON.stringify(item)}` };
    served.push(found.record.servedAt);
  }
  const why = oneLiveCycle(served, sentAt, e, 'the node list');
  return why ? { kind: 'wrong', why } : { kind: 'correct', cycle: Math.min(...served) };
}

function judgePods(body: unknown, sentAt: number, e: Expected, namespace: string | null): Verdict {
  const list = PodMetricsList.safeParse(body);
  if (!list.success) return { kind: 'wrong', why: `not a PodMetricsList: ${list.error.message}` };
  const names = list.data.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
  const want = e.pods.filter((k) => namespace === null || k.startsWith(`${namespace}/`));
  if (names.join(',') !== want.join(',')) return { kind: 'wrong', why: `pods [${names}], not [${want}]` };
  const byNamespace = new Map<string, number[]>();
  for (const pod of list.data.items) {
    const ns = pod.metadata.namespace!;
    const name = `${ns}/${pod.metadata.name}`;
    const node = e.sim.cluster.pod(ns, pod.metadata.name)?.nodeName;
    if (!node) return { kind: 'wrong', why: `pod ${name} is on no node` };
    const records = e.sim.kubelets.served(node);
    // A pod's timestamp and window are its earliest container's.
    let earliest: Explanation | null = null;
    const served = byNamespace.get(ns) ?? [];
    byNamespace.set(ns, served);
    for (const ct of pod.containers) {
      const key = `${name}/${ct.name}`;
      const [found] = explanations(
        records,
        key,
        parseCpuNanocores(ct.usage.cpu),
        parseBytes(ct.usage.memory),
      );
      if (!found)
        return { kind: 'wrong', why: `${key}: no two served samples give ${JSON.stringify(ct.usage)}` };
      if (earliest === null || found.timestampMs < earliest.timestampMs) earliest = found;
      served.push(found.record.servedAt);
    }
    if (
      earliest === null ||
      toSecond(earliest.timestampMs) !== Date.parse(pod.timestamp) ||
      earliest.windowNs !== parseDuration(pod.window)
    ) {
      return {
        kind: 'wrong',
        why: `pod ${name}: timestamp ${pod.timestamp} window ${pod.window} are no container's`,
      };
    }
  }
  let oldest = Number.POSITIVE_INFINITY;
  for (const [ns, served] of byNamespace) {
    const why = oneLiveCycle(served, sentAt, e, `namespace ${ns}'s pods`);
    if (why) return { kind: 'wrong', why };
    oldest = Math.min(oldest, ...served);
  }
  return { kind: 'correct', cycle: oldest };
}

export type ListPath = { kind: 'nodes' } | { kind: 'pods'; namespace: string | null };

/** The verdict on one answer to `path`, sent at `sentAt` (ms). */
export function judge(
  path: ListPath,
  reply: { status: number; headers: Record<string, string | string[] | undefined>; body: string },
  sentAt: number,
  e: Expected,
): Verdict {
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    return {
      kind: 'wrong',
      why: `${reply.status} with a body that is not JSON: ${reply.body.slice(0, 200)}`,
    };
  }
  if (reply.status === 503) {
    const s = body as { kind?: string; code?: number; reason?: string };
    const ok = s.kind === 'Status' && s.code === 503 && s.reason === 'ServiceUnavailable';
    return ok && reply.headers['retry-after'] !== undefined
      ? { kind: 'unavailable' }
      : {
          kind: 'wrong',
          why: `a 503 that is not a ServiceUnavailable Status with Retry-After: ${reply.body}`,
        };
  }
  if (reply.status !== 200) return { kind: 'wrong', why: `${reply.status}: ${reply.body.slice(0, 300)}` };
  return path.kind === 'nodes' ? judgeNodes(body, sentAt, e) : judgePods(body, sentAt, e, path.namespace);
}
