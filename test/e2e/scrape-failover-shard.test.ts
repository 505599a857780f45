/**
 * A scraper instance killed while it scrapes a shard costs nothing visible: three instances run `--loop`
 * with shards of one node sent through a round-robin forwarder (standing for the function's Service) to
 * all three; for a minute, an instance is SIGKILLed while it scrapes a shard of the slow kubelet (once a
 * cycle) and started again on its port. The coordinator sends the shard once more (the forwarder picks
 * another instance) or, if the one killed was the coordinator itself, another instance retakes the cycle
 * when its lease lapses; a reader polling every 100 ms never misses a healthy node, and the timestamps
 * keep advancing.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Program } from '../../sim/processes.ts';
import { type Forwarder, startForwarder } from '../helpers/shard-forwarder.ts';
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
  c = await startFailoverCluster('e2e-failover-shard');
});
after(async () => c?.stop());

test('three --loop scrapers with shards of one node, the one scraping the slow shard SIGKILLed and restarted, for a minute: a reader every 100 ms never misses a node', async () => {
  await writeFile(c.file('shard-secret'), 'the-shared-secret-of-the-scrapers\n', { mode: 0o600 });
  const lines: string[] = [];
  let forwarder: Forwarder | undefined;
  const instances: { program: Program; port: number }[] = [];
  const flags = (url: string) => [
    '--shard-size=1',
    `--shard-url=${url}`,
    `--shard-secret-file=${c.file('shard-secret')}`,
  ];
  const kills: string[] = [];
  let result: Awaited<ReturnType<Awaited<ReturnType<typeof startReader>>['stop']>>;
  await c.db.redis.flushdb();
  // The forwarder first (the instances need its URL), its backends once the instances' ports are known.
  forwarder = await startForwarder([]);
  try {
    for (let i = 0; i < 3; i++) instances.push(await startInstance(c, lines, flags(forwarder.url)));
    forwarder.setBackends(instances.map((i) => `http://127.0.0.1:${i.port}`));
    const reader = await startReader(c);
    const killedIn = new Set<string>();
    const until = Date.now() + RUN_MS;
    while (Date.now() < until) {
      // The shard of sim-node-0003 (the slow kubelet: the last of the cut) in flight for a moment.
      const flight = [...forwarder.inFlight].find((f) => f.shard === 2 && Date.now() - f.since > 300);
      const l = await lock(c);
      if (flight && l && !killedIn.has(l.due)) {
        const victim = instances.findIndex((i) => flight.backend === `http://127.0.0.1:${i.port}`);
        if (victim >= 0) {
          killedIn.add(l.due);
          const { program, port } = instances[victim]!;
          program.child.kill('SIGKILL');
          await program.exited;
          kills.push(`${flight.backend} during the cycle due ${l.due}`);
          instances[victim] = await startInstance(c, lines, flags(forwarder.url), port);
        }
      }
      await new Promise((done) => setTimeout(done, 20));
    }
    result = await reader.stop();
  } finally {
    await Promise.all(instances.map((i) => i.program.stop()));
    await forwarder.close();
  }
  assert.ok(kills.length >= 4, `instances were killed while scraping a shard: ${kills.length}`);
  console.log(
    `failover with shards: ${kills.length} instances killed while scraping a shard, ${judgePolls(result.polls, result.errors, kills.length)}`,
  );
  const failed = lines.filter((l) => l.includes('Shard failed'));
  console.log(`shards that failed even after being sent again: ${failed.length}`);
});
