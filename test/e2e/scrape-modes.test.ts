/**
 * The scraper's other ways in and out, end to end against the simulated cluster: the Summary API
 * (`--kubelet-endpoint summary`), the API server's node proxy (`--kubelet-via proxy`), `--once` (one
 * cycle now, after any cycle in progress elsewhere), the HTTP trigger server (`POST /`, what cron
 * sources call) and its own ticker (`--loop`).
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { NodeMetricsList, PodMetricsList } from '../../shared/metrics-api.ts';
import { keys } from '../../shared/store/keys.ts';
import { listenedUrl, startProgram, waitFor } from '../../sim/processes.ts';
import { type Cluster, startCluster, table } from './harness.ts';

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

/** The scraper's flags against this cluster, as the harness passes them, at this file's resolution. */
const baseArgs = () => c.scrapeArgs(`--metric-resolution=${RESOLUTION}`, '--bind-address=127.0.0.1');

/** `scrape --once` with exactly these flags. */
async function once(args: string[]) {
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

describe('--once', () => {
  test('two --once in a row at the default resolution both scrape; after the second, kubectl top has numbers', async () => {
    await c.db.redis.flushdb();
    const args = baseArgs().filter((a) => !a.startsWith('--metric-resolution'));
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1100)); // past the kubelets' next housekeeping
      const { code, lines } = await once(args);
      assert.equal(code, 0, lines.join('\n'));
      assert.ok(
        lines.some((l) => /"Scrape cycle finished" nodes=2 scraped=2 failed=0/.test(l)),
        lines.join('\n'),
      );
    }
    const top = await c.kubectl(['top', 'nodes']);
    assert.equal(top.code, 0, top.stderr);
    const rows = table(top.stdout).slice(1);
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['sim-node-0001', 'sim-node-0002'],
    );
    for (const r of rows) assert.match(r[1] ?? '', /^\d+m$/, top.stdout);
  });

  test('--once started while another instance’s cycle is running waits for that cycle to end, then runs its own', async () => {
    await c.db.redis.flushdb();
    c.sim.kubelets.clearServed();
    // Long enough for the second process to start and ask for the lease while the first's cycle still
    // runs, on a loaded machine too (a process start with its imports takes 1–3 s there).
    const SLOW_MS = 8000;
    c.sim.cluster.setFault('sim-node-0001', { kind: 'slow', delayMs: SLOW_MS });
    try {
      const args = [
        ...baseArgs().filter((a) => !/^--(kubelet-request-timeout|metric-resolution)=/.test(a)),
        '--metric-resolution=30s',
        '--kubelet-request-timeout=20s',
      ];
      const first: string[] = [];
      const a = startProgram('scrape', ['--once', ...args], (l) => first.push(l));
      await waitFor('the first cycle to be in progress', 15_000, async () =>
        / running /.test((await c.db.redis.get(keys.scrapeLock)) ?? ''),
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the first's log:\n${first.join('\n')}`);
      });
      const second: string[] = [];
      const b = startProgram('scrape', ['--once', ...args], (l) => second.push(l));
      const [codeA, codeB] = await Promise.all([a.exited, b.exited]);
      assert.equal(codeA, 0, first.join('\n'));
      assert.equal(codeB, 0, second.join('\n'));
      const waiting = second.find((l) =>
        l.includes('"Waiting for the scrape cycle in progress on another instance to end"'),
      );
      assert.ok(waiting, second.join('\n'));
      assert.match(waiting, new RegExp(`holder="${hostname()}/${a.child.pid}"`));
      for (const lines of [first, second]) {
        assert.ok(
          lines.some((l) => /"Scrape cycle finished" nodes=2 scraped=2 failed=0/.test(l)),
          lines.join('\n'),
        );
      }
      // Never concurrently: the second asked no kubelet before the first's slow kubelet had answered.
      const served = ['sim-node-0001', 'sim-node-0002'].map((n) =>
        c.sim.kubelets.served(n).map((r) => r.servedAt),
      );
      for (const times of served) assert.equal(times.length, 2);
      const firstSlowAsked = served[0]![0]!;
      assert.ok(Math.min(served[0]![1]!, served[1]![1]!) >= firstSlowAsked + SLOW_MS);
    } finally {
      c.sim.cluster.setFault('sim-node-0001', 'none');
    }
  });
});

