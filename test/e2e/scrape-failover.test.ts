/**
 * A scraper killed mid-cycle costs nothing visible, end to end: two instances run `--loop` against the
 * simulated cluster; for a minute, whichever is running a cycle is SIGKILLed in the middle of it (the
 * first run of every cycle, so each cycle is lost once) and started again. The other instance, or the
 * restarted one, retakes the cycle once the dead runner's lease lapses, well within the grace, so a
 * reader polling the serve function every 100 ms never misses a healthy node, and the timestamps keep
 * advancing.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import type { Program } from '../../sim/processes.ts';
import type { Cluster } from './harness.ts';
import {
  judgePolls,
  lock,
  RUN_MS,
  startFailoverCluster,
  startInstance,
  startReader,
} from './scrape-failover-harness.ts';

let c: Cluster;
before(async () => {
  c = await startFailoverCluster('e2e-failover');
});
after(async () => c?.stop());

test('two --loop scrapers, the one running a cycle SIGKILLed mid-cycle and restarted, for a minute: a reader every 100 ms never misses a node', async () => {
  const lines: string[] = [];
  const start = async (): Promise<Program> => (await startInstance(c, lines)).program;
  await c.db.redis.flushdb();
  const instances = [await start(), await start()];
  const kills: { cycle: string; holder: string }[] = [];
  let result: Awaited<ReturnType<Awaited<ReturnType<typeof startReader>>['stop']>>;
  try {
    const reader = await startReader(c);
    // The killer: the first run of each cycle (named by its due time; a retake keeps it) is killed
    // part-way through, while its slow kubelet has not answered yet.
    const killed = new Set<string>();
    const until = Date.now() + RUN_MS;
    while (Date.now() < until) {
      const l = await lock(c);
      const victim = instances.findIndex((p) => l?.holder === `${hostname()}/${p.child.pid}`);
      if (l && l.state === 'running' && !killed.has(l.due) && victim >= 0) {
        await new Promise((done) => setTimeout(done, 200 + Math.random() * 600));
        const now = await lock(c);
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
    result = await reader.stop();
  } finally {
    await Promise.all(instances.map((p) => p.stop()));
  }

  assert.ok(kills.length >= 4, `runners were killed mid-cycle: ${kills.length}`);
  console.log(
    `failover: ${kills.length} runners killed mid-cycle, ${judgePolls(result.polls, result.errors, kills.length)}`,
  );
  const retakes = lines.filter((l) =>
    l.includes('"Retaking the scrape cycle of an instance that stopped renewing its lease"'),
  );
  assert.ok(retakes.length >= kills.length - 1, `retakes: ${retakes.length}\n${lines.join('\n')}`);
});
