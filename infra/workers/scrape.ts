/**
 * The scraper's cycle on Cloudflare Workers, over `fetch` only. Workers cannot do what the Node scraper
 * does to reach kubelets (a node:https Agent with the cluster's private CA, client certificates, direct
 * connections to node IPs), so here:
 *
 * - the API server is reached at KUBE_API_SERVER with the bearer token KUBE_TOKEN; in production its
 *   certificate must be publicly trusted (Workers' fetch has no way to trust a private CA);
 * - kubelets are read through the API server's node proxy (--kubelet-via=proxy, KUBELET_VIA=proxy),
 *   which needs the `nodes/proxy` permission — kubelet admin; direct kubelet access is refused with
 *   a clear error instead of failing node by node.
 *
 * The cycle itself (lock, rates, rendering, Redis writes) is the Node scraper's own runCycle.
 */
import { type CycleResult, runCycle } from '../../functions/scrape/cycle.ts';
import { decode } from '../../functions/scrape/decode/index.ts';
import { KubeletError, kubeletUrl } from '../../functions/scrape/kubelet.ts';
import { logSkip } from '../../functions/scrape/trigger.ts';
import { loadScrapeConfig, type ScrapeConfig } from '../../shared/config/index.ts';
import type { NodeObject, PodMeta } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import { parseLabelSelector } from '../../shared/selectors/index.ts';
import type { RedisClient } from '../../shared/store/redis.ts';
import { RedisMetricsWriter } from '../../shared/store/writer.ts';
import { fileSettingProblem, type WorkerEnv } from './settings.ts';

/** Workers allow 6 simultaneous outgoing connections per invocation. */
export const WORKERS_MAX_CONNECTIONS = 6;

export interface WorkersScrapeConfig {
  config: ScrapeConfig;
  apiServer: string;
  token: string;
}

/** A setting the Workers scraper cannot work without, or cannot honour. */
export class WorkersScrapeError extends Error {
  override name = 'WorkersScrapeError';
}

/** The scraper's flags from the Worker's variables, plus the API server; throws what is missing. */
export function workersScrapeConfig(env: WorkerEnv): WorkersScrapeConfig {
  const config = loadScrapeConfig([], env);
  const apiServer = env.KUBE_API_SERVER ?? '';
  const token = env.KUBE_TOKEN ?? '';
  if (apiServer === '' || token === '') {
    throw new WorkersScrapeError(
      'the Workers scraper needs KUBE_API_SERVER (an API server URL with a publicly trusted certificate) and ' +
        'the secret KUBE_TOKEN (a ServiceAccount token): Workers cannot read a kubeconfig or in-cluster credentials',
    );
  }
  if (config.kubeletVia !== 'proxy') {
    throw new WorkersScrapeError(
      'the Workers scraper reads kubelets only through the API server (KUBELET_VIA=proxy, which needs ' +
        'nodes/proxy): Workers cannot open TLS connections to node addresses with the cluster CA',
    );
  }
  const file = fileSettingProblem([
    ['KUBELET_CERTIFICATE_AUTHORITY', config.kubeletCertificateAuthority !== ''],
    ['KUBELET_CLIENT_CERTIFICATE', config.kubeletClientCertificate !== ''],
    ['KUBECONFIG', config.kubeconfig !== ''],
  ]);
  if (file !== undefined) throw new WorkersScrapeError(file);
  return { config, apiServer: apiServer.replace(/\/+$/, ''), token };
}

