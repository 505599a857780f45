/**
 * Each sink's own position on the journal, and the journal's trimming (keys.ts: `cursors`, `inflight`,
 * `sinks`). A cursor is what the sink acknowledged (`<journal id> <n>`); before a batch is sent its range
 * is recorded as in flight, so that after a crash the same records are sent again, cut the same way
 * (the same Batch.key), before anything new. Every write checks the lease token, like the journal's.
 */
import type { EventKeys } from '../../shared/store/keys.ts';
import { guarded, type RedisClient } from '../../shared/store/redis.ts';
import { FENCE, script } from './lua.ts';

/** Acknowledged through `id` (inclusive); `0-0`/0 before the first acknowledgement. */
export interface Position {
  id: string;
  n: number;
}

/** A batch recorded before it was sent: the entries after `after` through `last` (whose `n` is `n`). */
export interface InFlight {
  after: string;
  last: string;
  n: number;
}

export interface SinkState {
  cursor: Position;
  inflight: InFlight | null;
}

export const START: Position = { id: '0-0', n: 0 };

const BEGIN = script(`${FENCE}
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`);

const ACK = script(`${FENCE}
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
`);

/**
 * KEYS: lease, journal, cursors, inflight, sinks. ARGV: token, --journal-max-age (ms), the configured
 * sinks' names. Marks them configured now, forgets sinks not configured for longer than the max age,
 * and trims the journal to what is newer than both the oldest configured cursor and the max age.
 */
const MAINTAIN = script(`${FENCE}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxAge = tonumber(ARGV[2])
local configured = {}
for i = 3, #ARGV do
  configured[ARGV[i]] = true
  redis.call('HSET', KEYS[5], ARGV[i], string.format('%.0f', now))
end
local forgotten = {}
local all = redis.call('HGETALL', KEYS[5])
for i = 1, #all, 2 do
  local name = all[i]
  if not configured[name] and now - (tonumber(all[i + 1]) or 0) > maxAge then
    redis.call('HDEL', KEYS[5], name)
    redis.call('HDEL', KEYS[3], name)
    redis.call('HDEL', KEYS[4], name)
    table.insert(forgotten, name)
  end
end
local minMs, minSeq = nil, nil
for i = 3, #ARGV do
  local ms, seq = 0, 0
  local c = redis.call('HGET', KEYS[3], ARGV[i])
  if c then
    local a, b = string.match(c, '^(%d+)-(%d+)')
    ms, seq = tonumber(a) or 0, tonumber(b) or 0
  end
  if minMs == nil or ms < minMs or (ms == minMs and seq < minSeq) then minMs, minSeq = ms, seq end
end
local floorMs, floorSeq = now - maxAge, 0
if minMs ~= nil and minMs >= floorMs then floorMs, floorSeq = minMs, minSeq + 1 end
local trimmed = redis.call('XTRIM', KEYS[2], 'MINID', string.format('%.0f-%.0f', floorMs, floorSeq))
return {trimmed, forgotten}
`);

const position = (text: string | null): Position => {
  const [id, n] = (text ?? '').split(' ');
  return id && n ? { id, n: Number(n) } : START;
};

const inFlight = (text: string | null): InFlight | null => {
  const [after, last, n] = (text ?? '').split(' ');
  return after && last && n ? { after, last, n: Number(n) } : null;
};

export class SinkPositions {
  readonly #redis: RedisClient;
  readonly #keys: EventKeys;

  constructor(redis: RedisClient, keys: EventKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  load(names: readonly string[]): Promise<Map<string, SinkState>> {
    return guarded(async () => {
      const out = new Map<string, SinkState>();
      if (names.length === 0) return out;
      const [cursors, inflight] = await Promise.all([
        this.#redis.hmget(this.#keys.cursors, ...names),
        this.#redis.hmget(this.#keys.inflight, ...names),
      ]);
      names.forEach((name, i) => {
        out.set(name, { cursor: position(cursors[i] ?? null), inflight: inFlight(inflight[i] ?? null) });
      });
      return out;
    });
  }

  /** Records the range about to be sent to `sink`. */
  async begin(sink: string, range: InFlight, token: string): Promise<void> {
    await guarded(() =>
      BEGIN(
        this.#redis,
        [this.#keys.lease, this.#keys.inflight],
        [token, sink, `${range.after} ${range.last} ${range.n}`],
      ),
    );
  }

  /** `sink` accepted everything through `to`: its cursor moves there and nothing is in flight. */
  async ack(sink: string, to: Position, token: string): Promise<void> {
    await guarded(() =>
      ACK(
        this.#redis,
        [this.#keys.lease, this.#keys.cursors, this.#keys.inflight],
        [token, sink, `${to.id} ${to.n}`],
      ),
    );
  }

  /**
   * Marks `sinks` as configured, forgets the cursors of sinks gone for longer than `maxAgeMs`, and trims
   * the journal to what some configured sink still needs and is younger than `maxAgeMs`.
   */
  maintain(
    sinks: readonly string[],
    maxAgeMs: number,
    token: string,
  ): Promise<{ trimmed: number; forgotten: string[] }> {
    return guarded(async () => {
      const k = this.#keys;
      const [trimmed, forgotten] = (await MAINTAIN(
        this.#redis,
        [k.lease, k.journal, k.cursors, k.inflight, k.sinks],
        [token, maxAgeMs, ...sinks],
      )) as [number, string[]];
      return { trimmed, forgotten };
    });
  }
}
