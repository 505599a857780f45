/**
 * Pod items stored once (entry.ts: itemRef, keys.podItems) and the all-pods list read as their bytes
 * (ORDER_FIELD), end to end: the real scraper (createScraper) against the simulated cluster over real
 * HTTPS writes two cycles, the serve function (startServe over HTTPS) answers from the same Redis.
 * The unselected list read as bytes is, byte for byte, the list built from the entries (what it falls
 * back to), in JSON, Table and protobuf, under both versions; a namespace list, a label-selected list
 * and every single pod agree with it; each part is its namespace's items in name order, a comma before
 * each (written to the client as they are), and a part laid out as an earlier build wrote it is served
 * the same; the bytes are not used once one of them may have expired; and each cycle leaves exactly one
 * part of items per namespace in Redis.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Scraper } from '../../../functions/scrape/scraper.ts';
import { PodMetricsList } from '../../../shared/metrics-api.ts';
import {
  decodeEntry,
  decodeOrder,
  encodeEntry,
  encodeOrder,
  isJoined,
  itemRef,
  parseItemRef,
} from '../../../shared/store/entry.ts';
import { isStoreField, keys, ORDER_FIELD, PARTS_FIELD } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { startServeAsMaster } from '../../helpers/serve.ts';
import { simScraper, simScraperDir } from '../../helpers/sim-scraper.ts';

const V1BETA1 = '/apis/metrics.k8s.io/v1beta1';
const V1 = '/apis/metrics.k8s.io/v1';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

let sim: Sim;
let dir: string;
let db: TestDb;
let scraper: Scraper;
let serve: Awaited<ReturnType<typeof startServeAsMaster>>;
let clock = Date.now() - 120_000;

before(async () => {
  sim = await startSim({
    nodes: 6,
    podsPerNode: 7,
    housekeepingMs: 1000,
    seed: 'pod-items',
    kubeletClock: () => clock,
  });
  dir = await simScraperDir(sim, 'ms-items-');
  db = await leaseTestDb();
  scraper = simScraper(db.url, dir, []);
  serve = await startServeAsMaster(['--redis-url', db.url]);
});
after(async () => {
  await serve?.stop();
  await scraper?.close();
  await sim?.stop();
  await db?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** One cycle, the kubelets' clock a resolution on. */
async function cycle() {
  const r = await scraper.run('once');
  assert.equal(r.scraped, 6);
  clock += 60_000;
}

async function namespaces(): Promise<string[]> {
  return (await db.redis.hkeys(keys.namespaces)).sort();
}

/** The served answer's body as bytes (every status 200). */
async function body(path: string, accept?: string): Promise<Buffer> {
  const r = await serve.get(path, accept ? { accept } : {});
  assert.equal(r.status, 200, `${path}: ${r.body}`);
  return r.bytes;
}

/** Every answer of the all-pods list the ordered bytes can serve. */
async function allPodsAnswers(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const base of [V1BETA1, V1]) {
    out.push(
      await body(`${base}/pods`),
      await body(`${base}/pods`, TABLE),
      await body(`${base}/pods`, PROTOBUF),
    );
  }
  return out;
}

