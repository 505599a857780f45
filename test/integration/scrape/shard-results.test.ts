/**
 * Sharded cycles serve what unsharded ones serve: the real scraper (createScraper, as `npm run scrape`
 * builds it) against the simulated cluster over real HTTPS, once unsharded and once with in-process
 * shards of two nodes, each into its own Redis database, at the same instants of the kubelets' clock.
 * Every served hash (nodes, each namespace's pods and label index, the namespaces index) holds the same
 * entries in both, but for what names the cycle itself (its start, the expiry it gives).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createScraper, type Scraper } from '../../../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { decodeEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, keys } from '../../../shared/store/keys.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

const NODES = 5;
let sim: Sim;
let dir: string;
let clock = Date.now() - 120_000;
const dbs: TestDb[] = [];

before(async () => {
  sim = await startSim({
    nodes: NODES,
    podsPerNode: 4,
    housekeepingMs: 1000,
    seed: 'shard-results',
    kubeletClock: () => clock,
  });
  dir = await mkdtemp(join(tmpdir(), 'ms-shard-'));
  await writeFile(join(dir, 'kubelet-ca.crt'), sim.kubeletCaPem);
  await sim.writeKubeconfig(join(dir, 'scraper.kubeconfig'), 'scraper');
});
after(async () => {
  await sim?.stop();
  for (const db of dbs) await db.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function scraper(db: TestDb, extra: string[], lines: string[]): Scraper {
  const config = loadScrapeConfig(
    [
      `--redis-url=${db.url}`,
      `--kubeconfig=${join(dir, 'scraper.kubeconfig')}`,
      `--kubelet-certificate-authority=${join(dir, 'kubelet-ca.crt')}`,
      '--kubelet-use-node-status-port',
      '--kubelet-preferred-address-types=InternalIP',
      '--metric-resolution=60s',
      '--kubelet-request-timeout=2s',
      ...extra,
    ],
    {},
  );
  return createScraper(config, createLogger({ write: (l) => lines.push(l) }));
}

/** Every served hash, each entry without what names the cycle (creationTimestamp, expiry). */
async function served(db: TestDb): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  const namespaces = await db.redis.hgetall(keys.namespaces);
  out.namespaces = Object.fromEntries(Object.entries(namespaces).map(([ns, v]) => [ns, v.split('\t')[1]!]));
  const hashes: [string, string][] = [['nodes', keys.nodes]];
  for (const ns of Object.keys(namespaces)) hashes.push([`pods ${ns}`, keys.pods(ns)]);
  for (const [name, key] of hashes) {
    const h: Record<string, string> = {};
    for (const [field, value] of Object.entries(await db.redis.hgetall(key))) {
      if (field === CYCLE_FIELD) continue;
      const e = decodeEntry(field, value)!;
      h[field] = `${e.timestamp}\t${e.labels}\t${e.item.replace(/"creationTimestamp":"[^"]*"/, '')}`;
    }
    out[name] = h;
  }
  for (const ns of Object.keys(namespaces)) {
    const index = await db.redis.hgetall(keys.podLabels(ns));
    delete index[CYCLE_FIELD];
    out[`labels ${ns}`] = Object.fromEntries(
      Object.entries(index).map(([labels, names]) => [labels, names.split('\n').sort().join(',')]),
    );
  }
  return out;
}

async function compare(extra: string[], scrapedNodes: number) {
  const [plain, sharded] = [await leaseTestDb(), await leaseTestDb()];
  dbs.push(plain, sharded);
  const lines: string[] = [];
  const a = scraper(plain, extra, lines);
  const b = scraper(sharded, ['--shard-size=2', ...extra], lines);
  try {
    // Two cycles each (a rate needs two samples), at the same instants of the kubelets' clock.
    for (let i = 0; i < 2; i++) {
      const ra = await a.run('once');
      const rb = await b.run('once');
      assert.equal(ra.scraped, scrapedNodes);
      assert.equal(rb.scraped, scrapedNodes, lines.join('\n'));
      assert.deepEqual(rb.points, ra.points);
      clock += 15_000;
    }
    const want = await served(plain);
    assert.equal(Object.keys(want.nodes!).length, NODES);
    assert.equal(Object.values(want.nodes!).filter((e) => e.includes('"usage"')).length, scrapedNodes);
    assert.deepEqual(await served(sharded), want);
  } finally {
    await a.close();
    await b.close();
  }
}

test('in-process shards of two nodes serve exactly what one unsharded cycle serves', async () => {
  await compare([], NODES);
});

test('with --node-selector, the nodes it leaves out and their pods are listed alike, without metrics', async () => {
  await compare(['--node-selector=kubernetes.io/hostname!=sim-node-0003'], NODES - 1);
});
