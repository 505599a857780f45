/**
 * Sharded cycles serve what unsharded ones serve: the real scraper (createScraper, as `npm run scrape`
 * builds it) against the simulated cluster over real HTTPS, once unsharded and once with in-process
 * shards of two nodes, each into its own Redis database, at the same instants of the kubelets' clock.
 * Every served hash (nodes, each namespace's pods and label index, the namespaces index) holds the same
 * entries in both, as the serve function reads them (items from their parts), but for what names the
 * cycle itself (its start, the expiry it gives, where the items' bytes are); and every item's bytes are
 * in the parts the pods hash names, nothing else there (so nothing outlives its cycle).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Scraper } from '../../../functions/scrape/scraper.ts';
import { decodeEntry, parseItemRef, type StoredEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, keys, PARTS_FIELD } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { simScraper, simScraperDir } from '../../helpers/sim-scraper.ts';

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
  dir = await simScraperDir(sim, 'ms-shard-');
});
after(async () => {
  await sim?.stop();
  for (const db of dbs) await db.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function scraper(db: TestDb, extra: string[], lines: string[]): Scraper {
  return simScraper(db.url, dir, extra, lines);
}

/** Every served hash, each entry without what names the cycle (creationTimestamp, expiry). */
async function served(db: TestDb): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  const namespaces = await db.redis.hgetall(keys.namespaces);
  out.namespaces = Object.fromEntries(Object.entries(namespaces).map(([ns, v]) => [ns, v.split('\t')[1]!]));
  const reader = new RedisMetricsReader(db.redis);
  await reader.ping();
  const lists: [string, Promise<StoredEntry[]>][] = [['nodes', reader.nodes()]];
  for (const ns of Object.keys(namespaces)) lists.push([`pods ${ns}`, reader.namespacePods(ns)]);
  for (const [name, list] of lists) {
    const h: Record<string, string> = {};
    for (const e of await list) {
      h[e.name] = `${e.timestamp}\t${e.labels}\t${e.item.replace(/"creationTimestamp":"[^"]*"/, '')}`;
    }
    out[name] = h;
  }
  for (const ns of Object.keys(namespaces)) {
    // Every reference points into a part the hash names, and those are all its namespace's parts.
    const hash = await db.redis.hgetall(keys.pods(ns));
    const named = (hash[PARTS_FIELD] ?? '').split(' ').filter((p) => p !== '');
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('#')) continue;
      const ref = parseItemRef(decodeEntry(field, value)!.item);
      if (ref) assert.ok(named.includes(ref.part), `${field}'s item in a part ${ns}'s hash names`);
    }
    const stored = await db.redis.keys(keys.podItems(ns, '*'));
    assert.deepEqual(stored.sort(), named.map((p) => keys.podItems(ns, p)).sort(), `${ns}'s parts`);
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
