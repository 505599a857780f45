/**
 * The plain JSON list of every pod is written from the items' bytes as Redis sent them
 * (RedisMetricsReader.allPodItems, functions/serve/stream.ts' streamItems), every other list from decoded
 * entries. The two must give the same bytes: checked here against the real Redis and the real serve
 * function, with a field selector that selects every pod taking the entries' path. The data has what
 * could tell them apart: names that need escaping in keys, UTF-8 in items, expired entries, entries
 * without metrics, fields that are no entry, more pods than one round trip reads and than one chunk holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PodMetricsList } from '../../../shared/metrics-api.ts';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, keys } from '../../../shared/store/keys.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { startServeAsMaster } from '../../helpers/serve.ts';

const item = (namespace: string, name: string, app: string) =>
  `{"metadata":{"name":"${name}","namespace":"${namespace}","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"app":"${app}"}},` +
  '"timestamp":"2025-10-14T05:50:41Z","window":"15s","containers":[{"name":"c","usage":{"cpu":"5m","memory":"3136Ki"}}]}';

/** Pods in the big namespace: more than one round trip's batch (5,000) and many 64 KiB chunks. */
const BIG = 6_500;

describe('all pods from bytes, as from entries', () => {
  let db: TestDb;
  let serve: Awaited<ReturnType<typeof startServeAsMaster>>;
  const expected: string[] = [];

  before(async () => {
    db = await leaseTestDb();
    const [s, us] = await db.redis.time();
    const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
    const entry = (text: string, ttlMs = 60_000) =>
      encodeEntry({ expiresAt: now + ttlMs, timestamp: now - 10_000, labels: '{"app":"x"}', item: text });
    const namespaces: [string, [name: string, value: string, served: boolean][]][] = [
      [
        'apps',
        [
          ['web-2', entry(item('apps', 'web-2', 'wéb ✓')), true],
          ['web-1', entry(item('apps', 'web-1', 'web')), true],
          ['web-old', entry(item('apps', 'web-old', 'web'), -1_000), false],
          ['warming', entry(''), false],
          [CYCLE_FIELD, '1234', false],
          ['not-an-entry', 'garbage', false],
        ],
      ],
      [
        'big',
        Array.from({ length: BIG }, (_, i) => {
          const name = `pod-${String(i).padStart(5, '0')}`;
          return [name, entry(item('big', name, i % 2 ? 'a' : 'ünï')), true] as [string, string, boolean];
        }),
      ],
      ['Team B/β', [['z', entry(item('Team B/β', 'z', 'b')), true]]],
      ['empty-one', [['only', entry(''), false]]],
    ];
    for (const [ns, pods] of namespaces) {
      const p = db.redis.pipeline();
      for (const [name, value] of pods) p.hset(keys.pods(ns), name, value);
      p.hset(keys.namespaces, ns, `${now + 60_000}\t${pods.length}`);
      await p.exec();
    }
    const sorted = [...namespaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [ns, pods] of sorted) {
      for (const [name, , served] of [...pods].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        if (served) expected.push(`${ns}/${name}`);
    }
    serve = await startServeAsMaster(['--redis-url', db.url]);
    await waitFor(
      'the serve function to be ready',
      10_000,
      async () => (await serve.get('/readyz')).status === 200,
    );
  });

  after(async () => {
    await serve?.stop();
    await db?.release();
  });

  for (const version of ['v1beta1', 'v1']) {
    test(`${version}: byte for byte the entries' list, in order, without expired pods and pods without metrics`, async () => {
      const base = `/apis/metrics.k8s.io/${version}/pods`;
      const bytes = await serve.get(base);
      const entries = await serve.get(
        `${base}?fieldSelector=${encodeURIComponent('metadata.name!=no-such-pod')}`,
      );
      assert.equal(bytes.status, 200, serve.lines.join('\n'));
      assert.equal(entries.status, 200);
      assert.ok(bytes.body.length > 10 * 64 * 1024, `a body of many chunks (${bytes.body.length} bytes)`);
      assert.equal(bytes.body, entries.body);
      const list = PodMetricsList.parse(JSON.parse(bytes.body));
      assert.equal(list.apiVersion, `metrics.k8s.io/${version}`);
      assert.deepEqual(
        list.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`),
        expected,
      );
      const web2 = list.items.find((i) => i.metadata.name === 'web-2');
      assert.equal(web2?.metadata.labels?.app, 'wéb ✓', 'UTF-8 in an item comes through whole');
    });
  }

  test('a label selector, and Table output, still take the entries', async () => {
    const selected = PodMetricsList.parse(
      JSON.parse((await serve.get('/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dx')).body),
    );
    assert.equal(selected.items.length, expected.length, 'every entry carries the labels app=x');
    const table = await serve.get('/apis/metrics.k8s.io/v1beta1/pods', {
      Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    assert.equal(table.status, 200);
    assert.equal(JSON.parse(table.body).rows.length, expected.length);
  });
});
