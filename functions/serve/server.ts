/**
 * The serve function on Node: the app over HTTPS on --bind-address:--secure-port, optionally the health
 * endpoints over plain HTTP on --port (for OpenFaaS' watchdog, Knative's queue-proxy, kubelet probes),
 * one Redis client with fail-fast options that reconnects by itself, and a graceful stop.
 *
 * Redis being down never stops the process: it serves from the first second, answering 503 Statuses and
 * failing /readyz until Redis answers, then recovers without a restart.
 */
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import type { ServeConfig } from '../../shared/config/index.ts';
import { Serving } from '../../shared/http/serving.ts';
import type { Logger } from '../../shared/log.ts';
import { RedisMetricsReader } from '../../shared/store/reader.ts';
import { connect, createRedis, type RedisClient, redisTarget } from '../../shared/store/redis.ts';
import { createApp, createProbeApp } from './app.ts';
import { startAuth } from './auth/index.ts';
import { versionInfo } from './discovery.ts';
import { StoreProbe } from './health.ts';
import { servingCertificate, servingTlsPolicy } from './tls.ts';

export interface ServeHandle {
  /** `https://<host>:<port>` of the metrics API. */
  url: string;
  /** `http://<host>:<port>` of the probe port, or null without --port. */
  probeUrl: string | null;
  /**
   * Graceful stop: readiness fails at once, requests are answered for --shutdown-delay-duration, then
   * the listeners close, keep-alive connections close after their current response, requests in flight
   * finish (within `drainMs`); then Redis is quit.
   */
  close(): Promise<void>;
}

export interface ServeOptions {
  log: Logger;
  /** How long close() lets in-flight requests finish, after the shutdown delay, before cutting them. */
  drainMs?: number;
  /** How often the CAs (files, extension-apiserver-authentication) are read again; default 30 s. */
  authRefreshMs?: number;
}

/** Per-command timeout: a request whose Redis command does not answer in this time is a 503. */
const COMMAND_TIMEOUT_MS = 1000;
/** Background PING: keeps the reader's Redis clock offset fresh and readiness current without probes. */
const PING_EVERY_MS = 5000;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

async function quit(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => undefined);
  redis.disconnect();
}

export async function startServe(config: ServeConfig, o: ServeOptions): Promise<ServeHandle> {
  const { log } = o;
  const redisAt = redisTarget(config); // first: a bad Redis credential file stops the start here
  const tlsPolicy = servingTlsPolicy(config, log);
  const tls = await servingCertificate(config, log);
  // Before anything listens: a serve function that cannot authenticate must not start.
  const auth = await startAuth(config, {
    log,
    ...(o.authRefreshMs ? { refreshMs: o.authRefreshMs } : {}),
  }).catch(async (err: unknown) => {
    await tls.cleanup();
    throw err;
  });

  const redis = createRedis(redisAt, { commandTimeoutMs: COMMAND_TIMEOUT_MS, log });
  const reader = new RedisMetricsReader(redis);
  const unwatch = reader.watchCycles(log);
  const store = new StoreProbe(() => reader.ping(), { log });
  // Not awaited: the server answers (503, /readyz failing) while Redis is still unreachable, and ioredis
  // keeps reconnecting by itself after a failed first attempt.
  connect(redis).then(
    () => store.refresh(),
    (err: unknown) => store.failed(err),
  );
  const pinger = setInterval(() => void store.refresh(), PING_EVERY_MS);
  pinger.unref();

  const serving = new Serving({ maxOpenConnections: config.maxOpenConnections, log });
  const shuttingDown = () => serving.stopping;
  const version = versionInfo(
    packageVersion(),
    `node ${process.version}`,
    `${process.platform}/${process.arch}`,
  );
  const app = createApp({ reader, log, store, version, shuttingDown, guard: auth.guard });

  const stop = async (delayMs: number) => {
    await serving.shutdown(delayMs, o.drainMs);
    clearInterval(pinger);
    auth.close();
    unwatch();
    await quit(redis);
    await tls.cleanup();
  };

  try {
    const api = await serving.listen({
      name: 'metrics API',
      fetch: app.fetch,
      port: config.securePort,
      host: config.bindAddress,
      // Every client is asked for a certificate and admitted either way: the guard decides per request.
      tls: { cert: tls.certPem, key: tls.keyPem, ...tlsPolicy, ...auth.tlsOptions() },
    });
    // A reloaded CA applies to new connections; the guard re-checks every request against it anyway.
    auth.onTlsChange(({ ca }) =>
      (api.server as unknown as TlsServer).setSecureContext({
        cert: tls.certPem,
        key: tls.keyPem,
        ...tlsPolicy,
        ...(ca ? { ca } : {}),
      }),
    );

    let probeUrl: string | null = null;
    if (config.port !== 0) {
      const probeApp = createProbeApp({ log, store, shuttingDown });
      const probes = await serving.listen({
        name: 'probes',
        fetch: probeApp.fetch,
        port: config.port,
        host: config.bindAddress,
      });
      probeUrl = probes.url;
    }

    log.info('Serving metrics.k8s.io securely', {
      url: api.url,
      probeUrl,
      cert: tls.certFile,
      maxOpenConnections: config.maxOpenConnections,
    });
    return { url: api.url, probeUrl, close: () => stop(config.shutdownDelayDurationMs) };
  } catch (err) {
    await stop(0);
    throw err;
  }
}
