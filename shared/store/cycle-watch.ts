/**
 * A serve replica's knowledge of the newest scrape cycle, kept current by the scraper's announcements
 * (`ms:{cycle}:announce:<db>`, see keys.ts) on a subscriber connection of its own. While it is known, a kept
 * list built from that cycle is current without asking Redis; whenever it may not be (not yet subscribed,
 * the connection lost, reconnecting), `latest()` is null and callers ask Redis per request, as without it.
 *
 * On every (re)connection it subscribes first and reads `ms:{cycle}` second, so no announcement falls
 * between the two; the newest of what it reads and hears wins.
 *
 * Pub/sub delivers at most once, and not every loss shows as a lost connection: a Cluster client moves
 * its subscription to another node by itself when the node it was on dies (ioredis tells no one), and
 * an announcement published meanwhile is gone. So the watch also reads `ms:{cycle}` again every
 * second (one GET): a cycle it did not hear of is noticed within that time, and the
 * kept lists of the cycle before are served at most that much longer.
 */
import type { Logger } from '../log.ts';
import { cycleChannel, keys } from './keys.ts';
import { databaseOf, duplicate, type RedisClient } from './redis.ts';

/** How often the watch reads `ms:{cycle}` to catch an announcement it missed. */
const CHECK_EVERY_MS = 1000;

export class CycleWatch {
  readonly #redis: RedisClient;
  readonly #sub: RedisClient;
  readonly #log: Logger;
  readonly #channel: string;
  #latest: number | null = null;
  /** The newest cycle announced on this connection so far (announcements can outrun the key's read). */
  #heard = 0;
  /** Bumped on every connection loss: a read begun before it must not set `latest` after it. */
  #epoch = 0;
  #closed = false;
  readonly #checker: ReturnType<typeof setInterval>;

  /** Starts watching through a duplicate of `redis` (same target and options); `redis` reads the key. */
  constructor(redis: RedisClient, log: Logger) {
    this.#redis = redis;
    this.#log = log;
    this.#channel = cycleChannel(databaseOf(redis));
    this.#sub = duplicate(redis); // the main client reports outages (createRedis' outage log)
    this.#sub.on('message', (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const cycle = Number(message);
      if (!Number.isFinite(cycle)) return;
      this.#heard = Math.max(this.#heard, cycle);
      if (this.#latest !== null) this.#latest = Math.max(this.#latest, cycle);
    });
    for (const lost of ['close', 'reconnecting', 'end']) {
      this.#sub.on(lost, () => {
        this.#latest = null;
        this.#epoch++;
      });
    }
    this.#sub.on('ready', () => void this.#sync());
    this.#sub.connect().catch(() => {}); // retried by ioredis' reconnect strategy
    this.#checker = setInterval(() => void this.#check(), CHECK_EVERY_MS);
    this.#checker.unref();
  }

  /** The newest cycle (its start, ms), or null when it may not be known. */
  latest(): number | null {
    return this.#latest;
  }

  async #sync(): Promise<void> {
    const epoch = this.#epoch;
    try {
      await this.#sub.subscribe(this.#channel);
      const stored = await this.#redis.get(keys.latestCycle);
      if (epoch !== this.#epoch || this.#closed) return;
      // Nothing announced yet (a scraper that never finished a cycle here): 0 matches no list.
      const read = stored === null ? 0 : Number(stored);
      this.#latest = Math.max(this.#heard, Number.isFinite(read) ? read : 0);
    } catch (err) {
      this.#log.debug(2, 'Cycle announcements not followed; lists are checked per request', {
        err: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Catches up with a cycle whose announcement was lost (never moves backwards). */
  async #check(): Promise<void> {
    if (this.#latest === null) return; // not following yet: #sync reads the key when it is
    const epoch = this.#epoch;
    try {
      const read = Number((await this.#redis.get(keys.latestCycle)) ?? 0);
      if (epoch !== this.#epoch || this.#latest === null || !(read > this.#latest)) return;
      this.#log.debug(2, 'Cycle announcement missed; caught up', { cycle: read, known: this.#latest });
      this.#latest = read;
    } catch {
      // Redis not answering: requests find out and answer 503 (or serve a kept list still valid).
    }
  }

  close(): void {
    clearInterval(this.#checker);
    this.#closed = true;
    this.#latest = null;
    this.#sub.disconnect();
  }
}
