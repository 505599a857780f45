/**
 * Sharded fan-out across real scrape processes: three trigger servers behind a round-robin forwarder
 * (standing for the scrape function's Service), the coordinator a `--once` process with
 * `--shard-url` pointing at the forwarder, against the simulated cluster over real HTTPS and a real Redis.
 * Every node is served and the shards are spread over the instances; a shard that never answers or fails
 * costs only its own nodes one cycle (they keep their last points), logged once; an unauthenticated
 * POST /shard gets 401 and scrapes nothing; bad flag combinations stop the program with one line.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NodeMetricsList } from '../../shared/metrics-api.ts';
import { type Program, startProgram, waitFor } from '../../sim/processes.ts';
import { type Forwarder, startForwarder } from '../helpers/shard-forwarder.ts';
import { type Cluster, startCluster } from './harness.ts';

const NODES = 6;
const MODULE_TRACE = fileURLToPath(new URL('../helpers/module-trace.ts', import.meta.url));
const SECRET = 'a-shared-secret-of-enough-bytes';

let c: Cluster;
let forwarder: Forwarder;
const instances: { program: Program; url: string; lines: string[] }[] = [];

before(async () => {
  c = await startCluster({
    nodes: NODES,
    podsPerNode: 3,
    housekeepingMs: 1000,
    seed: 'e2e-shard',
    specialPods: false,
  });
  await writeFile(c.file('shard-secret'), `${SECRET}\n`, { mode: 0o600 });
  for (let i = 0; i < 3; i++) {
    const lines: string[] = [];
    // --port=0: the kernel picks the port (none is freed and taken between two processes).
    // Every module each instance loads, to show that a shard instance never loads client-node.
    const env = { NODE_OPTIONS: `--import=${MODULE_TRACE}`, MODULE_TRACE_FILE: c.file(`modules-${i}`) };
    const program = startProgram(
      'scrape',
      c.scrapeArgs('--port=0', '--bind-address=127.0.0.1', ...shardFlags('http://unused.invalid')),
      (l) => lines.push(l),
      env,
    );
    instances.push({ program, url: '', lines });
  }
  for (const i of instances) {
    await waitFor('a scrape trigger server to listen', 20_000, async () => {
      const m = i.lines
        .map((l) => /"Scrape trigger server listening" address="([^"]+)"/.exec(l))
        .find(Boolean);
      if (m) i.url = m[1]!;
      return m !== undefined;
    });
  }
  forwarder = await startForwarder(instances.map((i) => i.url));
});
after(async () => {
  await Promise.all(instances.map((i) => i.program.stop()));
  await forwarder?.close();
  await c?.stop();
});

function shardFlags(url: string): string[] {
  return [
    '--shard-size=2',
    `--shard-url=${url}`,
    `--shard-secret-file=${c.file('shard-secret')}`,
    '--shard-timeout=3s',
  ];
}

/** The node list the serve function answers now: each node's timestamp. */
async function servedNodes(): Promise<Map<string, string>> {
  const r = await c.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes']);
  assert.equal(r.code, 0, r.stderr);
  return new Map(
    NodeMetricsList.parse(JSON.parse(r.stdout)).items.map((i) => [i.metadata.name, i.timestamp]),
  );
}

const requestsServed = () =>
  c.sim.cluster.nodes().reduce((n, node) => n + c.sim.kubelets.served(node.name).length, 0);

