/**
 * A scraper killed mid-cycle costs nothing visible, end to end: two instances run `--loop` against the
 * simulated cluster; for a minute, whichever is running a cycle is SIGKILLed in the middle of it (the
 * first run of every cycle, so each cycle is lost once) and started again. The other instance, or the
 * restarted one, retakes the cycle once the dead runner's lease lapses, well within the grace, so a
 * reader polling the serve function every 100 ms never misses a healthy node, and the timestamps keep
 * advancing.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import { NodeMetricsList } from '../../shared/metrics-api.ts';
import { keys } from '../../shared/store/keys.ts';
import { type Program, startProgram } from '../../sim/processes.ts';
import { type Cluster, startCluster } from './harness.ts';

const NODES = ['sim-node-0001', 'sim-node-0002', 'sim-node-0003'];
/** The shortest resolution allowed: the most cycles (and kills) in a minute. */
const RESOLUTION = '10s';
const RUN_MS = 60_000;
/** One kubelet answers this late (within the timeout): every cycle lasts long enough to be killed mid-way. */
const SLOW_MS = 1500;

let c: Cluster;
before(async () => {
  c = await startCluster({
    nodes: 3,
    podsPerNode: 3,
    housekeepingMs: 1000,
    seed: 'e2e-failover',
    specialPods: false,
  });
  c.sim.cluster.setFault('sim-node-0003', { kind: 'slow', delayMs: SLOW_MS });
});
after(async () => c?.stop());

/** One poll of the node list, straight to the serve function with a viewer's token. */
function nodesNow(agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.serveUrl}/apis/metrics.k8s.io/v1beta1/nodes`,
      { agent, headers: { authorization: `Bearer ${c.sim.tokens.viewer}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          body += s;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The lock's cycle: its start, due time, state and holder (`<start> <due> <until> <state> <holder>`). */
async function lock(): Promise<{ start: string; due: string; state: string; holder: string } | null> {
  const v = await c.db.redis.get(keys.scrapeLock);
  const m = /^(\d+) (\d+) (\d+) (\w+) (.*)$/.exec(v ?? '');
  return m ? { start: m[1]!, due: m[2]!, state: m[4]!, holder: m[5]! } : null;
}

test('two --loop scrapers, the one running a cycle SIGKILLed mid-cycle and restarted, for a minute: a reader every 100 ms never misses a node', async () => {
  const lines: string[] = [];
  const start = async (): Promise<Program> => {
    return startProgram(
      'scrape',
      c.scrapeArgs(
        '--loop',
        `--metric-resolution=${RESOLUTION}`,
        '--kubelet-request-timeout=3s',
        '--port=0',
        '--bind-address=127.0.0.1',
      ),
      (l) => lines.push(l),
    );
  };
  await c.db.redis.flushdb();
  const instances = [await start(), await start()];
  const agent = new Agent({ ca: c.serveCaPem, keepAlive: true, maxSockets: 1 });
  const polls: { at: number; missing: string[]; timestamps: Map<string, string> }[] = [];
  const errors: string[] = [];
  const kills: { cycle: string; holder: string }[] = [];
  let running = true;
  try {
    // Serving starts after two cycles (a rate needs two samples): the second comes one resolution after
    // the first, then the reader starts.
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      const r = await nodesNow(agent);
      if (r.status === 200 && NodeMetricsList.parse(JSON.parse(r.body)).items.length === NODES.length) break;
      await new Promise((done) => setTimeout(done, 200));
    }

    const reader = (async () => {
      while (running) {
        const at = Date.now();
        try {
          const r = await nodesNow(agent);
          if (r.status !== 200) errors.push(`${r.status} ${r.body.slice(0, 200)}`);
          else {
            const items = NodeMetricsList.parse(JSON.parse(r.body)).items;
            polls.push({
              at,
              missing: NODES.filter((n) => !items.some((i) => i.metadata.name === n)),
              timestamps: new Map(items.map((i) => [i.metadata.name, i.timestamp])),
            });
          }
        } catch (err) {
          errors.push(String(err));
        }
        await new Promise((done) => setTimeout(done, Math.max(0, at + 100 - Date.now())));
      }
    })();

    // The killer: the first run of each cycle (named by its due time; a retake keeps it) is killed
    // part-way through, while its slow kubelet has not answered yet.
    const killed = new Set<string>();
    const until = Date.now() + RUN_MS;
    while (Date.now() < until) {
      const l = await lock();
      const victim = instances.findIndex((p) => l?.holder === `${hostname()}/${p.child.pid}`);
      if (l && l.state === 'running' && !killed.has(l.due) && victim >= 0) {
        await new Promise((done) => setTimeout(done, 200 + Math.random() * 600));
        const now = await lock();
        if (now?.start === l.start && now.state === 'running') {
          killed.add(l.due);
          instances[victim]!.child.kill('SIGKILL');
          await instances[victim]!.exited;
          kills.push({ cycle: l.start, holder: l.holder });
          instances[victim] = await start();
        }
      }
      await new Promise((done) => setTimeout(done, 20));
    }
    running = false;
    await reader;
  } finally {
    running = false;
    agent.destroy();
    await Promise.all(instances.map((p) => p.stop()));
  }

  const gaps = polls.filter((p) => p.missing.length > 0);
  const distinct = new Set(polls.map((p) => p.timestamps.get('sim-node-0001')));
  // How long the served timestamp of a node stood still at most (a resolution, plus a retake after a kill).
  let still = 0;
  for (let i = 1, since = polls[0]?.at ?? 0; i < polls.length; i++) {
    if (polls[i]!.timestamps.get('sim-node-0001') !== polls[i - 1]!.timestamps.get('sim-node-0001')) {
      still = Math.max(still, polls[i]!.at - since);
      since = polls[i]!.at;
    }
  }
  console.log(
    `failover: ${kills.length} runners killed mid-cycle, ${polls.length} polls, ${gaps.length} with a node missing, ` +
      `${distinct.size} distinct timestamps of sim-node-0001, longest between two: ${(still / 1000).toFixed(1)} s`,
  );
  assert.ok(kills.length >= 4, `runners were killed mid-cycle: ${kills.length}`);
  assert.deepEqual(errors, []);
  assert.ok(polls.length >= 100, `the reader kept polling: ${polls.length}`);
  assert.deepEqual(
    gaps.map((p) => `${new Date(p.at).toISOString()} missing ${p.missing.join(',')}`),
    [],
    'no healthy node was ever missing',
  );
  // Every killed cycle was retaken and published: each brought a new sample.
  assert.ok(
    distinct.size >= kills.length,
    `timestamps kept advancing: ${distinct.size} for ${kills.length} kills`,
  );
  const retakes = lines.filter((l) =>
    l.includes('"Retaking the scrape cycle of an instance that stopped renewing its lease"'),
  );
  assert.ok(retakes.length >= kills.length - 1, `retakes: ${retakes.length}\n${lines.join('\n')}`);
  // The timestamps only ever move forward.
  for (const node of NODES) {
    const seen = polls.map((p) => Date.parse(p.timestamps.get(node) ?? '')).filter((t) => !Number.isNaN(t));
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]! >= seen[i - 1]!, `${node}'s timestamp went back`);
  }
});
