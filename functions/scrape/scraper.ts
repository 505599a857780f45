/**
 * The scraper's composition root: from its configuration to a `run(kind)` that every entry point calls
 * (--once, --loop, the HTTP trigger). Connections (Redis, the API server, kubelets) are
 * made once and reused across cycles.
 */
import type https from 'node:https';
import { hostname } from 'node:os';
import { type ScrapeConfig, shardTimeoutMs } from '../../shared/config/index.ts';
import type { Informer } from '../../shared/informer.ts';
import { KubeApi, loadKubeConfig, type NodeObject, type PodMeta } from '../../shared/kube.ts';
import { kubeCredentials } from '../../shared/kube-credentials.ts';
import type { Logger } from '../../shared/log.ts';
import { createMetricsRegistry, type RequestFigure, statsWrite } from '../../shared/metrics.ts';
import { parseLabelSelector } from '../../shared/selectors/index.ts';
import { RedisMetricsReader } from '../../shared/store/reader.ts';
import { connect, createRedis, duplicate, guarded, redisTarget } from '../../shared/store/redis.ts';
import { RedisMetricsWriter } from '../../shared/store/writer.ts';
import type { ShardTransport } from './coordinator.ts';
import { ignoredWithProxy, readKubeletCredentials } from './credentials.ts';
import { type CycleKind, type CycleResult, runCycle } from './cycle.ts';
import { nodeInformer, podInformer } from './informers.ts';
import { KubeletClient, type TlsOptions } from './kubelet.ts';
import { runShard, type ShardDeps } from './shard.ts';
import { ShardSecret } from './shard-auth.ts';
import { remoteShards } from './shard-client.ts';
import type { ShardAnswer, ShardRequest } from './shard-contract.ts';
import { PodsByNode } from './shards.ts';
import { rememberingStates } from './state-memory.ts';

export interface Scraper {
  /**
   * Runs one cycle as `kind` asks (`once`: now, after any cycle in progress; `trigger`: the cycle due,
   * unless another instance ran or runs it); throws when it could not run at all.
   */
  run(kind: CycleKind): Promise<CycleResult>;
  /** One shard of another instance's cycle (POST /shard); throws when it could not run. */
  shard(req: ShardRequest, signal: AbortSignal): Promise<ShardAnswer>;
  /** The shared secret POST /shard must carry (null: no --shard-secret-file). */
  readonly shardSecret: ShardSecret | null;
  /** /metrics: this process' metrics and the scraper's stored figures (as every serve replica shows them). */
  metrics(): Promise<{ contentType: string; body: string }>;
  close(): Promise<void>;
}

