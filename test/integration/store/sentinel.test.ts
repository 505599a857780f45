/**
 * Redis Sentinel failover under load: a real master, a replica and three Sentinels; the real scraper
 * program runs `--loop` and two serve replicas answer continuously while the master fails. DESIGN.md's
 * fault table: both functions follow the new master by themselves, serve is back within 5 s, and no
 * wrong answer is ever served (test/helpers/answers.ts says exactly what a wrong answer is).
 *
 * Two ways a master fails: it is SIGKILLed (a crash: its connections drop at once), and an operator's
 * `SENTINEL FAILOVER` (an upgrade: the old master stays up and keeps accepting writes until the Sentinels
 * turn it into a replica, seconds later, so a client that waits to be disconnected writes into the void).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { keys } from '../../../shared/store/keys.ts';
import { connect, createRedis } from '../../../shared/store/redis.ts';
import { redisServerInstalled, waitFor } from '../../../sim/processes.ts';
import {
  describeFigures,
  type FailoverRun,
  failoverContract,
  failoverUnderLoad,
} from '../../helpers/failover.ts';
import { onServer, type SentinelGroup, startSentinelGroup } from '../../helpers/redis-topology.ts';

/** The Sentinels' settings docs/behaviour.md asks operators for (section *High availability*). */
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 10_000;

/** The scenario (helpers/failover.ts) on a fresh Sentinel group whose master fails as `how` says. */
async function sentinelFailover(how: 'kill' | 'manual'): Promise<{ group: SentinelGroup; run: FailoverRun }> {
  assert.ok(redisServerInstalled(), 'redis-server is installed');
  const group = await startSentinelGroup({
    downAfterMs: DOWN_AFTER_MS,
    failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
  });
  const original = await group.master();
  const run = await failoverUnderLoad(
    {
      flags: [
        `--redis-sentinels=${group.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`,
        `--redis-sentinel-name=${group.name}`,
      ],
      latestCycle: async () =>
        Number(await onServer((await group.master()).port, (r) => r.get(keys.latestCycle))),
      fail: async () => {
        if (how === 'kill') {
          await original.stop(true);
          return `SIGKILL master 127.0.0.1:${original.port}`;
        }
        await onServer(group.sentinels[0]!.port, (r) => r.call('SENTINEL', 'FAILOVER', group.name));
        return `SENTINEL FAILOVER away from 127.0.0.1:${original.port}`;
      },
      failedOver: async () => `127.0.0.1:${(await group.failedOver(original)).port}`,
      onNewMaster: async () =>
        onServer((await group.master()).port, async (r) => ({
          latestCycle: Number(await r.get(keys.latestCycle)),
          nodes: await r.hgetall(keys.nodes),
        })),
      subscribers: async (channel) =>
        onServer((await group.master()).port, async (r) => {
          const [, n] = (await r.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
          return n;
        }),
    },
    (line) => process.stdout.write(`# ${line}\n`),
  );
  for (const line of describeFigures(run)) process.stdout.write(`# sentinel ${how}: ${line}\n`);
  return { group, run };
}

describe('a Sentinel failover under load: the master SIGKILLed', () => {
  let group: SentinelGroup;
  let run: FailoverRun;
  before(async () => ({ group, run } = await sentinelFailover('kill')));
  after(async () => group?.stop());

  failoverContract(() => run);

  test('readiness fails while no master answers and recovers by itself', () => {
    for (const f of run.figures) {
      assert.ok(f.unavailable > 0, `${f.replica} answered 503 while Redis was unreachable`);
      assert.notEqual(f.unreadyAtMs, null, `${f.replica} /readyz failed`);
      assert.notEqual(f.readyAgainMs, null, `${f.replica} /readyz recovered`);
    }
  });
});

describe('a Sentinel failover under load: SENTINEL FAILOVER (the old master stays up)', () => {
  let group: SentinelGroup;
  let run: FailoverRun;
  before(async () => ({ group, run } = await sentinelFailover('manual')));
  after(async () => group?.stop());

  failoverContract(() => run);
});

describe('a Sentinel that stops answering (a paused VM: connections accepted, nothing answered)', () => {
  test('keeps no client from following a failover, and ends none', async () => {
    const group = await startSentinelGroup({
      downAfterMs: DOWN_AFTER_MS,
      failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
    });
    const client = createRedis(
      { mode: 'sentinel', sentinels: group.sentinels, name: group.name },
      { commandTimeoutMs: 1000 },
    );
    let ended = false;
    client.once('end', () => {
      ended = true;
    });
    try {
      await connect(client);
      await client.set('written', 'before');
      // The Sentinel it asked first: every reconnect attempt that asks it waits for it.
      const thaw = group.freeze(0);
      const original = await group.master();
      const killAt = Date.now();
      await original.stop(true);
      await waitFor(
        'the client to write to the new master',
        60_000,
        async () => (await client.set('written', 'after')) === 'OK',
      );
      process.stdout.write(
        `# a frozen Sentinel: the client wrote to the new master ${Date.now() - killAt}ms after the kill\n`,
      );
      const master = await group.failedOver(original);
      assert.equal(await onServer(master.port, (r) => r.get('written')), 'after');
      assert.equal(ended, false, 'the client never ended');
      thaw();
    } finally {
      client.disconnect();
      await group.stop();
    }
  });
});
