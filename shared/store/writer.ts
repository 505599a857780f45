/**
 * What the scraper writes and reads back. A cycle's writes go out pipelined (a round trip per few
 * thousand commands), and every served hash is built under a staging key and RENAMEd over the served one
 * (atomic): a reader sees a namespace's pods (or the node list) wholly from one cycle or wholly from the
 * previous one, never a mix.
 */
import type { ChainableCommander } from 'ioredis';
import type { HashUpdate, StatsWrite } from '../metrics.ts';
import { CYCLE_FIELD, keys } from './keys.ts';
import { guarded, type RedisClient } from './redis.ts';

/** One served hash, replaced as a whole. An empty `fields` deletes it. */
export interface HashWrite {
  fields: [name: string, value: string][];
  /** Redis-clock instant (ms) after which the whole key is gone: the latest expiry among its entries. */
  expireAt: number;
  /** For a namespace's pods: labels text → names of the pods with metrics that carry those labels. */
  labelIndex?: Map<string, string[]>;
}

export interface CycleWrite {
  nodes: HashWrite;
  /** Every namespace with at least one entry this cycle. */
  namespaces: Map<string, HashWrite>;
  /** Namespaces in the index before this cycle (readNamespaces); those absent from `namespaces` are deleted. */
  previousNamespaces: string[];
  /** The scraper's per-node memory, each kept for `stateTtlMs`. */
  states: [node: string, value: string][];
  stateTtlMs: number;
  /** Names the cycle in each namespace's pods hash and label index (CYCLE_FIELD); its start time. */
  cycle?: number;
}

export interface CycleStart {
  /** False when another instance already ran the cycle due now (this trigger does nothing). */
  acquired: boolean;
  /** Redis' clock, ms. */
  now: number;
  /** When the next cycle is due, Redis' clock, ms. */
  nextDue: number;
}

/**
 * One cycle per resolution across any number of instances, on Redis' clock: a trigger runs a cycle only
 * if the last one started at least a resolution ago (less a small tolerance for early cron ticks). The
 * key outlives the next due time, so if the instance that started a cycle dies, whichever instance is
 * triggered next after the due time takes over.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local resolution = tonumber(ARGV[1])
local last = redis.call('GET', KEYS[1])
if last then
  local started = tonumber(string.match(last, '^(%d+)'))
  if started and now < started + resolution - tonumber(ARGV[2]) then
    return {0, now, started + resolution}
  end
end
redis.call('SET', KEYS[1], now .. ' ' .. ARGV[3], 'PX', 2 * resolution)
return {1, now, now + resolution}
`;

/** Commands per pipeline (HSET fields count one each): bounds each round trip's size. */
const PIPELINE_COMMANDS = 4000;

