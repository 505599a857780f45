/**
 * How a sharded cycle is cut, as pure functions: the selected nodes sorted by name and cut into shards
 * of --shard-size, so a node stays in its shard from cycle to cycle (it moves only when nodes sorted
 * before it come or go), and each pod handed to the shard of its node.
 */
import type { NodeObject, PodMeta, PodOnNode } from '../../shared/kube.ts';

const byName = (a: NodeObject, b: NodeObject) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The nodes in shards of at most `size`, sorted by name: the same cut every cycle for the same nodes. */
export function cutShards(nodes: readonly NodeObject[], size: number): NodeObject[][] {
  const sorted = [...nodes].sort(byName);
  const shards: NodeObject[][] = [];
  for (let i = 0; i < sorted.length; i += size) shards.push(sorted.slice(i, i + size));
  return shards;
}

/** Each node's Running pods (by spec.nodeName), their metadata as a shard needs it. */
export function podsByNode(pods: readonly PodOnNode[]): Map<string, PodMeta[]> {
  const out = new Map<string, PodMeta[]>();
  for (const p of pods) {
    let list = out.get(p.nodeName);
    if (list === undefined) {
      list = [];
      out.set(p.nodeName, list);
    }
    list.push({ namespace: p.namespace, name: p.name, labels: p.labels });
  }
  return out;
}
