/**
 * The API server, through @kubernetes/client-node: the kubeconfig (a file, $KUBECONFIG, or in-cluster),
 * and the two lists the scraper needs each cycle: nodes, and the metadata of Running pods (their labels
 * feed label selectors; only Running pods are visible, as in metrics-server). Lists are paginated so
 * memory stays bounded in large clusters.
 *
 * The pod list is the one large read of every cycle (150,000 pods at 5,000 nodes). client-node's typed
 * client spends most of its time turning each page into class instances (ObjectSerializer), about twice
 * the cost of the request itself, so that list is a plain HTTPS GET with client-node's own credentials
 * and TLS settings (`applyToHTTPSOptions`), JSON.parse, and a check of the three fields we read.
 */
import https from 'node:https';
import { delimiter } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';

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

/** A Running pod's metadata and the node it runs on (spec.nodeName), for sharded cycles. */
export interface PodOnNode extends PodMeta {
  nodeName: string;
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

/**
 * The pod list as kube-apiserver's printer renders it, each row with its object's metadata: the one list
 * that carries both a pod's labels and its node (the Node column) without the whole pod.
 */
const TABLE_WITH_METADATA = 'application/json;as=Table;g=meta.k8s.io;v=v1,application/json';

interface TablePage {
  columnDefinitions?: { name?: unknown }[];
  rows: {
    cells?: unknown[];
    object?: { metadata?: { name?: unknown; namespace?: unknown; labels?: unknown } };
  }[];
  metadata?: { continue?: unknown };
}

function isTablePage(v: unknown): v is TablePage {
  return typeof v === 'object' && v !== null && Array.isArray((v as { rows?: unknown }).rows);
}

/** One page of a PartialObjectMetadataList (or a full PodList: the fields read are the same). */
interface MetadataPage {
  items: { metadata?: { name?: unknown; namespace?: unknown; labels?: unknown } }[];
  metadata?: { continue?: unknown };
}

function isMetadataPage(v: unknown): v is MetadataPage {
  return typeof v === 'object' && v !== null && Array.isArray((v as { items?: unknown }).items);
}

function stringRecord(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  for (const x of Object.values(v)) if (typeof x !== 'string') return {};
  return v as Record<string, string>;
}

/** An answer other than 200 from the API server: its status code and message (a Status body's, if any). */
export class ApiStatusError extends Error {
  override name = 'ApiStatusError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(`HTTP ${status}: ${message}`);
    this.status = status;
  }
}

export class KubeApi {
  #core: CoreV1Api;
  #kc: KubeConfig;
  #agent = new https.Agent({ keepAlive: true });

  constructor(kc: KubeConfig) {
    this.#kc = kc;
    this.#core = kc.makeApiClient(CoreV1Api);
  }

  /** GET on the API server with the kubeconfig's credentials and TLS settings; the parsed JSON body. */
  async #get(path: string, accept: string, timeoutMs?: number): Promise<unknown> {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const opts: https.RequestOptions = {};
    // Per request: an exec or token-file credential may rotate.
    await this.#kc.applyToHTTPSOptions(opts);
    const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { ...opts, agent: this.#agent, method: 'GET', headers: { ...opts.headers, Accept: accept } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            if (res.statusCode !== 200) {
              const message = (body as { message?: unknown } | undefined)?.message;
              reject(
                new ApiStatusError(
                  res.statusCode ?? 0,
                  typeof message === 'string' ? message : text.slice(0, 200),
                ),
              );
            } else if (body === undefined) reject(new Error(`${url.pathname}: the response is not JSON`));
            else resolve(body);
          });
        },
      );
      if (timeoutMs !== undefined)
        req.setTimeout(timeoutMs, () =>
          req.destroy(new Error(`${url.pathname}: no answer within ${timeoutMs} ms`)),
        );
      req.on('error', reject);
      req.end();
    });
  }

  /** A GET of JSON as the API server sent it (no client-side model classes); throws ApiStatusError. */
  getJson(path: string, timeoutMs?: number): Promise<unknown> {
    return this.#get(path, 'application/json', timeoutMs);
  }

  close(): void {
    this.#agent.destroy();
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
    let token = '';
    do {
      const query = `fieldSelector=status.phase%3DRunning&limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const page = await this.#get(`/api/v1/pods?${query}`, METADATA_ONLY);
      if (!isMetadataPage(page)) throw new Error('the pod list has no items array');
      for (const p of page.items) {
        const m = p.metadata;
        if (typeof m?.name === 'string' && m.name && typeof m.namespace === 'string' && m.namespace)
          out.push({ namespace: m.namespace, name: m.name, labels: stringRecord(m.labels) });
      }
      const next = page.metadata?.continue;
      token = typeof next === 'string' ? next : '';
    } while (token);
    return out;
  }

  /**
   * Running pods' metadata with each pod's node (a sharded cycle hands each shard the pods of its nodes):
   * the Table representation with `includeObject=Metadata`, paginated like the metadata list.
   */
  async listRunningPodsOnNodes(): Promise<PodOnNode[]> {
    const out: PodOnNode[] = [];
    let token = '';
    let nodeColumn = -1;
    do {
      const query = `fieldSelector=status.phase%3DRunning&includeObject=Metadata&limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const page = await this.#get(`/api/v1/pods?${query}`, TABLE_WITH_METADATA);
      if (!isTablePage(page)) throw new Error('the pod table has no rows array');
      if (page.columnDefinitions) nodeColumn = page.columnDefinitions.findIndex((c) => c.name === 'Node');
      if (nodeColumn < 0) throw new Error('the pod table has no Node column');
      for (const row of page.rows) {
        const m = row.object?.metadata;
        const nodeName = row.cells?.[nodeColumn];
        if (typeof m?.name === 'string' && m.name && typeof m.namespace === 'string' && m.namespace)
          out.push({
            namespace: m.namespace,
            name: m.name,
            labels: stringRecord(m.labels),
            nodeName: typeof nodeName === 'string' ? nodeName : '',
          });
      }
      const next = page.metadata?.continue;
      token = typeof next === 'string' ? next : '';
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
