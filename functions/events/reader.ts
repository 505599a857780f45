/**
 * Events in from the checkpoint: a bounded watch from the resourceVersion kept in Redis (bookmarks on,
 * so that it keeps moving while nothing happens), and a paged LIST when there is none or the API server
 * answers 410 Gone. Each chunk of what the watch sent is journaled with the checkpoint moved to its
 * last resourceVersion in the same script (journal.ts): the checkpoint never passes an unjournaled
 * version. The list's pages are journaled as they come, and the checkpoint moves to the list's
 * resourceVersion with its last page; what a re-list returns that was journaled before is recognised
 * there and appended again only if it changed.
 *
 * The API server is reached through the narrow EventSource below (kube-source.ts implements it with
 * @kubernetes/client-node), so this logic is tested against a small fake of it.
 */
import type { Logger } from '../../shared/log.ts';
import type { AppendResult, Journal } from './journal.ts';
import { type KubeEvent, KubeEvent as KubeEventSchema } from './record.ts';
import { sleep } from './sleep.ts';

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: unknown }
  | { type: 'BOOKMARK'; resourceVersion: string };

export interface ListPage {
  items: unknown[];
  /** The list's resourceVersion: where a watch continues from once every page is read. */
  resourceVersion: string;
  /** The next page's token; '' after the last. */
  continue: string;
}

/** The API server's 410 Gone: that resourceVersion (or continue token) is older than it keeps. */
export class ResourceExpired extends Error {
  override name = 'ResourceExpired';
}

/** The Events the function reads (all namespaces, or one), as the API server serves them. */
export interface EventSource {
  /** One page of a LIST (`limit`, `continue`); throws ResourceExpired for an expired continue token. */
  list(o: { limit: number; continue?: string }): Promise<ListPage>;
  /**
   * A watch from `resourceVersion` with bookmarks, which the server ends after `timeoutSeconds`: each
   * chunk is what arrived since the last one was taken. Ends when the server closes it or `signal`
   * aborts; throws ResourceExpired for 410 Gone (as a status or an ERROR event).
   */
  watch(o: {
    resourceVersion: string;
    timeoutSeconds: number;
    signal: AbortSignal;
  }): AsyncIterable<WatchEvent[]>;
}

/** What a read journaled. */
export interface ReadSummary {
  journaled: number;
  duplicates: number;
  unchanged: number;
  relists: number;
  /** Reached the API server's resourceVersion as of the start (or, where that cannot be told, idle). */
  caughtUp: boolean;
}

export interface ReaderObserver {
  /** After each append (also one that only moved the checkpoint). */
  appended?(r: AppendResult): void;
  relisted?(): void;
}

/** Items per LIST page, and the most versions one journal script takes. */
export const PAGE = 500;
/**
 * A pass's watches are short: the API server sends a bookmark 2 s before a watch's timeout
 * (k8s.io/apiserver cache_watcher.go, nextBookmarkTime), so with nothing new a pass ends in seconds,
 * its checkpoint moved to the present.
 */
export const PASS_WATCH_SECONDS = 5;
/** Under --loop, client-go's reflector range: 5 to 10 minutes, spread so replicas do not reconnect together. */
const LOOP_WATCH_SECONDS = () => 300 + Math.floor(Math.random() * 300);

/** a ≥ b for resourceVersions, when both are decimal (etcd's are); undefined when that cannot be told. */
export function atLeast(a: string, b: string): boolean | undefined {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) >= BigInt(b);
}

/**
 * Whether the checkpoint is past the API server's current resourceVersion: etcd was restored from a
 * backup, or this Redis last read another cluster. A watch from there would wait, silently, until the
 * server's revisions reach it (kube-apiserver serves a watch from a future resourceVersion), and what
 * happened before would never be read; a LIST reads it, and the journal recognises what it holds.
 */
