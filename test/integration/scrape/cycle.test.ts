/**
 * The scrape cycle against the real Redis: small fakes of the API server and the kubelets (the narrow
 * interfaces beside the cycle), the real store writer, and the serve function's real reader.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CycleDeps, leaseMs, runCycle, toleranceMs } from '../../../functions/scrape/cycle.ts';
import type { ContainerSample, MetricsBatch } from '../../../functions/scrape/decode/batch.ts';
import type { NodeObject, PodMeta } from '../../../shared/kube.ts';
import { createLogger } from '../../../shared/log.ts';
import { type RequestFigure, statsWrite } from '../../../shared/metrics.ts';
import { NodeMetrics, PodMetrics } from '../../../shared/metrics-api.ts';
import { CYCLE_FIELD, keys } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { RedisMetricsWriter } from '../../../shared/store/writer.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, storedParts, type TestDb, whereNamed } from '../../helpers/redis.ts';

const RESOLUTION = 15_000;
const LONG_AGO_NS = (Date.now() - 3_600_000) * 1e6;

interface FakeContainer {
  cpuPerSecondNs: number;
  memory: number;
}

/** A tiny cluster: what each kubelet reports moves by `tick`, so two cycles give exact known rates. */
class FakeCluster {
  nodes: NodeObject[] = [];
  pods: (PodMeta & { node: string; containers: Record<string, FakeContainer> })[] = [];
  failing = new Map<string, Error>();
  tick = 0;
  scrapes: string[] = [];
  base = Date.now() - 60_000;

  addNode(name: string, labels: Record<string, string> = {}) {
    this.nodes.push({ name, labels, annotations: {}, addresses: [], kubeletPort: 0 });
  }

  sampleTime(node: string) {
    return this.base + this.tick * RESOLUTION + (node.length % 7) * 100;
  }

  batch(node: string): MetricsBatch {
    const ts = this.sampleTime(node);
    const seconds = (ts - this.base) / 1000;
    const pods = this.pods
      .filter((p) => p.node === node)
      .map((p) => ({
        namespace: p.namespace,
        name: p.name,
        containers: Object.entries(p.containers).map(
          ([name, c]): ContainerSample => ({
            name,
            timestamp: ts,
            cpu: Math.round(c.cpuPerSecondNs * seconds) + 1,
            memory: c.memory,
            startTime: LONG_AGO_NS,
          }),
        ),
      }));
    return { node: { timestamp: ts, cpu: 1_000_000_000 * seconds + 5, memory: 1 << 30 }, pods, dropped: [] };
  }

  /** Where each node's kubelet is (by name, as with --kubelet-preferred-address-types=Hostname). */
  endpoint(node: string) {
    return this.ports.has(node) ? `${node}.nodes.sim:${this.ports.get(node)}` : `${node}.nodes.sim:10250`;
  }

  ports = new Map<string, number>();
  /** Kubelets that issued a TLS session not yet handed out (takeNewSessions). */
  newSessions = new Map<string, Buffer>();
  requests: RequestFigure[] = [];
  /** The kubelets the client was last told to keep (all others it forgets). */
  retained: string[] = [];

  deps(writer: RedisMetricsWriter, lines: string[]): CycleDeps {
    return {
      api: {
        listNodes: async () => this.nodes,
        listRunningPods: async () =>
          this.pods.map(({ namespace, name, labels }) => ({ namespace, name, labels })),
      },
      kubelet: {
        scrape: async (node) => {
          this.scrapes.push(node.name);
          const err = this.failing.get(node.name);
          this.requests.push({ node: node.name, durationSeconds: 0.01, startedAt: 1, success: !err });
          if (err) throw err;
          const endpoint = this.endpoint(node.name);
          this.newSessions.set(endpoint, Buffer.from(`session of ${endpoint}`));
          return this.batch(node.name);
        },
        endpoint: (node) => this.endpoint(node.name),
        retain: (endpoints) => {
          this.retained = [...endpoints];
        },
        takeNewSessions: () => {
          const out = [...this.newSessions];
          this.newSessions.clear();
          return out;
        },
      },
      store: writer,
      figures: (r) => {
        const stats = statsWrite({
          requests: this.requests,
          tickSeconds: r.durationMs / 1000,
          resolutionSeconds: RESOLUTION / 1000,
          points: r.points,
        });
        this.requests = [];
        return stats;
      },
      log: createLogger({ write: (l) => lines.push(l) }),
    };
  }
}

