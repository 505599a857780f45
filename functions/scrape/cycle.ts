/**
 * One scrape cycle: take the cycle (one per resolution across instances), list nodes and Running pods,
 * fetch every selected kubelet with bounded concurrency, advance each node's two-point state, render the
 * served hashes and write it all to Redis. A node that fails is logged with its cause and keeps its
 * previous points until they expire; every other node is served.
 */
import type { NodeObject, PodMeta } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import type { CycleStart, CycleWrite } from '../../shared/store/writer.ts';
import type { MetricsBatch } from './decode/batch.ts';
import { KubeletError } from './kubelet.ts';
import { CycleRender } from './render.ts';
import { decodeState, encodeState } from './state.ts';
import { advanceNode } from './storage.ts';

/** The narrow interfaces the cycle needs, so it is tested beside small fakes of each. */
export interface CycleDeps {
  api: { listNodes(): Promise<NodeObject[]>; listRunningPods(): Promise<PodMeta[]> };
  kubelet: { scrape(node: NodeObject): Promise<MetricsBatch> };
  store: {
    acquireCycle(resolutionMs: number, toleranceMs: number, holder: string): Promise<CycleStart>;
    readStates(nodes: string[]): Promise<(string | null)[]>;
    readNamespaces(): Promise<string[]>;
    writeCycle(w: CycleWrite): Promise<void>;
  };
  log: Logger;
}

export interface CycleConfig {
  resolutionMs: number;
  kubeletTimeoutMs: number;
  concurrency: number;
  /** --node-selector; null selects every node. */
  nodeSelector: { matches(labels: Record<string, string>): boolean } | null;
  /** Names this instance in the lock, for operators reading Redis. */
  holder: string;
}

export interface NodeFailure {
  node: string;
  error: string;
}

export interface CycleResult {
  /** False when another instance ran the cycle due now; nothing else happened. */
  ran: boolean;
  /** When the next cycle is due, Redis clock (ms). */
  nextDue: number;
  /** How long from the end of this call until then: what a --loop ticker sleeps. */
  nextDueInMs: number;
  nodes: number;
  scraped: number;
  failed: NodeFailure[];
  points: { nodes: number; pods: number; containers: number };
  durationMs: number;
}

/** Slack beyond the kubelet timeout for cron jitter and the cycle's own work. */
const GRACE_SLACK_MS = 5000;

/**
 * A point is served until one resolution after the cycle that scraped it started, plus a grace that covers
 * how late the next cycle's writes can land (its kubelet timeout, and some slack): under healthy scraping
 * a reader never sees a gap, and a node that stops answering disappears within resolution + grace.
 */
export function graceMs(kubeletTimeoutMs: number): number {
  return kubeletTimeoutMs + GRACE_SLACK_MS;
}

/** How early a trigger may come and still run the cycle due: cron ticks jitter. */
export function toleranceMs(resolutionMs: number): number {
  return Math.min(2000, resolutionMs / 10);
}

/** Previous samples survive a few missed cycles; longer gaps start over, as after a restart. */
export function stateTtlMs(resolutionMs: number): number {
  return 3 * resolutionMs;
}

/** Runs `work` on every item with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runCycle(deps: CycleDeps, cfg: CycleConfig): Promise<CycleResult> {
  const { log, store } = deps;
  const started = performance.now();
  const start = await store.acquireCycle(cfg.resolutionMs, toleranceMs(cfg.resolutionMs), cfg.holder);
  const empty = { nodes: 0, scraped: 0, failed: [], points: { nodes: 0, pods: 0, containers: 0 } };
  if (!start.acquired) {
    log.debug(1, 'Scrape cycle skipped: already run for this resolution', {
      nextDueInMs: start.nextDue - start.now,
    });
    const durationMs = performance.now() - started;
    return {
      ran: false,
      nextDue: start.nextDue,
      nextDueInMs: start.nextDue - start.now - durationMs,
      durationMs,
      ...empty,
    };
  }
  const now = start.now;
  const expiresAt = now + cfg.resolutionMs + graceMs(cfg.kubeletTimeoutMs);

  const [nodes, pods, previousNamespaces] = await Promise.all([
    deps.api.listNodes().catch((err: unknown) => {
      throw new Error(`listing nodes: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }),
    deps.api.listRunningPods().catch((err: unknown) => {
      throw new Error(`listing pods: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }),
    store.readNamespaces(),
  ]);
  const selected = cfg.nodeSelector ? nodes.filter((n) => cfg.nodeSelector!.matches(n.labels)) : nodes;
  const isSelected = new Set(selected);
  // Kept as the stored text and decoded only when its node is processed: a cycle never holds every
  // node's decoded state at once (at 5,000 nodes that is millions of objects for the GC to trace).
  const stored = new Map<string, string | null>();
  (await store.readStates(nodes.map((n) => n.name))).forEach((v, i) => {
    stored.set(nodes[i]!.name, v);
  });
  const render = new CycleRender({
    now,
    expiresAt,
    nodes: nodes.map((n) => ({ name: n.name, labels: n.labels, selected: isSelected.has(n) })),
    pods,
  });

  const failed: NodeFailure[] = [];
  const written: [string, string][] = [];
  await pool(selected, cfg.concurrency, async (node) => {
    try {
      const batch = await deps.kubelet.scrape(node);
      const state = advanceNode(decodeState(stored.get(node.name) ?? null), batch, {
        startedAt: now,
        expiresAt,
        resolutionMs: cfg.resolutionMs,
      });
      stored.delete(node.name);
      render.add(node.name, state);
      written.push([node.name, encodeState(state)]);
      if (batch.dropped.length > 0 && log.enabled(2)) {
        for (const d of batch.dropped) log.debug(2, 'Dropped incomplete metrics', { node: node.name, ...d });
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ node: node.name, error });
      const msg =
        err instanceof KubeletError && err.timeout
          ? 'Failed to scrape node, timeout to access kubelet'
          : 'Failed to scrape node';
      log.warn(msg, { node: node.name, err: error });
    }
  });

  // Nodes not scraped this cycle (failed, or not selected) are served from the state kept for them.
  for (const [name, value] of stored) {
    const state = decodeState(value);
    if (state) render.add(name, state);
  }
  stored.clear();
  const rendered = render.finish();
  await store.writeCycle({
    nodes: rendered.nodes,
    namespaces: rendered.namespaces,
    previousNamespaces,
    states: written,
    stateTtlMs: stateTtlMs(cfg.resolutionMs),
    cycle: now,
  });
  const durationMs = performance.now() - started;
  const result: CycleResult = {
    ran: true,
    nextDue: start.nextDue,
    nextDueInMs: start.nextDue - now - durationMs,
    nodes: selected.length,
    scraped: selected.length - failed.length,
    failed,
    points: rendered.points,
    durationMs,
  };
  log.info('Scrape cycle finished', {
    nodes: result.nodes,
    scraped: result.scraped,
    failed: failed.length,
    pods: rendered.points.pods,
    containers: rendered.points.containers,
    duration: `${Math.round(durationMs)}ms`,
  });
  return result;
}

/** metrics-server's contract for --once: success when at least one node was scraped, or there are none. */
export function cycleSucceeded(r: CycleResult): boolean {
  return !r.ran || r.nodes === 0 || r.scraped > 0;
}
