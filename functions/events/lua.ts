/**
 * A Lua script run by its SHA (EVALSHA), loaded on first use and again whenever Redis forgot it (a
 * restart, a failover, SCRIPT FLUSH): the journal's scripts run several times a second, and their text
 * need not cross the wire each time.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../../shared/store/redis.ts';

export type Script = (
  redis: RedisClient,
  keys: readonly string[],
  args: readonly (string | number)[],
) => Promise<unknown>;

export function script(lua: string): Script {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}

/** Lua's `redis.error_reply('LEASELOST …')` as ioredis throws it, also as the cause of a store error. */
export const isLeaseLost = (err: unknown): boolean =>
  err instanceof Error && (err.message.startsWith('LEASELOST') || isLeaseLost(err.cause));

/** The fencing check every write script starts with: KEYS[1] is the lease, ARGV[1] the holder's token. */
export const FENCE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST this instance no longer holds the events lease')
end
`;
