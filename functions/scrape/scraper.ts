/**
 * The scraper's composition root: from its configuration to a `runOnce()` that every trigger calls
 * (--once, --loop, the HTTP trigger, a Workers cron). Connections (Redis, the API server, kubelets) are
 * made once and reused across cycles.
 */
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { hostname } from 'node:os';
import type { ScrapeConfig } from '../../shared/config/index.ts';
import { KubeApi, loadKubeConfig } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import { parseLabelSelector } from '../../shared/selectors/index.ts';
import { connect, createRedis, guarded, redisTarget } from '../../shared/store/redis.ts';
import { RedisMetricsWriter } from '../../shared/store/writer.ts';
import { type CycleResult, runCycle } from './cycle.ts';
import { KubeletClient, type TlsOptions } from './kubelet.ts';

export interface Scraper {
  /** Runs one cycle (or learns that another instance ran it); throws when it could not run at all. */
  runOnce(): Promise<CycleResult>;
  close(): Promise<void>;
}

/** Logs the first Redis connection error of a streak and the recovery, not every reconnect attempt. */
function redisErrorLogger(log: Logger) {
  let down = false;
  return {
    onError: (err: Error) => {
      if (!down) log.error('Redis connection failed; retrying', { err: err.message });
      down = true;
    },
    onReady: () => {
      if (down) log.info('Redis connection restored');
      down = false;
    },
  };
}

export function createScraper(config: ScrapeConfig, log: Logger): Scraper {
  const kc = loadKubeConfig(config.kubeconfig);
  const api = new KubeApi(kc);
  const server = kc.getCurrentCluster()!.server;

  const redisLog = redisErrorLogger(log);
  const redis = createRedis(redisTarget(config), {
    // A cycle's pipelines can be large; they must still fail well before the next cycle.
    commandTimeoutMs: Math.max(5000, config.metricResolutionMs / 2),
    onError: redisLog.onError,
  });
  redis.on('ready', redisLog.onReady);
  const store = new RedisMetricsWriter(redis);
  const nodeSelector = config.nodeSelector ? parseLabelSelector(config.nodeSelector) : null;

  let kubelet: KubeletClient | null = null;
  const kubeletClient = async (): Promise<KubeletClient> => {
    // The kubeconfig's credentials, applied per cycle: an exec or token-file credential may rotate.
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    if (!kubelet) {
      const direct = config.kubeletVia === 'direct';
      const tls: TlsOptions = {
        ca:
          direct && config.kubeletCertificateAuthority
            ? readFileSync(config.kubeletCertificateAuthority)
            : opts.ca,
        cert:
          direct && config.kubeletClientCertificate
            ? readFileSync(config.kubeletClientCertificate)
            : opts.cert,
        key: direct && config.kubeletClientKey ? readFileSync(config.kubeletClientKey) : opts.key,
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
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    kubelet.setHeaders(headers);
    return kubelet;
  };

  const holder = `${hostname()}/${process.pid}`;
  return {
    async runOnce() {
      await guarded(() => connect(redis));
      const client = await kubeletClient();
      return runCycle(
        { api, kubelet: client, store, log },
        {
          resolutionMs: config.metricResolutionMs,
          kubeletTimeoutMs: config.kubeletRequestTimeoutMs,
          concurrency: config.kubeletConcurrency,
          nodeSelector,
          holder,
        },
      );
    },
    async close() {
      kubelet?.close();
      redis.disconnect();
    },
  };
}