let db: TestDb;
let writer: RedisMetricsWriter;
let reader: RedisMetricsReader;

before(async () => {
  db = await leaseTestDb();
  writer = new RedisMetricsWriter(db.redis);
  reader = new RedisMetricsReader(db.redis);
});
after(async () => db.release());
beforeEach(async () => db.redis.flushdb());

const cfg = {
  resolutionMs: RESOLUTION,
  kubeletTimeoutMs: 5000,
  concurrency: 4,
  nodeSelector: null,
  holder: 'test',
};

/** The next cycle, now (`--once`: whether or not a resolution has passed). */
async function nextCycle(cluster: FakeCluster, lines: string[] = []) {
  const r = await runCycle(cluster.deps(writer, lines), cfg, 'once');
  cluster.tick++;
  return r;
}

function twoNodeCluster() {
  const c = new FakeCluster();
  c.addNode('node-a', { zone: 'a' });
  c.addNode('node-b', { zone: 'b' });
  c.pods.push(
    {
      namespace: 'default',
      name: 'web-1',
      labels: { app: 'web' },
      node: 'node-a',
      containers: {
        app: { cpuPerSecondNs: 250_000_000, memory: 3136 * 1024 },
        proxy: { cpuPerSecondNs: 5_000_000, memory: 4096 },
      },
    },
    {
      namespace: 'default',
      name: 'db-0',
      labels: { app: 'db' },
      node: 'node-b',
      containers: { postgres: { cpuPerSecondNs: 1_500_000_000, memory: 512 * 1024 * 1024 } },
    },
    {
      namespace: 'kube-system',
      name: 'kube-proxy-b',
      labels: {},
      node: 'node-b',
      containers: { 'kube-proxy': { cpuPerSecondNs: 1_000_000, memory: 12_533_760 } },
    },
  );
  return c;
}

