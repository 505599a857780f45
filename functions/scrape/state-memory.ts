/**
 * A long-lived scraper's memory of the node states it wrote in its last cycle, so that its next cycle
 * does not read them back from Redis (a GET and a reply per node per cycle). Redis stays the record:
 * every state is still written there (a fresh process, or another instance, reads it), and the memory
 * is used only when Redis cannot hold anything else:
 *
 * - the lock, read atomically with the claim (CycleClaim.previous), names this instance's last cycle as
 *   the one before, and it ended `done` (no other instance has run a cycle since, nor retaken ours;
 *   a cycle that failed or lost its lease may have left any mix, so then everything is read again);
 * - that cycle started less than two resolutions ago (a state lives three from when it was written, so
 *   none of those kept has expired in Redis);
 * - only states written in that cycle are kept: a node that failed in it, or was not scraped, is read
 *   from Redis as before, and a node that left is forgotten with the cycle.
 *
 * It wraps the cycle's store (cycle.ts sees the same interface): nothing in the cycle changes.
 */
import type { CycleDeps } from './cycle.ts';

type Store = CycleDeps['store'];

export function rememberingStates(store: Store): Store & { readonly remembered: number } {
  /** The states written by the last cycle this instance ran to `done`, and that cycle's start. */
  let kept: Map<string, Buffer> | null = null;
  let keptStart = 0;
  /** While a cycle runs: its start, whether `kept` is what Redis holds, and the states it writes. */
  let cycle = 0;
  let trusted = false;
  let next: Map<string, Buffer> | null = null;
  let remembered = 0;

  return {
    get remembered() {
      return remembered;
    },
    async acquireCycle(r) {
      const c = await store.acquireCycle(r);
      if (c.outcome !== 'taken') return c;
      const p = c.previous;
      trusted =
        kept !== null &&
        p !== null &&
        p.start === keptStart &&
        p.holder === r.holder &&
        p.state === 'done' &&
        c.now < keptStart + 2 * r.resolutionMs;
      if (!trusted) kept = null;
      cycle = c.start;
      next = new Map();
      return c;
    },
    async readState(node) {
      if (trusted) {
        const v = kept?.get(node);
        if (v !== undefined) {
          remembered++;
          return v;
        }
      }
      return store.readState(node);
    },
    stageCycle(o) {
      const staging = store.stageCycle(o);
      const writes = next;
      return {
        setState(node, value, ttlMs) {
          // The bytes handed to Redis (state.ts encodes each state into bytes of its own, never reused).
          writes?.set(node, typeof value === 'string' ? Buffer.from(value) : value);
          staging.setState(node, value, ttlMs);
        },
        podEntry: (namespace, name, value) => staging.podEntry(namespace, name, value),
        podItem: (namespace, name, head, item) => staging.podItem(namespace, name, head, item),
        podItemBytes: (namespace, item) => staging.podItemBytes(namespace, item),
        get part() {
          return staging.part;
        },
        itemBytes: () => staging.itemBytes(),
        nodeEntry: (name, value) => staging.nodeEntry(name, value),
        flushIfFull: () => staging.flushIfFull(),
        flush: () => staging.flush(),
        finish: (end) => staging.finish(end),
        abandon: () => staging.abandon(),
      };
    },
    async endCycle(start, holder, state, resolutionMs) {
      const ended = await store.endCycle(start, holder, state, resolutionMs).catch((err: unknown) => {
        kept = null;
        throw err;
      });
      if (ended && state === 'done' && start === cycle && next !== null) {
        kept = next;
        keptStart = start;
      } else kept = null;
      next = null;
      trusted = false;
      return ended;
    },
    renewCycle: (...a) => store.renewCycle(...a),
    readKnownNodes: () => store.readKnownNodes(),
    recordCycle: (r) => store.recordCycle(r),
    readStates: (nodes) => store.readStates(nodes),
    readNamespaces: () => store.readNamespaces(),
  };
}
