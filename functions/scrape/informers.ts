/**
 * What a long-lived scraper watches instead of listing every cycle (shared/informer.ts): nodes, and the
 * metadata of Running pods, each from a list and then a watch from its resourceVersion.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Informer } from '../../shared/informer.ts';
import {
  type KubeApi,
  METADATA_ONLY,
  type NodeObject,
  nodeFromJson,
  type PodMeta,
  podMeta,
  RUNNING_PODS,
} from '../../shared/kube.ts';
import { kubeListWatch } from '../../shared/kube-watch.ts';
import type { Logger } from '../../shared/log.ts';

/** Smaller pages and a shorter re-watch pause than the defaults (tests). */
export interface WatchTuning {
  pageSize?: number;
  minWatchMs?: number;
}

const tuned = ({ minWatchMs }: WatchTuning) => (minWatchMs === undefined ? {} : { minWatchMs });

export function nodeInformer(
  kc: KubeConfig,
  api: KubeApi,
  log: Logger,
  t: WatchTuning = {},
): Informer<NodeObject> {
  return new Informer<NodeObject>({
    name: 'nodes',
    source: kubeListWatch(kc, api, {
      path: '/api/v1/nodes',
      accept: 'application/json',
      parse: nodeFromJson,
      ...(t.pageSize === undefined ? {} : { pageSize: t.pageSize }),
    }),
    key: (n) => n.name,
    log,
    ...tuned(t),
  });
}

export function podInformer(
  kc: KubeConfig,
  api: KubeApi,
  log: Logger,
  t: WatchTuning = {},
): Informer<PodMeta> {
  return new Informer<PodMeta>({
    name: 'pods',
    source: kubeListWatch(kc, api, {
      path: '/api/v1/pods',
      query: RUNNING_PODS,
      accept: METADATA_ONLY,
      parse: podMeta,
      ...(t.pageSize === undefined ? {} : { pageSize: t.pageSize }),
    }),
    key: (p) => `${p.namespace}/${p.name}`,
    log,
    ...tuned(t),
  });
}