describe('pod items stored once, the all-pods list read as bytes', () => {
  test('two cycles in: every namespace has its order and exactly one part; the earlier cycle left nothing', async () => {
    await cycle();
    const first = new Map<string, string>();
    for (const ns of await namespaces()) first.set(ns, (await db.redis.hget(keys.pods(ns), PARTS_FIELD))!);
    await cycle();
    const list = await namespaces();
    assert.ok(list.length >= 2, `pods in several namespaces: ${list}`);
    for (const ns of list) {
      const parts = (await db.redis.hget(keys.pods(ns), PARTS_FIELD))!;
      assert.match(parts, /^\d+$/, 'one part, named by the cycle');
      assert.notEqual(parts, first.get(ns));
      assert.deepEqual(await db.redis.keys(keys.podItems(ns, '*')), [keys.podItems(ns, parts)]);
      const order = decodeOrder((await db.redis.hgetBuffer(keys.pods(ns), ORDER_FIELD))!);
      assert.ok(order !== null && order.part === parts);
      const ttl = await db.redis.pttl(keys.podItems(ns, parts));
      assert.ok(ttl > 0, 'the part expires with its hash');
    }
  });

  test('the list read as bytes is the list built from the entries, byte for byte, in every output', async () => {
    const json = await body(`${V1BETA1}/pods`);
    const list = PodMetricsList.parse(JSON.parse(json.toString('utf8')));
    let withMetrics = 0;
    for (const ns of await namespaces()) {
      for (const [f, v] of Object.entries(await db.redis.hgetall(keys.pods(ns))))
        if (!f.startsWith('#') && decodeEntry(f, v)!.item.startsWith('@')) withMetrics++;
    }
    assert.ok(withMetrics > 30);
    assert.equal(list.items.length, withMetrics, 'every pod with metrics');
    const names = list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    const sorted = [...list.items]
      .sort((a, b) =>
        a.metadata.namespace! < b.metadata.namespace!
          ? -1
          : a.metadata.namespace! > b.metadata.namespace!
            ? 1
            : a.metadata.name < b.metadata.name
              ? -1
              : 1,
      )
      .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.deepEqual(names, sorted, 'by namespace, then name');

    const asBytes = await allPodsAnswers();
    // Without the orders (as a sharded cycle stores them), the same lists come from the parts the
    // entries name; and with an item kept in its entry, from the entries resolved one by one.
    const orders = new Map<string, Buffer>();
    for (const ns of await namespaces()) {
      orders.set(ns, (await db.redis.hgetBuffer(keys.pods(ns), ORDER_FIELD))!);
      await db.redis.hdel(keys.pods(ns), ORDER_FIELD);
    }
    const fromParts = await allPodsAnswers();
    const inline = new Map<string, [string, string]>();
    for (const ns of await namespaces()) {
      const fields = await db.redis.hgetall(keys.pods(ns));
      const name = Object.keys(fields).find((f) => !isStoreField(f) && fields[f]!.includes('@'))!;
      const e = decodeEntry(name, fields[name]!)!;
      const ref = parseItemRef(e.item)!;
      const part = (await db.redis.getBuffer(keys.podItems(ns, ref.part)))!;
      const text = part.toString('utf8', ref.offset, ref.offset + ref.length);
      await db.redis.hset(keys.pods(ns), name, encodeEntry({ ...e, item: text }));
      inline.set(ns, [name, fields[name]!]);
    }
    const fromEntries = await allPodsAnswers();
    for (const [ns, [name, value]] of inline) await db.redis.hset(keys.pods(ns), name, value);
    for (const [ns, order] of orders) await db.redis.hset(keys.pods(ns), ORDER_FIELD, order);
    assert.equal(asBytes.length, fromEntries.length);
    for (let i = 0; i < asBytes.length; i++) {
      assert.ok(asBytes[i]!.length > 1000);
      assert.ok(asBytes[i]!.equals(fromParts[i]!), `answer ${i} from the parts differs`);
      assert.ok(asBytes[i]!.equals(fromEntries[i]!), `answer ${i} from the entries differs`);
    }
    assert.ok(asBytes[0]!.equals(json));
  });

  test('items in several parts, in no order (as shard instances store them), serve the same bytes', async () => {
    const answers = await allPodsAnswers();
    const saved = new Map<string, { fields: Record<string, string>; order: Buffer }>();
    for (const ns of await namespaces()) {
      const key = keys.pods(ns);
      const fields = await db.redis.hgetall(key);
      // The order is binary: kept as bytes, not as the text hgetall gives.
      saved.set(ns, { fields, order: (await db.redis.hgetBuffer(key, ORDER_FIELD))! });
      const names = Object.keys(fields).filter((f) => !isStoreField(f) && fields[f]!.includes('@'));
      // Odd and even pods in two new parts, each in reverse name order.
      for (const [k, side] of ['a', 'b'].entries()) {
        const mine = names.filter((_, i) => i % 2 === k).reverse();
        const pieces: Buffer[] = [];
        let at = 0;
        for (const name of mine) {
          const e = decodeEntry(name, fields[name]!)!;
          const ref = parseItemRef(e.item)!;
          const part = (await db.redis.getBuffer(keys.podItems(ns, ref.part)))!;
          const b = part.subarray(ref.offset, ref.offset + ref.length);
          await db.redis.hset(
            key,
            name,
            encodeEntry({ ...e, item: itemRef(`shard-${side}`, at + 1, b.length) }),
          );
          pieces.push(Buffer.from('x'), b);
          at += b.length + 1;
        }
        await db.redis.set(keys.podItems(ns, `shard-${side}`), Buffer.concat(pieces), 'PX', 60_000);
      }
      await db.redis.hdel(key, ORDER_FIELD);
    }
    // Read from the parts as bytes, not item by item from the entries.
    let batches = 0;
    for await (const b of new RedisMetricsReader(db.redis).allPods({ ordered: true })) {
      assert.ok(b.ordered !== undefined && !b.ordered.joined, `${b.namespace}: read as bytes`);
      assert.equal(b.entries.length, 0);
      batches++;
    }
    assert.equal(batches, saved.size);
    const sharded = await allPodsAnswers();
    for (const [ns, { fields, order }] of saved) {
      const { [ORDER_FIELD]: _, ...entries } = fields;
      await db.redis.hset(keys.pods(ns), entries);
      await db.redis.hset(keys.pods(ns), ORDER_FIELD, order);
    }
    for (let i = 0; i < answers.length; i++)
      assert.ok(sharded[i]!.equals(answers[i]!), `answer ${i} differs`);
  });

  test('each part is its items in name order, a comma before each; laid out otherwise (as an earlier build wrote them) they serve the same bytes', async () => {
    const answers = await allPodsAnswers();
    const list = await namespaces();
    /** Per namespace: its part's key, and each served pod's name and item bytes, in name order. */
    const stored = new Map<string, { part: string; items: [string, Buffer][] }>();
    for (const ns of list) {
      const key = keys.pods(ns);
      const part = (await db.redis.hget(key, PARTS_FIELD))!;
      const bytes = (await db.redis.getBuffer(keys.podItems(ns, part)))!;
      const order = decodeOrder((await db.redis.hgetBuffer(key, ORDER_FIELD))!)!;
      assert.ok(isJoined(bytes, order.spans), `${ns}: the part is the order's items, a comma before each`);
      const fields = await db.redis.hgetall(key);
      const items: [string, Buffer][] = [];
      for (const name of Object.keys(fields).sort()) {
        const ref = isStoreField(name) ? null : parseItemRef(decodeEntry(name, fields[name]!)!.item);
        if (ref === null) continue;
        assert.equal(ref.part, part);
        items.push([name, bytes.subarray(ref.offset, ref.offset + ref.length)]);
      }
      assert.ok(items.length > 0);
      const joined = Buffer.concat(items.flatMap(([, b]) => [Buffer.from(','), b]));
      assert.ok(bytes.equals(joined), `${ns}: the entries name the part's items in name order`);
      stored.set(ns, { part, items });
    }
    // As a build before these parts wrote them: in the order the nodes answered, nothing between them.
    for (const [ns, { part, items }] of stored) {
      const key = keys.pods(ns);
      const answered = [...items].reverse();
      const at = new Map<string, number>();
      let offset = 0;
      for (const [name, b] of answered) {
        at.set(name, offset);
        offset += b.length;
      }
      await db.redis.set(keys.podItems(ns, part), Buffer.concat(answered.map(([, b]) => b)), 'KEEPTTL');
      const order = decodeOrder((await db.redis.hgetBuffer(key, ORDER_FIELD))!)!;
      const spans = new Uint32Array(2 * items.length);
      for (const [i, [name, b]] of items.entries()) {
        spans[2 * i] = at.get(name)!;
        spans[2 * i + 1] = b.length;
        const e = decodeEntry(name, (await db.redis.hget(key, name))!)!;
        await db.redis.hset(key, name, encodeEntry({ ...e, item: itemRef(part, at.get(name)!, b.length) }));
      }
      await db.redis.hset(key, ORDER_FIELD, encodeOrder({ ...order, spans }));
    }
    const copied = await allPodsAnswers();
    for (let i = 0; i < answers.length; i++) assert.ok(copied[i]!.equals(answers[i]!), `answer ${i} differs`);
    // The next cycle writes every part in name order again.
    await cycle();
  });

  test('namespace lists, label-selected lists and single pods agree with the list', async () => {
    const all = PodMetricsList.parse(JSON.parse((await body(`${V1BETA1}/pods`)).toString('utf8'))).items;
    for (const ns of await namespaces()) {
      const mine = all.filter((p) => p.metadata.namespace === ns);
      const list = PodMetricsList.parse(
        JSON.parse((await body(`${V1BETA1}/namespaces/${ns}/pods`)).toString('utf8')),
      );
      assert.deepEqual(list.items, mine, ns);
      for (const p of mine) {
        const one = JSON.parse(
          (await body(`${V1BETA1}/namespaces/${ns}/pods/${p.metadata.name}`)).toString(),
        );
        assert.deepEqual(one.containers, p.containers);
        assert.equal(one.metadata.name, p.metadata.name);
      }
      const app = mine[0]?.metadata.labels?.app;
      if (app === undefined) continue;
      const selector = encodeURIComponent(`app=${app}`);
      const selected = PodMetricsList.parse(
        JSON.parse((await body(`${V1BETA1}/namespaces/${ns}/pods?labelSelector=${selector}`)).toString()),
      );
      assert.deepEqual(
        selected.items,
        mine.filter((p) => p.metadata.labels?.app === app),
      );
      const everywhere = PodMetricsList.parse(
        JSON.parse((await body(`${V1BETA1}/pods?labelSelector=${selector}`)).toString()),
      );
      assert.deepEqual(
        everywhere.items,
        all.filter((p) => p.metadata.labels?.app === app),
      );
    }
  });

  test('once an item may have expired, the entries are read: an expired pod is not served', async () => {
    const [ns] = await namespaces();
    const key = keys.pods(ns!);
    const order = decodeOrder((await db.redis.hgetBuffer(key, ORDER_FIELD))!)!;
    const names = (await db.redis.hkeys(key)).filter((f) => !f.startsWith('#')).sort();
    const gone = names[0]!;
    const e = decodeEntry(gone, (await db.redis.hget(key, gone))!)!;
    await db.redis.hset(key, gone, encodeEntry({ ...e, expiresAt: 1 }));
    await db.redis.hset(key, ORDER_FIELD, encodeOrder({ ...order, expiresAt: 1 }));
    const items = PodMetricsList.parse(JSON.parse((await body(`${V1BETA1}/pods`)).toString())).items;
    assert.ok(!items.some((p) => p.metadata.namespace === ns && p.metadata.name === gone));
    assert.ok(items.some((p) => p.metadata.namespace === ns));
  });

  test('an entry whose part is gone is left out, never answered with other bytes', async () => {
    const [ns] = await namespaces();
    const part = (await db.redis.hget(keys.pods(ns!), PARTS_FIELD))!;
    await db.redis.del(keys.podItems(ns!, part));
    const names = (await db.redis.hkeys(keys.pods(ns!))).filter((f) => !f.startsWith('#'));
    const one = await serve.get(`${V1BETA1}/namespaces/${ns}/pods/${names[0]}`);
    assert.equal(one.status, 404);
    const items = PodMetricsList.parse(JSON.parse((await body(`${V1BETA1}/pods`)).toString())).items;
    assert.ok(!items.some((p) => p.metadata.namespace === ns));
    // The next cycle writes them all again.
    await cycle();
    const again = PodMetricsList.parse(
      JSON.parse((await body(`${V1BETA1}/namespaces/${ns}/pods`)).toString()),
    );
    assert.ok(again.items.length > 0);
  });
});
