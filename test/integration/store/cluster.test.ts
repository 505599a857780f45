/**
 * The store on a real Redis Cluster (three private masters, slots spread over them, a replica each): the
 * real scraper (`createScraper`, `--redis-cluster-nodes`) scrapes the simulated cluster into it, the real
 * reader and CycleWatch read it back over the project's own Cluster client, and the serve function answers
 * from it. DESIGN.md promises the layout works unchanged on Cluster; a command whose keys span slots
 * (CROSSSLOT) or that Cluster mode does not route fails here. Last, a master is SIGKILLed under load (the
 * scraper program on `--loop`, two serve replicas answering continuously): its replica takes over, and
 * the fault table's promise holds (serve back within 5 s, no wrong answer ever).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Cluster, Redis } from 'ioredis';
import { createScraper, type Scraper } from '../../../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { PodMetrics, PodMetricsList } from '../../../shared/metrics-api.ts';
import { CycleWatch } from '../../../shared/store/cycle-watch.ts';
import { keys } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { connect, createRedis, type RedisClient } from '../../../shared/store/redis.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { redisServerInstalled, waitFor } from '../../../sim/processes.ts';
import {
  describeFigures,
  type FailoverRun,
  failoverContract,
  failoverUnderLoad,
} from '../../helpers/failover.ts';
import { onServer, type RedisClusterGroup, startClusterGroup } from '../../helpers/redis-topology.ts';
import { startServeAsMaster } from '../../helpers/serve.ts';
import { completePods } from '../../helpers/served.ts';

const RESOLUTION_MS = 60_000;
/** The `cluster-node-timeout` docs/behaviour.md asks operators for (section *High availability*). */
const NODE_TIMEOUT_MS = 1000;
const V1BETA1 = '/apis/metrics.k8s.io/v1beta1';

let cluster: RedisClusterGroup;
let sim: Sim;
let dir: string;
let scraper: Scraper;
let redis: RedisClient;
let reader: RedisMetricsReader;
let watch: CycleWatch;
const log: string[] = [];
const logger = createLogger({ write: (l) => log.push(l) });
/** `ms:{cycle}` after each of the two cycles. */
const announced: number[] = [];

/** One scrape cycle now (`--once`: whether or not a resolution has passed). */
async function cycle(): Promise<void> {
  const r = await scraper.run('once');
  assert.equal(r.ran, true);
  assert.deepEqual(r.failed, [], log.join('\n'));
  assert.equal(r.scraped, sim.cluster.nodes().length);
  const latest = Number(await redis.get(keys.latestCycle));
  assert.ok(latest > (announced.at(-1) ?? 0), `ms:{cycle} moved forward: ${latest}`);
  announced.push(latest);
  // The watch hears the announcement (PUBLISH inside the script, on whichever master holds ms:{cycle}).
  await waitFor(`CycleWatch to report cycle ${latest}`, 5000, async () => watch.latest() === latest);
}

