/**
 * A replica keeps the namespace lists it rendered until the scraper's next cycle (list-cache.ts): a
 * repeated request costs one cycle check, and an answer is never older than the store's. The cache
 * itself (bounds, validity), then the app over a reader that names cycles.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ListCache } from '../../../functions/serve/list-cache.ts';
import type { StoredEntry } from '../../../shared/store/entry.ts';
import { appWith, entry, FakeReader, NGINX, PODS, podList, V1BETA1, WEB_1 } from './fake-reader.ts';

const kept = (cycle: string, body: string, validUntil = Number.POSITIVE_INFINITY) => ({
  cycle,
  validUntil,
  body,
  timestamps: [1],
});

describe('ListCache', () => {
  test('a body is served for its own cycle until its earliest expiry, then dropped', () => {
    const c = new ListCache();
    c.set('k', kept('100', 'body', 5000));
    assert.equal(c.get('k', '100', 4999)?.body, 'body');
    assert.equal(c.get('k', '200', 4999), null, 'another cycle');
    assert.equal(c.has('k'), false, 'a stale body is dropped, not kept');
    c.set('k', kept('100', 'body', 5000));
    assert.equal(c.get('k', '100', 5000), null, 'expired at its validUntil');
    assert.equal(c.get('k', null, 0), null);
    assert.equal(c.size, 0);
    assert.equal(c.bytes, 0);
  });

  test('bounded by bytes, least recently used first; an oversized body is not kept', () => {
    // Each entry counts its key (1), body (100), timestamps (8) and 64 more.
    const c = new ListCache({ maxBytes: 3 * (1 + 100 + 8 + 64), maxBody: 150 });
    const body = 'x'.repeat(100);
    c.set('a', kept('1', body));
    c.set('b', kept('1', body));
    c.set('c', kept('1', body));
    assert.ok(c.get('a', '1', 0), 'a is now the most recently used');
    c.set('d', kept('1', body));
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].filter((k) => c.has(k)),
      ['a', 'c', 'd'],
    );
    c.set('e', kept('1', 'y'.repeat(151)));
    assert.equal(c.has('e'), false);
    c.set('a', kept('1', 'y'.repeat(151)));
    assert.equal(c.has('a'), false, 'replacing with an oversized body drops the old one');
    assert.equal(c.bytes, 2 * (1 + 100 + 8 + 64));
  });

  test('keys tell namespaces, selectors and shapes apart, whatever characters they hold', () => {
    const keys = new Set([
      ListCache.key('a', 'b', '', 'json'),
      ListCache.key('a', '', 'b', 'json'),
      ListCache.key('a\n', 'b', '', 'json'),
      ListCache.key('a', '\nb', '', 'json'),
      ListCache.key('a', 'b', '', 'Table/v1/Object'),
    ]);
    assert.equal(keys.size, 5);
  });
});

/** The in-memory reader, naming a cycle per namespace and a clock, as the Redis reader does. */
class CycledReader extends FakeReader {
  cycles = new Map<string, string>([
    ['default', '1000'],
    ['kube-system', '1000'],
  ]);
  clock = 0;
  async namespaceCycle(namespace: string): Promise<string | null> {
    this.calls.push(`namespaceCycle ${namespace}`);
    if (this.down) return super.namespacePods(namespace).then(() => null);
    return this.cycles.get(namespace) ?? null;
  }
  nodesCycleValue: string | null = '1000';
  async nodesCycle(): Promise<string | null> {
    this.calls.push('nodesCycle');
    return this.nodesCycleValue;
  }
  now(): number {
    return this.clock;
  }
  /** A new cycle for `default`, with these entries. */
  nextCycle(cycle: string, entries: StoredEntry[]): void {
    this.cycles.set('default', cycle);
    this.namespaces = this.namespaces.map((n) => (n.namespace === 'default' ? { ...n, entries } : n));
  }
}

const DEFAULT_PODS = `${V1BETA1}/namespaces/default/pods`;
const HPA = `${DEFAULT_PODS}?labelSelector=${encodeURIComponent('app=web')}`;