describe('a scrape cycle', () => {
  test('after two cycles every node and pod is served with rates from the two kubelet samples', async () => {
    const cluster = twoNodeCluster();
    const first = await nextCycle(cluster);
    assert.equal(first.ran, true);
    assert.equal(first.scraped, 2);
    // One sample per series: objects are known to exist, nothing is servable yet.
    assert.ok((await reader.nodes()).every((e) => e.item === ''));
    assert.equal((await reader.pod('default', 'web-1'))?.item, '');

    await nextCycle(cluster);
    const nodes = (await reader.nodes()).map((e) => NodeMetrics.parse(JSON.parse(e.item)));
    assert.deepEqual(
      nodes.map((n) => [n.metadata.name, n.usage.cpu, n.window, n.metadata.labels]),
      [
        ['node-a', '1', '15s', { zone: 'a' }],
        ['node-b', '1', '15s', { zone: 'b' }],
      ],
    );
    const web = PodMetrics.parse(JSON.parse((await reader.pod('default', 'web-1'))!.item));
    assert.deepEqual(web.containers, [
      { name: 'app', usage: { cpu: '250m', memory: '3136Ki' } },
      { name: 'proxy', usage: { cpu: '5m', memory: '4Ki' } },
    ]);
    assert.equal(web.window, '15s');
    assert.equal(web.metadata.namespace, 'default');
    assert.deepEqual(web.metadata.labels, { app: 'web' });
    const ns = await reader.namespacePods('default');
    assert.deepEqual(
      ns.map((e) => e.name),
      ['db-0', 'web-1'],
    );
    const all: string[] = [];
    for await (const b of reader.allPods()) for (const e of b.entries) all.push(`${b.namespace}/${e.name}`);
    assert.deepEqual(all, ['default/db-0', 'default/web-1', 'kube-system/kube-proxy-b']);
  });

  test('a failing kubelet is logged with its node and cause; its points stay until they expire; others move on', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    await nextCycle(cluster);
    const before = (await reader.pod('default', 'db-0'))!;
    cluster.failing.set('node-b', new Error('request failed, status: "500 Internal Server Error"'));
    const lines: string[] = [];
    const r = await nextCycle(cluster, lines);
    assert.equal(r.scraped, 1);
    assert.deepEqual(r.failed, [
      { node: 'node-b', error: 'request failed, status: "500 Internal Server Error"' },
    ]);
    assert.ok(
      lines.some(
        (l) => l.includes('"Failed to scrape node"') && l.includes('node="node-b"') && l.includes('500'),
      ),
    );
    assert.ok(lines.some((l) => l.includes('"Scrape cycle finished"') && l.includes('failed=1')));
    const kept = (await reader.pod('default', 'db-0'))!;
    assert.equal(kept.item, before.item, 'the failed node’s pod keeps its last servable point');
    assert.equal(kept.expiresAt, before.expiresAt, 'but is not refreshed: it expires on schedule');
    const moved = (await reader.pod('default', 'web-1'))!;
    assert.ok(moved.timestamp > before.timestamp);

    // After recovery, one scrape is enough: the kept samples give the rate.
    cluster.failing.clear();
    await nextCycle(cluster);
    const back = PodMetrics.parse(JSON.parse((await reader.pod('default', 'db-0'))!.item));
    assert.equal(back.window, '30s');
    assert.deepEqual(back.containers[0]?.usage, { cpu: '1500m', memory: '512Mi' });
  });

  test('points past their expiry are not served', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    await nextCycle(cluster);
    const e = (await reader.pod('default', 'web-1'))!;
    // Serve-side view one moment after the expiry: rewrite the entry as if time had passed.
    await db.redis.hset(
      keys.pods('default'),
      'web-1',
      `${Date.now() - 1}\t${e.timestamp}\t${e.labels}\t${e.item}`,
    );
    assert.equal(await reader.pod('default', 'web-1'), null);
    assert.deepEqual(
      (await reader.namespacePods('default')).map((x) => x.name),
      ['db-0'],
    );
  });

  test('deleted pods and emptied namespaces disappear at the next cycle', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    await nextCycle(cluster);
    cluster.pods = cluster.pods.filter((p) => p.namespace !== 'kube-system');
    await nextCycle(cluster);
    assert.deepEqual(await reader.namespacePods('kube-system'), []);
    assert.equal(await db.redis.exists(keys.pods('kube-system')), 0);
    assert.deepEqual(await db.redis.hkeys(keys.namespaces), ['default']);
  });

  test('a pod that is Running but has no metrics exists without an item (a GET tells the two 404s apart)', async () => {
    const cluster = twoNodeCluster();
    cluster.pods.push({
      namespace: 'default',
      name: 'no-kubelet-data',
      labels: {},
      node: 'nowhere',
      containers: {},
    });
    await nextCycle(cluster);
    await nextCycle(cluster);
    assert.equal((await reader.pod('default', 'no-kubelet-data'))?.item, '');
    assert.equal(await reader.pod('default', 'never-existed'), null);
  });

  test('a pod reported by two nodes is served from the newer sample, whichever node answers first', async () => {
    for (const slow of ['node-a', 'node-bb']) {
      await db.redis.flushdb();
      const cluster = new FakeCluster();
      // Listed first, but its samples are 600 ms older than node-a's (sampleTime).
      cluster.addNode('node-bb');
      cluster.addNode('node-a');
      const pod = { namespace: 'default', name: 'web', labels: {} };
      cluster.pods.push(
        { ...pod, node: 'node-bb', containers: { old: { cpuPerSecondNs: 1e6, memory: 4096 } } },
        { ...pod, node: 'node-a', containers: { new: { cpuPerSecondNs: 2e6, memory: 8192 } } },
      );
      const deps = cluster.deps(writer, []);
      deps.api.listRunningPods = async () => [pod];
      const scrape = deps.kubelet.scrape;
      deps.kubelet.scrape = async (node) => {
        if (node.name === slow) await new Promise((r) => setTimeout(r, 30));
        return scrape(node);
      };
      let r = null;
      for (let i = 0; i < 2; i++) {
        r = await runCycle(deps, cfg, 'once');
        cluster.tick++;
      }
      assert.deepEqual(r?.points, { nodes: 2, pods: 1, containers: 1 });
      const web = PodMetrics.parse(JSON.parse((await reader.pod('default', 'web'))!.item));
      assert.deepEqual(web.containers, [{ name: 'new', usage: { cpu: '2m', memory: '8Ki' } }], slow);
    }
  });

  test('a pod list that fails (while the kubelets are fetched) fails the cycle; what was served stays', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    await nextCycle(cluster);
    const before = await db.redis.hgetall(keys.pods('default'));
    const deps = cluster.deps(writer, []);
    deps.api.listRunningPods = async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('HTTP 500: etcdserver: request timed out');
    };
    await assert.rejects(runCycle(deps, cfg, 'once'), /^Error: listing pods: HTTP 500: etcdserver/);
    assert.deepEqual(await db.redis.hgetall(keys.pods('default')), before);
    assert.deepEqual(await db.redis.keys('*:next:*'), []);
  });

  test('nodes outside --node-selector are known but neither scraped nor listed with metrics', async () => {
    const cluster = twoNodeCluster();
    const selected = { ...cfg, nodeSelector: { matches: (l: Record<string, string>) => l.zone === 'a' } };
    for (let i = 0; i < 2; i++) {
      await runCycle(cluster.deps(writer, []), selected, 'once');
      cluster.tick++;
    }
    assert.deepEqual([...new Set(cluster.scrapes)], ['node-a']);
    const nodes = await reader.nodes();
    assert.deepEqual(
      nodes.map((n) => [n.name, n.item !== '']),
      [
        ['node-a', true],
        ['node-b', false],
      ],
    );
  });

  test('names with *, :, {, } and newlines stay hash fields or escaped key parts, never patterns', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n');
    const weird = 'we{ir}d*:ns\n';
    cluster.pods.push(
      {
        namespace: weird,
        name: 'p*{x}:\n',
        labels: { 'a/b': 'c' },
        node: 'n',
        containers: { c: { cpuPerSecondNs: 1e6, memory: 4096 } },
      },
      {
        namespace: 'plain',
        name: '*',
        labels: {},
        node: 'n',
        containers: { c: { cpuPerSecondNs: 2e6, memory: 8192 } },
      },
    );
    await nextCycle(cluster);
    await nextCycle(cluster);
    const pod = PodMetrics.parse(JSON.parse((await reader.pod(weird, 'p*{x}:\n'))!.item));
    assert.equal(pod.metadata.namespace, weird);
    assert.equal(pod.metadata.name, 'p*{x}:\n');
    assert.equal(await reader.pod('plain', 'p'), null);
    assert.deepEqual(
      (await reader.namespacePods('plain')).map((e) => e.name),
      ['*'],
    );
    for (const key of await db.redis.keys('*')) assert.doesNotMatch(key, /[*\n]|\{[^}]*[{:]/, key);
  });
});

