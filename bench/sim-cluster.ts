/**
 * The simulated cluster the in-process benchmarks work on (node-work.ts, the serve harnesses, decoders.ts):
 * `nodes` nodes of `podsPerNode` pods, about 150 pods per namespace (`team-<i>` unless named otherwise, as a
 * team's namespace holds), an hour
 * old at `now`; and its node and pod lists as an informer hands them (the same objects every cycle).
 */
import { createSimCluster } from '../sim/model.ts';

export function benchCluster(
  nodes: number,
  podsPerNode: number,
  now: number,
  namespaceName: (i: number) => string = (i) => `team-${i}`,
) {
  const cluster = createSimCluster({
    nodes,
    podsPerNode,
    seed: 'bench',
    housekeepingMs: 1000,
    startMs: now - 3_600_000,
    namespaces: Array.from({ length: Math.max(1, Math.round((nodes * podsPerNode) / 150)) }, (_, i) =>
      namespaceName(i),
    ),
  });
  const nodeList = cluster.nodes().map((n) => ({ name: n.name, labels: n.labels, selected: true }));
  const podInfos = cluster.pods().map((p) => ({ namespace: p.namespace, name: p.name, labels: p.labels }));
  return { cluster, nodeList, podInfos };
}