export class RedisMetricsWriter {
  #redis: RedisClient;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  acquireCycle(resolutionMs: number, toleranceMs: number, holder: string): Promise<CycleStart> {
    return guarded(async () => {
      const r = (await this.#redis.eval(
        ACQUIRE,
        1,
        keys.scrapeLock,
        resolutionMs,
        toleranceMs,
        holder,
      )) as number[];
      return { acquired: r[0] === 1, now: Number(r[1]), nextDue: Number(r[2]) };
    });
  }

  /** The previous states of these nodes, in the same order (null where none is kept). */
  readStates(nodes: string[]): Promise<(string | null)[]> {
    // Auto-pipelining sends these GETs in one round trip (per cluster node).
    return guarded(() => Promise.all(nodes.map((n) => this.#redis.get(keys.state(n)))));
  }

  readNamespaces(): Promise<string[]> {
    return guarded(async () => this.#redis.hkeys(keys.namespaces));
  }

  writeCycle(w: CycleWrite): Promise<void> {
    // Each group touches one key, so in Cluster mode it stays on one slot.
    const groups: { weight: number; add: (p: ChainableCommander) => void }[] = [];
    const replaceHash = (key: string, h: HashWrite, extra: [string, string][] = []) => {
      groups.push({
        weight: h.fields.length + extra.length + 4,
        add: (p) => {
          if (h.fields.length === 0) {
            p.del(key);
            return;
          }
          // The staging key shares the served key's hash tag, so RENAME stays on one Cluster slot.
          const next = keys.staging(key);
          p.del(next);
          p.hset(next, ...h.fields.flat(), ...extra.flat());
          p.pexpireat(next, h.expireAt);
          p.rename(next, key);
        },
      });
    };
    const cycle: [string, string][] = w.cycle === undefined ? [] : [[CYCLE_FIELD, String(w.cycle)]];
    /** A namespace's pods, and its label index beside it (both naming this cycle, so readers can tell). */
    const replacePods = (namespace: string, h: HashWrite) => {
      const index = h.labelIndex && cycle.length > 0 ? h.labelIndex : null;
      replaceHash(keys.pods(namespace), h, index ? cycle : []);
      const fields: [string, string][] = index
        ? [...index].map(([labels, names]) => [labels, names.join('\n')])
        : [];
      // An index is written even with no pod that has metrics (just the cycle), so readers trust it.
      replaceHash(keys.podLabels(namespace), {
        fields: index && h.fields.length > 0 ? [...fields, ...cycle] : [],
        expireAt: h.expireAt,
      });
    };
    for (const [node, value] of w.states) {
      groups.push({ weight: 1, add: (p) => p.set(keys.state(node), value, 'PX', w.stateTtlMs) });
    }
    for (const [namespace, h] of w.namespaces) replacePods(namespace, h);
    for (const namespace of w.previousNamespaces) {
      if (!w.namespaces.has(namespace)) replacePods(namespace, { fields: [], expireAt: 0 });
    }
    replaceHash(keys.nodes, w.nodes);
    // The index last: a namespace is listed only once its pods are written.
    let indexExpiry = 0;
    const index: [string, string][] = [];
    for (const [namespace, h] of w.namespaces) {
      index.push([namespace, `${h.expireAt}\t${h.fields.length}`]);
      indexExpiry = Math.max(indexExpiry, h.expireAt);
    }
    replaceHash(keys.namespaces, { fields: index, expireAt: indexExpiry });
    return guarded(() => this.#run(groups));
  }

  /** The TLS sessions a previous scraper process saved (`host:port` → session). */
  readTlsSessions(): Promise<[string, Buffer][]> {
    return guarded(async () => {
      const all = await this.#redis.hgetallBuffer(keys.tlsSessions);
      return Object.entries(all);
    });
  }

  /** Saves sessions kubelets issued; the hash lives `ttlMs` after the last save (tickets expire anyway). */
  writeTlsSessions(sessions: [string, Buffer][], ttlMs: number): Promise<void> {
    if (sessions.length === 0) return Promise.resolve();
    return guarded(async () => {
      const p = this.#redis.pipeline();
      for (let i = 0; i < sessions.length; i += PIPELINE_COMMANDS) {
        p.hset(keys.tlsSessions, ...sessions.slice(i, i + PIPELINE_COMMANDS).flat());
      }
      p.pexpire(keys.tlsSessions, ttlMs);
      await this.#exec(p);
    });
  }

  /** Adds a cycle's figures to the scraper's stored metrics (shared/metrics.ts). */
  writeScrapeStats(w: StatsWrite): Promise<void> {
    return guarded(async () => {
      // Both keys share the {scrape} hash tag: one pipeline, one Cluster slot.
      const p = this.#redis.pipeline();
      const update = (key: string, u: HashUpdate) => {
        for (const [field, by] of u.incr) p.hincrby(key, field, by);
        for (const [field, by] of u.incrFloat) p.hincrbyfloat(key, field, by);
        for (let i = 0; i < u.set.length; i += PIPELINE_COMMANDS) {
          p.hset(key, ...u.set.slice(i, i + PIPELINE_COMMANDS).flat());
        }
      };
      update(keys.scrapeStats, w.stats);
      update(keys.scrapeKubeletStats, w.kubelet);
      await this.#exec(p);
    });
  }

  async #exec(p: ChainableCommander): Promise<void> {
    for (const [err] of (await p.exec()) ?? []) if (err) throw err;
  }

  async #run(groups: { weight: number; add: (p: ChainableCommander) => void }[]): Promise<void> {
    const pipelines: ChainableCommander[] = [];
    let current: ChainableCommander | null = null;
    let weight = 0;
    for (const g of groups) {
      // Cluster mode: one pipeline per group (one key each); otherwise pack groups up to the limit.
      if (current === null || this.#redis.isCluster || weight + g.weight > PIPELINE_COMMANDS) {
        current = this.#redis.pipeline();
        pipelines.push(current);
        weight = 0;
      }
      g.add(current);
      weight += g.weight;
    }
    const results = await Promise.all(pipelines.map((p) => p.exec()));
    for (const result of results) {
      for (const [err] of result ?? []) if (err) throw err;
    }
  }
}
