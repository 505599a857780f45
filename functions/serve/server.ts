/**
 * The serve function on Node: the app over HTTPS on --bind-address:--secure-port, optionally the health
 * endpoints over plain HTTP on --port (for OpenFaaS' watchdog, Knative's queue-proxy, kubelet probes),
 * one Redis client with fail-fast options that reconnects by itself, and a graceful stop.
 *
 * Redis being down never stops the process: it serves from the first second, answering 503 Statuses and
 * failing /readyz until Redis answers, then recovers without a restart.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { createAdaptorServer } from '@hono/node-server';
import type { ServeConfig } from '../../shared/config/index.ts';
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
  /** Graceful stop: stop accepting, finish in-flight requests, quit Redis. */
  close(): Promise<void>;
}

export interface ServeOptions {
  log: Logger;
  /** How long close() lets in-flight requests finish before cutting connections. */
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

/** A URL host for a listening address: unspecified addresses are reached on loopback. */
function urlHost(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets in-flight requests finish (closing each keep-alive connection once idle). */
function drain(server: Server, drainMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
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

  let shuttingDown = false;
  const version = versionInfo(
    packageVersion(),
    `node ${process.version}`,
    `${process.platform}/${process.arch}`,
  );
  const app = createApp({ reader, log, store, version, shuttingDown: () => shuttingDown, guard: auth.guard });

  const servers: Server[] = [];
  const stop = async () => {
    shuttingDown = true;
    clearInterval(pinger);
    auth.close();
    await Promise.all(servers.map((s) => drain(s, o.drainMs ?? 10_000)));
    unwatch();
    await quit(redis);
    await tls.cleanup();
  };

  try {
    const https = createAdaptorServer({
      fetch: app.fetch,
      createServer: createHttpsServer,
      // Every client is asked for a certificate and admitted either way: the guard decides per request.
      serverOptions: {
        cert: tls.certPem,
        key: tls.keyPem,
        keepAlive: true,
        ...tlsPolicy,
        ...auth.tlsOptions(),
      },
    }) as Server;
    // A reloaded CA applies to new connections; the guard re-checks every request against it anyway.
    auth.onTlsChange(({ ca }) =>
      (https as unknown as TlsServer).setSecureContext({
        cert: tls.certPem,
        key: tls.keyPem,
        ...tlsPolicy,
        ...(ca ? { ca } : {}),
      }),
    );
    // Idle keep-alive connections live as long as the generic apiserver keeps them (90 s), longer than
    // the aggregator's and client-go's idle timeouts, so a client never reuses a connection being closed.
    https.keepAliveTimeout = 90_000;
    https.headersTimeout = 32_000;
    servers.push(https);
    const port = await listen(https, config.securePort, config.bindAddress);
    const url = `https://${urlHost(config.bindAddress)}:${port}`;

    let probeUrl: string | null = null;
    if (config.port !== 0) {
      const probeApp = createProbeApp({ log, store, shuttingDown: () => shuttingDown });
      const probes = createAdaptorServer({ fetch: probeApp.fetch }) as Server;
      servers.push(probes);
      const p = await listen(probes, config.port, config.bindAddress);
      probeUrl = `http://${urlHost(config.bindAddress)}:${p}`;
    }

    log.info('Serving metrics.k8s.io securely', { url, probeUrl, cert: tls.certFile });
    return { url, probeUrl, close: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
