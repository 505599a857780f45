/**
 * From the nodes' states and the API server's view of the cluster to the served hashes: which objects
 * exist, which have metrics, and the pre-rendered item of each. Pure: the cycle passes everything in.
 */
import { labelsJson, renderNodeItem, renderPodItem } from '../../shared/metrics-api.ts';
import { encodeEntry } from '../../shared/store/entry.ts';
import type { HashWrite } from '../../shared/store/writer.ts';
import { type NodeState, podRate, rate } from './storage.ts';

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  /** Matches --node-selector: scraped and listed. Others are only known to exist (a GET says so). */
  selected: boolean;
}

/** A Running pod as the API server lists it (metadata only). */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

export interface RenderInput {
  /** This cycle's start, Redis clock. */
  now: number;
  /** Until when objects known this cycle exist, if nothing refreshes them. */
  expiresAt: number;
  nodes: NodeInfo[];
  pods: PodInfo[];
  /** Every node's state, whether scraped this cycle or kept from an earlier one. */
  states: Map<string, NodeState>;
}

export interface Rendered {
  nodes: HashWrite;
  namespaces: Map<string, HashWrite>;
  /** Servable points, for logs and metrics_server_storage_points. */
  points: { nodes: number; pods: number; containers: number };
}

/** A pod's entry as one node's state renders it; the newest of the nodes that report the pod wins. */
interface PodCandidate {
  timestamp: number;
  expiresAt: number;
  containers: number;
  /** The pod's labels as JSON text (the label index's key). */
  labels: string;
  /** The whole hash value (entry.ts), rendered as soon as the node's state was known. */
  value: string;
}

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * The served hashes built node by node: `add` renders what one node's state contributes (its node item,
 * its pods' items) at once, so a cycle never holds every node's state, only the rendered text; `finish`
 * assembles the hashes. Pure, like renderCycle, which is this in one call.
 */
export class CycleRender {
  readonly #input: Omit<RenderInput, 'states'>;
  readonly #selected: Set<string>;
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #running = new Map<string, PodInfo>();
  /** Per node (in the order of `nodes`): its node entry if it has metrics, and its pods' candidates. */
  readonly #byNode = new Map<
    string,
    { node: string | null; expiresAt: number; pods: [string, PodCandidate][] }
  >();

  constructor(input: Omit<RenderInput, 'states'>) {
    this.#input = input;
    this.#selected = new Set(input.nodes.filter((n) => n.selected).map((n) => n.name));
    for (const n of input.nodes) this.#nodes.set(n.name, n);
    for (const p of input.pods) this.#running.set(podKey(p.namespace, p.name), p);
  }

  /** What `state` (the node's state after this cycle, scraped or kept) contributes; replaces an earlier add. */
  add(nodeName: string, state: NodeState): void {
    const { now } = this.#input;
    let node: string | null = null;
    const live = state.expiresAt > now;
    if (live && state.node && this.#selected.has(nodeName)) {
      const r = rate(state.node);
      const info = this.#nodes.get(nodeName);
      if (r && info) {
        const labels = labelsJson(info.labels);
        const item = renderNodeItem({ name: nodeName, labels: info.labels, ...r }, state.scrapedAt, labels);
        node = encodeEntry({ expiresAt: state.expiresAt, timestamp: r.timestamp, labels, item });
      }
    }
    const pods: [string, PodCandidate][] = [];
    if (live) {
      for (const p of state.pods) {
        const key = podKey(p.namespace, p.name);
        const info = this.#running.get(key);
        if (!info) continue;
        const r = podRate(p);
        if (!r) continue;
        const labels = labelsJson(info.labels);
        const item = renderPodItem(
          { namespace: p.namespace, name: p.name, labels: info.labels, ...r },
          state.scrapedAt,
          labels,
        );
        pods.push([
          key,
          {
            timestamp: r.timestamp,
            expiresAt: state.expiresAt,
            containers: r.containers.length,
            labels,
            value: encodeEntry({ expiresAt: state.expiresAt, timestamp: r.timestamp, labels, item }),
          },
        ]);
      }
    }
    this.#byNode.set(nodeName, { node, expiresAt: state.expiresAt, pods });
  }

  finish(): Rendered {
    const input = this.#input;
    const points = { nodes: 0, pods: 0, containers: 0 };
    const nodeFields: [string, string][] = [];
    let nodesExpireAt = 0;
    // Nodes in the order listed; pods reported by nodes missing from the list come after them.
    const order = [...new Set([...input.nodes.map((n) => n.name), ...this.#byNode.keys()])];
    for (const n of input.nodes) {
      const done = this.#byNode.get(n.name);
      if (done?.node) {
        nodeFields.push([n.name, done.node]);
        nodesExpireAt = Math.max(nodesExpireAt, done.expiresAt);
        points.nodes++;
      } else {
        nodeFields.push([
          n.name,
          encodeEntry({ expiresAt: input.expiresAt, timestamp: 0, labels: labelsJson(n.labels), item: '' }),
        ]);
      }
      nodesExpireAt = Math.max(nodesExpireAt, input.expiresAt);
    }

    // The same pod reported by two nodes (a pod recreated while its old node is unreachable): the newer wins.
    const candidates = new Map<string, PodCandidate>();
    for (const name of order) {
      for (const [key, c] of this.#byNode.get(name)?.pods ?? []) {
        const seen = candidates.get(key);
        if (seen && seen.timestamp >= c.timestamp) continue;
        candidates.set(key, c);
      }
    }
    for (const c of candidates.values()) {
      points.pods++;
      points.containers += c.containers;
    }

    const namespaces = new Map<string, HashWrite>();
    for (const p of input.pods) {
      let hash = namespaces.get(p.namespace);
      if (!hash) {
        hash = { fields: [], expireAt: 0, labelIndex: new Map() };
        namespaces.set(p.namespace, hash);
      }
      const c = candidates.get(podKey(p.namespace, p.name));
      if (c) {
        const names = hash.labelIndex!.get(c.labels);
        if (names) names.push(p.name);
        else hash.labelIndex!.set(c.labels, [p.name]);
      }
      const value =
        c?.value ??
        encodeEntry({ expiresAt: input.expiresAt, timestamp: 0, labels: labelsJson(p.labels), item: '' });
      hash.expireAt = Math.max(hash.expireAt, c?.expiresAt ?? 0, input.expiresAt);
      hash.fields.push([p.name, value]);
    }
    return { nodes: { fields: nodeFields, expireAt: nodesExpireAt }, namespaces, points };
  }
}

export function renderCycle(input: RenderInput): Rendered {
  const r = new CycleRender(input);
  for (const [name, state] of input.states) r.add(name, state);
  return r.finish();
}