async function getJson(url: string, token: string, accept = 'application/json'): Promise<unknown> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept } });
  if (!res.ok)
    throw new Error(`GET ${new URL(url).pathname}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

interface List<T> {
  items?: T[];
  metadata?: { continue?: string };
}

interface NodeJson {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
}

interface MetaJson {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

/** The API server over fetch: the two lists a cycle needs, paginated as the Node scraper's. */
export function fetchApi(apiServer: string, token: string) {
  async function* pages<T>(path: string, query: Record<string, string>, accept?: string) {
    let next = '';
    do {
      const q = new URLSearchParams({ ...query, limit: '500', ...(next ? { continue: next } : {}) });
      const page = (await getJson(`${apiServer}${path}?${q}`, token, accept)) as List<T>;
      yield* page.items ?? [];
      next = page.metadata?.continue ?? '';
    } while (next);
  }
  return {
    async listNodes(): Promise<NodeObject[]> {
      const out: NodeObject[] = [];
      for await (const n of pages<NodeJson>('/api/v1/nodes', {})) {
        out.push({
          name: n.metadata?.name ?? '',
          labels: n.metadata?.labels ?? {},
          annotations: n.metadata?.annotations ?? {},
          addresses: n.status?.addresses ?? [],
          kubeletPort: n.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0,
        });
      }
      return out;
    },
    async listRunningPods(): Promise<PodMeta[]> {
      const out: PodMeta[] = [];
      const metadataOnly =
        'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
      for await (const p of pages<MetaJson>(
        '/api/v1/pods',
        { fieldSelector: 'status.phase=Running' },
        metadataOnly,
      )) {
        const m = p.metadata;
        if (m?.name && m.namespace)
          out.push({ namespace: m.namespace, name: m.name, labels: m.labels ?? {} });
      }
      return out;
    },
  };
}

/** Kubelets through the API server's node proxy, over fetch, with the per-node timeout and size limit. */
export function fetchKubelets(c: WorkersScrapeConfig) {
  const o = {
    endpoint: c.config.kubeletEndpoint,
    via: 'proxy' as const,
    port: c.config.kubeletPort,
    useNodeStatusPort: c.config.kubeletUseNodeStatusPort,
    preferredAddressTypes: [...c.config.kubeletPreferredAddressTypes],
    timeoutMs: c.config.kubeletRequestTimeoutMs,
    maxBytes: c.config.kubeletMaxResponseSizeBytes,
  };
  return {
    /** Every node's kubelet is reached at the API server (the node proxy). */
    endpoint: (node: NodeObject) => kubeletUrl(node, o, c.apiServer).host,
    async scrape(node: NodeObject) {
      const requestTime = Date.now();
      let body: string;
      try {
        const res = await fetch(kubeletUrl(node, o, c.apiServer), {
          headers: { authorization: `Bearer ${c.token}` },
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        body = await res.text();
        if (!res.ok)
          throw new KubeletError(`request failed, status: "${res.status}", body: ${body.slice(0, 120)}`);
      } catch (err) {
        if (err instanceof KubeletError) throw err;
        const timeout = err instanceof Error && err.name === 'TimeoutError';
        throw new KubeletError(timeout ? `timeout after ${o.timeoutMs / 1000}s` : String(err), {
          cause: err,
          timeout,
        });
      }
      if (body.length > o.maxBytes) throw new KubeletError(`response larger than ${o.maxBytes} bytes`);
      try {
        return decode(o.endpoint, body, requestTime);
      } catch (err) {
        throw new KubeletError(
          `failed parsing metrics: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
          },
        );
      }
    },
  };
}

/** One cycle, as the scheduled handler runs it; `redis` is this invocation's own client. */
export async function scrapeOnce(
  c: WorkersScrapeConfig,
  redis: RedisClient,
  log: Logger,
  holder: string,
): Promise<CycleResult> {
  const r = await runCycle(
    {
      api: fetchApi(c.apiServer, c.token),
      kubelet: fetchKubelets(c),
      store: new RedisMetricsWriter(redis),
      log,
    },
    {
      resolutionMs: c.config.metricResolutionMs,
      kubeletTimeoutMs: c.config.kubeletRequestTimeoutMs,
      concurrency: Math.min(c.config.kubeletConcurrency, WORKERS_MAX_CONNECTIONS - 1),
      nodeSelector: c.config.nodeSelector ? parseLabelSelector(c.config.nodeSelector) : null,
      holder,
    },
    // A cron tick is a trigger: one cycle per resolution, whichever invocation runs it.
    'trigger',
  );
  if (!r.ran) logSkip(log, r, 'tick');
  return r;
}