export function createScraper(config: ScrapeConfig, log: Logger): Scraper {
  // The kubelet client needs only the kubeconfig's server and credentials, read without client-node
  // where it can be (shared/kube-credentials.ts). So do the lists (plain HTTPS GETs, shared/kube.ts):
  // client-node's KubeConfig is loaded only to watch (its Watch), or where the kubeconfig is one that
  // kube-credentials.ts leaves to it. A --once or sharded scraper, and an instance that only scrapes
  // shards (they carry its nodes and pods), never load it (≈ 40 MiB of a coordinator's peak).
  const creds = kubeCredentials(config.kubeconfig);
  const server = creds.server;
  // A process that outlives its cycles (--loop, a trigger server) keeps nodes and pods from a watch, as
  // metrics-server's informers do, and lists only when it has no cache that followed on without a gap;
  // --once lists every time (its process ends with its cycle). A sharded cycle lists pods with their
  // nodes (listRunningPodsOnNodes), which no informer keeps yet.
  const longLived = !config.once && config.shardSize === 0;
  let kubeApi: KubeApi | null = null;
  const api = () => {
    kubeApi ??= new KubeApi(creds);
    return kubeApi;
  };
  let informers: { nodes: Informer<NodeObject>; pods: Informer<PodMeta> } | null = null;
  if (longLived) {
    const kc = loadKubeConfig(config.kubeconfig);
    kubeApi = new KubeApi(kc);
    informers = { nodes: nodeInformer(kc, kubeApi, log), pods: podInformer(kc, kubeApi, log) };
  }
  const lists = {
    listNodes: () => (informers ? informers.nodes.items() : api().listNodes()),
    listRunningPods: () => (informers ? informers.pods.items() : api().listRunningPods()),
    listRunningPodsOnNodes: async () => {
      const pods = new PodsByNode();
      await api().listRunningPodsOnNodes((p) => pods.add(p));
      return pods;
    },
  };

  const redis = createRedis(redisTarget(config), {
    // A cycle's pipelines can be large; they must still fail well before the next cycle.
    commandTimeoutMs: Math.max(5000, config.metricResolutionMs / 2),
    log,
  });
  // The cycle's lease is renewed on a connection of its own, so it never waits behind the cycle's writes.
  const lockRedis = duplicate(redis);
  const store = new RedisMetricsWriter(redis, lockRedis);
  // A long-lived, unsharded process keeps the node states it wrote, for its next cycle (state-memory.ts).
  const cycleStore = longLived ? rememberingStates(store) : store;
  const nodeSelector = config.nodeSelector ? parseLabelSelector(config.nodeSelector) : null;
  // At start, not at the first cycle: an unreadable or mismatched file is a configuration error.
  const credentials = readKubeletCredentials(config);
  const ignored = ignoredWithProxy(config);
  if (ignored.length > 0) {
    log.warn(
      'Kubelet TLS flags are ignored with --kubelet-via=proxy: the API server uses its own credentials',
      {
        flags: ignored,
      },
    );
  }

  let kubelet: KubeletClient | null = null;
  const kubeletClient = async (): Promise<KubeletClient> => {
    // The kubeconfig's credentials, applied per cycle: an exec or token-file credential may rotate.
    const opts: https.RequestOptions = {};
    await creds.applyToHTTPSOptions(opts);
    if (!kubelet) {
      const direct = config.kubeletVia === 'direct';
      const tls: TlsOptions = {
        ca: credentials.ca ?? opts.ca,
        cert: credentials.cert ?? opts.cert,
        key: credentials.key ?? opts.key,
        rejectUnauthorized: direct ? !config.kubeletInsecureTls : opts.rejectUnauthorized !== false,
      };
      kubelet = new KubeletClient(
        tls,
        {
          endpoint: config.kubeletEndpoint,
          via: config.kubeletVia,
          port: config.kubeletPort,
          useNodeStatusPort: config.kubeletUseNodeStatusPort,
          preferredAddressTypes: [...config.kubeletPreferredAddressTypes],
          timeoutMs: config.kubeletRequestTimeoutMs,
          maxBytes: config.kubeletMaxResponseSizeBytes,
        },
        server,
      );
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      // With a kubelet client certificate, kubelets never see the ServiceAccount token: a compromised
      // node could replay it against the API server (metrics-server sends both).
      if (credentials.cert && k.toLowerCase() === 'authorization') continue;
      if (typeof v === 'string') headers[k] = v;
    }
    kubelet.setHeaders(headers);
    return kubelet;
  };

  const holder = `${hostname()}/${process.pid}`;
  // At start: an unreadable, empty or short secret file is a configuration error.
  const shardSecret = config.shardSecretFile ? ShardSecret.read(config.shardSecretFile) : null;
  const reader = new RedisMetricsReader(redis);
  const registry = createMetricsRegistry({ scrapeStats: () => reader.scrapeStats() });
  let sessionsLoaded = false;
  let requests: RequestFigure[] = [];
  /** Connected, with the kubelet client ready (sessions a previous process saved imported once). */
  const ready = async (): Promise<KubeletClient> => {
    await guarded(() => Promise.all([connect(redis), connect(lockRedis)]));
    const client = await kubeletClient();
    if (!sessionsLoaded) {
      sessionsLoaded = true;
      client.onRequest((r) => requests.push(r));
      // A fresh process resumes the TLS sessions an earlier one saved instead of a full handshake each.
      try {
        client.importSessions(await store.readTlsSessions());
      } catch (err) {
        log.warn('Could not read saved kubelet TLS sessions', {
          err: err instanceof Error ? err.message : String(err),
        });
      }
    }
    return client;
  };
  const shardDeps = (client: KubeletClient, remote: boolean): ShardDeps => ({
    kubelet: client,
    store,
    log,
    instance: holder,
    // A shard another instance coordinates hands its requests' figures to that instance's record.
    ...(remote
      ? {
          takeRequests: (nodes: ReadonlySet<string>) => {
            const taken = requests.filter((r) => nodes.has(r.node));
            requests = requests.filter((r) => !nodes.has(r.node));
            return taken;
          },
        }
      : {}),
  });
  const concurrency = config.kubeletConcurrency;
  return {
    shardSecret,
    async shard(req, signal) {
      const deps = shardDeps(await ready(), true);
      try {
        return await runShard(deps, { concurrency }, req, signal);
      } catch (err) {
        // Nobody asks for a failed shard's figures: they must not pile up here.
        deps.takeRequests?.(new Set(req.nodes.map((n) => n.name)));
        throw err;
      }
    },
    async run(kind) {
      const client = await ready();
      requests = [];
      // The cycle's own figures go with its record (runCycle), each node's with its registration.
      const figures = (r: CycleResult, shardRequests: readonly RequestFigure[]) => {
        const stats = statsWrite({
          requests: [...requests, ...shardRequests],
          tickSeconds: r.durationMs / 1000,
          resolutionSeconds: config.metricResolutionMs / 1000,
          points: r.points,
        });
        requests = [];
        return stats;
      };
      const shards: ShardTransport | undefined =
        config.shardSize === 0
          ? undefined
          : config.shardUrl !== ''
            ? remoteShards(config.shardUrl, shardSecret!)
            : {
                where: 'in-process',
                concurrent: false,
                run: (shard, timeoutMs, signal) =>
                  runShard(shardDeps(client, false), { concurrency }, shard.request(timeoutMs), signal),
              };
      return runCycle(
        { api: lists, kubelet: client, store: cycleStore, figures, log, ...(shards ? { shards } : {}) },
        {
          resolutionMs: config.metricResolutionMs,
          kubeletTimeoutMs: config.kubeletRequestTimeoutMs,
          concurrency,
          nodeSelector,
          holder,
          shardSize: config.shardSize,
          shardTimeoutMs: shardTimeoutMs(config),
        },
        kind,
      );
    },
    async metrics() {
      // Before the first cycle the client has not connected yet; a Redis that is down only leaves the
      // stored figures out.
      await connect(redis).catch(() => undefined);
      const { contentType, body, scrapeError } = await registry.render();
      if (scrapeError) log.debug(2, 'Stored scrape metrics unavailable', { err: scrapeError });
      return { contentType, body };
    },
    async close() {
      kubelet?.close();
      informers?.nodes.close();
      informers?.pods.close();
      kubeApi?.close();
      redis.disconnect();
      lockRedis.disconnect();
    },
  };
}
