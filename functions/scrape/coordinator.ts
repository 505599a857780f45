/**
 * A sharded cycle, as the instance that took it (the coordinator) runs it: the nodes and pods it listed
 * cut into shards (shards.ts), each shard scraped by an instance of the function (ShardTransport: by
 * POST /shard to --shard-url, so the platform spreads them, or in this process, one after another),
 * every shard's answer awaited until --shard-timeout. A shard that fails or times out costs its nodes
 * this cycle, exactly as failed kubelets do: one log line for the shard (its place, where it was sent,
 * its nodes' count and the cause), and its nodes are served from the states kept for them, rendered here
 * with the nodes no shard scrapes (those --node-selector leaves out) and the pods of no shard's node.
 * What each shard staged is merged, as soon as it answers (its answer is then dropped), into what is
 * left to write, so the cycle is published once, whole.
 */
import type { NodeObject, PodMeta } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import type { RequestFigure } from '../../shared/metrics.ts';
import { type CycleDeps, type NodeFailure, type NodesDone, type NodesJob, scrapeNodes } from './cycle.ts';
import type { ShardAnswer } from './shard-contract.ts';
import { cutShards, type OutgoingShard, outgoingShards, type PodsByNode } from './shards.ts';

/** Runs one shard and answers with its figures; throws when it failed. */
export interface ShardTransport {
  /** The shard, to be answered within `timeoutMs`. */
  run(shard: OutgoingShard, timeoutMs: number, signal: AbortSignal): Promise<ShardAnswer>;
  /** Where shards go, for logs: the --shard-url, or `in-process`. */
  readonly where: string;
  /** Shards are sent all at once (remote instances), or run one after another (this process). */
  readonly concurrent: boolean;
}

export interface CoordinateJob extends Omit<NodesJob, 'pods' | 'scrape'> {
  /** The Running pods by node, as the list is read (shards.ts): what the shards are sent. */
  pods: Promise<PodsByNode>;
  holder: string;
  shardSize: number;
  shardTimeoutMs: number;
}

/** A shard that fails this fast is sent once more (another instance may take it) if time is left. */
const RETRY_IF_LEFT = 0.5;

/** How one shard ended: its answer, or why it has none. */
type Outcome = { answer: ShardAnswer } | { error: string };

async function runOne(
  log: Logger,
  shards: ShardTransport,
  shard: OutgoingShard,
  parent: AbortSignal,
  timeoutMs: number,
): Promise<Outcome> {
  const started = performance.now();
  const signal = AbortSignal.any([parent, AbortSignal.timeout(timeoutMs)]);
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const left = Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
      return { answer: await shards.run(shard, left, signal) };
    } catch (err) {
      if (parent.aborted) throw parent.reason;
      if (signal.aborted) return { error: `no answer within ${timeoutMs}ms` };
      const error = err instanceof Error ? err.message : String(err);
      // A quick failure (an instance that died, a connection refused): once more, while most of the
      // time is left.
      if (attempt > 1 || performance.now() - started > timeoutMs * RETRY_IF_LEFT) return { error };
      log.debug(1, 'Sending a shard again after a quick failure', {
        shard: `${shard.index + 1}/${shard.of}`,
        url: shards.where,
        err: error,
      });
    }
  }
}

/** Adds a shard's staged part of one served hash to what the coordinator writes at the end. */
function mergePart(into: { size: number; expireAt: number }, part: { size: number; expireAt: number }): void {
  into.size += part.size;
  into.expireAt = Math.max(into.expireAt, part.expireAt);
}

type Points = ShardAnswer['points'];

function addPoints(into: Points, more: Points): void {
  into.nodes += more.nodes;
  into.pods += more.pods;
  into.containers += more.containers;
}

/**
 * Adds each label set's pod names to `into`'s; a label set new to `into` takes the list as it is, or a
 * copy of it with `copy` (an answer of a shard run in this process may keep its own).
 */
function addLabelIndex(
  into: Map<string, string[]>,
  more: Iterable<readonly [string, string[]]>,
  copy: boolean,
): void {
  for (const [labels, names] of more) {
    const list = into.get(labels);
    if (list) for (const n of names) list.push(n);
    else into.set(labels, copy ? [...names] : names);
  }
}

/** What the shards that answered staged, merged as each answers (its answer is then dropped). */
interface Staged {
  nodes: { size: number; expireAt: number };
  namespaces: Map<
    string,
    { size: number; expireAt: number; labelIndex: Map<string, string[]>; parts: [string, number][] }
  >;
  points: Points;
}

/** A shard's answer once its staged parts are merged: what is left of it to report. */
type Answered = Omit<ShardAnswer, 'staged' | 'points'>;

/** How one shard ended: what is left of its answer, or why it has none. */
type Ended = { answer: Answered } | { error: string };

