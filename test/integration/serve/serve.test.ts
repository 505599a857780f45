/**
 * The serve function end to end: startServe over HTTPS with its self-signed certificate, against the
 * real Redis (a leased test database) holding entries written by hand in the store's layout, and against
 * a private redis-server that the test kills and restarts.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { NodeMetricsList, PodMetrics, PodMetricsList } from '../../../shared/metrics-api.ts';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { CYCLE_FIELD, cycleChannel, keys } from '../../../shared/store/keys.ts';
import { freePort, type RedisServer, startRedisServer } from '../../../sim/processes.ts';
import { decodeK8sProtobuf } from '../../helpers/metrics-proto.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { get, startServeAsMaster } from '../../helpers/serve.ts';

const V1BETA1 = '/apis/metrics.k8s.io/v1beta1';

const nodeItem = (name: string, cpu: string) =>
  `{"metadata":{"name":"${name}","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"pool":"blue"}},` +
  `"timestamp":"2025-10-14T05:50:41Z","window":"15s","usage":{"cpu":"${cpu}","memory":"4470464Ki"}}`;
const podItem = (namespace: string, name: string, app: string) =>
  `{"metadata":{"name":"${name}","namespace":"${namespace}","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"app":"${app}"}},` +
  '"timestamp":"2025-10-14T05:50:41Z","window":"15s","containers":[{"name":"c","usage":{"cpu":"5m","memory":"3136Ki"}}]}';

/** Now on Redis' clock: entries expire by it. */
async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Writes served entries by hand, in the layout of shared/store/keys.ts and entry.ts. */
async function writeEntries(
  redis: Redis,
  o: {
    nodes?: { name: string; item: string; labels?: string; ttlMs?: number }[];
    pods?: { namespace: string; name: string; item: string; labels: string; ttlMs?: number }[];
  },
): Promise<void> {
  const now = await redisNow(redis);
  const entry = (item: string, labels: string, ttlMs = 60_000) =>
    encodeEntry({ expiresAt: now + ttlMs, timestamp: now - 10_000, labels, item });
  for (const n of o.nodes ?? [])
    await redis.hset(keys.nodes, n.name, entry(n.item, n.labels ?? '{"pool":"blue"}', n.ttlMs));
  const perNamespace = new Map<string, number>();
  for (const p of o.pods ?? []) {
    await redis.hset(keys.pods(p.namespace), p.name, entry(p.item, p.labels, p.ttlMs));
    perNamespace.set(p.namespace, (perNamespace.get(p.namespace) ?? 0) + 1);
  }
  for (const [ns, count] of perNamespace) await redis.hset(keys.namespaces, ns, `${now + 60_000}\t${count}`);
}

const startOn = (redisUrl: string, extra: string[] = []) =>
  startServeAsMaster(['--redis-url', redisUrl, ...extra]);