describe('fan-out', () => {
  test('no more kubelets are fetched at once than --kubelet-concurrency, and every node is fetched once', async () => {
    const cluster = new FakeCluster();
    for (let i = 0; i < 12; i++) cluster.addNode(`node-${String(i).padStart(2, '0')}`);
    const deps = cluster.deps(writer, []);
    let inFlight = 0;
    let most = 0;
    const scrape = deps.kubelet.scrape;
    deps.kubelet.scrape = async (node) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return scrape(node);
    };
    const r = await runCycle(deps, { ...cfg, concurrency: 3 }, 'once');
    assert.equal(r.scraped, 12);
    assert.equal(most, 3);
    assert.deepEqual(
      [...cluster.scrapes].sort(),
      cluster.nodes.map((n) => n.name),
    );
  });
});

describe('the cycle lock: one cycle at a time, and for triggers one per resolution', () => {
  /** A cluster whose kubelets answer only once `release()` is called, to hold a cycle in progress. */
  function heldCluster() {
    const cluster = twoNodeCluster();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let inFlight = 0;
    let most = 0;
    const deps = (holdUntilReleased: boolean, lines: string[] = []) => {
      const d = cluster.deps(writer, lines);
      const scrape = d.kubelet.scrape;
      d.kubelet.scrape = async (node) => {
        most = Math.max(most, ++inFlight);
        try {
          if (holdUntilReleased) await gate;
          return await scrape(node);
        } finally {
          inFlight--;
        }
      };
      return d;
    };
    return { cluster, deps, release: () => release(), most: () => most, inFlight: () => inFlight };
  }

  test('of several instances triggered at once, exactly one runs the cycle; each other is skipped, naming the runner and when the next is due', async () => {
    const cluster = twoNodeCluster();
    const deps = cluster.deps(writer, []);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => runCycle(deps, { ...cfg, holder: `instance-${i}` }, 'trigger')),
    );
    const ran = results.filter((r) => r.ran);
    assert.equal(ran.length, 1);
    const runner = `instance-${results.indexOf(ran[0]!)}`;
    for (const r of results.filter((x) => !x.ran)) {
      assert.ok(r.skipped, 'a skip says why');
      assert.equal(r.skipped.by, runner);
      assert.equal(r.skipped.started, ran[0]!.start);
      assert.equal(r.nextDue, ran[0]!.nextDue);
      assert.ok(r.nextDueInMs > RESOLUTION - 2000 && r.nextDueInMs <= RESOLUTION, String(r.nextDueInMs));
    }
    assert.equal(cluster.scrapes.length, 2);
    // Once it has ended, the next trigger learns that the cycle due has already run, and by whom.
    const late = await runCycle(deps, { ...cfg, holder: 'late' }, 'trigger');
    assert.equal(late.ran, false);
    assert.deepEqual(
      { reason: late.skipped?.reason, by: late.skipped?.by, state: late.skipped?.state },
      { reason: 'done', by: runner, state: 'done' },
    );
  });

  test('a trigger is skipped until the cycle due, then runs', async () => {
    const cluster = twoNodeCluster();
    const deps = cluster.deps(writer, []);
    const short = { ...cfg, resolutionMs: 600 };
    const first = await runCycle(deps, short, 'trigger');
    assert.equal(first.ran, true);
    const early = await runCycle(deps, short, 'trigger');
    assert.equal(early.ran, false);
    assert.equal(early.skipped?.reason, 'done');
    await new Promise((r) => setTimeout(r, early.nextDueInMs));
    const due = await runCycle(deps, short, 'trigger');
    assert.equal(due.ran, true);
    assert.ok(due.start >= first.nextDue - toleranceMs(600), 'not before its due time (less the tolerance)');
  });

  test('--once runs now although the cycle due has already run, and leaves the triggers’ due time alone', async () => {
    const cluster = twoNodeCluster();
    const deps = cluster.deps(writer, []);
    const triggered = await runCycle(deps, cfg, 'trigger');
    const once = [await runCycle(deps, cfg, 'once'), await runCycle(deps, cfg, 'once')];
    assert.deepEqual(
      once.map((r) => r.ran),
      [true, true],
    );
    assert.equal(cluster.scrapes.length, 6, 'three cycles, two nodes each');
    const next = await runCycle(deps, cfg, 'trigger');
    assert.equal(next.ran, false);
    assert.equal(next.nextDue, triggered.nextDue, 'cron ticks keep their cadence');
    assert.equal(next.skipped?.by, 'test');
  });

  test('--once started while another instance’s cycle is in progress waits for it to end, then runs its own, never concurrently', async () => {
    const held = heldCluster();
    const first = runCycle(held.deps(true), { ...cfg, holder: 'first' }, 'trigger');
    await waitFor('the first cycle to fetch its kubelets', 5000, async () => held.inFlight() === 2);
    const lines: string[] = [];
    const once = runCycle(held.deps(false, lines), { ...cfg, holder: 'second' }, 'once');
    await waitFor('--once to say what it waits for', 5000, async () =>
      lines.some((l) => l.includes('"Waiting for the scrape cycle in progress on another instance to end"')),
    );
    const waiting = lines.find((l) => l.includes('Waiting for the scrape cycle'))!;
    assert.match(waiting, /holder="first" started="\d{4}-.*Z" leaseUntil="\d{4}-.*Z"/);
    assert.equal(held.inFlight(), 2, 'the second fetches nothing meanwhile');
    held.release();
    const [a, b] = await Promise.all([first, once]);
    assert.equal(a.ran, true);
    assert.equal(b.ran, true);
    assert.ok(b.start > a.start);
    assert.equal(held.most(), 2, 'never more kubelets at once than one cycle fetches');
    assert.equal(held.cluster.scrapes.length, 4);
    assert.equal(
      await db.redis.hget(keys.nodes, CYCLE_FIELD),
      String(b.start),
      'the served hashes are the second’s',
    );
  });

  test('a trigger while another instance’s cycle is in progress is skipped, naming it and when its lease ends', async () => {
    const held = heldCluster();
    const first = runCycle(held.deps(true), { ...cfg, holder: 'first' }, 'trigger');
    await waitFor('the first cycle to fetch its kubelets', 5000, async () => held.inFlight() === 2);
    const r = await runCycle(held.deps(false), { ...cfg, holder: 'second' }, 'trigger');
    held.release();
    const a = await first;
    assert.equal(r.ran, false);
    assert.equal(r.skipped?.reason, 'running');
    assert.equal(r.skipped?.by, 'first');
    assert.equal(r.skipped?.started, a.start);
    assert.ok(
      r.wakeInMs > 0 && r.wakeInMs <= leaseMs(RESOLUTION) + 100,
      `a standby looks again when the lease ends: ${r.wakeInMs}`,
    );
  });
});

