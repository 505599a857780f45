/**
 * One shard of a sharded cycle, as the instance that scrapes it runs it (POST /shard, or the
 * coordinator's own process without --shard-url): the same per-node work as an unsharded cycle
 * (scrapeNodes) on the shard's nodes and their pods, every entry and node state written into the
 * cycle's staging hashes, and the figures the coordinator needs to publish the cycle. A shard never lists
 * the API server and never renames or deletes staging hashes (other shards write into the same ones);
 * once the coordinator's timeout has passed it writes nothing more.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log.ts';
import type { RequestFigure } from '../../shared/metrics.ts';
import { type CycleDeps, scrapeNodes, stagingTtlMs } from './cycle.ts';
import type { ShardAnswer, ShardRequest } from './shard-contract.ts';

/**
 * An instance forgets a kubelet's connection and session once it has scraped none of that kubelet's
 * shards for this many resolutions: a node that left, or a shard the platform now routes elsewhere.
 */
export const SHARD_KUBELET_IDLE_RESOLUTIONS = 5;

/** Kubelets' TLS sessions outlive a process by this much in Redis (as a cycle's record keeps them). */
const TLS_SESSIONS_TTL_MS = 24 * 3600_000;

export interface ShardDeps {
  kubelet: CycleDeps['kubelet'];
  store: Pick<CycleDeps['store'], 'readState' | 'readStates' | 'stageCycle' | 'recordCycle'>;
  log: Logger;
  /** Who this instance is (host/pid), for the answer. */
  instance: string;
  /**
   * The figures of the kubelet requests made for these nodes, taken out of what this process records
   * for its own cycles (omitted: they stay there, as for shards run in the coordinator's process).
   */
  takeRequests?(nodes: ReadonlySet<string>): RequestFigure[];
}

export async function runShard(
  deps: ShardDeps,
  cfg: { concurrency: number },
  req: ShardRequest,
  signal: AbortSignal,
): Promise<ShardAnswer> {
  const { kubelet, log, store } = deps;
  const started = performance.now();
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(req.timeoutMs)]);
  // Its own parts of pod items, apart from every other shard's and from an earlier attempt at this one.
  const part = `${req.cycle}.${req.shard.index}.${randomBytes(4).toString('hex')}`;
  const staging = store.stageCycle({ cycle: req.cycle, ttlMs: stagingTtlMs(req.resolutionMs), part });
  const done = await scrapeNodes(deps, {
    now: req.cycle,
    expiresAt: req.expiresAt,
    resolutionMs: req.resolutionMs,
    concurrency: cfg.concurrency,
    nodes: req.nodes,
    selected: new Set(req.nodes),
    scrape: req.nodes,
    pods: Promise.resolve(req.pods),
    staging,
    signal: deadline,
  });
  // What only the end knows (entries of objects without metrics) goes into the staging too; sizes,
  // expiries and label indexes go to the coordinator, which writes each hash's end once.
  const { rendered } = done;
  for (const [name, value] of rendered.nodes.fields) staging.nodeEntry(name, value);
  const namespaces: ShardAnswer['staged']['namespaces'] = [];
  const itemBytes = staging.itemBytes();
  for (const [namespace, h] of rendered.namespaces) {
    for (const [name, value] of h.fields) staging.podEntry(namespace, name, value);
    namespaces.push({
      namespace,
      size: h.size,
      expireAt: h.expireAt,
      labelIndex: [...(h.labelIndex ?? [])],
      itemBytes: itemBytes.get(namespace) ?? 0,
    });
  }
  deadline.throwIfAborted();
  await staging.flush();
  deadline.throwIfAborted();

  const names = new Set(req.nodes.map((n) => n.name));
  const sessions = kubelet.takeNewSessions?.() ?? [];
  // No node list here says who left the cluster: what this instance has not scraped for a while goes.
  kubelet.forgetIdle?.(SHARD_KUBELET_IDLE_RESOLUTIONS * req.resolutionMs);
  try {
    // Registers the shard's nodes with their new TLS sessions (the coordinator's record registers every
    // listed node too, and forgets those that left).
    await store.recordCycle({
      endpoints: new Map(req.nodes.map((n) => [n.name, kubelet.endpoint(n)])),
      sessions,
      sessionsTtlMs: TLS_SESSIONS_TTL_MS,
    });
  } catch (err) {
    log.warn("Could not store the shard's new kubelet TLS sessions", {
      shard: `${req.shard.index + 1}/${req.shard.of}`,
      err: err instanceof Error ? err.message : String(err),
    });
  }
  return {
    shard: req.shard.index,
    nodes: req.nodes.length,
    scraped: done.scraped,
    failed: done.failed,
    points: rendered.points,
    durationMs: performance.now() - started,
    requests: deps.takeRequests?.(names) ?? [],
    instance: deps.instance,
    staged: {
      part,
      nodes: { size: rendered.nodes.size, expireAt: rendered.nodes.expireAt },
      namespaces,
    },
  };
}
