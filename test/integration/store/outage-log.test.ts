/**
 * A Redis outage is reported once, not once per reconnect attempt, and its end is reported too: what
 * both functions log through createRedis, against a real redis-server that is absent, then started.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../shared/log.ts';
import { connect, createRedis } from '../../../shared/store/redis.ts';
import { freePort, startRedisServer, waitFor } from '../../../sim/processes.ts';

test('one warning per outage, one line when Redis is back, attempts in between at --v=4', async () => {
  const port = await freePort();
  const lines: string[] = [];
  const verbose: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
  const debugLog = createLogger({ format: 'json', verbosity: 4, write: (l) => verbose.push(l) });
  const quiet = createRedis(
    { mode: 'single', url: `redis://127.0.0.1:${port}` },
    { commandTimeoutMs: 500, log },
  );
  const chatty = createRedis(
    { mode: 'single', url: `redis://127.0.0.1:${port}` },
    { commandTimeoutMs: 500, log: debugLog },
  );
  const server = { current: null as Awaited<ReturnType<typeof startRedisServer>> | null };
  try {
    await Promise.all([connect(quiet).catch(() => {}), connect(chatty).catch(() => {})]);
    // Let ioredis retry a few times (100 ms, 200 ms, …) while nothing listens.
    await new Promise((r) => setTimeout(r, 800));
    const failed = lines.filter((l) => l.includes('Redis connection failed; retrying'));
    assert.equal(failed.length, 1, lines.join('\n'));
    assert.match(failed[0]!, /ECONNREFUSED/);
    assert.ok(verbose.filter((l) => l.includes('Redis connection error')).length >= 1, verbose.join('\n'));

    server.current = await startRedisServer({ port });
    await waitFor('reconnect', 5000, async () => quiet.status === 'ready');
    await waitFor('log line', 2000, async () => lines.some((l) => l.includes('Redis connection restored')));
    assert.equal(await quiet.ping(), 'PONG');
    assert.equal(lines.filter((l) => l.includes('Redis connection failed')).length, 1);
  } finally {
    quiet.disconnect();
    chatty.disconnect();
    await server.current?.stop();
  }
});
