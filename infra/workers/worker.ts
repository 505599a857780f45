/**
 * The two functions as one Cloudflare Worker (wrangler.toml at the repository root):
 *
 * - `fetch` is the serve function's Hono app (functions/serve/app.ts) reading Redis through its own
 *   RedisMetricsReader, over one ioredis client per invocation (Workers forbid sharing sockets across
 *   requests), closed once the response body has been sent;
 * - `scheduled` runs one scrape cycle per cron tick (infra/workers/scrape.ts says what it can and cannot
 *   reach from a Worker), or fails with a line that says which setting is missing and why.
 *
 * A Worker cannot be the APIService backend (no TLS server with the aggregator's client certificate):
 * it serves metrics.k8s.io over Cloudflare's HTTPS to clients that reach it directly (docs/deploy.md).
 * Settings are the flags' variables (REDIS_URL, METRIC_RESOLUTION, …) as [vars] and secrets.
 */
import { createApp } from '../../functions/serve/app.ts';
import { loadServeConfig } from '../../shared/config/index.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { RedisMetricsReader } from '../../shared/store/reader.ts';
import { connect, createRedis, type RedisClient, redisTarget } from '../../shared/store/redis.ts';
import { scrapeOnce, type WorkerEnv, workersScrapeConfig } from './scrape.ts';

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

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
    const log = logger(env);
    const redis = await redisFor(env, 1000, log);
    const app = createApp({ reader: new RedisMetricsReader(redis), log });
    const response = await app.fetch(request);
    if (!response.body) {
      ctx.waitUntil(close(redis));
      return response;
    }
    // A pod list streams from Redis while it is sent: close the client only once the body is done.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    ctx.waitUntil(response.body.pipeTo(writable).finally(() => close(redis)));
    return new Response(readable, response);
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
