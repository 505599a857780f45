/**
 * One scrape cycle: take the cycle (a lease in Redis, renewed while the cycle works: one cycle at a time
 * across instances, for triggers one per resolution), list nodes and Running pods, fetch every selected
 * kubelet with bounded concurrency (its previous state read alongside), advance each node's two-point
 * state, and stream its new state and served entries to Redis as soon as it is done (staging hashes
 * private to the cycle, renamed over the served ones at the end, unless the lease was lost). A node that fails is
 * logged with its cause and keeps its previous points until they expire; every other node is served.
 * Then the cycle's record: its figures and new TLS sessions, every listed node registered with them,
 * and whatever was kept for nodes the list no longer has forgotten (shared/store/keys.ts).
 * With --shard-size, the cycle is planned here (the lists, the selection) and its nodes are scraped in
 * shards (coordinator.ts), each by the same per-node work (scrapeNodes) in this process or another
 * instance's; the cycle is still published here, once.
 */
import type { NodeObject, PodMeta } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import type { RequestFigure, StatsWrite } from '../../shared/metrics.ts';
import type {
  CycleClaim,
  CycleClaimRequest,
  CycleKind,
  CycleRecord,
  CycleStaging,
  CycleState,
  StagingOptions,
} from '../../shared/store/writer.ts';
import { coordinate, type ShardTransport } from './coordinator.ts';
import type { MetricsBatch } from './decode/batch.ts';
import { departures } from './departures.ts';
import { KubeletError } from './kubelet.ts';
import { CycleLease, type LeaseStore } from './lease.ts';
import { CycleRender, type Rendered } from './render.ts';
import type { PodsByNode } from './shards.ts';
import { advanceState, decodeState } from './state.ts';

export type { CycleKind };

/** The narrow interfaces the cycle needs, so it is tested beside small fakes of each. */
export interface CycleDeps {
  api: {
    listNodes(): Promise<NodeObject[]>;
    listRunningPods(): Promise<PodMeta[]>;
    /** The pods by node, as shards are sent them (shards.ts): needed by a sharded cycle only. */
    listRunningPodsOnNodes?(): Promise<PodsByNode>;
  };
  kubelet: {
    scrape(node: NodeObject): Promise<MetricsBatch>;
    /** The `host:port` of the node's kubelet ('' without a usable address). */
    endpoint(node: NodeObject): string;
    /** Forgets every kubelet outside these (sessions, connections): nodes that left. */
    retain?(endpoints: ReadonlySet<string>): void;
    forgetIdle?(idleMs: number): void;
    /** TLS sessions kubelets issued since the last call (`host:port` → session). */
    takeNewSessions?(): [string, Buffer][];
  };
  store: LeaseStore & {
    acquireCycle(r: CycleClaimRequest): Promise<CycleClaim>;
    /** The nodes the scraper keeps anything for, each with its kubelet's `host:port`. */
    readKnownNodes(): Promise<Map<string, string>>;
    recordCycle(r: CycleRecord): Promise<void>;
    /** A node's stored state (state.ts), as bytes; null when none is kept. */
    readState(node: string): Promise<Buffer | null>;
    readStates(nodes: string[]): Promise<(Buffer | null)[]>;
    readNamespaces(): Promise<string[]>;
    stageCycle(
      o: StagingOptions,
    ): Pick<
      CycleStaging,
      | 'setState'
      | 'podEntry'
      | 'podItem'
      | 'podItemBytes'
      | 'nodeEntry'
      | 'flushIfFull'
      | 'flush'
      | 'finish'
      | 'abandon'
      | 'part'
      | 'itemBytes'
    >;
  };
  /**
   * The cycle's own figures, for the scraper's /metrics (omitted: none are stored), with the kubelet
   * requests other instances made for it (its remote shards').
   */
  figures?(cycle: CycleResult, shardRequests: readonly RequestFigure[]): StatsWrite;
  /** Runs one shard of a sharded cycle (in this process, or by POST to another instance). */
  shards?: ShardTransport;
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
  /** The cycle's lease (default: leaseMs(resolutionMs)); tests shorten it. */
  leaseMs?: number;
  /** --shard-size (0 or omitted: one process scrapes the whole cycle; sharding needs `deps.shards`). */
  shardSize?: number;
  /** How long the coordinator waits for a shard (default: the kubelet timeout plus 5 s). */
  shardTimeoutMs?: number;
}