describe('triggers', () => {
  test('the HTTP trigger server: POST / runs a cycle; concurrent triggers share it; a second within the resolution is skipped, saying so', async () => {
    await c.db.redis.flushdb();
    const lines: string[] = [];
    const p = startProgram('scrape', [...baseArgs(), '--port=0'], (l) => lines.push(l));
    try {
      const base = await waitFor('the trigger server', 15_000, async () =>
        listenedUrl(lines, 'Scrape trigger server listening'),
      );
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const [a, b] = await Promise.all([fetch(base, { method: 'POST' }), fetch(base, { method: 'POST' })]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const [ra, rb] = (await Promise.all([a.json(), b.json()])) as Record<string, unknown>[];
      assert.deepEqual(ra, rb, 'both callers got the one cycle');
      assert.equal(ra?.result, 'ran');
      assert.equal(ra?.scraped, 2);
      assert.equal(lines.filter((l) => l.includes('"Scrape cycle finished"')).length, 1);

      const again = await fetch(base, { method: 'POST' });
      assert.equal(again.status, 200);
      const holder = `${hostname()}/${p.child.pid}`;
      const body = (await again.json()) as Record<string, unknown>;
      assert.deepEqual(
        {
          result: body.result,
          reason: body.reason,
          holder: body.holder,
          started: body.started,
          nextDue: body.nextDue,
        },
        { result: 'skipped', reason: 'already-run', holder, started: ra?.started, nextDue: ra?.nextDue },
      );
      assert.ok(
        Number(body.nextDueInSeconds) > 0 && Number(body.nextDueInSeconds) <= 10,
        String(body.nextDueInSeconds),
      );
      const skipped = lines.filter((l) => l.includes('Scrape cycle skipped'));
      assert.equal(skipped.length, 1, lines.join('\n'));
      assert.match(
        skipped[0]!,
        new RegExp(
          `^I.*"Scrape cycle skipped: the cycle due has already run" holder="${holder}" started="${ra?.started}" .*nextDue="${ra?.nextDue}"`,
        ),
      );
      assert.equal((await fetch(`${base}/_/health`)).status, 200);
      assert.equal((await fetch(`${base}/_/ready`)).status, 200);
    } finally {
      assert.equal(await p.stop(), 0, 'SIGTERM stops it cleanly');
    }
  });

  test('--loop runs a cycle at once, then one per resolution; /livez reports the ticker', async () => {
    await c.db.redis.flushdb();
    const lines: string[] = [];
    const p = startProgram('scrape', [...baseArgs(), '--loop', '--port=0'], (l) => lines.push(l));
    const finished = () => lines.filter((l) => l.includes('"Scrape cycle finished"')).length;
    try {
      await waitFor('the first cycle', 15_000, async () => finished() >= 1);
      const base = listenedUrl(lines, 'Scrape trigger server listening');
      assert.equal((await fetch(`${base}/livez`)).status, 200);
      const first = await c.db.redis.get(keys.scrapeLock);
      // The ticker sleeps until the next due time, a resolution (10 s) later, and runs the next cycle.
      await waitFor('the second cycle', 30_000, async () => finished() >= 2, 200);
      const [start1, due1] = first!.split(' ').map(Number);
      const [start2] = (await c.db.redis.get(keys.scrapeLock))!.split(' ').map(Number);
      assert.ok(start2! >= due1! - 1000, `not before the due time: ${start2! - start1!}ms after the first`);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });
});
