import assert from 'node:assert/strict';
import { createServer as createNetServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { fetchHttps } from './https.ts';

const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';
let sim: Sim;
/** While set, the kubelets' clock stands still. */
let frozenAt: number | undefined;

before(async () => {
  sim = await startSim({
    nodes: 3,
    podsPerNode: 4,
    seed: 'kubelet-it',
    housekeepingMs: 1000,
    kubeletClock: () => frozenAt ?? Date.now(),
  });
});
after(() => sim.stop());

const kubeletUrl = (node: string, path: string) => `https://127.0.0.1:${sim.kubelets.ports.get(node)}${path}`;
const scrape = (
  node: string,
  path = '/metrics/resource',
  extra: Parameters<typeof fetchHttps>[1] | object = {},
) => fetchHttps(kubeletUrl(node, path), { ca: sim.kubeletCaPem, token: sim.tokens.scraper, ...extra });

describe('a simulated kubelet', () => {
  test('given no token, it answers 401 Unauthorized like a kubelet', async () => {
    const a = await fetchHttps(kubeletUrl('sim-node-0001', '/metrics/resource'), { ca: sim.kubeletCaPem });
    assert.equal(a.status, 401);
    assert.equal(a.text, 'Unauthorized');
  });

  test('given an unknown token, 401; given a user without nodes/metrics, 403 in the kubelet wording', async () => {
    const unknown = await fetchHttps(kubeletUrl('sim-node-0001', '/metrics/resource'), {
      ca: sim.kubeletCaPem,
      token: 'nope',
    });
    assert.equal(unknown.status, 401);
    const viewer = await fetchHttps(kubeletUrl('sim-node-0001', '/metrics/resource'), {
      ca: sim.kubeletCaPem,
      token: sim.tokens.viewer,
    });
    assert.equal(viewer.status, 403);
    assert.equal(
      viewer.text,
      'Forbidden (user=viewer, verb=get, resource=nodes, subresource(s)=[metrics])\n',
    );
  });

  test('its serving certificate verifies against the kubelet CA, for 127.0.0.1 and for the node name', async () => {
    const byIp = await scrape('sim-node-0002', '/healthz');
    assert.equal(byIp.status, 200);
    const byName = await scrape('sim-node-0002', '/healthz', { servername: 'sim-node-0002' });
    assert.equal(byName.status, 200);
    await assert.rejects(
      scrape('sim-node-0002', '/healthz', { servername: 'sim-node-0003' }),
      /sim-node-0003/,
    );
    await assert.rejects(
      fetchHttps(kubeletUrl('sim-node-0002', '/healthz'), {
        ca: sim.apiServer.caPem,
        token: sim.tokens.scraper,
      }),
      /unable to verify|self-signed|local issuer/i,
    );
  });

  test('the scraper gets /metrics/resource in the Prometheus text format, and the response is recorded', async () => {
    const a = await scrape('sim-node-0002');
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], PROMETHEUS);
    assert.match(a.text, /^# HELP container_cpu_usage_seconds_total \[STABLE\]/);
    assert.match(a.text, /\nresource_scrape_error 0\n$/);
    const last = sim.kubelets.served('sim-node-0002').at(-1)!;
    assert.equal(last.status, 200);
    const node = last.samples.get('node')!;
    assert.ok(a.text.includes(`\nnode_cpu_usage_seconds_total ${node.cpuSecondsText} ${node.timestampMs}\n`));
    for (const [key, s] of last.samples) {
      if (key === 'node') continue;
      const [ns, pod, container] = key.split('/');
      assert.ok(
        a.text.includes(
          `container_cpu_usage_seconds_total{container="${container}",namespace="${ns}",pod="${pod}"} ${s.cpuSecondsText} ${s.timestampMs}\n`,
        ),
        key,
      );
    }
  });

  test("a client certificate of the scraper's user, signed by the cluster CA, also authenticates", async () => {
    const a = await fetchHttps(kubeletUrl('sim-node-0002', '/metrics/resource'), {
      ca: sim.kubeletCaPem,
      cert: sim.scraperClient,
    });
    assert.equal(a.status, 200);
  });

  test('gzip is used when the client accepts it, as promhttp does', async () => {
    const a = await scrape('sim-node-0002', '/metrics/resource', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(a.headers['content-encoding'], 'gzip');
    assert.match(a.text, /resource_scrape_error 0/);
  });

  test('/stats/summary, full or with only_cpu_and_memory=true', async () => {
    // A container's first sample comes up to 1.2 s after it starts, so at another instant the kubelet can
    // list other pods: both documents are asked for at the same instant.
    frozenAt = Date.now();
    let full: Awaited<ReturnType<typeof scrape>>;
    let reducedText: string;
    try {
      full = await scrape('sim-node-0002', '/stats/summary');
      reducedText = (await scrape('sim-node-0002', '/stats/summary?only_cpu_and_memory=true')).text;
    } finally {
      frozenAt = undefined;
    }
    assert.equal(full.status, 200);
    assert.equal(full.headers['content-type'], 'application/json');
    const parsed = JSON.parse(full.text) as { node: Record<string, unknown>; pods: unknown[] };
    assert.equal(parsed.node.nodeName, 'sim-node-0002');
    assert.ok('fs' in parsed.node);
    const reduced = JSON.parse(reducedText) as { node: Record<string, unknown>; pods: unknown[] };
    assert.ok(!('fs' in reduced.node));
    assert.ok(parsed.pods.length > 0);
    assert.equal(reduced.pods.length, parsed.pods.length);
  });

  test('two scrapes a housekeeping interval apart see later samples and larger counters', async () => {
    await scrape('sim-node-0003');
    await new Promise((r) => setTimeout(r, 1100));
    await scrape('sim-node-0003');
    const [a, b] = sim.kubelets.served('sim-node-0003').slice(-2);
    assert.ok(a && b);
    const n1 = a.samples.get('node')!;
    const n2 = b.samples.get('node')!;
    assert.ok(n2.timestampMs > n1.timestampMs);
    assert.ok(n2.cpuNs > n1.cpuNs);
  });

  test('an unknown path is 404 page not found', async () => {
    const a = await scrape('sim-node-0001', '/metrics/nothing');
    assert.equal(a.status, 404);
    assert.equal(a.text, '404 page not found\n');
  });
});

describe('a kubelet with a fault', () => {
  const node = 'sim-node-0003';
  const withFault = async (fault: Parameters<Sim['cluster']['setFault']>[1], fn: () => Promise<void>) => {
    sim.cluster.setFault(node, fault);
    try {
      await fn();
    } finally {
      sim.cluster.setFault(node, 'none');
    }
  };

  test('status-500 answers 500 with the kubelet Internal Error text', () =>
    withFault('status-500', async () => {
      const a = await scrape(node);
      assert.equal(a.status, 500);
      assert.match(a.text, /^Internal Error: failed to list pod stats/);
    }));

  test('garbage answers 200 with bytes that are no text format', () =>
    withFault('garbage', async () => {
      const a = await scrape(node);
      assert.equal(a.status, 200);
      assert.ok(a.body.includes(0));
    }));

  test('wrong-shape answers valid text whose container series have no pod label, and JSON with strings', () =>
    withFault('wrong-shape', async () => {
      const a = await scrape(node);
      assert.match(a.text, /^container_cpu_usage_seconds_total\{container="app"\} 12\.5 \d+$/m);
      const s = JSON.parse((await scrape(node, '/stats/summary')).text);
      assert.equal(typeof s.node.cpu.usageCoreNanoSeconds, 'string');
    }));

  test('scrape-error answers 200 with only resource_scrape_error 1 (and 500 on /stats/summary)', () =>
    withFault('scrape-error', async () => {
      const a = await scrape(node);
      assert.equal(a.status, 200);
      assert.deepEqual(
        a.text.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
        ['resource_scrape_error 1'],
      );
      assert.equal((await scrape(node, '/stats/summary')).status, 500);
    }));

  test('slow with a delay answers only after it', () =>
    withFault({ kind: 'slow', delayMs: 300 }, async () => {
      const t0 = Date.now();
      const a = await scrape(node);
      assert.equal(a.status, 200);
      assert.ok(Date.now() - t0 >= 290);
    }));

  test('slow without a delay never answers: the client times out', () =>
    withFault('slow', async () => {
      await assert.rejects(scrape(node, '/metrics/resource', { timeoutMs: 300 }), /timed out/);
    }));

  test('slow in the body sends headers at once and the rest of the body over the delay', () =>
    withFault({ kind: 'slow', delayMs: 300, stage: 'body' }, async () => {
      const t0 = Date.now();
      const a = await scrape(node);
      assert.equal(a.status, 200);
      assert.match(a.text, /resource_scrape_error 0\n$/);
      assert.ok(Date.now() - t0 >= 290);
    }));

  test('huge streams a body far over 16 MiB', () =>
    withFault({ kind: 'huge', bytes: 17 * 1024 * 1024 }, async () => {
      const a = await scrape(node, '/metrics/resource', { maxBytes: 64 * 1024 * 1024 });
      assert.equal(a.status, 200);
      assert.ok(a.bytes > 16 * 1024 * 1024, `${a.bytes} bytes`);
    }));

  test('refuse resets every connection, keeping its port, until the fault is cleared', async () => {
    const port = sim.kubelets.ports.get(node);
    await withFault('refuse', async () => {
      await assert.rejects(scrape(node), { code: 'ECONNRESET' });
      // Still its port: no other process on the machine can take it while the kubelet is down.
      const taken = await new Promise<string>((resolve) => {
        const s = createNetServer();
        s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve('free')));
      });
      assert.equal(taken, 'EADDRINUSE');
    });
    assert.equal((await scrape(node)).status, 200);
  });
});