/**
 * Merges an answer's staged parts (its pods with metrics by labels: at 10,000 nodes, 30,000 names per
 * shard) into `into` as it arrives, so that the coordinator never holds every shard's answer at once.
 */
function mergeAnswer(into: Staged, a: ShardAnswer): Answered {
  const { staged, points, ...rest } = a;
  mergePart(into.nodes, staged.nodes);
  for (const part of staged.namespaces) {
    let h = into.namespaces.get(part.namespace);
    if (h === undefined) {
      h = { size: 0, expireAt: 0, labelIndex: new Map(), parts: [] };
      into.namespaces.set(part.namespace, h);
    }
    mergePart(h, part);
    addLabelIndex(h.labelIndex, part.labelIndex, true);
    if (part.itemBytes > 0) h.parts.push([staged.part, part.itemBytes]);
  }
  addPoints(into.points, points);
  return rest;
}

export async function coordinate(
  deps: CycleDeps & { shards: ShardTransport },
  job: CoordinateJob,
): Promise<NodesDone & { requests: RequestFigure[] }> {
  const { log, shards } = deps;
  const pods = await job.pods;
  const selected = job.nodes.filter((n) => job.selected.has(n));
  const cut = cutShards(selected, job.shardSize);
  // The fields in the contract's order (shards.ts puts `shard` and `timeoutMs` after them).
  const head = {
    cycle: job.now,
    coordinator: job.holder,
    expiresAt: job.expiresAt,
    resolutionMs: job.resolutionMs,
  };
  const outgoing = outgoingShards(head, cut, pods);

  const staged: Staged = {
    nodes: { size: 0, expireAt: 0 },
    namespaces: new Map(),
    points: { nodes: 0, pods: 0, containers: 0 },
  };
  const end = async (o: OutgoingShard): Promise<Ended> => {
    const r = await runOne(log, shards, o, job.signal, job.shardTimeoutMs);
    return 'answer' in r ? { answer: mergeAnswer(staged, r.answer) } : r;
  };
  const outcomes: Ended[] = [];
  if (shards.concurrent) {
    outcomes.push(...(await Promise.all(outgoing.map(end))));
  } else {
    for (const o of outgoing) outcomes.push(await end(o));
  }
  job.signal.throwIfAborted();

  const served = new Set<string>();
  const failed: NodeFailure[] = [];
  const requests: RequestFigure[] = [];
  // The pods of no served node: of nodes no shard has (pods.rest), and of failed shards' nodes.
  const unserved: PodMeta[] = pods.rest();
  let scraped = 0;
  for (const [i, o] of outcomes.entries()) {
    const nodes = cut[i]!;
    if ('answer' in o) {
      log.debug(1, 'Shard scraped', {
        shard: `${i + 1}/${cut.length}`,
        instance: o.answer.instance,
        nodes: o.answer.nodes,
        scraped: o.answer.scraped,
        duration: `${Math.round(o.answer.durationMs)}ms`,
      });
      for (const r of o.answer.requests) requests.push(r);
      for (const n of nodes) served.add(n.name);
      scraped += o.answer.scraped;
      failed.push(...o.answer.failed);
      continue;
    }
    log.warn('Shard failed: its nodes keep their last points until they expire', {
      shard: `${i + 1}/${cut.length}`,
      url: shards.where,
      nodes: nodes.length,
      err: o.error,
    });
    for (const n of nodes) failed.push({ node: n.name, error: `shard ${i + 1}/${cut.length}: ${o.error}` });
    for (const p of outgoing[i]!.request(job.shardTimeoutMs).pods) unserved.push(p);
  }
  outgoing.length = 0; // the shards' pods, no longer needed while the rest is rendered
  outcomes.length = 0;

  // What no shard served: the nodes --node-selector leaves out, those of failed shards, and the pods
  // of no served node, from the states kept for them.
  const rest: NodeObject[] = job.nodes.filter((n) => !served.has(n.name));
  const kept = await scrapeNodes(deps, {
    ...job,
    nodes: rest,
    scrape: [],
    pods: Promise.resolve(unserved),
  });
  const { rendered } = kept;
  mergePart(rendered.nodes, staged.nodes);
  for (const [namespace, part] of staged.namespaces) {
    const h = rendered.namespaces.get(namespace);
    if (h === undefined) {
      rendered.namespaces.set(namespace, { fields: [], ...part });
      continue;
    }
    mergePart(h, part);
    if (h.labelIndex === undefined) h.labelIndex = part.labelIndex;
    else addLabelIndex(h.labelIndex, part.labelIndex, false);
    // The coordinator's own items are in its staging's part, which finish adds itself.
    h.parts = part.parts;
  }
  addPoints(rendered.points, staged.points);
  return { scraped, failed, rendered, requests };
}
