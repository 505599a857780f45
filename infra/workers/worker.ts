/**
 * The two functions as one Cloudflare Worker (wrangler.toml at the repository root):
 *
 * - `fetch` is the serve function's Hono app (functions/serve/app.ts) behind the serve function's own
 *   guard (bearer tokens by TokenReview, every request by SubjectAccessReview: auth.ts), reading Redis
 *   through its own RedisMetricsReader, over one ioredis client per invocation (Workers forbid sharing
 *   sockets across requests), closed once the response body has been sent;
 * - `scheduled` runs one scrape cycle per cron tick (infra/workers/scrape.ts says what it can and cannot
 *   reach from a Worker), or fails with a line that says which setting is missing and why.
 *
 * A Worker cannot be the APIService backend (no TLS server with the aggregator's client certificate):
 * it serves metrics.k8s.io over Cloudflare's HTTPS to clients that reach it directly (docs/deploy.md).
 * Settings are the flags' variables (REDIS_URL, METRIC_RESOLUTION, …) as [vars] and secrets, plus the
 * Worker's own: KUBE_API_SERVER, KUBE_TOKEN (scrape), KUBE_AUTH_TOKEN and INSECURE_DISABLE_AUTHENTICATION
 * (serve: auth.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createApp } from '../../functions/serve/app.ts';
import { throttled } from '../../functions/serve/auth/throttle.ts';
import { type Status, statusResponse } from '../../functions/serve/status.ts';
import { loadServeConfig } from '../../shared/config/index.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { RedisMetricsReader } from '../../shared/store/reader.ts';
import { connect, createRedis, type RedisClient, redisTarget } from '../../shared/store/redis.ts';
import { DISABLED_WARNING, workersAuth } from './auth.ts';
import { scrapeOnce, workersScrapeConfig } from './scrape.ts';
import type { WorkerEnv } from './settings.ts';

/** The parts of Workers' ExecutionContext and ScheduledController used here. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}
export interface ScheduledControllerLike {
  readonly cron: string;
  readonly scheduledTime: number;
}

function logger(env: WorkerEnv): Logger {
  const v = Number(env.V ?? 0);
  return createLogger({
    verbosity: Number.isInteger(v) ? v : 0,
    format: env.LOG_FORMAT === 'json' ? 'json' : 'text',
    write: (line) => console.log(line),
  });
}

async function close(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => undefined);
  redis.disconnect();
}

/** A client for this invocation only; connection failures become 503 Statuses through the app. */
async function redisFor(env: WorkerEnv, commandTimeoutMs: number, log: Logger): Promise<RedisClient> {
  const config = loadServeConfig([], env);
  // No outage log: a failed connect is reported below, once per invocation.
  const redis = createRedis(redisTarget(config), { commandTimeoutMs });
  await connect(redis).catch((err: unknown) => log.warn('Redis connection failed', { err: String(err) }));
  return redis;
}

/**
 * The invocation a piece of work belongs to. Reviews are shared by the requests of an isolate and may
 * be refreshed in the background after the response that started them: each is kept alive with the
 * waitUntil of the invocation that started it, or Workers would cancel it half-way.
 */
const invocation = new AsyncLocalStorage<ExecutionContextLike>();
const keepAlive = (call: Promise<unknown>) => invocation.getStore()?.waitUntil(call);

const reportRefusal = throttled();

/** Every request, while the Worker has no way to authenticate one: it serves nothing. */
function refused(reason: string, log: Logger): Response {
  if (reportRefusal(reason))
    log.error('Refusing every request: authentication is not configured', { err: reason });
  const status: Status = {
    message: `Internal error occurred: the Worker cannot authenticate requests, so it serves none: ${reason}`,
    reason: 'InternalError',
    code: 500,
    details: { causes: [{ message: reason }] },
  };
  return statusResponse(status);
}

/** The serve app for one request, over a Redis client of its own, closed once the body is sent. */
async function serveFromRedis(
  request: Request,
  env: WorkerEnv,
  log: Logger,
  ctx: ExecutionContextLike,
): Promise<Response> {
  const redis = await redisFor(env, 1000, log);
  const response = await createApp({ reader: new RedisMetricsReader(redis), log }).fetch(request);
  if (!response.body) {
    ctx.waitUntil(close(redis));
    return response;
  }
  // A pod list streams from Redis while it is sent: close the client only once the body is done.
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  ctx.waitUntil(response.body.pipeTo(writable).finally(() => close(redis)));
  return new Response(readable, response);
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
    const log = logger(env);
    const auth = workersAuth(env, { log, keepAlive });
    const serve = (r: Request) => serveFromRedis(r, env, log, ctx);
    switch (auth.mode) {
      case 'refused':
        return refused(auth.reason, log);
      case 'delegated':
        // Authenticated and authorized before Redis is even connected: a 401 or 403 costs no socket.
        return invocation.run(ctx, () => auth.gate(request, serve));
      case 'disabled': {
        const response = await serve(request);
        const warned = new Response(response.body, response);
        warned.headers.append('warning', DISABLED_WARNING);
        return warned;
      }
    }
  },

  async scheduled(
    controller: ScheduledControllerLike,
    env: WorkerEnv,
    ctx: ExecutionContextLike,
  ): Promise<void> {
    const log = logger(env);
    const run = async () => {
      const config = workersScrapeConfig(env);
      const redis = await redisFor(env, Math.max(5000, config.config.metricResolutionMs / 2), log);
      try {
        const r = await scrapeOnce(
          config,
          redis,
          log,
          `workers/${controller.cron}/${controller.scheduledTime}`,
        );
        if (r.ran && r.nodes > 0 && r.scraped === 0) throw new Error(`every node failed (${r.nodes})`);
      } finally {
        await close(redis);
      }
    };
    // Logged here, then rethrown: the invocation shows as failed in Workers' cron event log.
    const cycle = run().catch((err: unknown) => {
      log.error('Scrape cycle failed', { err: err instanceof Error ? err.message : String(err) });
      throw err;
    });
    ctx.waitUntil(cycle);
    await cycle;
  },
};
