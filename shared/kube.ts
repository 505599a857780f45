/**
 * The API server, through @kubernetes/client-node: the kubeconfig (a file, $KUBECONFIG, or in-cluster),
 * and the two lists the scraper needs each cycle: nodes, and the metadata of Running pods (their labels
 * feed label selectors; only Running pods are visible, as in metrics-server). Lists are paginated so
 * memory stays bounded in large clusters.
 *
 * The pod list is the one large read of every cycle (150,000 pods at 5,000 nodes). client-node's typed
 * client spends most of its time turning each page into class instances (ObjectSerializer), about twice
 * the cost of the request itself, so that list is a plain HTTPS GET with the kubeconfig's credentials
 * and TLS settings (`applyToHTTPSOptions`), JSON.parse, and a check of the three fields we read. The
 * node list is read the same way (it was client-node's CoreV1Api). Those credentials are a KubeConfig's,
 * or those shared/kube-credentials.ts reads without client-node (ApiCredentials): a scraper that lists
 * but never watches (--once, sharded) need not load client-node at all.
 *
 * Of client-node only KubeConfig and Watch are used, and they are loaded on first use, without the
 * rest: its package index, and even its config.js, import the generated API (≈ 3,000 modules of model
 * classes and API clients) — ≈ 85 MiB and 0.5–0.7 s of every start, for two names config.js takes from
 * it (createConfiguration, ServerConfiguration). While config.js loads, a resolve hook gives it a
 * module exporting just those two (the same bindings, from the same files: ./kube-gen.ts), so
 * KubeConfig behaves as the package's own. A process that imports the whole package gets the same
 * KubeConfig (config.js is loaded once either way).
 */
import https from 'node:https';
import { createRequire, registerHooks } from 'node:module';
import { delimiter } from 'node:path';
import type { KubeConfig, Watch } from '@kubernetes/client-node';
import { ConfigError } from './config/load.ts';

interface ClientNode {
  KubeConfig: typeof KubeConfig;
  Watch: typeof Watch;
}

/** What of client-node's dist/config.js imports from ./gen/index.js: ./kube-gen.ts exports exactly these. */
export const CONFIG_GEN_IMPORTS = ['createConfiguration', 'ServerConfiguration'] as const;

let clientNode: ClientNode | undefined;

/** KubeConfig and Watch, loaded on the first call (synchronously: `require` of client-node's ES modules). */
export function kubeClient(): ClientNode {
  if (clientNode) return clientNode;
  const load = createRequire(import.meta.url);
  const slim = new URL('./kube-gen.ts', import.meta.url).href;
  const hooks = registerHooks({
    resolve(specifier, context, next) {
      if (
        specifier === './gen/index.js' &&
        context.parentURL?.endsWith('/@kubernetes/client-node/dist/config.js')
      )
        return { url: slim, shortCircuit: true };
      return next(specifier, context);
    },
  });
  try {
    const config = load('@kubernetes/client-node/dist/config.js') as typeof import('@kubernetes/client-node');
    const watch = load('@kubernetes/client-node/dist/watch.js') as typeof import('@kubernetes/client-node');
    clientNode = { KubeConfig: config.KubeConfig, Watch: watch.Watch };
  } finally {
    hooks.deregister();
  }
  return clientNode;
}

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
 * ($KUBECONFIG, ~/.kube/config, in-cluster) in client-node's order when empty. A file that cannot be
 * read or parsed is a ConfigError naming `--<flag>` and the file, so the program stops with one line.
 */
