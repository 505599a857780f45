/**
 * The scraper's other ways in and out, end to end against the simulated cluster: the Summary API
 * (`--kubelet-endpoint summary`), the API server's node proxy (`--kubelet-via proxy`), the HTTP trigger
 * server (`POST /`, what cron sources call) and its own ticker (`--loop`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NodeMetricsList, PodMetricsList } from '../../shared/metrics-api.ts';
import { keys } from '../../shared/store/keys.ts';
import { freePort, startProgram, waitFor } from '../../sim/processes.ts';
import { type Cluster, startCluster } from './harness.ts';

/** Short, so the --loop test sees its second tick soon. */
const RESOLUTION = '10s';

let c: Cluster;

before(async () => {
  c = await startCluster({
    nodes: 2,
    podsPerNode: 3,
    housekeepingMs: 1000,
    seed: 'e2e-modes',
    specialPods: false,
  });
});
after(async () => c?.stop());

/** The scraper's flags against this cluster, as the harness passes them. */
const baseArgs = () => [
  `--redis-url=${c.db.url}`,
  `--kubeconfig=${c.dir}/scraper.kubeconfig`,
  `--kubelet-certificate-authority=${c.dir}/kubelet-ca.crt`,
  '--kubelet-use-node-status-port',
  '--kubelet-preferred-address-types=InternalIP',
  `--metric-resolution=${RESOLUTION}`,
  '--kubelet-request-timeout=2s',
  '--bind-address=127.0.0.1',
];

/** `scrape --once` with exactly these flags. */
async function once(args: string[]) {
  await c.db.redis.del(keys.scrapeLock);
  const lines: string[] = [];
  const code = await startProgram('scrape', ['--once', ...args], (l) => lines.push(l)).exited;
  return { code, lines };
}

async function nodeNames(): Promise<string[]> {
  const r = await c.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes']);
  assert.equal(r.code, 0, r.stderr);
  return NodeMetricsList.parse(JSON.parse(r.stdout)).items.map((n) => n.metadata.name);
}

/** Two cycles a housekeeping interval apart, with these flags; then metrics are servable. */
async function twoCycles(args: string[]) {
  await c.db.redis.flushdb();
  c.sim.kubelets.clearServed();
  for (let i = 0; i < 2; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1100));
    const { code, lines } = await c.cycle(args);
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(!lines.some((l) => l.includes('Failed to scrape node')), lines.join('\n'));
  }
}

describe('kubelet endpoints and paths', () => {
  test('--kubelet-endpoint=summary reads /stats/summary?only_cpu_and_memory=true and serves the same objects', async () => {
    await twoCycles(['--kubelet-endpoint=summary']);
    const served = c.sim.kubelets.served('sim-node-0001');
    assert.ok(
      served.length >= 2 && served.every((r) => r.path === '/stats/summary?only_cpu_and_memory=true'),
    );
    assert.deepEqual(await nodeNames(), ['sim-node-0001', 'sim-node-0002']);
    const pods = await c.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/pods']);
    assert.ok(PodMetricsList.parse(JSON.parse(pods.stdout)).items.length > 0);
  });

  test('--kubelet-via=proxy goes through the API server’s node proxy (no kubelet CA needed)', async () => {
    await twoCycles(['--kubelet-via=proxy']);
    assert.ok(c.sim.kubelets.served('sim-node-0002').every((r) => r.path === '/metrics/resource'));
    assert.deepEqual(await nodeNames(), ['sim-node-0001', 'sim-node-0002']);
  });
});

describe('kubelet TLS', () => {
  test('kubelet serving certificates are verified by default: a CA that did not sign them fails each node with the cause', async () => {
    await c.db.redis.flushdb();
    // Without --kubelet-certificate-authority the scraper trusts the cluster CA, which did not sign the kubelets'.
    const args = baseArgs().filter((a) => !a.startsWith('--kubelet-certificate-authority'));
    const { code, lines } = await once(args);
    assert.equal(code, 1, 'every node failed');
    const failures = lines.filter((l) => l.includes('"Failed to scrape node"'));
    assert.equal(failures.length, 2, lines.join('\n'));
    for (const l of failures) assert.match(l, /node="sim-node-000[12]".*(certificate|self-signed|issuer)/i);
  });

  test('--kubelet-insecure-tls skips that verification (for testing only)', async () => {
    const args = baseArgs().filter((a) => !a.startsWith('--kubelet-certificate-authority'));
    const { code, lines } = await once([...args, '--kubelet-insecure-tls']);
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(
      lines.some((l) => /"Scrape cycle finished" nodes=2 scraped=2 failed=0/.test(l)),
      lines.join('\n'),
    );
  });
});

describe('triggers', () => {
  test('the HTTP trigger server: POST / runs a cycle; concurrent triggers share it; a second within the resolution is skipped', async () => {
    await c.db.redis.flushdb();
    const port = await freePort();
    const lines: string[] = [];
    const p = startProgram('scrape', [...baseArgs(), `--port=${port}`], (l) => lines.push(l));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('the trigger server', 15_000, async () => (await fetch(`${base}/healthz`)).ok);
      const [a, b] = await Promise.all([fetch(base, { method: 'POST' }), fetch(base, { method: 'POST' })]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const [ra, rb] = (await Promise.all([a.json(), b.json()])) as { ran: boolean; scraped: number }[];
      assert.deepEqual(ra, rb, 'both callers got the one cycle');
      assert.equal(ra?.ran, true);
      assert.equal(ra?.scraped, 2);
      assert.equal(lines.filter((l) => l.includes('"Scrape cycle finished"')).length, 1);
      const again = (await (await fetch(base, { method: 'POST' })).json()) as { ran: boolean };
      assert.equal(again.ran, false, 'one cycle per resolution');
      assert.equal((await fetch(`${base}/_/health`)).status, 200);
      assert.equal((await fetch(`${base}/_/ready`)).status, 200);
    } finally {
      assert.equal(await p.stop(), 0, 'SIGTERM stops it cleanly');
    }
  });

  test('--loop runs a cycle at once, then one per resolution; /livez reports the ticker', async () => {
    await c.db.redis.flushdb();
    const port = await freePort();
    const lines: string[] = [];
    const p = startProgram('scrape', [...baseArgs(), '--loop', `--port=${port}`], (l) => lines.push(l));
    try {
      await waitFor('the first cycle', 15_000, async () =>
        lines.some((l) => l.includes('"Scrape cycle finished"')),
      );
      assert.equal((await fetch(`http://127.0.0.1:${port}/livez`)).status, 200);
      // The lock records when the cycle started; the ticker sleeps until a resolution later.
      const [started] = (await c.db.redis.get(keys.scrapeLock))!.split(' ');
      assert.ok(Date.now() - Number(started) < 10_000);
      // Pretend the resolution has passed: move the recorded start back; the next tick runs right after its due time.
      await c.db.redis.set(keys.scrapeLock, `${Number(started) - 9_000} test`, 'PX', 20_000);
      await waitFor('the second cycle', 15_000, async () =>
        lines.filter((l) => l.includes('"Scrape cycle finished"')).length >= 2 ? true : undefined,
      );
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });
});