before(async () => {
  assert.ok(redisServerInstalled(), 'redis-server is installed');
  cluster = await startClusterGroup({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  sim = await startSim({ nodes: 3, podsPerNode: 5, housekeepingMs: 1000, seed: 'redis-cluster-it' });
  dir = await mkdtemp(join(tmpdir(), 'ms-redis-cluster-it-'));
  await writeFile(join(dir, 'kubelet-ca.crt'), sim.kubeletCaPem);
  await sim.writeKubeconfig(join(dir, 'scraper.kubeconfig'), 'scraper');
  const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  scraper = createScraper(
    loadScrapeConfig(
      [
        `--redis-cluster-nodes=${nodes}`,
        `--kubeconfig=${join(dir, 'scraper.kubeconfig')}`,
        `--kubelet-certificate-authority=${join(dir, 'kubelet-ca.crt')}`,
        '--kubelet-use-node-status-port',
        '--kubelet-preferred-address-types=InternalIP',
        `--metric-resolution=${RESOLUTION_MS / 1000}s`,
        '--kubelet-request-timeout=2s',
      ],
      {},
    ),
    logger,
  );
  redis = createRedis({ mode: 'cluster', nodes: cluster.nodes }, { commandTimeoutMs: 2000 });
  await connect(redis);
  assert.equal(redis.isCluster, true);
  reader = new RedisMetricsReader(redis);
  await reader.ping();
  watch = new CycleWatch(redis, logger);
  // Nothing announced yet: the watch knows that (0 matches no list) once it has subscribed.
  await waitFor('CycleWatch to subscribe', 5000, async () => watch.latest() === 0);
  await cycle();
  await new Promise((r) => setTimeout(r, 1200)); // past the kubelets' next housekeeping
  await cycle();
});

after(async () => {
  watch?.close();
  redis?.disconnect();
  await scraper?.close();
  await sim?.stop();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the store on a 3-master Redis Cluster', () => {
  test('the served keys really are spread over more than one master', async () => {
    const masters = new Set<string>();
    for (const ns of sim.cluster.namespaces()) {
      const slot = Number(await (redis as Cluster).call('CLUSTER', 'KEYSLOT', keys.pods(ns.name)));
      const owner = (redis as Cluster).slots[slot]?.[0];
      if (owner) masters.add(owner);
    }
    assert.ok(masters.size >= 2, `namespaces' pods on ${[...masters].join(', ')}`);
  });

  test('every node is served, with metrics after two cycles', async () => {
    const nodes = await reader.nodes();
    assert.deepEqual(
      nodes.map((n) => n.name),
      sim.cluster
        .nodes()
        .map((n) => n.name)
        .sort(),
    );
    for (const n of nodes) {
      assert.notEqual(n.item, '', `${n.name} has metrics`);
      assert.equal(JSON.parse(n.item).metadata.name, n.name);
    }
  });

  test('every Running pod the kubelets reported with metrics is served under its own namespace and name', async () => {
    const served: string[] = [];
    for await (const b of reader.allPods()) {
      for (const e of b.entries) {
        if (e.item === '') continue;
        const item = PodMetrics.parse(JSON.parse(e.item));
        assert.equal(item.metadata.namespace, b.namespace);
        assert.equal(item.metadata.name, e.name);
        served.push(`${b.namespace}/${e.name}`);
      }
    }
    const want = completePods(sim, RESOLUTION_MS);
    assert.ok(want.length >= 10, `${want.length} pods expected`);
    assert.deepEqual(served, want);
  });

  test('the all-pods list read as each namespace’s stored bytes, each namespace on its own master, holds the same pods', async () => {
    const served: string[] = [];
    for await (const b of reader.allPods({ ordered: true })) {
      assert.ok(b.ordered?.joined, `${b.namespace}: its part in name order, read with its order`);
      const list = JSON.parse(`[${b.ordered.bytes.subarray(1).toString('utf8')}]`) as unknown[];
      assert.equal(list.length, b.ordered.timestamps.length);
      for (const x of list) {
        const item = PodMetrics.parse(x);
        assert.equal(item.metadata.namespace, b.namespace);
        served.push(`${b.namespace}/${item.metadata.name}`);
      }
    }
    assert.deepEqual(served, completePods(sim, RESOLUTION_MS));
  });

  test("one namespace's pods, whole and through the label index", async () => {
    const want = completePods(sim, RESOLUTION_MS);
    const namespace = 'kube-system';
    const pods = (await reader.namespacePods(namespace)).filter((e) => e.item !== '');
    assert.deepEqual(
      pods.map((e) => `${namespace}/${e.name}`),
      want.filter((k) => k.startsWith(`${namespace}/`)),
    );
    // A label that some but not all of them carry: the index must select exactly those.
    const counts = new Map<string, number>();
    for (const e of pods) {
      for (const [k, v] of Object.entries(JSON.parse(e.labels) as Record<string, string>)) {
        const kv = `${k}=${v}`;
        counts.set(kv, (counts.get(kv) ?? 0) + 1);
      }
    }
    const chosen = [...counts].find(([, c]) => c > 0 && c < pods.length)?.[0];
    assert.ok(chosen, 'a label on some of the pods');
    const [key, value] = chosen.split('=') as [string, string];
    const has = (labels: string) => (JSON.parse(labels) as Record<string, string>)[key] === value;
    const matched = await reader.namespacePodsMatching(namespace, has);
    assert.ok(matched, 'the label index is usable');
    assert.deepEqual(
      matched.filter((e) => e.item !== '').map((e) => e.name),
      pods.filter((e) => has(e.labels)).map((e) => e.name),
    );
    assert.ok(matched.length > 0);
  });

  test('ms:{cycle} names the last cycle and the CycleWatch follows it', async () => {
    assert.equal(announced.length, 2);
    assert.ok(announced[1]! > announced[0]!);
    assert.equal(Number(await redis.get(keys.latestCycle)), announced[1]);
    assert.equal(watch.latest(), announced[1]);
    const nodesCycle = await reader.nodesCycle();
    assert.equal(nodesCycle, String(announced[1]));
    assert.equal(Number(await reader.namespaceCycle('kube-system')), watch.latest());
  });

  test('the serve function answers from the Cluster over HTTPS, the same twice', async () => {
    const serve = await startServeAsMaster([
      `--redis-cluster-nodes=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
    ]);
    const get = serve.get;
    try {
      const path = `${V1BETA1}/namespaces/kube-system/pods`;
      const first = await waitFor('serve to answer 200', 5000, async () => {
        const r = await get(path);
        return r.status === 200 ? r : undefined;
      });
      const second = await get(path);
      assert.equal(second.status, 200, second.body);
      const names = (body: string) =>
        PodMetricsList.parse(JSON.parse(body)).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
      assert.deepEqual(
        names(first.body),
        completePods(sim, RESOLUTION_MS).filter((k) => k.startsWith('kube-system/')),
      );
      assert.deepEqual(JSON.parse(second.body), JSON.parse(first.body));
    } finally {
      await serve.stop();
    }
    assert.ok(!serve.lines.some((l) => /CROSSSLOT|level=error|"error"/i.test(l)), serve.lines.join('\n'));
  });

  // Last: it changes the cluster the tests above read.
  test('a node that leaves is forgotten on the Cluster too: its state on its own slot, the rest in transactions', async () => {
    const victim = sim.cluster.nodes().at(-1)!.name;
    const endpoint = `127.0.0.1:${sim.kubelets.ports.get(victim)}`;
    assert.equal(await redis.exists(keys.state(victim)), 1);
    assert.equal(await redis.hexists(keys.tlsSessions, endpoint), 1);
    sim.cluster.removeNode(victim);
    log.length = 0;
    await cycle();
    assert.ok(!log.some((l) => /Could not store|CROSSSLOT/.test(l)), log.join('\n'));
    assert.equal(await redis.exists(keys.state(victim)), 0);
    assert.equal(await redis.hexists(keys.tlsSessions, endpoint), 0);
    assert.deepEqual(
      Object.keys(await redis.hgetall(keys.scrapeNodes)).sort(),
      sim.cluster.nodes().map((n) => n.name),
    );
    assert.deepEqual(
      (await redis.hkeys(keys.scrapeKubeletStats)).filter((f) => f.endsWith(`:${victim}`)),
      [],
    );
  });
});

describe('a Cluster master SIGKILLed under load', () => {
  let run: FailoverRun;

  before(async () => {
    // The scenario brings its own simulated cluster: nothing of the first one may be read as its past,
    // and only its serve replicas may follow the announcements.
    watch.close();
    await Promise.all((redis as Cluster).nodes('master').map((m) => m.flushall()));
    let dead: (typeof cluster.servers)[number] | undefined;
    /** `fn` on the master that serves `key`'s slot now. */
    const onMasterOf = async <T>(key: string, fn: (r: Redis) => Promise<T>): Promise<T> =>
      onServer((await cluster.masterOf(key)).port, fn);
    const latestCycle = () =>
      onMasterOf(keys.latestCycle, async (r) => Number(await r.get(keys.latestCycle)));
    run = await failoverUnderLoad(
      {
        flags: [`--redis-cluster-nodes=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`],
        latestCycle,
        fail: async () => {
          dead = await cluster.masterOf(keys.nodes);
          await dead.stop(true);
          return `SIGKILL the master of ${keys.nodes}, 127.0.0.1:${dead.port}`;
        },
        failedOver: async () => `127.0.0.1:${(await cluster.failedOver(dead!, keys.nodes)).port}`,
        onNewMaster: async () => ({
          latestCycle: await latestCycle(),
          nodes: await onMasterOf(keys.nodes, (r) => r.hgetall(keys.nodes)),
        }),
        // Classic pub/sub reaches every node of a Cluster; a subscriber listens on any one of them.
        subscribers: async (channel) => {
          let n = 0;
          for (const s of cluster.servers.filter((x) => x !== dead)) {
            n += await onServer(s.port, async (r) => {
              const [, count] = (await r.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
              return count;
            });
          }
          return n;
        },
      },
      (line) => process.stdout.write(`# ${line}\n`),
    );
    for (const line of describeFigures(run)) process.stdout.write(`# cluster failover: ${line}\n`);
  });

  failoverContract(() => run);

  test('readiness is back by itself (it fails only while no node answers a PING)', () => {
    for (const f of run.figures) assert.ok(f.unreadyAtMs === null || f.readyAgainMs !== null, f.replica);
  });
});
