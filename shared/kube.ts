/**
 * The API server, through @kubernetes/client-node: the kubeconfig (a file, $KUBECONFIG, or in-cluster),
 * and the two lists the scraper needs each cycle: nodes, and the metadata of Running pods (their labels
 * feed label selectors; only Running pods are visible, as in metrics-server). Lists are paginated so
 * memory stays bounded in large clusters.
 */
import { delimiter } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  setHeaderOptions,
  type V1Node,
  type V1ObjectMeta,
} from '@kubernetes/client-node';

export interface NodeAddress {
  type: string;
  address: string;
}

export interface NodeObject {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  addresses: NodeAddress[];
  /** status.daemonEndpoints.kubeletEndpoint.Port; 0 when unset. */
  kubeletPort: number;
}

export interface PodMeta {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

/**
 * Loads `path` (several files separated by the OS path delimiter, as $KUBECONFIG allows, are merged), or
 * ($KUBECONFIG, ~/.kube/config, in-cluster) in client-node's order when empty.
 */
export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  const files = path.split(delimiter).filter((f) => f !== '');
  if (files.length === 0) kc.loadFromDefault();
  files.forEach((file, i) => {
    if (i === 0) kc.loadFromFile(file);
    else {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more, true);
    }
  });
  if (!kc.getCurrentCluster()) throw new Error(`no cluster in kubeconfig ${path || '(default)'}`);
  return kc;
}

const PAGE = 500;
/** Ask for metadata only (as metrics-server's metadata informer does); full objects are the fallback. */
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

export class KubeApi {
  #core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.#core = kc.makeApiClient(CoreV1Api);
  }

  async listNodes(): Promise<NodeObject[]> {
    const out: NodeObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.#core.listNode({ limit: PAGE, ...(token ? { _continue: token } : {}) });
      for (const n of page.items) out.push(nodeObject(n));
      token = page.metadata?._continue || undefined;
    } while (token);
    return out;
  }

  async listRunningPods(): Promise<PodMeta[]> {
    const out: PodMeta[] = [];
    const options = setHeaderOptions('Accept', METADATA_ONLY);
    let token: string | undefined;
    do {
      const page = await this.#core.listPodForAllNamespaces(
        { fieldSelector: 'status.phase=Running', limit: PAGE, ...(token ? { _continue: token } : {}) },
        options,
      );
      for (const p of page.items) {
        const m: V1ObjectMeta | undefined = p.metadata;
        if (m?.name && m.namespace)
          out.push({ namespace: m.namespace, name: m.name, labels: m.labels ?? {} });
      }
      token = page.metadata?._continue || undefined;
    } while (token);
    return out;
  }
}

function nodeObject(n: V1Node): NodeObject {
  return {
    name: n.metadata?.name ?? '',
    labels: n.metadata?.labels ?? {},
    annotations: n.metadata?.annotations ?? {},
    addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    kubeletPort: n.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0,
  };
}
