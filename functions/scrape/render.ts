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

interface PodCandidate {
  timestamp: number;
  expiresAt: number;
  containers: number;
  item: (labels: string) => string;
}

export function renderCycle(input: RenderInput): Rendered {
  const { now } = input;
  const points = { nodes: 0, pods: 0, containers: 0 };

  const nodeFields: [string, string][] = [];
  let nodesExpireAt = 0;
  for (const n of input.nodes) {
    const labels = labelsJson(n.labels);
    const state = input.states.get(n.name);
    const r = n.selected && state && state.expiresAt > now && state.node ? rate(state.node) : null;
    let value: string;
    if (r && state) {
      const item = renderNodeItem({ name: n.name, labels: n.labels, ...r }, state.scrapedAt, labels);
      value = encodeEntry({ expiresAt: state.expiresAt, timestamp: r.timestamp, labels, item });
      nodesExpireAt = Math.max(nodesExpireAt, state.expiresAt);
      points.nodes++;
    } else {
      value = encodeEntry({ expiresAt: input.expiresAt, timestamp: 0, labels, item: '' });
    }
    nodesExpireAt = Math.max(nodesExpireAt, input.expiresAt);
    nodeFields.push([n.name, value]);
  }

  const running = new Map<string, PodInfo>();
  for (const p of input.pods) running.set(`${p.namespace}/${p.name}`, p);

  // The same pod reported by two nodes (a pod recreated while its old node is unreachable): the newer wins.
  const candidates = new Map<string, PodCandidate>();
  for (const state of input.states.values()) {
    if (state.expiresAt <= now) continue;
    for (const p of state.pods) {
      const key = `${p.namespace}/${p.name}`;
      const info = running.get(key);
      if (!info) continue;
      const r = podRate(p);
      if (!r) continue;
      const seen = candidates.get(key);
      if (seen && seen.timestamp >= r.timestamp) continue;
      const point = { namespace: p.namespace, name: p.name, labels: info.labels, ...r };
      candidates.set(key, {
        timestamp: r.timestamp,
        expiresAt: state.expiresAt,
        containers: r.containers.length,
        item: (labels) => renderPodItem(point, state.scrapedAt, labels),
      });
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
      hash = { fields: [], expireAt: 0 };
      namespaces.set(p.namespace, hash);
    }
    const labels = labelsJson(p.labels);
    const c = candidates.get(`${p.namespace}/${p.name}`);
    const value = c
      ? encodeEntry({ expiresAt: c.expiresAt, timestamp: c.timestamp, labels, item: c.item(labels) })
      : encodeEntry({ expiresAt: input.expiresAt, timestamp: 0, labels, item: '' });
    hash.expireAt = Math.max(hash.expireAt, c?.expiresAt ?? 0, input.expiresAt);
    hash.fields.push([p.name, value]);
  }
  return { nodes: { fields: nodeFields, expireAt: nodesExpireAt }, namespaces, points };
}