export interface NodeFailure {
  node: string;
  error: string;
}

/** Why a cycle did not run, from the lock. */
export interface CycleSkip {
  /** `done`: the cycle due has already run (triggers only); `running`: another instance's is in progress. */
  reason: 'done' | 'running';
  /** The instance that ran, or is running, that cycle. */
  by: string;
  /** When that cycle started (Redis clock, ms). */
  started: number;
  /** `running`: when its lease ends unless renewed; `done`: when it ended. */
  until: number;
  /** How it ended (`done` or `failed`), or `running`. */
  state: CycleState;
}

export interface CycleResult {
  /** False when the lock kept this request from running (`skipped` says why); nothing else happened. */
  ran: boolean;
  skipped: CycleSkip | null;
  /** The cycle that ran: its start (Redis clock, ms), which names it; 0 when skipped. */
  start: number;
  /** When the next cycle is due, Redis clock (ms). */
  nextDue: number;
  /** How long from the end of this call until then. */
  nextDueInMs: number;
  /**
   * When a --loop ticker looks again: the next due time or, while another instance's cycle is in
   * progress, the end of its lease (to retake the cycle at once if that runner died).
   */
  wakeInMs: number;
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

/**
 * How long a cycle's lease lasts unless renewed (lease.ts renews it every fifth): how soon another
 * instance retakes the cycle of a runner that died. Half a resolution, so the retake comes before the
 * next cycle is due, and at most 10 s, so it comes within seconds; long enough that a runner whose event
 * loop stalls for seconds (a cold cycle at 5,000 nodes) keeps it.
 */
export function leaseMs(resolutionMs: number): number {
  return Math.min(10_000, resolutionMs / 2);
}

/** A --loop standby looks again this long after the lease it saw should end. */
const RETAKE_MARGIN_MS = 50;

/** How often --once looks again while another instance's cycle is in progress. */
const ONCE_POLL_MS = 500;

/** Slack beyond the kubelet timeout for cron jitter and the cycle's own work. */
const GRACE_SLACK_MS = 5000;

/**
 * A point is served until one resolution after the cycle that scraped it started, plus a grace that covers
 * how late the next cycle's writes can land even when its runner dies: a healthy cycle lands within the
 * kubelet timeout plus some slack (cron jitter, its own work); one whose runner dies just before its end
 * is retaken once its lease lapses, and that retake lands as late again. Under healthy scraping, and with
 * one runner killed per cycle, a reader never sees a gap; a node that stops answering disappears within
 * resolution + grace.
 */
export function graceMs(kubeletTimeoutMs: number, lease: number): number {
  return 2 * (kubeletTimeoutMs + GRACE_SLACK_MS) + lease;
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

/** Runs `work` on every item with at most `limit` in flight; after a failure or an abort, starts no more. */
async function pool<T>(
  items: T[],
  limit: number,
  signal: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && !signal.aborted && next < items.length) {
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

const at = (ms: number) => new Date(ms).toISOString();

/**
 * Takes the cycle, as `kind` may: a trigger takes it or is skipped; `--once` waits while another
 * instance's cycle is in progress (polling, for at most a resolution and a lease: a longer one is stuck),
 * then runs regardless of the due time.
 */
async function claim(deps: CycleDeps, cfg: CycleConfig, kind: CycleKind, lease: number) {
  const { log, store } = deps;
  const request: CycleClaimRequest = {
    kind,
    resolutionMs: cfg.resolutionMs,
    toleranceMs: toleranceMs(cfg.resolutionMs),
    leaseMs: lease,
    holder: cfg.holder,
  };
  const giveUpAt = performance.now() + cfg.resolutionMs + lease;
  let waitingFor = '';
  for (;;) {
    const c = await store.acquireCycle(request);
    if (kind === 'trigger' || c.outcome !== 'running') return c;
    const cycle = `${c.start} ${c.holder}`;
    if (cycle !== waitingFor) {
      waitingFor = cycle;
      log.info('Waiting for the scrape cycle in progress on another instance to end', {
        holder: c.holder,
        started: at(c.start),
        leaseUntil: at(c.until),
      });
    }
    if (performance.now() > giveUpAt) {
      throw new Error(
        `gave up waiting for the scrape cycle of ${c.holder} (started ${at(c.start)}), still in progress`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(ONCE_POLL_MS, c.until - c.now + RETAKE_MARGIN_MS)));
  }
}

/**
 * One cycle, as `kind` asks (CycleKind): `once` runs one now (after the one in progress, if any);
 * `trigger` runs the cycle due, if no instance ran it or is running it.
 */
export async function runCycle(deps: CycleDeps, cfg: CycleConfig, kind: CycleKind): Promise<CycleResult> {
  const { log, store } = deps;
  const started = performance.now();
  const lease = cfg.leaseMs ?? leaseMs(cfg.resolutionMs);
  const start = await claim(deps, cfg, kind, lease);
  const claimedAt = performance.now();
  /** From the end of this call: `at` (Redis clock) less the time since Redis answered the claim. */
  const untilThen = (redisMs: number) => redisMs - start.now - (performance.now() - claimedAt);
  const empty = { nodes: 0, scraped: 0, failed: [], points: { nodes: 0, pods: 0, containers: 0 } };
  if (start.outcome !== 'taken') {
    const skipped: CycleSkip = {
      reason: start.outcome,
      by: start.holder,
      started: start.start,
      until: start.until,
      state: start.state,
    };
    const nextDueInMs = untilThen(start.nextDue);
    return {
      ran: false,
      skipped,
      start: 0,
      nextDue: start.nextDue,
      nextDueInMs,
      wakeInMs: start.outcome === 'running' ? untilThen(start.until) + RETAKE_MARGIN_MS : nextDueInMs,
      durationMs: performance.now() - started,
      ...empty,
    };
  }
  if (start.holder !== '') {
    log.info('Retaking the scrape cycle of an instance that stopped renewing its lease', {
      holder: start.holder,
    });
  }
  const held = new CycleLease(
    store,
    { start: start.start, holder: cfg.holder, leaseMs: lease, resolutionMs: cfg.resolutionMs },
    log,
  );
  try {
    // Served until a resolution past the cycle's start, plus the grace.
    // A sharded cycle's writes land within the shards' timeout rather than the kubelets'.
    const landsWithin = Math.max(
      cfg.kubeletTimeoutMs,
      (cfg.shardSize ?? 0) > 0 ? (cfg.shardTimeoutMs ?? 0) : 0,
    );
    const expiresAt = start.now + cfg.resolutionMs + graceMs(landsWithin, lease);
    const { listed, known, requests, ...r } = await scrapeCycle(deps, cfg, start.now, expiresAt, held);
    await held.end('done');
    const durationMs = performance.now() - started;
    const nextDueInMs = untilThen(start.nextDue);
    log.info('Scrape cycle finished', {
      nodes: r.nodes,
      scraped: r.scraped,
      failed: r.failed.length,
      pods: r.points.pods,
      containers: r.points.containers,
      duration: `${Math.round(durationMs)}ms`,
    });
    const result: CycleResult = {
      ran: true,
      skipped: null,
      start: start.start,
      nextDue: start.nextDue,
      nextDueInMs,
      wakeInMs: nextDueInMs,
      durationMs,
      ...r,
    };
    await record(deps, listed, known, result, requests);
    return result;
  } catch (err) {
    await held.end('failed');
    throw err;
  }
}

/** The part of a cycle's staging that scraping nodes writes to. */
export type NodesStaging = Pick<
  CycleStaging,
  'setState' | 'podEntry' | 'podItem' | 'podItemBytes' | 'nodeEntry' | 'flushIfFull'
>;

/**
 * Nodes to scrape and render into a cycle's staging: the whole cycle unsharded, one shard's nodes (in
 * this process or another instance's), or what a sharded cycle's coordinator renders itself (the nodes
 * no shard served, from their kept states).
 */
export interface NodesJob {
  /** The cycle's start (Redis clock, ms). */
  now: number;
  /** Until when what is scraped now is served. */
  expiresAt: number;
  resolutionMs: number;
  concurrency: number;
  /** Every node rendered, in the order listed (ties between nodes reporting the same pod go to the first). */
  nodes: readonly NodeObject[];
  /** The nodes --node-selector selects (their node entries are rendered). */
  selected: ReadonlySet<NodeObject>;
  /** The nodes fetched now; the others are rendered from the state kept for them. */
  scrape: readonly NodeObject[];
  /** The Running pods these nodes may report. */
  pods: Promise<readonly PodMeta[]>;
  staging: NodesStaging;
  /** The staging holds every item of these pods (RenderInput.ordered): unsharded. */
  ordered?: boolean;
  /** Aborted: no more nodes are started, and the job throws its reason. */
  signal: AbortSignal;
}

export interface NodesDone {
  scraped: number;
  failed: NodeFailure[];
  /** What is left to write for these nodes' served hashes (CycleRender.finish). */
  rendered: Rendered;
}

/**
 * Fetches every node of `job.scrape` with bounded concurrency (its previous state read alongside),
 * advances its two-point state and streams its new state and served entries into the staging as soon as
 * it is done; then renders the nodes not scraped (failed, or not to scrape) from the state kept for them.
 * A node that fails is logged with its cause; a Redis failure fails the job.
 */
export async function scrapeNodes(
  deps: Pick<CycleDeps, 'kubelet' | 'log'> & { store: Pick<CycleDeps['store'], 'readState' | 'readStates'> },
  job: NodesJob,
): Promise<NodesDone> {
  const { log, store } = deps;
  const { now, expiresAt, staging } = job;
  const ready = job.pods.then(
    (list) =>
      new CycleRender(
        {
          now,
          expiresAt,
          nodes: job.nodes.map((n) => ({ name: n.name, labels: n.labels, selected: job.selected.has(n) })),
          pods: list as PodMeta[],
          ordered: job.ordered,
        },
        staging,
      ),
  );
  ready.catch(() => undefined); // awaited by every node, and after the fan-out
  const stateTtl = stateTtlMs(job.resolutionMs);

  /** The node's new state from its old one and the batch, rendered and staged (synchronous: nothing kept). */
  const advance = (render: CycleRender, node: string, old: Buffer | null, batch: MetricsBatch) => {
    const { state, bytes } = advanceState(old, batch, {
      startedAt: now,
      expiresAt,
      resolutionMs: job.resolutionMs,
    });
    render.add(node, state);
    staging.setState(node, bytes, stateTtl);
    if (batch.dropped.length > 0 && log.enabled(2)) {
      for (const d of batch.dropped) log.debug(2, 'Dropped incomplete metrics', { node, ...d });
    }
  };

  const failed: NodeFailure[] = [];
  const scraped = new Set<string>();
  await pool([...job.scrape], job.concurrency, job.signal, async (node) => {
    // The node's previous state is read while its kubelet answers; a Redis failure fails the cycle,
    // not the node.
    const previous = store.readState(node.name);
    previous.catch(() => undefined);
    let batch: MetricsBatch | null;
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
    advance(render, node.name, await previous, batch);
    // Nothing of the node is kept while this worker waits for the pipeline (backpressure): its batch's
    // names are cut from the kubelet's body, which would stay alive with it, 256 workers' worth.
    batch = null;
    scraped.add(node.name);
    await staging.flushIfFull();
  });

  job.signal.throwIfAborted();
  const render = await ready;
  // Nodes not scraped now (failed, or not selected) are served from the state kept for them.
  const kept = job.nodes.filter((n) => !scraped.has(n.name)).map((n) => n.name);
  for (let i = 0; i < kept.length; i += KEPT_BATCH) {
    const names = kept.slice(i, i + KEPT_BATCH);
    const values = await store.readStates(names);
    for (let j = 0; j < names.length; j++) {
      const state = decodeState(values[j] ?? null);
      if (state) render.add(names[j]!, state);
    }
    await staging.flushIfFull();
  }
  return { scraped: job.scrape.length - failed.length, failed, rendered: render.finish() };
}

/** The cycle's work, under its lease: what runCycle reports of a cycle that ran. */
async function scrapeCycle(
  deps: CycleDeps,
  cfg: CycleConfig,
  now: number,
  expiresAt: number,
  lease: CycleLease,
): Promise<
  Pick<CycleResult, 'nodes' | 'scraped' | 'failed' | 'points'> & {
    /** The nodes listed, and those registered before the cycle (for its record). */
    listed: NodeObject[];
    known: Map<string, string>;
    /** Kubelet requests other instances made for this cycle (its shards'), for its figures. */
    requests: RequestFigure[];
  }
> {
  const { store } = deps;
  const sharded = (cfg.shardSize ?? 0) > 0 && deps.shards !== undefined;

  // The pod list (the cycle's largest read: hundreds of pages at 5,000 nodes) goes on while the kubelets
  // are fetched; only rendering waits for it. A sharded cycle needs each pod's node, to hand each shard
  // the pods of its nodes.
  const list: Promise<PodMeta[] | PodsByNode> = sharded
    ? deps.api.listRunningPodsOnNodes!()
    : deps.api.listRunningPods();
  const pods = list.catch((err: unknown) => {
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
  const job: NodesJob = {
    now,
    expiresAt,
    resolutionMs: cfg.resolutionMs,
    concurrency: cfg.concurrency,
    nodes,
    selected: isSelected,
    scrape: selected,
    pods: pods as Promise<PodMeta[]>,
    staging,
    signal: lease.signal,
  };

  let done: NodesDone & { requests?: RequestFigure[] };
  try {
    done = sharded
      ? await coordinate(
          { ...deps, shards: deps.shards! },
          {
            ...job,
            pods: pods as Promise<PodsByNode>,
            holder: cfg.holder,
            shardSize: cfg.shardSize!,
            shardTimeoutMs: cfg.shardTimeoutMs ?? cfg.kubeletTimeoutMs + GRACE_SLACK_MS,
          },
        )
      : await scrapeNodes(deps, { ...job, ordered: true });
    // The last word before publishing: a runner that lost its lease (another instance retook the
    // cycle) publishes nothing.
    await lease.confirm();
    const { rendered } = done;
    await staging.finish({ nodes: rendered.nodes, namespaces: rendered.namespaces, previousNamespaces });
  } catch (err) {
    await staging.abandon();
    throw err;
  }
  return {
    nodes: selected.length,
    scraped: done.scraped,
    failed: done.failed,
    points: done.rendered.points,
    listed: nodes,
    known,
    requests: done.requests ?? [],
  };
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
  requests: readonly RequestFigure[],
): Promise<void> {
  const { kubelet, log } = deps;
  const endpoints = new Map(nodes.map((n) => [n.name, kubelet.endpoint(n)]));
  const { departed, staleEndpoints } = departures(known, endpoints);
  kubelet.retain?.(new Set(endpoints.values()));
  try {
    await deps.store.recordCycle({
      stats: deps.figures?.(result, requests),
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