export const aheadOf = (checkpoint: string, current: string): boolean =>
  checkpoint !== current && atLeast(checkpoint, current) === true;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Reader {
  readonly #source: EventSource;
  readonly #journal: Journal;
  readonly #log: Logger;
  readonly #observe: ReaderObserver;

  constructor(source: EventSource, journal: Journal, log: Logger, observe: ReaderObserver = {}) {
    this.#source = source;
    this.#journal = journal;
    this.#log = log;
    this.#observe = observe;
  }

  /**
   * One pass (--once, POST /): reads until the checkpoint reaches the API server's resourceVersion as of
   * the call (a LIST of one item tells it), or `deadline` (performance.now() ms). Nothing read is lost
   * when it stops early: the next pass continues from the checkpoint.
   */
  async catchUp(token: string, signal: AbortSignal, deadline: number): Promise<ReadSummary> {
    const sum = emptySummary();
    const target = (await this.#source.list({ limit: 1 })).resourceVersion;
    let relist = false;
    while (!signal.aborted && performance.now() < deadline) {
      const cp = (await this.#journal.checkpoint()).rv;
      if (cp !== null && !relist && aheadOf(cp, target)) {
        this.#aheadWarning(cp, target);
        relist = true;
      }
      if (cp === null || relist) {
        await this.#relist(token, signal, sum);
        relist = false;
        // A list is as new as the moment it was served, which is after the target was read.
        sum.caughtUp = true;
        break;
      }
      if (atLeast(cp, target)) {
        sum.caughtUp = true;
        break;
      }
      const seconds = Math.max(
        1,
        Math.min(PASS_WATCH_SECONDS, Math.floor((deadline - performance.now()) / 1000)),
      );
      try {
        const w = await this.#watch(cp, seconds, token, signal, sum, (rv) => atLeast(rv, target) === true);
        if (
          w.reached ||
          (w.bookmarks > 0 && atLeast(w.lastRv ?? cp, target) === undefined) ||
          w.received === 0
        ) {
          // Reached the target; or opaque resourceVersions and a bookmark; or a whole watch with
          // nothing, not even a bookmark: nothing more to read now.
          sum.caughtUp = true;
          break;
        }
      } catch (err) {
        if (!(err instanceof ResourceExpired)) throw err;
        this.#log.info('Watch resourceVersion too old (410 Gone); listing again', { from: cp });
        relist = true;
      }
    }
    return sum;
  }

  /**
   * --loop: watches from the checkpoint until `signal` aborts, journaling as events arrive; re-lists on
   * 410 Gone; waits and retries (1 s up to 30 s) when the API server or Redis fails. `turned` is called
   * at every turn of the loop (liveness). Throws only what ends reading (the lease lost).
   */
  async follow(
    token: string,
    signal: AbortSignal,
    turned: () => void,
    isFatal: (err: unknown) => boolean,
  ): Promise<void> {
    const sum = emptySummary();
    let relist = false;
    let failures = 0;
    while (!signal.aborted) {
      turned();
      try {
        const cp = (await this.#journal.checkpoint()).rv;
        if (cp !== null && !relist) {
          // One LIST of one item per watch (every 5 to 10 minutes) tells whether the server went back.
          const current = (await this.#source.list({ limit: 1 })).resourceVersion;
          if (aheadOf(cp, current)) {
            this.#aheadWarning(cp, current);
            relist = true;
          }
        }
        if (cp === null || relist) {
          await this.#relist(token, signal, sum);
          relist = false;
        } else {
          const opened = performance.now();
          const w = await this.#watch(cp, LOOP_WATCH_SECONDS(), token, signal, sum, () => false, turned);
          // A server that ends watches at once must not be asked again in a tight loop.
          if (w.received === 0 && performance.now() - opened < 1000) await sleep(1000, signal);
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted || isFatal(err)) throw err;
        if (err instanceof ResourceExpired) {
          this.#log.info('Watch resourceVersion too old (410 Gone); listing again', {});
          relist = true;
          continue;
        }
        failures++;
        const delay = Math.min(30_000, 1000 * 2 ** (failures - 1));
        this.#log.warn('Reading events failed; retrying', {
          err: errorText(err),
          retryIn: `${delay / 1000}s`,
        });
        await sleep(delay, signal);
      }
    }
  }

  #aheadWarning(checkpoint: string, current: string): void {
    this.#log.warn(
      "The checkpoint is ahead of the API server's resourceVersion (etcd restored from a backup, or " +
        'another cluster); listing again',
      { checkpoint, current },
    );
  }

  /** A paged LIST from now, journaled page by page; the checkpoint moves to the list's RV at the end. */
  async #relist(token: string, signal: AbortSignal, sum: ReadSummary): Promise<void> {
    sum.relists++;
    this.#observe.relisted?.();
    for (let attempt = 1; ; attempt++) {
      let cont = '';
      try {
        do {
          if (signal.aborted) return;
          const page = await this.#source.list({ limit: PAGE, ...(cont ? { continue: cont } : {}) });
          cont = page.continue;
          const versions = page.items.flatMap((item) => this.#version(item, 'listed'));
          await this.#append(versions, cont === '' ? page.resourceVersion : null, token, sum);
        } while (cont !== '');
        this.#log.debug(1, 'Listed events', { journaled: sum.journaled, duplicates: sum.duplicates });
        return;
      } catch (err) {
        // The continue token outlived the API server's compaction: the list starts over, and what it
        // already journaled is recognised.
        if (!(err instanceof ResourceExpired) || cont === '' || attempt >= 3) throw err;
        this.#log.info('List continue token expired; listing again from the start', {});
      }
    }
  }

  /**
   * One watch from `from`: journals each chunk. Stops early once `stop(rv)` holds for the checkpoint.
   * `received` counts everything the server sent, bookmarks included.
   */
  async #watch(
    from: string,
    timeoutSeconds: number,
    token: string,
    signal: AbortSignal,
    sum: ReadSummary,
    stop: (rv: string) => boolean,
    turned?: () => void,
  ): Promise<{ received: number; bookmarks: number; lastRv: string | null; reached: boolean }> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const out = { received: 0, bookmarks: 0, lastRv: null as string | null, reached: false };
    try {
      for await (const chunk of this.#source.watch({
        resourceVersion: from,
        timeoutSeconds,
        signal: ac.signal,
      })) {
        turned?.();
        out.received += chunk.length;
        for (let i = 0; i < chunk.length; i += PAGE) {
          const part = chunk.slice(i, i + PAGE);
          const versions: KubeEvent[] = [];
          let rv: string | null = null;
          for (const e of part) {
            if (e.type === 'BOOKMARK') {
              out.bookmarks++;
              rv = e.resourceVersion;
              continue;
            }
            const eventRv = resourceVersionOf(e.object);
            if (eventRv !== null) rv = eventRv;
            if (e.type !== 'DELETED') versions.push(...this.#version(e.object, e.type));
          }
          await this.#append(versions, rv, token, sum);
          if (rv !== null) out.lastRv = rv;
        }
        if (out.lastRv !== null && stop(out.lastRv)) {
          out.reached = true;
          break;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      ac.abort();
    }
    return out;
  }

  async #append(versions: KubeEvent[], checkpoint: string | null, token: string, sum: ReadSummary) {
    if (versions.length === 0 && checkpoint === null) return;
    const r = await this.#journal.append(versions, checkpoint, token);
    sum.journaled += r.journaled;
    sum.duplicates += r.duplicates;
    sum.unchanged += r.unchanged;
    this.#observe.appended?.(r);
  }

  /** An event version as the journal takes it, or nothing (logged) for an object that is not one. */
  #version(object: unknown, how: string): KubeEvent[] {
    const r = KubeEventSchema.safeParse(object);
    if (!r.success) {
      const meta = (object as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
      this.#log.warn('Skipping an object that is not an Event', {
        how,
        object: `${String(meta?.namespace ?? '')}/${String(meta?.name ?? '')}`,
        err: r.error.issues[0]?.message ?? 'invalid',
      });
      return [];
    }
    // List items come without kind and apiVersion; a record's event looks the same however it was read.
    const e = r.data;
    return [
      e.kind === undefined || e.apiVersion === undefined ? { kind: 'Event', apiVersion: 'v1', ...e } : e,
    ];
  }
}

function emptySummary(): ReadSummary {
  return { journaled: 0, duplicates: 0, unchanged: 0, relists: 0, caughtUp: false };
}

function resourceVersionOf(o: unknown): string | null {
  const rv = (o as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : null;
}