export function loadKubeConfig(path: string, flag = 'kubeconfig'): KubeConfig {
  const { KubeConfig } = kubeClient(); // outside the try: a failure here is no fault of the file
  try {
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
    if (!kc.getCurrentCluster()) throw new Error('it names no cluster');
    return kc;
  } catch (err) {
    const what = path === '' ? 'the default kubeconfig' : `--${flag} ${path}`;
    throw new ConfigError(`cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const PAGE = 500;
/** Ask for metadata only (as metrics-server's metadata informer does); full objects are the fallback. */
export const METADATA_ONLY =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

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

/** One page of a list as the API server sent it: a PartialObjectMetadataList, a PodList, a NodeList. */
interface ListPage<T> {
  items: T[];
  metadata?: { continue?: unknown };
}

type MetadataPage = ListPage<{ metadata?: { name?: unknown; namespace?: unknown; labels?: unknown } }>;

/** The fields of a Node that are read, as JSON gives them (any may be missing or of another type). */
type NodePage = ListPage<{
  metadata?: { name?: unknown; labels?: unknown; annotations?: unknown };
  status?: {
    addresses?: unknown;
    daemonEndpoints?: { kubeletEndpoint?: { Port?: unknown } };
  };
}>;

function isMetadataPage(v: unknown): v is ListPage<never> {
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

/**
 * What a KubeApi needs of a kubeconfig: the API server's URL and the credentials and TLS settings of a
 * request. shared/kube-credentials.ts reads them without client-node (a lister that never watches, such
 * as a --once or sharded scraper, so never loads client-node); a KubeConfig gives them too.
 */
export interface ApiCredentials {
  readonly server: string;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

function isKubeConfig(c: KubeConfig | ApiCredentials): c is KubeConfig {
  return typeof (c as KubeConfig).getCurrentCluster === 'function';
}

export class KubeApi {
  #creds: KubeConfig | ApiCredentials;
  #agent = new https.Agent({ keepAlive: true });

  constructor(creds: KubeConfig | ApiCredentials) {
    this.#creds = creds;
  }

  /** GET on the API server with the kubeconfig's credentials and TLS settings; the parsed JSON body. */
  async #get(path: string, accept: string, timeoutMs?: number): Promise<unknown> {
    const c = this.#creds;
    const server = isKubeConfig(c) ? c.getCurrentCluster()?.server : c.server;
    if (server === undefined) throw new Error('no current cluster in the kubeconfig');
    const opts: https.RequestOptions = {};
    // Per request: an exec or token-file credential may rotate.
    await c.applyToHTTPSOptions(opts);
    const url = new URL(`${server.replace(/\/+$/, '')}${path}`);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { ...opts, agent: this.#agent, method: 'GET', headers: { ...opts.headers, Accept: accept } },
        (res) => {
          // Decoded as it comes: a page (1–2 MB of a pod list's JSON, 600 pages at 10,000 nodes) is
          // not first copied into one native Buffer of its size.
          const chunks: string[] = [];
          res.setEncoding('utf8');
          res.on('data', (c: string) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = chunks.join('');
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
  getJson(path: string, timeoutMs?: number, accept = 'application/json'): Promise<unknown> {
    return this.#get(path, accept, timeoutMs);
  }

  close(): void {
    this.#agent.destroy();
  }

  async listNodes(): Promise<NodeObject[]> {
    const out: NodeObject[] = [];
    let token = '';
    do {
      const query = `limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const page = await this.#get(`/api/v1/nodes?${query}`, 'application/json');
      if (!isMetadataPage(page)) throw new Error('the node list has no items array');
      for (const n of (page as NodePage).items) out.push(nodeObject(n));
      const next = page.metadata?.continue;
      token = typeof next === 'string' ? next : '';
    } while (token);
    return out;
  }

  async listRunningPods(): Promise<PodMeta[]> {
    const out: PodMeta[] = [];
    let token = '';
    do {
      const query = `fieldSelector=${encodeURIComponent(RUNNING_PODS.fieldSelector)}&limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const page = await this.#get(`/api/v1/pods?${query}`, METADATA_ONLY);
      if (!isMetadataPage(page)) throw new Error('the pod list has no items array');
      for (const p of (page as MetadataPage).items) {
        const pod = podMeta(p);
        if (pod) out.push(pod);
      }
      const next = page.metadata?.continue;
      token = typeof next === 'string' ? next : '';
    } while (token);
    return out;
  }

  /**
   * Running pods' metadata with each pod's node (a sharded cycle hands each shard the pods of its nodes):
   * the Table representation with `includeObject=Metadata`, paginated like the metadata list. Each pod
   * is handed to `visit` as its page is read, so that no list of them all need be held.
   */
  async listRunningPodsOnNodes(visit: (pod: PodOnNode) => void): Promise<void> {
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
          visit({
            namespace: m.namespace,
            name: m.name,
            labels: stringRecord(m.labels),
            nodeName: typeof nodeName === 'string' ? nodeName : '',
          });
      }
      const next = page.metadata?.continue;
      token = typeof next === 'string' ? next : '';
    } while (token);
  }
}

/** The Running pods' list and watch (shared/kube-watch.ts): the field selector both use. */
export const RUNNING_PODS = { fieldSelector: 'status.phase=Running' } as const;

/** A pod's metadata from a list item or watch object (metadata-only or full); null without name or namespace. */
export function podMeta(p: unknown): PodMeta | null {
  const m = (p as MetadataPage['items'][number] | null)?.metadata;
  if (typeof m?.name === 'string' && m.name && typeof m.namespace === 'string' && m.namespace)
    return { namespace: m.namespace, name: m.name, labels: stringRecord(m.labels) };
  return null;
}

/** A node from a list item or watch object, as listNodes reads it; null without a name. */
export function nodeFromJson(raw: unknown): NodeObject | null {
  const n = nodeObject((raw ?? {}) as NodePage['items'][number]);
  return n.name === '' ? null : n;
}

function nodeObject(n: NodePage['items'][number]): NodeObject {
  const name = n.metadata?.name;
  const port = n.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  const addresses = Array.isArray(n.status?.addresses) ? (n.status.addresses as unknown[]) : [];
  return {
    name: typeof name === 'string' ? name : '',
    labels: stringRecord(n.metadata?.labels),
    annotations: stringRecord(n.metadata?.annotations),
    addresses: addresses.flatMap((a) => {
      const { type, address } = (a ?? {}) as { type?: unknown; address?: unknown };
      return typeof type === 'string' && typeof address === 'string' ? [{ type, address }] : [];
    }),
    kubeletPort: typeof port === 'number' ? port : 0,
  };
}
