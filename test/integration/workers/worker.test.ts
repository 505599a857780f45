/**
 * The Cloudflare Worker (wrangler.toml, infra/workers/worker.ts) built by wrangler and run locally in
 * workerd by `wrangler dev`, against the real Redis on loopback and the simulated cluster's API server
 * over HTTPS: the serve handler lets in only what the API server's TokenReview and SubjectAccessReview
 * allow (the serve function's own guard and caches, in workerd), and a cron tick runs a real scrape
 * cycle through the API server's node proxy.
 *
 * workerd verifies the API server's certificate: it is given the simulator's cluster CA through
 * NODE_EXTRA_CA_CERTS, which wrangler hands to workerd's trust store (without it workerd refuses the
 * connection). In production the API server needs a publicly trusted certificate instead (docs/deploy.md).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { keys } from '../../../shared/store/keys.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { freePort, waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { cronProblem } from '../../unit/infra/cron.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const node = join(repo, 'node_modules/.bin/node');
const wrangler = join(repo, 'node_modules/.bin/wrangler');
// No account, no telemetry, no prompts: what CI has.
const quiet = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };

test('wrangler deploy --dry-run bundles the Worker, its serve path with the guard and no node:http(s)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'worker-dist-'));
  try {
    const meta = join(out, 'meta.json');
    const { stdout } = await promisify(execFile)(
      node,
      [wrangler, 'deploy', '--dry-run', '--outdir', out, '--metafile', meta],
      { cwd: repo, env: quiet, maxBuffer: 8 << 20 },
    );
    assert.match(stdout, /--dry-run: exiting now\./);
    assert.ok(
      existsSync(join(out, 'worker.js')) || existsSync(join(out, 'index.js')),
      'a bundle was written',
    );
    // esbuild's own account of what went into the bundle and what each module imports.
    const inputs = (
      JSON.parse(readFileSync(meta, 'utf8')) as { inputs: Record<string, { imports: { path: string }[] }> }
    ).inputs;
    for (const m of [
      'functions/serve/auth/guard.ts',
      'functions/serve/auth/api-client.ts',
      'functions/serve/auth/token.ts',
    ])
      assert.ok(inputs[m], `${m} is bundled`);
    assert.equal(
      inputs['functions/serve/auth/kube-api-client.ts'],
      undefined,
      "Node's API client is not bundled",
    );
    for (const [m, { imports }] of Object.entries(inputs)) {
      if (!m.startsWith('functions/serve/') && !m.startsWith('infra/workers/')) continue;
      const nodeHttp = imports.filter((i) => /^node:https?$/.test(i.path)).map((i) => i.path);
      assert.deepEqual(nodeHttp, [], `${m} imports ${nodeHttp.join(', ')}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("wrangler.toml, read by wrangler's own parser: fetch + scheduled module, nodejs_compat, valid crons", async () => {
  // In a child process: importing wrangler starts work (an update check, telemetry) that would keep
  // this test process alive.
  const script =
    "const w = await import('wrangler');" +
    `const { rawConfig } = w.experimental_readRawConfig({ config: ${JSON.stringify(join(repo, 'wrangler.toml'))} });` +
    'process.stdout.write(JSON.stringify(rawConfig)); process.exit(0);';
  const { stdout } = await promisify(execFile)(node, ['--input-type=module', '-e', script], {
    cwd: repo,
    env: quiet,
  });
  const rawConfig = JSON.parse(stdout) as {
    main?: string;
    compatibility_flags?: string[];
    compatibility_date?: string;
    triggers?: { crons?: string[] };
    vars?: Record<string, string>;
  };
  assert.equal(rawConfig.main, 'infra/workers/worker.ts');
  assert.ok(rawConfig.compatibility_flags?.includes('nodejs_compat'));
  // nodejs_compat's node:net sockets (ioredis) need a compatibility date of 2024-09-23 or later.
  assert.ok(String(rawConfig.compatibility_date) >= '2024-09-23');
  const crons = rawConfig.triggers?.crons ?? [];
  assert.ok(crons.length > 0);
  for (const cron of crons) assert.equal(cronProblem(cron), undefined, cron);
  // One cycle per tick and ticks a minute apart: the resolution must not be finer than the schedule.
  assert.equal(rawConfig.vars?.METRIC_RESOLUTION, '60s');
  // What ships authenticates: the off switch is the user's explicit choice, never the default.
  assert.equal(rawConfig.vars?.INSECURE_DISABLE_AUTHENTICATION, undefined);
  const worker = (await import('../../../infra/workers/worker.ts')).default;
  assert.equal(typeof worker.fetch, 'function');
  assert.equal(typeof worker.scheduled, 'function');
});

const NODES = '/apis/metrics.k8s.io/v1beta1/nodes';

describe('the Worker in local workerd (wrangler dev), against the simulated API server and the real Redis', {
  timeout: 180_000,
}, () => {
  let sim: Sim;
  let db: TestDb;
  let dev: ChildProcess;
  let dir = '';
  let base = '';
  let output = '';
  /** The Worker's own identity, which it reviews tokens and access with (role serve: auth-delegator). */
  let serveUser = '';
  const token = (name: string) => sim.users.find((u) => u.name === name)!.token;
  const get = (path: string, bearer?: string) =>
    fetch(`${base}${path}`, bearer === undefined ? {} : { headers: { authorization: `Bearer ${bearer}` } });
  const reviews = (kind: 'TokenReview' | 'SubjectAccessReview') =>
    sim.reviews().filter((r) => r.kind === kind && r.caller === serveUser);

  before(async () => {
    sim = await startSim({
      nodes: 2,
      podsPerNode: 3,
      specialPods: false,
      // One user per test that counts its reviews, so no other test's requests are in its counts.
      users: [
        { name: 'dashboard', role: 'viewer' },
        { name: 'hpa-like', role: 'viewer' },
        { name: 'burst', role: 'viewer' },
      ],
    });
    serveUser = sim.users.find((u) => u.token === sim.tokens.serve)!.name;
    db = await leaseTestDb();
    dir = mkdtempSync(join(tmpdir(), 'worker-ca-'));
    const caFile = join(dir, 'cluster-ca.crt');
    writeFileSync(caFile, sim.apiServer.caPem);
    const port = await freePort();
    // detached: wrangler starts workerd; the whole process group is stopped in after().
    dev = spawn(
      node,
      [
        wrangler,
        'dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--test-scheduled',
        '--show-interactive-dev-session=false',
        '--var',
        `REDIS_URL:${db.url}`,
        '--var',
        `KUBE_API_SERVER:${sim.apiServer.url}`,
        '--var',
        `KUBE_TOKEN:${sim.tokens.scraper}`,
        '--var',
        `KUBE_AUTH_TOKEN:${sim.tokens.serve}`,
      ],
      {
        cwd: repo,
        // wrangler gives workerd these CAs to trust: the API server's certificate is verified.
        env: { ...quiet, NODE_EXTRA_CA_CERTS: caFile },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    base = `http://127.0.0.1:${port}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${output}`)), 90_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      dev.stdout?.on('data', onData);
      dev.stderr?.on('data', onData);
      dev.once('exit', (code) => reject(new Error(`wrangler dev exited (${code}):\n${output}`)));
    });
  });

  after(async () => {
    if (dev?.pid !== undefined && dev.exitCode === null) {
      const exited = new Promise((r) => dev.once('exit', r));
      process.kill(-dev.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
    }
    await sim?.stop();
    await db?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a token the API server permits reads the metrics the store holds: node list, a namespace’s pods, one pod', async () => {
    const [sec] = await db.redis.time();
    const expiresAt = Number(sec) * 1000 + 60_000;
    const nodeItem = JSON.stringify({
      metadata: { name: 'node-a', creationTimestamp: '2026-01-01T00:00:00Z', labels: { zone: 'z1' } },
      timestamp: '2026-01-01T00:00:00Z',
      window: '15s',
      usage: { cpu: '250m', memory: '1Gi' },
    });
    const podItem = JSON.stringify({
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        creationTimestamp: '2026-01-01T00:00:00Z',
        labels: { app: 'web' },
      },
      timestamp: '2026-01-01T00:00:00Z',
      window: '15s',
      containers: [{ name: 'web', usage: { cpu: '5m', memory: '20Mi' } }],
    });
    const entry = (labels: object, item: string) =>
      encodeEntry({ expiresAt, timestamp: expiresAt - 60_000, labels: JSON.stringify(labels), item });
    await db.redis.hset(keys.nodes, 'node-a', entry({ zone: 'z1' }, nodeItem));
    await db.redis.hset(keys.pods('shop'), 'web-1', entry({ app: 'web' }, podItem));
    await db.redis.hset(keys.namespaces, 'shop', `${expiresAt}\t1`);
    const viewer = sim.tokens.viewer;

    const nodes = await get(NODES, viewer);
    assert.equal(nodes.status, 200);
    const list = (await nodes.json()) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'NodeMetricsList');
    assert.deepEqual(list.items, [JSON.parse(nodeItem)]);

    const pods = (await (
      await get('/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?labelSelector=app%3Dweb', viewer)
    ).json()) as { items: unknown[] };
    assert.deepEqual(pods.items, [JSON.parse(podItem)]);

    const pod = await get('/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1', viewer);
    assert.equal(pod.status, 200);
    assert.equal(((await pod.json()) as { kind: string }).kind, 'PodMetrics');

    const missing = await get('/apis/metrics.k8s.io/v1beta1/nodes/node-b', viewer);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { kind: string }).kind, 'Status');
  });

  test('a token the API server denies gets 403 in kube-apiserver’s words, never data', async () => {
    const res = await get(NODES, sim.tokens.nobody);
    assert.equal(res.status, 403);
    const status = (await res.json()) as { kind: string; reason: string; message: string };
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'Forbidden');
    assert.equal(
      status.message,
      'nodes.metrics.k8s.io is forbidden: User "nobody" cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope',
    );
  });

  test('no token, or one the API server does not know: 401, and no data', async () => {
    for (const res of [await get(NODES), await get(NODES, 'not-a-token-of-this-cluster')]) {
      assert.equal(res.status, 401);
      const status = (await res.json()) as { kind: string; reason: string };
      assert.deepEqual([status.kind, status.reason], ['Status', 'Unauthorized']);
    }
    // Discovery and the Worker's own /metrics are behind the guard too.
    assert.equal((await get('/apis/metrics.k8s.io')).status, 401);
    assert.equal((await get('/metrics')).status, 401);
  });

  test('health is open without a token: /healthz, /livez, and /readyz while Redis answers', async () => {
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), 'ok');
    }
    const group = (await (await get('/apis/metrics.k8s.io', sim.tokens.viewer)).json()) as { name: string };
    assert.equal(group.name, 'metrics.k8s.io');
  });

  test("reviews are asked as the Worker's own identity and cached across requests in the isolate", async () => {
    const tokenReviews = reviews('TokenReview').length;
    const accessReviews = reviews('SubjectAccessReview').length;
    const started = Date.now();
    for (let i = 0; i < 10; i++) assert.equal((await get(NODES, token('hpa-like'))).status, 200);
    const elapsed = Date.now() - started;
    // Without caches: 10 of each. With them: one, plus one refresh per 7.5 s the loop took.
    const bound = 1 + Math.floor(elapsed / 7_500);
    assert.ok(
      reviews('TokenReview').length - tokenReviews <= bound,
      `TokenReviews: ${reviews('TokenReview').length - tokenReviews} in ${elapsed} ms`,
    );
    assert.ok(
      reviews('SubjectAccessReview').length - accessReviews <= bound,
      `SubjectAccessReviews: ${reviews('SubjectAccessReview').length - accessReviews} in ${elapsed} ms`,
    );
    const sar = reviews('SubjectAccessReview').at(-1)?.spec as { user: string; resourceAttributes: unknown };
    assert.equal(sar.user, 'hpa-like');
    assert.deepEqual(sar.resourceAttributes, {
      verb: 'list',
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      resource: 'nodes',
    });
  });

  test('concurrent requests with one new token share one review, each in its own invocation', async () => {
    const before = reviews('TokenReview').length;
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(NODES, token('burst'))));
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(reviews('TokenReview').length - before, 1);
  });

  test('a review refreshed in the background outlives the request that started it', async () => {
    // An answer hit in the last quarter of its 10 s is served at once and refreshed behind the
    // response; workerd ends an invocation's work with it unless it is kept alive (waitUntil).
    const dashboard = token('dashboard');
    const before = reviews('TokenReview').length;
    const first = Date.now();
    assert.equal((await get(NODES, dashboard)).status, 200);
    assert.equal(reviews('TokenReview').length, before + 1);
    await waitFor(
      'the background refresh of the TokenReview',
      30_000,
      async () => {
        assert.equal((await get(NODES, dashboard)).status, 200);
        return reviews('TokenReview').length === before + 2;
      },
      250,
    );
    // Past the first answer's expiry: the refreshed one serves, and nothing hangs on a lost review.
    while (Date.now() < first + 10_500) await new Promise((r) => setTimeout(r, 250));
    const at = Date.now();
    assert.equal((await get(NODES, dashboard)).status, 200);
    // The refreshed answer was stored at 7.5 s or later and is not due again before 15 s.
    if (at < first + 15_000) assert.equal(reviews('TokenReview').length, before + 2);
  });

  test('a cron tick runs a scrape cycle: lists through the API server, reads kubelets by proxy, writes Redis', async () => {
    const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    assert.equal(res.status, 200, await res.clone().text());
    for (const n of sim.cluster.nodes()) {
      // Through the API server's node proxy: the kubelet was asked for its resource metrics.
      assert.ok(
        sim.kubelets.served(n.name).some((r) => r.path.startsWith('/metrics/resource')),
        `${n.name}'s kubelet was read`,
      );
      // The first sample of a node gives no rate yet: the node and its Running pods are listed without
      // metrics, and the sample is kept for the next cycle's rate.
      assert.ok(await db.redis.hget(keys.nodes, n.name), `${n.name} is in the served hash`);
      assert.ok(await db.redis.get(keys.state(n.name)), `${n.name}'s sample is kept for the next rate`);
      for (const p of sim.cluster.podsOnNode(n.name).filter((x) => x.phase === 'Running'))
        assert.ok(await db.redis.hget(keys.pods(p.namespace), p.name), `${p.namespace}/${p.name} is served`);
    }
    assert.ok(await db.redis.get(keys.scrapeLock), 'the cycle took the lock for its resolution');
    // Each node registered with its kubelet's endpoint, the API server (the node proxy): forgotten once it leaves.
    const apiServer = new URL(sim.apiServer.url).host;
    assert.deepEqual(
      await db.redis.hgetall(keys.scrapeNodes),
      Object.fromEntries(sim.cluster.nodes().map((n) => [n.name, apiServer])),
    );
  });
});
