/**
 * The label index beside each namespace's pods (keys.ts): a label-selected read (the HPA's query) reads
 * only the pods whose label set matches, and gives exactly what reading the whole namespace and
 * filtering gives; when the index is missing or from another cycle than the pods, the reader says so
 * (null) and the caller reads the whole namespace.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, keys } from '../../../shared/store/keys.ts';
import { RedisMetricsReader } from '../../../shared/store/reader.ts';
import { type HashWrite, RedisMetricsWriter } from '../../../shared/store/writer.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());
beforeEach(() => db.redis.flushdb());

const WEB = '{"app":"web","tier":"front"}';
const API = '{"app":"api"}';
const item = (name: string) => `{"metadata":{"name":"${name}"}}`;

/** The shop namespace: three web pods, one api pod, and a Running pod without metrics yet. */
function shop(): HashWrite {
  const expiresAt = Date.now() + 60_000;
  const e = (labels: string, name: string) =>
    encodeEntry({ expiresAt, timestamp: 1, labels, item: item(name) });
  return {
    fields: [
      ['web-b', e(WEB, 'web-b')],
      ['api-1', e(API, 'api-1')],
      ['web-a', e(WEB, 'web-a')],
      ['warming', encodeEntry({ expiresAt, timestamp: 0, labels: WEB, item: '' })],
      ['web-c', e(WEB, 'web-c')],
    ],
    expireAt: expiresAt,
    labelIndex: new Map([
      [WEB, ['web-b', 'web-a', 'web-c']],
      [API, ['api-1']],
    ]),
  };
}

async function write(namespaces: Map<string, HashWrite>, cycle = 1_700_000_000_000) {
  await new RedisMetricsWriter(db.redis).writeCycle({
    nodes: { fields: [], expireAt: 0 },
    namespaces,
    previousNamespaces: [],
    states: [],
    stateTtlMs: 60_000,
    cycle,
  });
}

const isWeb = (labels: string) => (JSON.parse(labels) as Record<string, string>).app === 'web';

describe('label-selected reads', () => {
  test('read only the matching label sets, and give what filtering the whole namespace gives', async () => {
    await write(new Map([['shop', shop()]]));
    const reader = new RedisMetricsReader(db.redis);
    const matching = await reader.namespacePodsMatching('shop', isWeb);
    assert.deepEqual(
      matching?.map((e) => e.name),
      ['web-a', 'web-b', 'web-c'],
    );
    const filtered = (await reader.namespacePods('shop')).filter((e) => e.item !== '' && isWeb(e.labels));
    assert.deepEqual(matching, filtered);
  });

  test('a reader keeps the index of a cycle: later queries read only the pods', async () => {
    await write(new Map([['shop', shop()]]));
    const reader = new RedisMetricsReader(db.redis);
    const first = await reader.namespacePodsMatching('shop', isWeb);
    // Were the index read again, this query would find none and say null.
    await db.redis.del(keys.podLabels('shop'));
    assert.deepEqual(await reader.namespacePodsMatching('shop', isWeb), first);
  });

  test('once the next cycle has written, a kept index is read again and the answer is the new cycle’s', async () => {
    await write(new Map([['shop', shop()]]));
    const reader = new RedisMetricsReader(db.redis);
    await reader.namespacePodsMatching('shop', isWeb);
    const next = shop();
    next.fields.push([
      'web-d',
      encodeEntry({ expiresAt: next.expireAt, timestamp: 2, labels: WEB, item: item('web-d') }),
    ]);
    next.labelIndex!.get(WEB)!.push('web-d');
    await write(new Map([['shop', next]]), 1_700_000_060_000);
    assert.deepEqual(
      (await reader.namespacePodsMatching('shop', isWeb))?.map((e) => e.name),
      ['web-a', 'web-b', 'web-c', 'web-d'],
    );
  });

  test('the cycle field never shows up as a pod', async () => {
    await write(new Map([['shop', shop()]]));
    const reader = new RedisMetricsReader(db.redis);
    assert.deepEqual(
      (await reader.namespacePods('shop')).map((e) => e.name),
      ['api-1', 'warming', 'web-a', 'web-b', 'web-c'],
    );
    assert.equal(await reader.pod('shop', CYCLE_FIELD), null);
  });

  test('a namespace whose pods have no metrics yet has an index with no label set: nothing matches', async () => {
    const expiresAt = Date.now() + 60_000;
    await write(
      new Map([
        [
          'quiet',
          {
            fields: [['warming', encodeEntry({ expiresAt, timestamp: 0, labels: WEB, item: '' })]],
            expireAt: expiresAt,
            labelIndex: new Map(),
          },
        ],
      ]),
    );
    assert.deepEqual(await new RedisMetricsReader(db.redis).namespacePodsMatching('quiet', () => true), []);
  });

  test('an index from another cycle than the pods hash is not used (null: read the namespace)', async () => {
    await write(new Map([['shop', shop()]]));
    // As if the next cycle had replaced the pods between the reader's two reads.
    await db.redis.hset(keys.pods('shop'), CYCLE_FIELD, '1700000060000');
    assert.equal(await new RedisMetricsReader(db.redis).namespacePodsMatching('shop', isWeb), null);
  });

  test('entries written without an index (another writer) mean null: read the namespace', async () => {
    await db.redis.hset(
      keys.pods('shop'),
      'web-a',
      encodeEntry({ expiresAt: Date.now() + 60_000, timestamp: 1, labels: WEB, item: item('web-a') }),
    );
    assert.equal(await new RedisMetricsReader(db.redis).namespacePodsMatching('shop', isWeb), null);
  });

  test('a namespace that is gone takes its index with it', async () => {
    await write(new Map([['shop', shop()]]));
    await new RedisMetricsWriter(db.redis).writeCycle({
      nodes: { fields: [], expireAt: 0 },
      namespaces: new Map(),
      previousNamespaces: ['shop'],
      states: [],
      stateTtlMs: 60_000,
      cycle: 1_700_000_060_000,
    });
    assert.equal(await db.redis.exists(keys.pods('shop'), keys.podLabels('shop')), 0);
  });
});