/** Polls until `ok` holds, returning how long it took; fails after `withinMs`. */
async function eventually(what: string, withinMs: number, ok: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await ok()) return Date.now() - start;
    if (Date.now() - start > withinMs) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('serve over HTTPS against the shared Redis', () => {
  let db: TestDb;
  let serve: Awaited<ReturnType<typeof startOn>>;

  before(async () => {
    db = await leaseTestDb();
    await writeEntries(db.redis, {
      nodes: [
        { name: 'node-b', item: nodeItem('node-b', '2m') },
        { name: 'node-a', item: nodeItem('node-a', '1') },
        { name: 'node-warming', item: '' },
        { name: 'node-gone', item: nodeItem('node-gone', '3m'), ttlMs: -1000 },
      ],
      pods: [
        {
          namespace: 'default',
          name: 'web-2',
          item: podItem('default', 'web-2', 'web'),
          labels: '{"app":"web"}',
        },
        {
          namespace: 'default',
          name: 'db-0',
          item: podItem('default', 'db-0', 'db'),
          labels: '{"app":"db"}',
        },
        {
          namespace: 'default',
          name: 'web-1',
          item: podItem('default', 'web-1', 'web'),
          labels: '{"app":"web"}',
        },
        {
          namespace: 'default',
          name: 'web-old',
          item: podItem('default', 'web-old', 'web'),
          labels: '{"app":"web"}',
          ttlMs: -1,
        },
        { namespace: 'apps', name: 'api', item: podItem('apps', 'api', 'api'), labels: '{"app":"api"}' },
      ],
    });
    serve = await startOn(db.url);
    // A replica answers 503 until its Redis connection is up (that is its readiness): wait for it.
    await eventually('ready', 5000, async () => (await serve.get('/readyz')).status === 200);
  });

  after(async () => {
    await serve?.stop();
    await db?.release();
  });

  test('serves HTTPS with a self-signed certificate for 127.0.0.1, kept in --cert-dir', async () => {
    assert.match(serve.handle.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await serve.get(V1BETA1);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).groupVersion, 'metrics.k8s.io/v1beta1');
  });

  test('keeps connections alive', async () => {
    const r = await serve.get('/livez');
    assert.equal(r.headers.connection, 'keep-alive');
  });

  test('lists nodes by name, without the expired one or the one without metrics', async () => {
    const r = await serve.get(`${V1BETA1}/nodes`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    const list = NodeMetricsList.parse(JSON.parse(r.body));
    assert.deepEqual(
      list.items.map((i) => [i.metadata.name, i.usage.cpu]),
      [
        ['node-a', '1'],
        ['node-b', '2m'],
      ],
    );
  });

  test('answers a client-go Accept header (protobuf first) in Kubernetes protobuf, under v1 and v1beta1', async () => {
    for (const version of ['v1', 'v1beta1']) {
      const r = await serve.get(`/apis/metrics.k8s.io/${version}/nodes`, {
        accept: 'application/vnd.kubernetes.protobuf, */*',
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/vnd.kubernetes.protobuf');
      const decoded = decodeK8sProtobuf(r.bytes);
      assert.equal(decoded.apiVersion, `metrics.k8s.io/${version}`);
      assert.equal(decoded.kind, 'NodeMetricsList');
      assert.deepEqual(
        decoded.object.items?.map((i) => [i.metadata.name, i.usage?.cpu?.string]),
        [
          ['node-a', '1'],
          ['node-b', '2m'],
        ],
      );
    }
  });

  test('an expired node is not served: GET is a 404 as for a node that does not exist', async () => {
    const r = await serve.get(`${V1BETA1}/nodes/node-gone`);
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).message, 'node "node-gone" not found');
  });

  test('a listed node without metrics is the nodemetrics 404', async () => {
    const r = await serve.get(`${V1BETA1}/nodes/node-warming`);
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).message, 'nodemetrics.metrics.k8s.io "node-warming" not found');
  });

  test("a namespace's pods by name, with a label selector, expired ones left out", async () => {
    const all = PodMetricsList.parse(
      JSON.parse((await serve.get(`${V1BETA1}/namespaces/default/pods`)).body),
    );
    assert.deepEqual(
      all.items.map((i) => i.metadata.name),
      ['db-0', 'web-1', 'web-2'],
    );
    const web = PodMetricsList.parse(
      JSON.parse((await serve.get(`${V1BETA1}/namespaces/default/pods?labelSelector=app%3Dweb`)).body),
    );
    assert.deepEqual(
      web.items.map((i) => i.metadata.name),
      ['web-1', 'web-2'],
    );
  });

  test('all pods, by namespace then name', async () => {
    const r = await serve.get(`${V1BETA1}/pods`);
    assert.equal(r.status, 200);
    const list = PodMetricsList.parse(JSON.parse(r.body));
    assert.deepEqual(
      list.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`),
      ['apps/api', 'default/db-0', 'default/web-1', 'default/web-2'],
    );
  });

  test('a pod GET, and the 404 for an expired one', async () => {
    const r = await serve.get(`${V1BETA1}/namespaces/apps/pods/api`);
    assert.equal(r.status, 200);
    const pod = PodMetrics.parse(JSON.parse(r.body));
    assert.equal(pod.kind, 'PodMetrics');
    assert.deepEqual(pod.containers, [{ name: 'c', usage: { cpu: '5m', memory: '3136Ki' } }]);
    const old = await serve.get(`${V1BETA1}/namespaces/default/pods/web-old`);
    assert.equal(old.status, 404);
    assert.equal(JSON.parse(old.body).message, 'pods "web-old" not found');
  });

  test("a namespace's list is kept until the scraper's next cycle, then read again", async () => {
    const key = keys.pods('cached');
    const now = await redisNow(db.redis);
    const write = async (cycle: string, cpu: string) =>
      db.redis.hset(key, CYCLE_FIELD, cycle, 'web-1', podEntry(now, podItem('cached', 'web-1', cpu)));
    const podEntry = (t: number, item: string) =>
      encodeEntry({ expiresAt: t + 60_000, timestamp: t - 10_000, labels: '{"app":"web"}', item });
    const path = `${V1BETA1}/namespaces/cached/pods?labelSelector=app%3Dweb`;
    await write('1', 'first');
    const first = await serve.get(path);
    assert.match(first.body, /"app":"first"/);
    assert.equal((await serve.get(path)).body, first.body);
    // The scraper replaces the hash whole, with a new cycle: the next request sees it at once.
    await write('2', 'second');
    assert.match((await serve.get(path)).body, /"app":"second"/);
    await db.redis.del(key);
    assert.match((await serve.get(path)).body, /"items":\[\]/);
  });

  test("while it follows the scraper's announcements, a kept list costs no read; after a lost connection or announcement it catches up", async () => {
    const key = keys.pods('announced');
    const now = await redisNow(db.redis);
    const entry = (app: string) =>
      encodeEntry({
        expiresAt: now + 60_000,
        timestamp: now - 10_000,
        labels: '{"app":"web"}',
        item: podItem('announced', 'web-1', app),
      });
    /** What a scraper's cycle leaves: the hash with its cycle, then the newest cycle, announced or not. */
    const cycle = async (n: number, app: string, announce = true) => {
      await db.redis.hset(key, CYCLE_FIELD, String(n), 'web-1', entry(app));
      await db.redis.set(keys.latestCycle, String(n));
      if (announce) await db.redis.publish(cycleChannel(db.redis.options.db ?? 0), String(n));
    };
    const path = `${V1BETA1}/namespaces/announced/pods`;
    const base = Date.now() * 10; // newer than any cycle another test announced on this database
    await cycle(base + 1, 'one');
    await eventually('the announcement heard', 2000, async () =>
      /"app":"one"/.test((await serve.get(path)).body),
    );
    // That answer may have been read from Redis before the announcement reached the replica (a loaded
    // machine delays its subscriber's delivery): past the watch's once-a-second read of the newest cycle it
    // knows the cycle whichever way, and the next answer is built from it and kept.
    await new Promise((r) => setTimeout(r, 1500));
    assert.match((await serve.get(path)).body, /"app":"one"/);
    // Changed behind the replica's back, its cycle field gone: a replica asking Redis would build the list
    // again; one following the announcements serves what it kept, having read nothing.
    await db.redis.hdel(key, CYCLE_FIELD);
    await db.redis.hset(key, 'web-1', entry('tampered'));
    assert.match((await serve.get(path)).body, /"app":"one"/);
    await cycle(base + 2, 'two');
    await eventually('the next cycle served', 2000, async () =>
      /"app":"two"/.test((await serve.get(path)).body),
    );
    // The subscriber's connection is dropped and a cycle lands unheard: on reconnecting, the replica reads
    // the newest cycle before it trusts its kept lists again.
    // Only this database's subscribers (the replica's): CLIENT KILL TYPE pubsub would cut every serve
    // replica's on the server, those of other test files and other runs too.
    const subscribers = ((await db.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string)
      .split('\n')
      .filter((line) => new RegExp(`\\bdb=${db.db}\\b`).test(line))
      .map((line) => /\bid=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    assert.ok(subscribers.length > 0, "the replica's subscriber connection is on this database");
    for (const id of subscribers) await db.redis.call('CLIENT', 'KILL', 'ID', id);
    await cycle(base + 3, 'three', false);
    await eventually('caught up after reconnecting', 3000, async () =>
      /"app":"three"/.test((await serve.get(path)).body),
    );
    // An announcement lost on a connection that stays up (a Cluster client moves its subscription to
    // another node silently when the node dies): once the replica follows again and keeps "three", a
    // cycle lands unheard; it reads the newest cycle again every second.
    const channel = cycleChannel(db.redis.options.db ?? 0);
    await eventually('the replica subscribed again', 3000, async () => {
      const [, n] = (await db.redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      return n > 0;
    });
    await new Promise((r) => setTimeout(r, 300)); // its read of the newest cycle, after subscribing
    assert.match((await serve.get(path)).body, /"app":"three"/);
    await cycle(base + 4, 'four', false);
    await eventually('caught up with an unheard cycle', 3000, async () =>
      /"app":"four"/.test((await serve.get(path)).body),
    );
  });

  test('is ready while Redis answers', async () => {
    const r = await serve.get('/readyz?verbose');
    assert.equal(r.status, 200);
    assert.equal(r.body, '[+]ping ok\n[+]redis ok\n[+]shutdown ok\nreadyz check passed\n');
  });
});

describe('serve when its Redis stops and comes back', () => {
  let redisPort: number;
  let redis: RedisServer | null = null;

  /** A private redis-server on redisPort, and a client of it that never reconnects on its own. */
  const startRedis = async () => {
    redis = await startRedisServer({ port: redisPort });
    const client = new Redis({
      port: redisPort,
      host: '127.0.0.1',
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    return client;
  };

  const stopRedis = async () => {
    const server = redis;
    redis = null;
    await server?.stop(true);
  };

  after(async () => stopRedis());

  test('answers 503 and fails /readyz within about 2 s, then recovers without a restart', async () => {
    redisPort = await freePort();
    const probePort = await freePort();
    let client = await startRedis();
    await writeEntries(client, { nodes: [{ name: 'node-a', item: nodeItem('node-a', '1') }] });
    const serve = await startOn(`redis://127.0.0.1:${redisPort}`, ['--port', String(probePort)]);
    try {
      await eventually(
        'the first answer from Redis',
        3000,
        async () => (await serve.get('/readyz')).status === 200,
      );
      assert.equal((await serve.get(`${V1BETA1}/nodes/node-a`)).status, 200);
      assert.equal(serve.handle.probeUrl, `http://127.0.0.1:${probePort}`);
      assert.equal((await fetch(`${serve.handle.probeUrl}/_/ready`)).status, 200);

      client.disconnect();
      await stopRedis();

      const unavailable = await serve.get(`${V1BETA1}/nodes/node-a`);
      assert.equal(unavailable.status, 503);
      assert.equal(JSON.parse(unavailable.body).reason, 'ServiceUnavailable');
      const tookMs = await eventually(
        '/readyz to fail',
        2000,
        async () => (await serve.get('/readyz')).status === 500,
      );
      assert.ok(tookMs <= 2000);
      assert.equal((await serve.get('/livez')).status, 200, 'still live');
      assert.equal((await fetch(`${serve.handle.probeUrl}/_/ready`)).status, 500);
      assert.equal((await fetch(`${serve.handle.probeUrl}/_/health`)).status, 200);

      client = await startRedis();
      await writeEntries(client, { nodes: [{ name: 'node-a', item: nodeItem('node-a', '7m') }] });
      await eventually(
        'serving again',
        5000,
        async () => (await serve.get(`${V1BETA1}/nodes/node-a`)).status === 200,
      );
      assert.equal(JSON.parse((await serve.get(`${V1BETA1}/nodes/node-a`)).body).usage.cpu, '7m');
      await eventually('/readyz to pass', 3000, async () => (await serve.get('/readyz')).status === 200);
      client.disconnect();
    } finally {
      await serve.stop();
    }
  });

  test('starts and serves while Redis is down from the beginning', async () => {
    const port = await freePort();
    const serve = await startOn(`redis://127.0.0.1:${port}`);
    try {
      assert.equal((await serve.get(V1BETA1)).status, 200, 'discovery needs no Redis');
      assert.equal((await serve.get(`${V1BETA1}/nodes`)).status, 503);
      assert.equal((await serve.get('/readyz')).status, 500);
      assert.equal((await serve.get('/livez')).status, 200);
    } finally {
      await serve.stop();
    }
  });
});

