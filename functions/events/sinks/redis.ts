/**
 * `--sink 'redis:?stream=k8s-events'` (the function's own Redis) or
 * `--sink 'redis:redis://host:6379/2?stream=k8s-events'` (another one; rediss:// for TLS): each record
 * XADDed to the user's stream with the fields `id`, `verb`, `time` and `record` (its JSON).
 *
 * Options: `stream` (default k8s-events), `maxlen` (default 100000, an approximate cap as XADD MAXLEN ~
 * applies it; 0 = none), `password_file` (a file holding the password: never the URL's).
 *
 * Idempotent by record id: one script per batch first reads the stream's newest entries (twice the batch
 * plus 64, in case something else writes there too) and adds only the records whose id is not among
 * them. A batch is added whole or not at all, and a redelivered batch is always the last one sent, so
 * a redelivery after a crash adds nothing. The script touches that one key: it works on Redis Cluster.
 */
import { z } from 'zod';
import { redactUrl, redisUrlCheck } from '../../../shared/config/flags.ts';
import { connect, createRedis, type RedisClient } from '../../../shared/store/redis.ts';
import { script } from '../lua.ts';
import { count, parseOptions, queryOptions, readSecret } from './options.ts';
import { type Batch, type Delivery, InvalidSink, type Sink, SinkError, type SinkKind } from './sink.ts';

const Options = z.strictObject({
  stream: z.string().min(1, 'must not be empty').default('k8s-events'),
  /** 0: no cap. */
  maxlen: count(0, Number.MAX_SAFE_INTEGER).default(100_000),
  password_file: z.string().min(1).optional(),
});

const options = (params: URLSearchParams) =>
  parseOptions('redis', Options, queryOptions('redis', params, { secrets: { password: 'password_file' } }));

export type RedisSinkOptions = z.infer<typeof Options> & {
  /** Another Redis (no password: that comes from password_file); undefined = the function's own. */
  url: string | undefined;
};

/** KEYS[1] the stream. ARGV: maxlen (0: none), how many newest entries to look at, then id/verb/time/record. */
const ADD = script(`
local seen = {}
for _, e in ipairs(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'id' then seen[f[i + 1]] = true end
  end
end
local maxlen = tonumber(ARGV[1])
local added = 0
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  if not seen[id] then
    if maxlen > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'id', id, 'verb', ARGV[i + 1], 'time', ARGV[i + 2], 'record', ARGV[i + 3])
    else
      redis.call('XADD', KEYS[1], '*', 'id', id, 'verb', ARGV[i + 1], 'time', ARGV[i + 2], 'record', ARGV[i + 3])
    end
    seen[id] = true
    added = added + 1
  end
end
return added
`);

export class RedisStreamSink implements Sink {
  readonly name: string;
  readonly maxBatch = 500;
  readonly #redis: RedisClient;
  readonly #own: boolean;
  readonly #o: RedisSinkOptions;

  /** `redis` is the function's own client (not closed here), or null to connect to `o.url`. */
  constructor(name: string, o: RedisSinkOptions, redis: RedisClient | null) {
    this.name = name;
    this.#o = o;
    this.#own = redis === null;
    if (redis) this.#redis = redis;
    else {
      const url = new URL(o.url ?? '');
      if (o.password_file)
        url.password = encodeURIComponent(readSecret('redis', 'password_file', o.password_file));
      this.#redis = createRedis({ mode: 'single', url: url.toString() }, { commandTimeoutMs: 10_000 });
    }
  }

  async deliver(batch: Batch, signal: AbortSignal): Promise<Delivery> {
    if (signal.aborted) throw new SinkError('delivery aborted');
    const args: (string | number)[] = [this.#o.maxlen, 2 * batch.records.length + 64];
    for (const r of batch.records) args.push(r.id, r.verb, r.time, JSON.stringify(r));
    try {
      // Connected once, a client that lost its server fails commands at once (no offline queue), so
      // a sink that is down costs a pass little; only the first connection is waited for.
      if (this.#redis.status === 'wait') await connect(this.#redis, 2000);
      await ADD(this.#redis, [this.#o.stream], args);
    } catch (err) {
      const where = this.#o.url ? redactUrl(this.#o.url) : 'this Redis';
      throw new SinkError(
        `stream ${this.#o.stream} on ${where}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return { rejected: [] };
  }

  async close(): Promise<void> {
    if (this.#own) this.#redis.disconnect();
  }
}

export const redisSink: SinkKind<RedisSinkOptions> = {
  kind: 'redis',
  parse(rest) {
    if (rest === '' || rest.startsWith('?')) {
      const o = options(new URLSearchParams(rest.slice(1)));
      if (o.password_file)
        throw new InvalidSink(
          "redis: password_file goes with a redis:// URL; the function's own Redis uses its --redis-* credentials",
        );
      return { ...o, url: undefined };
    }
    let u: URL;
    try {
      u = new URL(rest);
    } catch {
      throw new InvalidSink(
        `redis: ${JSON.stringify(redactUrl(rest))} is neither ?OPTIONS nor a redis:// URL`,
      );
    }
    const o = options(u.searchParams);
    if (u.password !== '')
      throw new InvalidSink(
        'redis: a password in the URL would show in flags and logs; use password_file=FILE',
      );
    u.search = '';
    u.hash = '';
    const problem = redisUrlCheck(u.toString());
    if (problem !== undefined) throw new InvalidSink(`redis: ${JSON.stringify(u.toString())} ${problem}`);
    if (o.password_file) readSecret('redis', 'password_file', o.password_file); // unreadable: refused at start, not at the first batch
    return { ...o, url: u.toString() };
  },
  create(name, options, context) {
    if (options.url === undefined && !context.redis)
      throw new InvalidSink("redis: no Redis of the function's own to write to; give a redis:// URL");
    return new RedisStreamSink(name, options, options.url === undefined ? context.redis! : null);
  },
};
