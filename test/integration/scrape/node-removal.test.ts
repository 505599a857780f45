/**
 * A node leaves a running cluster (a scale-down, a reclaimed spot instance): given a simulated cluster
 * scraped by the real scraper into the real Redis, when a node and its pods leave the API server's lists
 * and its kubelet stops answering, then within three resolutions nothing in Redis names the node, its
 * pods or its kubelet (points, state, TLS session, statistics), its series leave the scraper's and the
 * serve function's /metrics, and every other node is served as before.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CycleResult } from '../../../functions/scrape/cycle.ts';
import { createScraper, type Scraper } from '../../../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { keys } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { leaseTestDb, type TestDb, whereNamed } from '../../helpers/redis.ts';
import { startServeAsMaster } from '../../helpers/serve.ts';
import { fetchHttps } from '../sim/https.ts';

let sim: Sim;
let db: TestDb;
let dir: string;
let scraper: Scraper;
let serve: Awaited<ReturnType<typeof startServeAsMaster>>;
const lines: string[] = [];

before(async () => {
  [sim, db, dir] = await Promise.all([
    startSim({ nodes: 4, podsPerNode: 6, seed: 'node-removal', servedHistory: 0 }),
    leaseTestDb(),
    mkdtemp(join(tmpdir(), 'ms-node-removal-')),
  ]);
  await Promise.all([
    sim.writeKubeconfig(join(dir, 'scraper.kubeconfig'), 'scraper'),
    writeFile(join(dir, 'kubelet-ca.crt'), sim.kubeletCaPem),
  ]);
  scraper = createScraper(
    loadScrapeConfig(
      [
        `--kubeconfig=${join(dir, 'scraper.kubeconfig')}`,
        `--redis-url=${db.url}`,
        `--kubelet-certificate-authority=${join(dir, 'kubelet-ca.crt')}`,
        '--kubelet-use-node-status-port',
        '--kubelet-preferred-address-types=InternalIP',
        '--metric-resolution=10s',
        '--kubelet-request-timeout=5s',
      ],
      {},
    ),
    createLogger({ write: (l) => lines.push(l) }),
  );
  serve = await startServeAsMaster([`--redis-url=${db.url}`]);
});

after(async () => {
  await scraper?.close();
  await serve?.stop();
  await sim?.stop();
  await db?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The next cycle, as if a resolution had passed. */
async function cycle(): Promise<CycleResult> {
  await db.redis.del(keys.scrapeLock);
  const r = await scraper.run('once');
  assert.equal(r.ran, true);
  return r;
}

/** The `node` label values of every metrics_server_kubelet_* series in an exposition. */
function nodeSeries(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const m of exposition.matchAll(/^metrics_server_kubelet_\w+\{[^}]*node="([^"]*)"/gm)) out.add(m[1]!);
  return out;
}

async function served() {
  const scraperMetrics = (await scraper.metrics()).body;
  const serveMetrics = await serve.get('/metrics');
  assert.equal(serveMetrics.status, 200);
  return { scraper: nodeSeries(scraperMetrics), serve: nodeSeries(serveMetrics.body) };
}

/** What the API server lists, as a client sees it. */
async function listed(resource: 'nodes' | 'pods'): Promise<string[]> {
  const a = await fetchHttps(`${sim.apiServer.url}/api/v1/${resource}`, {
    ca: sim.apiServer.caPem,
    token: sim.tokens.admin,
  });
  assert.equal(a.status, 200, a.text);
  return (JSON.parse(a.text) as { items: { metadata: { name: string } }[] }).items.map(
    (i) => i.metadata.name,
  );
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('a node removed at run time: within three resolutions nothing in Redis names it, its pods or its kubelet', async () => {
  const all = sim.cluster.nodes().map((n) => n.name);
  // Not the control-plane node: a worker with application pods, as autoscalers remove.
  const victim = all.at(-1)!;
  const port = sim.kubelets.ports.get(victim)!;
  const endpoint = `127.0.0.1:${port}`;
  const pods = sim.cluster.podsOnNode(victim).map((p) => p.name);
  assert.ok(pods.length >= 3, `${victim} runs pods: ${pods.join(', ')}`);
  const names = [victim, ...pods];

  await cycle();
  const steady = await cycle();
  assert.equal(steady.scraped, all.length);
  // Before: the node is everywhere the scraper keeps things, and on both /metrics.
  const before = await whereNamed(db.redis, names);
  for (const key of [keys.state(victim), keys.nodes, keys.scrapeNodes, keys.scrapeKubeletStats]) {
    assert.ok(
      before.some((w) => w.endsWith(` of ${key}`)),
      `${key} names ${victim}: ${before.join('; ')}`,
    );
  }
  assert.ok((await db.redis.hexists(keys.tlsSessions, endpoint)) === 1, 'its kubelet has a TLS session');
  const was = await served();
  assert.ok(was.scraper.has(victim) && was.serve.has(victim), 'its series are on both /metrics');

  sim.cluster.removeNode(victim);
  // The API server lists neither it nor its pods, and its kubelet refuses connections.
  assert.deepEqual(await listed('nodes'), all.slice(0, -1));
  const listedPods = new Set(await listed('pods'));
  assert.deepEqual(
    pods.filter((p) => listedPods.has(p)),
    [],
  );
  assert.equal(await refused(port), true, 'its kubelet no longer answers');
  assert.equal(sim.kubelets.ports.has(victim), false);

  lines.length = 0;
  for (let i = 0; i < 3; i++) {
    const r = await cycle();
    assert.equal(r.nodes, all.length - 1, 'the node is no longer scraped');
    assert.deepEqual(r.failed, [], 'and nothing fails for it');
  }
  assert.ok(
    lines.some((l) => l.includes('"Node left the cluster') && l.includes(`node="${victim}"`)),
    lines.join('\n'),
  );

  assert.deepEqual(await whereNamed(db.redis, names), []);
  const sessions = await db.redis.hkeys(keys.tlsSessions);
  assert.equal(sessions.includes(endpoint), false, `${endpoint} has no TLS session left`);
  assert.deepEqual(
    sessions.sort(),
    all
      .slice(0, -1)
      .map((n) => `127.0.0.1:${sim.kubelets.ports.get(n)}`)
      .sort(),
  );
  const now = await served();
  assert.deepEqual([...now.scraper].sort(), all.slice(0, -1));
  assert.deepEqual([...now.serve].sort(), all.slice(0, -1));
  // Every other node, and its pods, is still known to the serve function.
  const reader = new RedisMetricsReader(db.redis);
  assert.deepEqual(
    (await reader.nodes()).map((n) => n.name),
    all.slice(0, -1),
  );
  const others = sim.cluster.pods().filter((p) => p.phase === 'Running');
  for (const p of others)
    assert.notEqual(await reader.pod(p.namespace, p.name), null, `${p.namespace}/${p.name}`);
});
