/**
 * The lease a cycle's runner holds while it works: renewed every third of its length on Redis' clock, so
 * that when the runner dies another instance retakes the cycle as soon as the lease lapses (seconds),
 * instead of at the next due time. The renewals run beside the work, not inside it: a coordinator can
 * hold the lease while others (shards) do the scraping. A runner that loses the lease (Redis says
 * another instance holds the cycle, or no renewal was confirmed in time) aborts: it publishes nothing.
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
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Local monotonic time (performance.now) until which the lease is surely held. */
  #heldUntil: number;
  #ended = false;

  /** Starts renewing a lease just taken (at `takenAt`, performance.now(), or earlier: before the claim was sent). */
  constructor(store: LeaseStore, o: LeaseOptions, log: Logger, takenAt: number) {
    this.#store = store;
    this.#o = o;
    this.#log = log;
    this.#heldUntil = takenAt + o.leaseMs;
    this.#schedule();
  }

  /** Aborted (its reason a LeaseLostError) once the lease is lost. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Throws the LeaseLostError once the lease is lost. */
  check(): void {
    this.#abort.signal.throwIfAborted();
    if (performance.now() >= this.#heldUntil) this.#lose('no renewal of its lease was confirmed in time');
    this.#abort.signal.throwIfAborted();
  }

  /** Renews now and throws LeaseLostError unless the lease is still this runner's: just before publishing. */
  async confirm(): Promise<void> {
    this.check();
    await this.#renew();
    this.check();
  }

  /**
   * Stops renewing and records how the cycle ended (unless the lease was lost). Never throws: a cycle
   * that published stays published; unrecorded, its lease lapses and another instance runs it again.
   */
  async end(state: 'done' | 'failed'): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
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

  #schedule(): void {
    this.#timer = setTimeout(() => {
      void this.#renew().finally(() => {
        if (!this.#ended && !this.#abort.signal.aborted) this.#schedule();
      });
    }, this.#o.leaseMs / 3);
  }

  async #renew(): Promise<void> {
    const { start, holder, leaseMs, resolutionMs } = this.#o;
    const sentAt = performance.now();
    try {
      const r = await this.#store.renewCycle(start, holder, leaseMs, resolutionMs);
      if (r.held) this.#heldUntil = Math.max(this.#heldUntil, sentAt + leaseMs);
      else this.#lose(r.holder === '' ? 'its lease is gone' : `another instance holds it (${r.holder})`);
    } catch (err) {
      // Redis did not answer: the lease may still be held; it is lost once it would have lapsed.
      this.#log.debug(1, 'Could not renew the scrape cycle lease', {
        err: err instanceof Error ? err.message : String(err),
      });
      if (performance.now() >= this.#heldUntil) this.#lose('no renewal of its lease was confirmed in time');
    }
  }

  #lose(why: string): void {
    if (this.#abort.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#abort.abort(new LeaseLostError(`the cycle is no longer this instance's: ${why}`));
  }
}
