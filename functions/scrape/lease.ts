/**
 * The lease a cycle's runner holds while it works, renewed every fifth of its length on Redis' clock, so
 * that when the runner dies another instance retakes the cycle as soon as the lease lapses instead of at
 * the next due time. The renewals run beside the work, not inside it: a coordinator can hold the lease
 * while others (shards) do the scraping. Only Redis' word ends the lease: a runner whose renewal finds
 * the cycle held by another instance (or gone) aborts and publishes nothing, and just before publishing
 * it renews once more and must hear that it still holds the cycle.
 */
import type { Logger } from '../../shared/log.ts';
import type { CycleRenewal } from '../../shared/store/writer.ts';

/** The narrow store interface the lease needs. */
export interface LeaseStore {
  renewCycle(start: number, holder: string, leaseMs: number, resolutionMs: number): Promise<CycleRenewal>;
  endCycle(start: number, holder: string, state: 'done' | 'failed', resolutionMs: number): Promise<boolean>;
}

export interface LeaseOptions {
  /** The cycle's start (Redis clock, ms): with the holder, the lease's identity. */
  start: number;
  holder: string;
  leaseMs: number;
  resolutionMs: number;
}

/**
 * Renewals per lease: a runner whose event loop stalls keeps its lease as long as its renewals reach
 * Redis less than a lease apart. Measured at 5,000 nodes on a 2-core machine at load 13 (the project's
 * shared one): renewals every 2 s reached Redis at most about 7 s apart, the cold cycle's TLS handshakes
 * included, within its 10 s lease.
 */
const RENEWALS_PER_LEASE = 5;

const at = (ms: number) => new Date(ms).toISOString();

/** The cycle is no longer this runner's: it must stop and publish nothing. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export class CycleLease {
  readonly #store: LeaseStore;
  readonly #o: LeaseOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #timer: ReturnType<typeof setInterval>;
  #renewing: Promise<void> | null = null;
  #ended = false;

  /** Starts renewing a lease just taken. */
  constructor(store: LeaseStore, o: LeaseOptions, log: Logger) {
    this.#store = store;
    this.#o = o;
    this.#log = log;
    // One renewal at a time: a slow one is not joined by another behind it.
    this.#timer = setInterval(() => {
      if (this.#renewing === null) void this.#renew(false);
    }, o.leaseMs / RENEWALS_PER_LEASE);
  }

  /** Aborted (its reason a LeaseLostError) once the lease is lost. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Throws the LeaseLostError once the lease is lost. */
  check(): void {
    this.#abort.signal.throwIfAborted();
  }

  /**
   * Just before publishing: renews now, and throws unless Redis says the cycle is still this runner's
   * (LeaseLostError, or the store's error when Redis does not answer).
   */
  async confirm(): Promise<void> {
    this.check();
    await this.#renewing?.catch(() => undefined);
    await this.#renew(true);
    this.check();
  }

  /**
   * Stops renewing and records how the cycle ended (unless the lease was lost). Never throws: a cycle
   * that published stays published; unrecorded, its lease lapses and another instance runs it again.
   */
  async end(state: 'done' | 'failed'): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    if (this.#abort.signal.aborted) return;
    const { start, holder, resolutionMs } = this.#o;
    try {
      if (!(await this.#store.endCycle(start, holder, state, resolutionMs))) {
        this.#log.warn('Scrape cycle ended after another instance took it over', { cycle: at(start) });
      }
    } catch (err) {
      this.#log.warn('Could not record the end of the scrape cycle; its lease lapses instead', {
        cycle: at(start),
        err: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** One renewal; `strict`: a failure to reach Redis is thrown, not only logged. */
  #renew(strict: boolean): Promise<void> {
    const { start, holder, leaseMs, resolutionMs } = this.#o;
    const renewing = (async () => {
      try {
        const r = await this.#store.renewCycle(start, holder, leaseMs, resolutionMs);
        if (!r.held) {
          this.#lose(r.holder === '' ? 'its lease is gone' : `another instance holds it (${r.holder})`);
        }
      } catch (err) {
        // Redis did not answer: the lease may still be held; the next renewal tries again.
        this.#log.debug(1, 'Could not renew the scrape cycle lease', {
          err: err instanceof Error ? err.message : String(err),
        });
        if (strict) throw err;
      } finally {
        this.#renewing = null;
      }
    })();
    this.#renewing = renewing;
    return renewing;
  }

  #lose(why: string): void {
    if (this.#abort.signal.aborted) return;
    clearInterval(this.#timer);
    this.#abort.abort(new LeaseLostError(`the cycle is no longer this instance's: ${why}`));
  }
}