describe('namespace lists kept until the next cycle', () => {
  test('a repeated request is one cycle check; a new cycle is read again', async () => {
    const reader = new CycledReader();
    const { app } = appWith(reader);
    const first = await (await app.request(HPA)).text();
    assert.equal(first, podList(WEB_1));
    assert.deepEqual(reader.calls, ['namespaceCycle default', 'namespacePods default']);
    reader.calls = [];
    assert.equal(await (await app.request(HPA)).text(), first);
    assert.deepEqual(reader.calls, ['namespaceCycle default']);

    const web1 = PODS[0]!.entries.find((e) => e.name === 'web-1')!;
    const web3 = entry('web-3', WEB_1.replace('"web-1"', '"web-3"'), { app: 'web' });
    reader.nextCycle('2000', [web1, web3]);
    reader.calls = [];
    assert.equal(await (await app.request(HPA)).text(), podList(WEB_1, WEB_1.replace('"web-1"', '"web-3"')));
    assert.deepEqual(reader.calls, ['namespaceCycle default', 'namespacePods default']);
  });

  test('a returned object past its expiry is not served from the cache', async () => {
    const reader = new CycledReader();
    const nginx = { ...entry('nginx', NGINX, { run: 'nginx' }), expiresAt: 500 };
    reader.nextCycle('1000', [nginx]);
    const { app } = appWith(reader);
    assert.equal(await (await app.request(DEFAULT_PODS)).text(), podList(NGINX));
    reader.clock = 499;
    reader.calls = [];
    await app.request(DEFAULT_PODS);
    assert.deepEqual(reader.calls, ['namespaceCycle default']);
    reader.clock = 500;
    reader.calls = [];
    // The fake reader does not filter by expiry (the Redis one does): what matters is that it is asked.
    await app.request(DEFAULT_PODS);
    assert.deepEqual(reader.calls, ['namespaceCycle default', 'namespacePods default']);
  });

  test('each selector and output shape is its own entry', async () => {
    const reader = new CycledReader();
    const { app } = appWith(reader);
    const table = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' };
    const json = await (await app.request(HPA)).text();
    const asTable = await (await app.request(HPA, { headers: table })).text();
    const all = await (await app.request(DEFAULT_PODS)).text();
    assert.notEqual(json, asTable);
    assert.match(asTable, /"kind":"Table"/);
    assert.notEqual(all, json);
    assert.equal(await (await app.request(HPA, { headers: table })).text(), asTable);
    assert.equal(await (await app.request(HPA)).text(), json);
    assert.equal(await (await app.request(DEFAULT_PODS)).text(), all);
    assert.equal(reader.calls.filter((c) => c === 'namespacePods default').length, 3);
  });

  test('the all-namespaces list narrowed to one namespace shares the cache; a bad query never reaches it', async () => {
    const reader = new CycledReader();
    const { app } = appWith(reader);
    const narrowed = `${V1BETA1}/pods?fieldSelector=metadata.namespace%3Dkube-system`;
    const first = await (await app.request(narrowed)).text();
    reader.calls = [];
    assert.equal(await (await app.request(narrowed)).text(), first);
    assert.deepEqual(reader.calls, ['namespaceCycle kube-system']);
    const bad = await app.request(`${DEFAULT_PODS}?labelSelector=${encodeURIComponent('app in (')}`);
    assert.equal(bad.status, 400);
  });

  test('a namespace without a cycle (an older scraper) is read every time', async () => {
    const reader = new CycledReader();
    reader.cycles.clear();
    const { app } = appWith(reader);
    await app.request(HPA);
    await app.request(HPA);
    assert.equal(reader.calls.filter((c) => c === 'namespacePods default').length, 2);
  });

  test('Redis down on the cycle check is a 503, with nothing served from the cache', async () => {
    const reader = new CycledReader();
    const { app } = appWith(reader);
    assert.equal((await app.request(HPA)).status, 200);
    reader.down = true;
    const r = await app.request(HPA);
    assert.equal(r.status, 503);
  });

  test('the node list is kept the same way, under its own key', async () => {
    const reader = new CycledReader();
    const { app } = appWith(reader);
    const nodes = `${V1BETA1}/nodes`;
    const first = await (await app.request(nodes)).text();
    assert.match(first, /"kind":"NodeMetricsList"/);
    assert.deepEqual(reader.calls, ['nodesCycle', 'nodes']);
    reader.calls = [];
    assert.equal(await (await app.request(nodes)).text(), first);
    assert.deepEqual(reader.calls, ['nodesCycle']);
    reader.nodeEntries = reader.nodeEntries.slice(0, 1);
    reader.nodesCycleValue = '2000';
    reader.calls = [];
    assert.notEqual(await (await app.request(nodes)).text(), first);
    assert.deepEqual(reader.calls, ['nodesCycle', 'nodes']);
  });
});

