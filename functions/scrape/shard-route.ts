/**
 * POST /shard on the scraper's trigger server (the same port as POST /, under the same connection
 * limits): one shard of another instance's cycle (shard-contract.ts). The shared secret is checked
 * before the body is read, so an unauthenticated request gets 401 and scrapes nothing; a body that is
 * not a shard request gets 400 naming the field.
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '../../shared/log.ts';
import { StoreUnavailableError } from '../../shared/store/redis.ts';
import type { ShardSecret } from './shard-auth.ts';
import {
  SHARD_MAX_BODY_BYTES,
  SHARD_PATH,
  type ShardAnswer,
  type ShardRequest,
  shardRequestSchema,
} from './shard-contract.ts';

export interface ShardHandler {
  /** null: no --shard-secret-file, so no request can be authenticated. */
  secret: ShardSecret | null;
  run(req: ShardRequest, signal: AbortSignal): Promise<ShardAnswer>;
}

export function addShardRoute(app: Hono, h: ShardHandler, log: Logger): void {
  app.post(
    SHARD_PATH,
    async (c, next) => {
      if (h.secret === null || !h.secret.verify(c.req.header('authorization'))) {
        log.warn('Refused a shard request: no valid shared secret', {
          reason: h.secret === null ? 'no --shard-secret-file' : 'missing or wrong bearer token',
        });
        c.header('WWW-Authenticate', 'Bearer realm="shard"');
        return c.json({ error: 'unauthorized: a shard request needs the shared secret' }, 401);
      }
      await next();
    },
    bodyLimit({
      maxSize: SHARD_MAX_BODY_BYTES,
      onError: (c) => c.json({ error: `the body is larger than ${SHARD_MAX_BODY_BYTES} bytes` }, 413),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json({ error: 'the body is not JSON' }, 400);
      }
      const req = shardRequestSchema.safeParse(body);
      if (!req.success) {
        const issue = req.error.issues[0];
        return c.json({ error: `not a shard request: ${issue?.path.join('.')}: ${issue?.message}` }, 400);
      }
      const shard = `${req.data.shard.index + 1}/${req.data.shard.of}`;
      try {
        return c.json(await h.run(req.data, c.req.raw.signal));
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.error('Shard failed', {
          shard,
          nodes: req.data.nodes.length,
          coordinator: req.data.coordinator,
          err: error,
        });
        return c.json({ error }, err instanceof StoreUnavailableError ? 503 : 500);
      }
    },
  );
}
