/**
 * The events function on a real Redis Cluster (three private masters): every journal, cursor and lease
 * script touches one slot (the scope's hash tag), so a pass, standby and the redis sink work unchanged
 * through `--redis-cluster-nodes`; a script whose keys spanned slots would fail here with CROSSSLOT.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createEvents, passSucceeded } from '../../../functions/events/events.ts';
import { configuredSinks } from '../../../functions/events/sink-config.ts';
import { loadEventsConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { connect, createRedis } from '../../../shared/store/redis.ts';
import { type RedisCluster, startRedisCluster } from '../../../sim/processes.ts';
import { SimEvents } from '../../helpers/sim-event-source.ts';

let cluster: RedisCluster;
before(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});
after(() => cluster.stop());

test('a pass journals and delivers through a Redis Cluster, the redis sink included', {
  timeout: 60_000,
}, async () => {
  const store = new SimEvents();
  const made = [store.add(), store.add({ newStyle: true }), store.add({ namespace: 'kube-system' })];
  const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const config = loadEventsConfig(['--redis-cluster-nodes', nodes, '--sink', 'redis:?stream=k8s-events'], {});
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
  const events = createEvents(config, log, configuredSinks(config.sink, ''), {
    source: store.source(20),
  });
  const check = createRedis({ mode: 'cluster', nodes: cluster.nodes }, { commandTimeoutMs: 5000 });
  try {
    const first = await events.pass();
    assert.equal(passSucceeded(first), true, JSON.stringify(first) + lines.join('\n'));
    store.bump(made[0]!);
    const second = await events.pass();
    assert.equal(passSucceeded(second), true, lines.join('\n'));
    assert.deepEqual(second.read && [second.read.journaled, second.read.relists], [1, 0]);
    await connect(check, 10_000);
    const ids = ((await check.xrange('k8s-events', '-', '+')) as [string, string[]][]).map(([, f]) => f[1]);
    assert.equal(ids.length, 4);
    assert.equal(new Set(ids).size, 4);
    const status = await events.status();
    assert.deepEqual(
      status.sinks.map((s) => s.backlog),
      [0],
    );
    assert.ok(!lines.some((l) => l.includes('CROSSSLOT')), lines.join('\n'));
  } finally {
    check.disconnect();
    await events.close();
  }
});
