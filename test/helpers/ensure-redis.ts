/**
 * `npm test` needs a Redis server (tests use the real thing). If none answers at 127.0.0.1:6379
 * (or REDIS_TEST_URL), start one, if `redis-server` is installed; otherwise say how to get one.
 */
import { spawnSync } from 'node:child_process';
import { redisAnswers } from '../../sim/processes.ts';

const url = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

const ping = () => redisAnswers(url);

if (!(await ping())) {
  const port = new URL(url).port || '6379';
  const started = spawnSync(
    'redis-server',
    ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', port, '--save', '', '--appendonly', 'no'],
    { stdio: 'inherit' },
  );
  let up = false;
  for (let i = 0; i < 50 && started.status === 0 && !up; i++) {
    await new Promise((r) => setTimeout(r, 100));
    up = await ping();
  }
  if (!up) {
    process.stderr.write(
      `error: the tests need a Redis server at ${url} and none answers; ` +
        'install one (Debian: apt-get install redis-server) or set REDIS_TEST_URL\n',
    );
    process.exit(1);
  }
  process.stderr.write(`started redis-server on port ${port} for the tests\n`);
}
