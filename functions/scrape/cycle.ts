/**
 * One scrape cycle: take the cycle (one per resolution across instances), list nodes and Running pods,
 * fetch every selected kubelet with bounded concurrency (its previous state read alongside), advance each
 * node's two-point state, and stream its new state and served entries to Redis as soon as it is done
 * (staging hashes private to the cycle, renamed over the served ones at the end). A node that fails is
 * logged with its cause and keeps its previous points until they expire; every other node is served.
 * Then the cycle's record: its figures and new TLS sessions, every listed node registered with them,
 * and whatever was kept for nodes the list no longer has forgotten (shared/store/keys.ts).
 */
import type { NodeObject, PodMeta } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import type { StatsWrite } from '../../shared/metrics.ts';
import type { CycleRecord, CycleStaging, CycleStart, StagingOptions } from '../../shared/store/writer.ts';
import type { MetricsBatch } from './decode/batch.ts';
import { departures } from './departures.ts';
import { KubeletError } from './kubelet.ts';
import { CycleRender } from './render.ts';
import { decodeState, encodeState } from './state.ts';
import { advanceNode } from './storage.ts';

/** The narrow interfaces the cycle needs, so it is tested beside small fakes of each. */
export interface CycleDeps {
  api: { listNodes(): Promise<NodeObject[]>; listRunningPods(): Promise<PodMeta[]> };
  kubelet: {
    scrape(node: NodeObject): Promise<MetricsBatch>;
    /** The `host:port` of the node's kubelet ('' without a usable address). */
    endpoint(node: NodeObject): string;
    /** Forgets every kubelet outside these (sessions, connections): nodes that left. */
    retain?(endpoints: ReadonlySet<string>): void;
    /** TLS sessions kubelets issued since the last call (`host:port` → session). */
    takeNewSessions?(): [string, Buffer][];
  };
  store: {
    acquireCycle(resolutionMs: number, toleranceMs: number, holder: string): Promise<CycleStart>;
    /** The nodes the scraper keeps anything for, each with its kubelet's `host:port`. */
    readKnownNodes(): Promise<Map<string, string>>;
    recordCycle(r: CycleRecord): Promise<void>;
    readState(node: string): Promise<string | null>;
    readStates(nodes: string[]): Promise<(string | null)[]>;
    readNamespaces(): Promise<string[]>;
    stageCycle(
      o: StagingOptions,
    ): Pick<CycleStaging, 'setState' | 'podEntry' | 'nodeEntry' | 'flushIfFull' | 'finish' | 'abandon'>;
  };
  /** The cycle's own figures, for the scraper's /metrics (omitted: none are stored). */
  figures?(cycle: CycleResult): StatsWrite;
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

/** Kubelets' TLS sessions outlive a process by this much in Redis (a kubelet's tickets expire anyway). */
const TLS_SESSIONS_TTL_MS = 24 * 3600_000;

/** Kept states are read and rendered this many nodes at a time. */
const KEPT_BATCH = 500;

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

/**
 * How long a cycle's staging hashes outlive its last send unless renamed (the writer renews them while the
 * cycle goes on): longer than any pause between two sends (a fan-out waiting on kubelet timeouts, the end
 * of the cycle), short enough that a crashed cycle's are soon gone.
 */
export function stagingTtlMs(resolutionMs: number): number {
  return Math.max(2 * resolutionMs, 60_000);
}

/** Runs `work` on every item with at most `limit` in flight; after a failure, starts no more. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
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

  // The pod list (the cycle's largest read: hundreds of pages at 5,000 nodes) goes on while the kubelets
  // are fetched; only rendering waits for it.
  const pods = deps.api.listRunningPods().catch((err: unknown) => {
    throw new Error(`listing pods: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  pods.catch(() => undefined); // awaited below; a failure of the other reads must not leave it unobserved
  const [nodes, previousNamespaces, known] = await Promise.all([
    deps.api.listNodes().catch((err: unknown) => {
      throw new Error(`listing nodes: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }),
    store.readNamespaces(),
    store.readKnownNodes(),
  ]);
  const selected = cfg.nodeSelector ? nodes.filter((n) => cfg.nodeSelector!.matches(n.labels)) : nodes;
  const isSelected = new Set(selected);
  const staging = store.stageCycle({ cycle: now, ttlMs: stagingTtlMs(cfg.resolutionMs) });
  const ready = pods.then(
    (list) =>
      new CycleRender(
        {
          now,
          expiresAt,
          nodes: nodes.map((n) => ({ name: n.name, labels: n.labels, selected: isSelected.has(n) })),
          pods: list,
        },
        staging,
      ),
  );
  ready.catch(() => undefined); // awaited by every node, and after the fan-out
  const stateTtl = stateTtlMs(cfg.resolutionMs);

  const failed: NodeFailure[] = [];
  let rendered: ReturnType<CycleRender['finish']>;
  try {
    const scraped = new Set<string>();
    await pool(selected, cfg.concurrency, async (node) => {
      // The node's previous state is read while its kubelet answers; a Redis failure fails the cycle,
      // not the node.
      const previous = store.readState(node.name);
      previous.catch(() => undefined);
      let batch: MetricsBatch;
      try {
        batch = await deps.kubelet.scrape(node);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        failed.push({ node: node.name, error });
        const msg =
          err instanceof KubeletError && err.timeout
            ? 'Failed to scrape node, timeout to access kubelet'
            : 'Failed to scrape node';
        log.warn(msg, { node: node.name, err: error });
        return;
      }
      const render = await ready;
      const state = advanceNode(decodeState(await previous), batch, {
        startedAt: now,
        expiresAt,
        resolutionMs: cfg.resolutionMs,
      });
      scraped.add(node.name);
      render.add(node.name, state);
      staging.setState(node.name, encodeState(state), stateTtl);
      if (batch.dropped.length > 0 && log.enabled(2)) {
        for (const d of batch.dropped) log.debug(2, 'Dropped incomplete metrics', { node: node.name, ...d });
      }
      await staging.flushIfFull();
    });

    const render = await ready;
    // Nodes not scraped this cycle (failed, or not selected) are served from the state kept for them.
    const kept = nodes.filter((n) => !scraped.has(n.name)).map((n) => n.name);
    for (let i = 0; i < kept.length; i += KEPT_BATCH) {
      const names = kept.slice(i, i + KEPT_BATCH);
      const values = await store.readStates(names);
      for (let j = 0; j < names.length; j++) {
        const state = decodeState(values[j] ?? null);
        if (state) render.add(names[j]!, state);
      }
      await staging.flushIfFull();
    }
    rendered = render.finish();
    await staging.finish({ nodes: rendered.nodes, namespaces: rendered.namespaces, previousNamespaces });
  } catch (err) {
    await staging.abandon();
    throw err;
  }
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
  await record(deps, nodes, known, result);
  return result;
}

/**
 * What the cycle leaves beside the served hashes, tied to its node list: every listed node registered
 * with its kubelet's `host:port`, together with its figures and new TLS session; registered nodes the
 * list no longer has forgotten (state, statistics, registration), and sessions no listed node's kubelet
 * uses; the kubelet client's own sessions and connections likewise. Worth keeping, never worth failing
 * the cycle for: what is not forgotten now is by the next cycle.
 */
async function record(
  deps: CycleDeps,
  nodes: NodeObject[],
  known: Map<string, string>,
  result: CycleResult,
): Promise<void> {
  const { kubelet, log } = deps;
  const endpoints = new Map(nodes.map((n) => [n.name, kubelet.endpoint(n)]));
  const { departed, staleEndpoints } = departures(known, endpoints);
  kubelet.retain?.(new Set(endpoints.values()));
  try {
    await deps.store.recordCycle({
      stats: deps.figures?.(result),
      endpoints,
      sessions: kubelet.takeNewSessions?.() ?? [],
      sessionsTtlMs: TLS_SESSIONS_TTL_MS,
      departed,
      staleEndpoints,
    });
  } catch (err) {
    log.warn("Could not store the cycle's figures and TLS sessions, or forget nodes that left", {
      err: err instanceof Error ? err.message : String(err),
      departed: departed.length,
    });
    return;
  }
  for (const node of departed) {
    log.info('Node left the cluster: its state, TLS session and statistics are forgotten', { node });
  }
}

/** metrics-server's contract for --once: success when at least one node was scraped, or there are none. */
export function cycleSucceeded(r: CycleResult): boolean {
  return !r.ran || r.nodes === 0 || r.scraped > 0;
}
