/**
 * The Cloudflare Worker (wrangler.toml, infra/workers/worker.ts) built by wrangler and run locally in
 * workerd by `wrangler dev`, against the real Redis on loopback and an API server simulated over HTTP:
 * the serve app answers metrics.k8s.io from Redis, and a cron tick runs a real scrape cycle.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { keys } from '../../../shared/store/keys.ts';
import { FIXTURES } from '../../helpers/fixtures.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { cronProblem } from '../../unit/infra/cron.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const node = join(repo, 'node_modules/.bin/node');
const wrangler = join(repo, 'node_modules/.bin/wrangler');
// No account, no telemetry, no prompts: what CI has.
const quiet = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };

const TOKEN = 'test-token';
// resource-01 (fixtures/kubelet/README.md): kind node, one pod kube-system/coredns-558bd4d5db-4dpjz.
const NODE = 'kind-control-plane';
const POD = { namespace: 'kube-system', name: 'coredns-558bd4d5db-4dpjz', labels: { 'k8s-app': 'kube-dns' } };

test('wrangler deploy --dry-run bundles the Worker (nodejs_compat resolves ioredis and node: built-ins)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'worker-dist-'));
  try {
    const { stdout } = await promisify(execFile)(node, [wrangler, 'deploy', '--dry-run', '--outdir', out], {
      cwd: repo,
      env: quiet,
      maxBuffer: 8 << 20,
    });
    assert.match(stdout, /--dry-run: exiting now\./);
    assert.ok(
      existsSync(join(out, 'worker.js')) || existsSync(join(out, 'index.js')),
      'a bundle was written',
    );
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
  const worker = (await import('../../../infra/workers/worker.ts')).default;
  assert.equal(typeof worker.fetch, 'function');
  assert.equal(typeof worker.scheduled, 'function');
});

/** A development API server: the two lists and the node proxy to one kubelet serving a fixture. */
function apiServer(seen: IncomingMessage[]): Server {
  const payload = readFileSync(
    new URL('resource-01-metrics-server-decode_test-kind-1.21-alpha.prom', FIXTURES),
  );
  return createServer((req, res) => {
    seen.push(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end();
    if (url.pathname === '/api/v1/nodes')
      return json({
        kind: 'NodeList',
        metadata: {},
        items: [
          {
            metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } },
            status: { addresses: [{ type: 'InternalIP', address: '172.18.0.2' }] },
          },
        ],
      });
    if (url.pathname === '/api/v1/pods' && url.searchParams.get('fieldSelector') === 'status.phase=Running')
      return json({ kind: 'PartialObjectMetadataList', metadata: {}, items: [{ metadata: POD }] });
    if (url.pathname === `/api/v1/nodes/${NODE}/proxy/metrics/resource`)
      return res.writeHead(200, { 'content-type': 'text/plain' }).end(payload);
    res.writeHead(404).end();
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe('the Worker in local workerd (wrangler dev), against the real Redis', { timeout: 120_000 }, () => {
  let db: TestDb;
  let api: Server;
  let dev: ChildProcess;
  let base = '';
  let apiPort = 0;
  let output = '';
  const seen: IncomingMessage[] = [];

  before(async () => {
    db = await leaseTestDb();
    api = apiServer(seen);
    apiPort = await listen(api);
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
        `KUBE_API_SERVER:http://127.0.0.1:${apiPort}`,
        '--var',
        `KUBE_TOKEN:${TOKEN}`,
      ],
      { cwd: repo, env: quiet, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    base = `http://127.0.0.1:${port}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${output}`)), 60_000);
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
    await new Promise((r) => api?.close(r));
    await db?.release();
  });

  test('serves the metrics the store holds: node list, a namespace’s pods and one pod', async () => {
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

    const nodes = await fetch(`${base}/apis/metrics.k8s.io/v1beta1/nodes`);
    assert.equal(nodes.status, 200);
    const list = (await nodes.json()) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'NodeMetricsList');
    assert.deepEqual(list.items, [JSON.parse(nodeItem)]);

    const pods = (await (
      await fetch(`${base}/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?labelSelector=app%3Dweb`)
    ).json()) as {
      items: unknown[];
    };
    assert.deepEqual(pods.items, [JSON.parse(podItem)]);

    const pod = await fetch(`${base}/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1`);
    assert.equal(pod.status, 200);
    assert.equal(((await pod.json()) as { kind: string }).kind, 'PodMetrics');

    const missing = await fetch(`${base}/apis/metrics.k8s.io/v1beta1/nodes/node-b`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { kind: string }).kind, 'Status');
  });

  test('is ready while Redis answers, and serves discovery', async () => {
    assert.equal(await (await fetch(`${base}/readyz`)).text(), 'ok');
    const group = (await (await fetch(`${base}/apis/metrics.k8s.io`)).json()) as { name: string };
    assert.equal(group.name, 'metrics.k8s.io');
  });

  test('a cron tick runs a scrape cycle: lists through the API server, reads the kubelet by proxy, writes Redis', async () => {
    const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    assert.equal(res.status, 200, await res.clone().text());
    const paths = seen.map((r) => new URL(r.url ?? '/', 'http://x').pathname);
    assert.ok(paths.includes('/api/v1/nodes'));
    assert.ok(paths.includes('/api/v1/pods'));
    assert.ok(paths.includes(`/api/v1/nodes/${NODE}/proxy/metrics/resource`));
    assert.ok(seen.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));
    // The first sample of a node gives no rate yet: the node and the Running pod are listed without
    // metrics, and the sample is kept for the next cycle's rate.
    assert.ok(await db.redis.hget(keys.nodes, NODE), 'the node is in the served hash');
    assert.ok(await db.redis.hget(keys.pods(POD.namespace), POD.name), 'the pod is in the served hash');
    assert.ok(await db.redis.get(keys.state(NODE)), "the node's sample is kept for the next rate");
    assert.ok(await db.redis.get(keys.scrapeLock), 'the cycle took the lock for its resolution');
    // Registered with its kubelet's endpoint, the API server (the node proxy): forgotten once it leaves.
    assert.deepEqual(await db.redis.hgetall(keys.scrapeNodes), { [NODE]: `127.0.0.1:${apiPort}` });
  });
});
