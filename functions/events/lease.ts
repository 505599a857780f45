/**
 * One reader at a time: a lease in Redis (a key holding the holder's token, with a PX expiry), renewed
 * while the holder reads and delivers. Every journal and cursor write checks the token in the same
 * script (fencing, lua.ts), so an instance that lost the lease while paused cannot write after the next
 * holder took over. Locally the lease counts as held only until the last successful renewal's send time
 * plus the duration, less a margin: a holder cut off from Redis stops before another can take over.
 */
import { hostname } from 'node:os';
import type { Logger } from '../../shared/log.ts';
import { guarded, type RedisClient } from '../../shared/store/redis.ts';
import { script } from './lua.ts';

/** client-go's leader election defaults: a 15 s lease, renewed well before it ends. */
export const LEASE_DEFAULTS = { durationMs: 15_000, renewEveryMs: 5_000 } as const;

/** SET NX, or extend our own; otherwise who holds it and for how long. */
const ACQUIRE = script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
return {0, holder or '', redis.call('PTTL', KEYS[1])}
`);

const RENEW = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export type Acquisition = { acquired: true } | { acquired: false; holder: string; expiresInMs: number };

/** `<host>/<pid>/<random>`: readable in logs, and unique across restarts (pid 1 in every container). */
export const newToken = (): string =>
  `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`;

export class Lease {
  readonly token: string;
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #durationMs: number;
  readonly #renewEveryMs: number;
  readonly #log: Logger;
  #validUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #controller = new AbortController();
  #held = false;

  constructor(
    redis: RedisClient,
    key: string,
    o: { token?: string; durationMs?: number; renewEveryMs?: number; log: Logger },
  ) {
    this.#redis = redis;
    this.#key = key;
    this.token = o.token ?? newToken();
    this.#durationMs = o.durationMs ?? LEASE_DEFAULTS.durationMs;
    this.#renewEveryMs = o.renewEveryMs ?? LEASE_DEFAULTS.renewEveryMs;
    this.#log = o.log;
  }

  /** Aborted when the lease is lost (or released): everything done under it stops. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Held, as far as this instance can know: renewed recently enough that nobody else can hold it. */
  held(): boolean {
    return this.#held && performance.now() < this.#validUntil;
  }

  async tryAcquire(): Promise<Acquisition> {
    const sent = performance.now();
    const r = (await guarded(() => ACQUIRE(this.#redis, [this.#key], [this.token, this.#durationMs]))) as [
      number,
      string?,
      number?,
    ];
    if (r[0] !== 1) return { acquired: false, holder: r[1] ?? '', expiresInMs: Math.max(0, r[2] ?? 0) };
    this.#validUntil = sent + this.#validFor();
    if (!this.#held) {
      this.#held = true;
      this.#controller = new AbortController();
      this.#schedule();
    }
    return { acquired: true };
  }

  /** Gives the lease up at once (a standby takes over without waiting for it to expire). */
  async release(): Promise<void> {
    const wasHeld = this.#held;
    this.#stop('released');
    if (wasHeld) await guarded(() => RELEASE(this.#redis, [this.#key], [this.token])).catch(() => undefined);
  }

  /** A margin for clock rates and the time a command takes to reach Redis. */
  #validFor(): number {
    return this.#durationMs - Math.max(1000, this.#durationMs / 10);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#expiry);
    const untilInvalid = Math.max(0, this.#validUntil - performance.now());
    // At most half the time left, so a renewal delayed by a busy loop or a slow Redis still lands in time.
    this.#timer = setTimeout(() => void this.#renew(), Math.min(this.#renewEveryMs, untilInvalid / 2));
    this.#timer.unref();
    // A renewal stuck in a command that never returns must not keep the lease alive locally.
    this.#expiry = setTimeout(() => {
      if (this.#held && performance.now() >= this.#validUntil) this.#lose('not renewed in time');
    }, untilInvalid + 1);
    this.#expiry.unref();
  }

  async #renew(): Promise<void> {
    if (!this.#held) return;
    const sent = performance.now();
    try {
      const ok = await RENEW(this.#redis, [this.#key], [this.token, this.#durationMs]);
      if (!this.#held) return;
      if (ok !== 1) {
        this.#lose('another instance holds it now, or Redis lost it');
        return;
      }
      this.#validUntil = sent + this.#validFor();
    } catch (err) {
      if (!this.#held) return;
      if (performance.now() >= this.#validUntil) {
        this.#lose(`could not renew it in time: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      this.#log.debug(2, 'Events lease renewal failed; retrying', {
        err: err instanceof Error ? err.message : String(err),
      });
    }
    this.#schedule();
  }

  #lose(why: string): void {
    this.#log.warn('Lost the events lease', { holder: this.token, cause: why });
    this.#stop(`lease lost: ${why}`);
  }

  #stop(reason: string): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#expiry);
    this.#held = false;
    this.#validUntil = 0;
    if (!this.#controller.signal.aborted) this.#controller.abort(new LeaseLost(reason));
  }
}

/** What a lease's signal is aborted with. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}