describe('graceful stop', () => {
  test('finishes the response in flight, then refuses new connections', async () => {
    const db = await leaseTestDb();
    // 5,000 pods (~1.3 MB of JSON): the response is still being written when the stop begins.
    const now = await redisNow(db.redis);
    const fields: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) {
      const name = `pod-${String(i).padStart(4, '0')}`;
      fields[name] = encodeEntry({
        expiresAt: now + 60_000,
        timestamp: now,
        labels: '{"app":"x"}',
        item: podItem('big', name, 'x'),
      });
    }
    await db.redis.hset(keys.pods('big'), fields);
    await db.redis.hset(keys.namespaces, 'big', `${now + 60_000}\t5000`);
    const serve = await startOn(db.url);
    try {
      await eventually('ready', 5000, async () => (await serve.get('/readyz')).status === 200);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${serve.handle.url}${V1BETA1}/pods`, { agent: serve.agent }, (res) => {
          // Headers are here, the body is not read yet: stop the server now.
          res.pause();
          const closing = serve.handle.close();
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => closing.then(() => resolve(text), reject));
          res.on('error', reject);
          setTimeout(() => res.resume(), 100);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(PodMetricsList.parse(JSON.parse(body)).items.length, 5000);
      await assert.rejects(get(new Agent({ ca: 'unused' }), `${serve.handle.url}/livez`), /ECONNREFUSED/);
    } finally {
      await serve.stop();
      await db.release();
    }
  });
});
