/**
 * What the scrape failover tests share: the simulated cluster with one slow kubelet (every cycle lasts
 * long enough to be killed mid-way), scraper instances run as the real program and restarted after a
 * SIGKILL, a reader polling the serve function's node list every 100 ms, and the figures judged from its
 * polls: no healthy node ever missing, timestamps advancing and never going back.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { NodeMetricsList } from '../../shared/metrics-api.ts';
import { keys } from '../../shared/store/keys.ts';
import { freePort, type Program, startProgram } from '../../sim/processes.ts';
import { type Cluster, startCluster } from './harness.ts';

export const NODES = ['sim-node-0001', 'sim-node-0002', 'sim-node-0003'];
/** The shortest resolution allowed: the most cycles (and kills) in a minute. */
export const RESOLUTION = '10s';
export const RUN_MS = 60_000;
/** One kubelet answers this late (within the timeout): every cycle lasts long enough to be killed mid-way. */
const SLOW_MS = 1500;

export async function startFailoverCluster(seed: string): Promise<Cluster> {
  const c = await startCluster({ nodes: 3, podsPerNode: 3, housekeepingMs: 1000, seed, specialPods: false });
  c.sim.cluster.setFault('sim-node-0003', { kind: 'slow', delayMs: SLOW_MS });
  return c;
}

/** One poll of the node list, straight to the serve function with a viewer's token. */
function nodesNow(c: Cluster, agent: Agent): Promise<{ status: number; body: string }> {
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
export async function lock(
  c: Cluster,
): Promise<{ start: string; due: string; state: string; holder: string } | null> {
  const v = await c.db.redis.get(keys.scrapeLock);
  const m = /^(\d+) (\d+) (\d+) (\w+) (.*)$/.exec(v ?? '');
  return m ? { start: m[1]!, due: m[2]!, state: m[4]!, holder: m[5]! } : null;
}

/** A scraper instance run as the real program: `--loop` at RESOLUTION, on `port` (default: a free one). */
export async function startInstance(
  c: Cluster,
  lines: string[],
  extra: string[] = [],
  port?: number,
): Promise<{ program: Program; port: number }> {
  const p = port ?? (await freePort());
  const program = startProgram(
    'scrape',
    c.scrapeArgs(
      '--loop',
      `--metric-resolution=${RESOLUTION}`,
      '--kubelet-request-timeout=3s',
      `--port=${p}`,
      '--bind-address=127.0.0.1',
      ...extra,
    ),
    (l) => lines.push(l),
  );
  return { program, port: p };
}

export interface Poll {
  at: number;
  missing: string[];
  timestamps: Map<string, string>;
}

/**
 * The reader: waits until every node is served (a rate needs two cycles), then polls every 100 ms until
 * `stop` is called; `stop` resolves with its polls and the answers that were not 200.
 */
export async function startReader(
  c: Cluster,
): Promise<{ stop(): Promise<{ polls: Poll[]; errors: string[] }> }> {
  const agent = new Agent({ ca: c.serveCaPem, keepAlive: true, maxSockets: 1 });
  const t0 = Date.now();
  while (Date.now() - t0 < 60_000) {
    const r = await nodesNow(c, agent);
    if (r.status === 200 && NodeMetricsList.parse(JSON.parse(r.body)).items.length === NODES.length) break;
    await new Promise((done) => setTimeout(done, 200));
  }
  const polls: Poll[] = [];
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        const r = await nodesNow(c, agent);
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
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { polls, errors };
    },
  };
}

/** Judges the reader's polls after `kills` SIGKILLs (the caller prints the summary it returns). */
export function judgePolls(polls: Poll[], errors: string[], kills: number): string {
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
  assert.deepEqual(errors, []);
  assert.ok(polls.length >= 100, `the reader kept polling: ${polls.length}`);
  assert.deepEqual(
    gaps.map((p) => `${new Date(p.at).toISOString()} missing ${p.missing.join(',')}`),
    [],
    'no healthy node was ever missing',
  );
  // Every killed cycle was retaken and published: each brought a new sample.
  assert.ok(distinct.size >= kills, `timestamps kept advancing: ${distinct.size} for ${kills} kills`);
  // The timestamps only ever move forward.
  for (const node of NODES) {
    const seen = polls.map((p) => Date.parse(p.timestamps.get(node) ?? '')).filter((t) => !Number.isNaN(t));
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]! >= seen[i - 1]!, `${node}'s timestamp went back`);
  }
  return (
    `${polls.length} polls, ${gaps.length} with a node missing, ${distinct.size} distinct timestamps of ` +
    `sim-node-0001, longest between two: ${(still / 1000).toFixed(1)} s`
  );
}