/** A replica following the scraper's announcements: the newest cycle is known without a read. */
class AnnouncedReader extends CycledReader {
  announced: string | null = '1000';
  latestCycle(): string | null {
    return this.announced;
  }
}

describe('lists kept from the announced cycle, found by the request text', () => {
  test('a repeated request reads nothing; a new announcement reads the namespace again', async () => {
    const reader = new AnnouncedReader();
    const { app } = appWith(reader);
    const first = await (await app.request(HPA)).text();
    assert.equal(first, podList(WEB_1));
    reader.calls = [];
    const again = await app.request(HPA);
    assert.equal(again.headers.get('content-type'), 'application/json');
    assert.equal(await again.text(), first);
    assert.deepEqual(reader.calls, [], 'no cycle check, no read');
    reader.announced = '2000';
    reader.nextCycle('2000', PODS[0]!.entries);
    reader.calls = [];
    await app.request(HPA);
    assert.deepEqual(reader.calls, ['namespaceCycle default', 'namespacePods default']);
  });

  test('a query written another way is its own entry, with the same answer', async () => {
    const reader = new AnnouncedReader();
    const { app } = appWith(reader);
    const other = `${DEFAULT_PODS}?labelSelector=app%3Dweb&limit=500`;
    const a = await (await app.request(HPA)).text();
    const b = await (await app.request(other)).text();
    assert.equal(a, b);
    assert.equal(reader.calls.filter((c) => c === 'namespacePods default').length, 2);
  });

  test('each output is its own entry: JSON, protobuf and Table never answer for one another', async () => {
    const reader = new AnnouncedReader();
    const { app } = appWith(reader);
    const ask = async (accept: string) => {
      const r = await app.request(HPA, { headers: { accept } });
      return { type: r.headers.get('content-type'), body: new Uint8Array(await r.arrayBuffer()) };
    };
    const json = await ask('application/json');
    const protobuf = await ask('application/vnd.kubernetes.protobuf');
    const table = await ask('application/json;as=Table;v=v1;g=meta.k8s.io');
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await ask('application/json'), json);
      assert.deepEqual(await ask('application/vnd.kubernetes.protobuf'), protobuf);
      assert.deepEqual(await ask('application/json;as=Table;v=v1;g=meta.k8s.io'), table);
    }
    assert.equal(protobuf.type, 'application/vnd.kubernetes.protobuf');
    assert.equal(json.type, 'application/json');
    assert.notDeepEqual(json.body, protobuf.body);
    assert.match(new TextDecoder().decode(table.body), /"kind":"Table"/);
    assert.equal(reader.calls.filter((c) => c === 'namespacePods default').length, 3);
    assert.equal((await app.request(HPA, { headers: { accept: 'text/plain' } })).status, 406);
  });

  test('a bad query or a watch is refused every time, even beside a kept answer', async () => {
    const reader = new AnnouncedReader();
    const { app } = appWith(reader);
    assert.equal((await app.request(HPA)).status, 200);
    for (let i = 0; i < 2; i++) {
      assert.equal((await app.request(`${HPA}&watch=1`)).status, 405);
      assert.equal((await app.request(`${DEFAULT_PODS}?labelSelector=app+in+(`)).status, 400);
    }
  });

  test('the namespaced route and the narrowed all-namespaces one keep their own entries', async () => {
    const reader = new AnnouncedReader();
    const { app } = appWith(reader);
    const narrowed = `${V1BETA1}/pods?fieldSelector=metadata.namespace%3Ddefault`;
    const all = await (await app.request(DEFAULT_PODS)).text();
    assert.equal(await (await app.request(narrowed)).text(), all);
    reader.calls = [];
    await app.request(DEFAULT_PODS);
    await app.request(narrowed);
    assert.deepEqual(reader.calls, []);
  });
});