describe('nodes that leave the cluster', () => {
  const names = ['node-b', 'db-0', 'kube-proxy-b', 'node-b.nodes.sim'];
  /** node-b and its pods leave the API server's lists. */
  const removeNodeB = (cluster: FakeCluster) => {
    cluster.nodes = cluster.nodes.filter((n) => n.name !== 'node-b');
    cluster.pods = cluster.pods.filter((p) => p.node !== 'node-b');
  };

  test('a node the list no longer has is forgotten by the next cycle: nothing names it or its pods; the others keep theirs', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    await nextCycle(cluster);
    const kept = await whereNamed(db.redis, names);
    for (const where of [keys.state('node-b'), keys.scrapeNodes, keys.scrapeKubeletStats, keys.tlsSessions]) {
      assert.ok(
        kept.some((w) => w.endsWith(` of ${where}`)),
        `before it leaves, ${where} names node-b: ${kept.join('; ')}`,
      );
    }

    removeNodeB(cluster);
    const lines: string[] = [];
    await nextCycle(cluster, lines);
    assert.deepEqual(await whereNamed(db.redis, names), []);
    assert.ok(lines.some((l) => l.includes('"Node left the cluster') && l.includes('node="node-b"')));
    assert.deepEqual(cluster.retained, ['node-a.nodes.sim:10250'], 'the kubelet client forgets node-b too');
    // node-a keeps everything.
    assert.equal(await db.redis.exists(keys.state('node-a')), 1);
    assert.deepEqual(await db.redis.hgetall(keys.scrapeNodes), { 'node-a': 'node-a.nodes.sim:10250' });
    assert.deepEqual(await db.redis.hkeys(keys.tlsSessions), ['node-a.nodes.sim:10250']);
    assert.equal(await db.redis.hget(keys.scrapeKubeletStats, 'count:node-a'), '3');
    assert.equal(PodMetrics.parse(JSON.parse((await reader.pod('default', 'web-1'))!.item)).window, '15s');
  });

  test("a kubelet that moves leaves no session at its old address; one other listed nodes' kubelets use stays", async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    cluster.ports.set('node-a', 10251);
    await nextCycle(cluster);
    assert.deepEqual((await db.redis.hkeys(keys.tlsSessions)).sort(), [
      'node-a.nodes.sim:10251',
      'node-b.nodes.sim:10250',
    ]);

    // Through the node proxy every node's kubelet is the API server: its session is not node-b's alone.
    await db.redis.flushdb();
    const proxied = twoNodeCluster();
    proxied.endpoint = () => '127.0.0.1:6443';
    await nextCycle(proxied);
    removeNodeB(proxied);
    await nextCycle(proxied);
    assert.deepEqual(await db.redis.hkeys(keys.tlsSessions), ['127.0.0.1:6443']);
    assert.deepEqual(await db.redis.hgetall(keys.scrapeNodes), { 'node-a': '127.0.0.1:6443' });
  });

  test('what a failed record could not forget, the next cycle forgets', async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    removeNodeB(cluster);
    let failures = 1;
    const store = new Proxy(writer, {
      get(target, key) {
        if (key === 'recordCycle' && failures-- > 0) {
          return async () => {
            throw new Error('READONLY You can not write against a read only replica.');
          };
        }
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lines: string[] = [];
    await db.redis.del(keys.scrapeLock);
    const r = await runCycle({ ...cluster.deps(writer, lines), store }, cfg, 'once');
    assert.equal(r.ran, true, 'the cycle itself is not failed by its record');
    assert.ok(lines.some((l) => l.includes('"Could not store') && l.includes('READONLY')));
    assert.notDeepEqual(await whereNamed(db.redis, names), []);

    await nextCycle(cluster);
    assert.deepEqual(await whereNamed(db.redis, names), []);
  });

  test("a slower, older cycle's record naming a node after it was forgotten registers it again: the next cycle forgets it", async () => {
    const cluster = twoNodeCluster();
    await nextCycle(cluster);
    removeNodeB(cluster);
    await nextCycle(cluster);
    assert.deepEqual(await whereNamed(db.redis, names), []);

    // The record of a cycle that listed node-b, finishing late (cycles of two instances can overlap).
    await writer.recordCycle({
      endpoints: new Map([['node-b', 'node-b.nodes.sim:10250']]),
      stats: statsWrite({
        requests: [{ node: 'node-b', durationSeconds: 2, startedAt: 1, success: true }],
        tickSeconds: 20,
        resolutionSeconds: 15,
        points: { nodes: 2, containers: 3 },
      }),
      sessions: [['node-b.nodes.sim:10250', Buffer.from('late session')]],
      sessionsTtlMs: 60_000,
    });
    assert.equal(await db.redis.hget(keys.scrapeNodes, 'node-b'), 'node-b.nodes.sim:10250');

    await nextCycle(cluster);
    assert.deepEqual(await whereNamed(db.redis, names), []);
  });

  test('two hundred nodes coming and going leave Redis no larger than the nodes listed need', async () => {
    const cluster = new FakeCluster();
    const name = (i: number) => `spot-${String(i).padStart(3, '0')}`;
    const add = (i: number) => {
      cluster.addNode(name(i));
      cluster.pods.push({
        namespace: `team-${i % 5}`,
        name: `job-${name(i)}`,
        labels: { team: String(i % 5) },
        node: name(i),
        containers: { main: { cpuPerSecondNs: 1e7, memory: 1 << 20 } },
      });
    };
    const remove = (n: string) => {
      cluster.nodes = cluster.nodes.filter((x) => x.name !== n);
      cluster.pods = cluster.pods.filter((p) => p.node !== n);
    };
    let next = 0;
    for (; next < 10; next++) add(next);
    const sizes: { parts: number; bytes: number }[] = [];
    for (let c = 0; c < 40; c++) {
      await nextCycle(cluster);
      const listed = new Set(cluster.nodes.map((n) => n.name));
      const gone = Array.from({ length: next }, (_, i) => name(i)).filter((n) => !listed.has(n));
      assert.deepEqual(await whereNamed(db.redis, gone), [], `cycle ${c}`);
      // Beside what names nodes and pods, only the scraper's global figures (their buckets fill up).
      const parts = (await storedParts(db.redis)).filter((p) => p.key !== keys.scrapeStats);
      sizes.push({ parts: parts.length, bytes: parts.reduce((sum, p) => sum + p.bytes.length, 0) });
      // Five nodes leave, five new ones come (spot instances).
      for (const n of [...listed].slice(0, 5)) remove(n);
      for (let k = 0; k < 5; k++) add(next++);
    }
    assert.ok(next >= 200, `${next} node names`);
    // From the third cycle on every window of ten nodes is alike: so is what Redis holds for it.
    const steady = sizes.slice(2, 5);
    const most = {
      parts: Math.max(...steady.map((s) => s.parts)),
      bytes: Math.max(...steady.map((s) => s.bytes)),
    };
    for (const [c, s] of sizes.entries()) {
      if (c < 2) continue;
      assert.ok(s.parts <= most.parts, `cycle ${c}: ${s.parts} parts, at most ${most.parts}`);
      assert.ok(s.bytes <= most.bytes * 1.1, `cycle ${c}: ${s.bytes} bytes, at most ${most.bytes}`);
    }
  });
});