describe('POST /shard', () => {
  test('without the shared secret, or with a wrong one, gets 401 and scrapes nothing', async () => {
    const before = requestsServed();
    const body = JSON.stringify({
      cycle: Date.now(),
      coordinator: 'test',
      expiresAt: Date.now() + 60_000,
      resolutionMs: 60_000,
      shard: { index: 0, of: 1 },
      timeoutMs: 3000,
      nodes: [{ name: 'sim-node-0001', labels: {}, annotations: {}, addresses: [], kubeletPort: 0 }],
      pods: [],
    });
    for (const headers of [
      {},
      { authorization: 'Bearer not-the-secret-at-all' },
      { authorization: SECRET },
    ]) {
      const r = await fetch(`${instances[0]!.url}/shard`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(((await r.json()) as { error: string }).error, /unauthorized/);
    }
    // With the secret, a body that is not a shard request is refused naming the field.
    const bad = await fetch(`${instances[0]!.url}/shard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ ...JSON.parse(body), nodes: [] }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /nodes/);
    assert.equal(requestsServed(), before, 'no kubelet was asked');
  });
});

describe('a sharded cycle across three instances', () => {
  test('serves every node, its shards spread over the instances', async () => {
    for (let i = 0; i < 2; i++) {
      // A rate needs two samples of different times: the kubelets' housekeeping ticks every second, and
      // two cycles of short-lived processes can come within one tick.
      if (i > 0) await new Promise((done) => setTimeout(done, 1100));
      const r = await c.cycle([...shardFlags(forwarder.url), '--v=1']);
      assert.equal(r.code, 0, r.lines.join('\n'));
      assert.ok(
        r.lines.some((l) => l.includes('"Scrape cycle finished"') && l.includes(`scraped=${NODES}`)),
        r.lines.join('\n'),
      );
    }
    const served = await servedNodes();
    assert.equal(served.size, NODES);
    // 3 shards per cycle, 2 cycles, round robin over 3 instances: each scraped 2.
    assert.deepEqual(
      instances.map((i) => forwarder.counts.get(i.url)),
      [2, 2, 2],
    );
    const shardLines = c.scrapeLog.filter((l) => l.includes('"Shard scraped"'));
    assert.equal(shardLines.length, 3, c.scrapeLog.join('\n'));
    assert.equal(
      new Set(shardLines.map((l) => /instance=(\S+)/.exec(l)?.[1])).size,
      3,
      shardLines.join('\n'),
    );
  });

  test('a shard instance never loads client-node (its kubelet credentials read without it)', async () => {
    for (const [i, _] of instances.entries()) {
      const loaded = (await readFile(c.file(`modules-${i}`), 'utf8')).split('\n');
      assert.ok(
        loaded.some((u) => u.endsWith('/functions/scrape/shard.ts')),
        `instance ${i} traced its modules`,
      );
      const clientNode = loaded.filter((u) => u.includes('/@kubernetes/client-node/'));
      assert.deepEqual(clientNode, [], `instance ${i} loaded client-node`);
    }
  });

  test('nor does the coordinator: a --once cycle lists the API server with those credentials too', async () => {
    const trace = c.file('modules-coordinator');
    const r = await c.cycle([...shardFlags(forwarder.url), '--v=1'], {
      NODE_OPTIONS: `--import=${MODULE_TRACE}`,
      MODULE_TRACE_FILE: trace,
    });
    assert.equal(r.code, 0, r.lines.join('\n'));
    assert.equal(r.lines.filter((l) => l.includes('"Shard scraped"')).length, 3, r.lines.join('\n'));
    const loaded = (await readFile(trace, 'utf8')).split('\n');
    assert.ok(
      loaded.some((u) => u.endsWith('/functions/scrape/coordinator.ts')),
      'the coordinator traced',
    );
    const clientNode = loaded.filter((u) => u.includes('/@kubernetes/client-node/'));
    assert.deepEqual(clientNode, [], 'the coordinator loaded client-node');
  });

  for (const fault of ['hang', 'fail'] as const) {
    test(`a shard that ${fault === 'hang' ? 'never answers' : 'fails'} costs only its nodes one cycle, logged once`, async () => {
      const before = await servedNodes();
      // The second shard of the cut (sorted by name: sim-node-0003 and sim-node-0004).
      forwarder.faults.set(1, fault);
      const started = Date.now();
      let r: Awaited<ReturnType<Cluster['cycle']>>;
      try {
        // Fresh samples for every node (housekeeping every second).
        await new Promise((done) => setTimeout(done, 1100));
        r = await c.cycle(shardFlags(forwarder.url));
      } finally {
        forwarder.faults.delete(1);
      }
      assert.equal(r.code, 0, r.lines.join('\n'));
      const failedLines = r.lines.filter((l) => l.includes('Shard failed'));
      assert.equal(failedLines.length, 1, r.lines.join('\n'));
      assert.match(failedLines[0]!, /shard="2\/3"/);
      assert.match(failedLines[0]!, /nodes=2/);
      assert.ok(failedLines[0]!.includes(forwarder.url), failedLines[0]);
      assert.match(failedLines[0]!, fault === 'hang' ? /no answer within 3000ms/ : /HTTP 502/);
      if (fault === 'hang') assert.ok(Date.now() - started >= 3000);
      assert.ok(
        r.lines.some((l) => l.includes('"Scrape cycle finished"') && l.includes(`scraped=${NODES - 2}`)),
        r.lines.join('\n'),
      );
      const after = await servedNodes();
      assert.equal(after.size, NODES, "the failed shard's nodes are still served, from their last points");
      for (const [node, ts] of after) {
        const cut = node === 'sim-node-0003' || node === 'sim-node-0004';
        if (cut) assert.equal(ts, before.get(node), `${node} kept its last point`);
        else assert.ok(Date.parse(ts) > Date.parse(before.get(node)!), `${node} has a new point`);
      }
    });
  }
});

describe('the scraper stops at start with one line', () => {
  for (const [flags, message] of [
    [['--shard-size=2', '--shard-url=http://scraper'], '--shard-url requires --shard-secret-file'],
    [['--shard-url=http://scraper', '--shard-secret-file=/nonexistent'], '--shard-url requires --shard-size'],
    [
      ['--shard-size=2', '--shard-secret-file=/nonexistent/secret'],
      'cannot read --shard-secret-file /nonexistent/secret',
    ],
    [['--shard-size=2', '--shard-secret-file=SHORT'], 'holds fewer than 16 bytes'],
  ] as const) {
    test(flags.join(' '), async () => {
      const args = flags.map((f) => (f.endsWith('=SHORT') ? `--shard-secret-file=${c.file('short')}` : f));
      await writeFile(c.file('short'), 'short\n');
      const lines: string[] = [];
      const p = startProgram('scrape', c.scrapeArgs('--once', ...args), (l) => lines.push(l));
      const code = await p.exited;
      assert.notEqual(code, 0);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.ok(lines[0]!.includes(message), lines[0]);
    });
  }
});
