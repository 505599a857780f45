/**
 * What a warm cycle does per node beyond the floor (fetch and decode), in-process and without I/O, so
 * that a change to it is measured without a shared machine's network and scheduling noise: the previous
 * state decoded (as a long-lived scraper's memory hands it), the node advanced, its entries rendered and
 * handed to a cycle's staging (the real CycleStaging, on a Redis that is never sent to), its state
 * encoded. The payloads are the simulator's, a cycle apart; each round is one whole warm cycle's work,
 * garbage collection included; its process CPU time is what is measured. With --redis, the pipelines are
 * sent to that Redis (ioredis' conversion of each command, the socket writes and the replies included;
 * each round's staging keys are deleted after it, outside the measured time).
 *
 *   node bench/node-work.ts [--nodes 1000] [--pods-per-node 30] [--rounds 30] [--redis redis://HOST:PORT]
 */
import { parseArgs } from 'node:util';
import { decodeResource } from '../functions/scrape/decode/index.ts';
import { CycleRender } from '../functions/scrape/render.ts';
import { advanceState } from '../functions/scrape/state.ts';
import { keys } from '../shared/store/keys.ts';
import { connect, createRedis, type RedisClient } from '../shared/store/redis.ts';
import { CycleStaging } from '../shared/store/writer.ts';
import { renderResourceMetrics } from '../sim/resource-metrics.ts';
import { benchCluster } from './sim-cluster.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'pods-per-node': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '30' },
    redis: { type: 'string' },
  },
});
const nodes = Number(values.nodes);
const podsPerNode = Number(values['pods-per-node']);
const rounds = Number(values.rounds);
const RESOLUTION = 15_000;
const start = Date.UTC(2026, 0, 1);
const { cluster, nodeList, podInfos } = benchCluster(nodes, podsPerNode, start);
/** Two payloads per node, a resolution apart: the cycles alternate between them, moving on in time. */
const payloads = [0, 1].map((k) =>
  cluster.nodes().map((n) => renderResourceMetrics(cluster.kubeletView(n.name, start + k * RESOLUTION))),
);
/** A node's batch in round `round`: its payload decoded, moved on in time by whole rounds. */
const batchAt = (round: number, node: number) => {
  const b = decodeResource(payloads[round % 2]![node]!, 0);
  const shift = round * RESOLUTION - (round % 2) * RESOLUTION;
  if (b.node) b.node = { ...b.node, timestamp: b.node.timestamp + shift, cpu: b.node.cpu + round * 1e9 };
  for (const p of b.pods) {
    for (const c of p.containers) {
      c.timestamp += shift;
      c.cpu += round * 1e7;
    }
  }
  return b;
};

/** A Redis client that takes the pipelines and never sends them (the staging's own work is measured). */
const sink = {
  isCluster: false,
  pipeline() {
    // Every command the writer queues (hset, setrange, pexpire, set, …) is taken and dropped.
    const p: object = new Proxy({}, { get: (_, command) => (command === 'exec' ? async () => [] : () => p) });
    return p;
  },
  // The staging keys a round leaves (CycleStaging.abandon), deleted from nowhere.
  del: async () => 0,
} as unknown as RedisClient;
const redis = values.redis
  ? createRedis({ mode: 'single', url: values.redis }, { commandTimeoutMs: 10_000 })
  : null;
if (redis) await connect(redis);

const cpuSince = (t0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / 1000 / nodes;
};
let states = new Map<string, Buffer>();
/** Per round, ms per node: the decoding alone (the floor's share), and the decoding with the rest. */
const floors: number[] = [];
const times: number[] = [];
for (let round = 0; round < rounds; round++) {
  const f0 = process.cpuUsage();
  let decoded = 0;
  for (let i = 0; i < nodeList.length; i++) decoded += batchAt(round, i).pods.length;
  floors.push(cpuSince(f0));
  if (decoded === 0) throw new Error('no pods decoded');
  const now = start + round * RESOLUTION;
  const staging = new CycleStaging(redis ?? sink, { cycle: now, ttlMs: 60_000 });
  const next = new Map<string, Buffer>();
  const t0 = process.cpuUsage();
  const render = new CycleRender(
    { now, expiresAt: now + 3 * RESOLUTION, nodes: nodeList, pods: podInfos },
    staging,
  );
  for (let i = 0; i < nodeList.length; i++) {
    const name = nodeList[i]!.name;
    const { state, bytes } = advanceState(states.get(name) ?? null, batchAt(round, i), {
      startedAt: now,
      expiresAt: now + 3 * RESOLUTION,
      resolutionMs: RESOLUTION,
    });
    render.add(name, state);
    next.set(name, bytes);
    staging.setState(name, bytes, 3 * RESOLUTION);
    if (i % 100 === 99) await staging.flushIfFull();
  }
  const { points } = render.finish();
  await staging.flush();
  times.push(cpuSince(t0));
  await staging.abandon();
  if (round === rounds - 1) console.log(`points served in the last round: ${JSON.stringify(points)}`);
  states = next;
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const floor = median(floors.slice(2));
const all = median(times.slice(2));
// The states written (keys.state, expiring anyway) are not left behind.
if (redis)
  for (let i = 0; i < nodeList.length; i += 500)
    await redis.del(...nodeList.slice(i, i + 500).map((n) => keys.state(n.name)));
redis?.disconnect();
console.log(
  `${nodes} nodes × ${podsPerNode} pods${redis ? ', pipelines sent to Redis' : ''}, medians of ${rounds - 2} warm rounds: decoding alone ${(floor * 1000).toFixed(1)} µs per node, ` +
    `decoding and the rest ${(all * 1000).toFixed(1)} µs (${(all / floor).toFixed(2)}×; the rest ${((all - floor) * 1000).toFixed(1)} µs)`,
);
