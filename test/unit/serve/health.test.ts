import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp, createProbeApp } from '../../../functions/serve/app.ts';
import { StoreProbe } from '../../../functions/serve/health.ts';
import { StoreUnavailableError } from '../../../shared/store/redis.ts';
import { appWith, FakeReader, quietLog, V1BETA1 } from './fake-reader.ts';

async function text(app: { request(p: string): Response | Promise<Response> }, path: string) {
  const r = await app.request(path);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

describe('health endpoints of a healthy server', () => {
  for (const endpoint of ['healthz', 'livez', 'readyz']) {
    test(`/${endpoint} says ok as plain text`, async () => {
      const { app } = appWith();
      assert.deepEqual(await text(app, `/${endpoint}`), {
        status: 200,
        body: 'ok',
        type: 'text/plain; charset=utf-8',
      });
    });
  }

  test('/readyz?verbose lists each check, then "readyz check passed"', async () => {
    const { app } = appWith();
    assert.equal(
      (await text(app, '/readyz?verbose')).body,
      '[+]ping ok\n[+]redis ok\n[+]shutdown ok\nreadyz check passed\n',
    );
  });

  test('/livez?verbose and /healthz?verbose', async () => {
    const { app } = appWith();
    assert.equal((await text(app, '/livez?verbose')).body, '[+]ping ok\nlivez check passed\n');
    assert.equal((await text(app, '/healthz?verbose=1')).body, '[+]ping ok\nhealthz check passed\n');
  });

  test('each check has its own path', async () => {
    const { app } = appWith();
    for (const path of [
      '/readyz/ping',
      '/readyz/redis',
      '/readyz/shutdown',
      '/livez/ping',
      '/healthz/ping',
    ]) {
      assert.deepEqual(
        await text(app, path),
        { status: 200, body: 'ok', type: 'text/plain; charset=utf-8' },
        path,
      );
    }
    assert.equal((await text(app, '/readyz/nothing')).status, 404);
  });

  test('readiness does not depend on having data: an empty store is ready', async () => {
    const { app } = appWith(new FakeReader([], []));
    assert.equal((await text(app, '/readyz')).status, 200);
  });

  test('?exclude= skips a check, and names the ones that do not exist', async () => {
    const { app } = appWith();
    assert.equal(
      (await text(app, '/readyz?verbose&exclude=redis&exclude=nope')).body,
      '[+]ping ok\n[+]redis excluded: ok\n[+]shutdown ok\n' +
        'warn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
    );
  });
});

describe('health endpoints when Redis is down', () => {
  const down = () => {
    const reader = new FakeReader();
    reader.down = true;
    return appWith(reader).app;
  };

  test('/readyz is 500 and withholds the reason, verbose or not', async () => {
    const app = down();
    const failing = '[+]ping ok\n[-]redis failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n';
    assert.deepEqual(await text(app, '/readyz'), {
      status: 500,
      body: failing,
      type: 'text/plain; charset=utf-8',
    });
    assert.equal((await text(app, '/readyz?verbose')).body, failing);
  });

  test('/readyz/redis gives the reason', async () => {
    assert.deepEqual(await text(down(), '/readyz/redis'), {
      status: 500,
      body: 'internal server error: redis unavailable: connect ECONNREFUSED 127.0.0.1:6399\n',
      type: 'text/plain; charset=utf-8',
    });
  });

  test('liveness never depends on Redis', async () => {
    const app = down();
    assert.equal((await text(app, '/livez')).status, 200);
    assert.equal((await text(app, '/healthz')).status, 200);
  });

  test('excluding the redis check makes /readyz pass', async () => {
    assert.equal((await text(down(), '/readyz?exclude=redis')).status, 200);
  });
});

describe('shutting down', () => {
  test('/readyz fails on the shutdown check while /livez still passes', async () => {
    const { app } = appWith(new FakeReader(), { shuttingDown: () => true });
    const r = await text(app, '/readyz?verbose');
    assert.equal(r.status, 500);
    assert.equal(
      r.body,
      '[+]ping ok\n[+]redis ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    );
    assert.equal(
      (await text(app, '/readyz/shutdown')).body,
      'internal server error: process is shutting down\n',
    );
    assert.equal((await text(app, '/livez')).status, 200);
  });

  test("OpenFaaS' /_/health fails too (faas-netes probes it for readiness, as of-watchdog fails it after SIGTERM)", async () => {
    let stopping = false;
    for (const app of [
      appWith(new FakeReader(), { shuttingDown: () => stopping }).app,
      createProbeApp({
        log: quietLog(),
        store: new StoreProbe(() => Promise.resolve()),
        shuttingDown: () => stopping,
      }),
    ]) {
      stopping = false;
      assert.equal((await text(app, '/_/health')).status, 200);
      stopping = true;
      assert.equal((await text(app, '/_/health')).status, 500);
      assert.equal((await text(app, '/_/ready')).status, 500);
      assert.equal((await text(app, '/livez')).status, 200, 'liveness proper does not change');
    }
  });
});

describe('the redis readiness check (StoreProbe)', () => {
  test('reuses a PING younger than freshMs instead of adding a round trip per probe', async () => {
    let now = 1_000_000;
    let pings = 0;
    const probe = new StoreProbe(async () => void pings++, { freshMs: 1000, now: () => now });
    assert.equal(await probe.check(), null);
    now += 999;
    assert.equal(await probe.check(), null);
    assert.equal(pings, 1);
    now += 1;
    assert.equal(await probe.check(), null);
    assert.equal(pings, 2);
  });

  test('concurrent probes share one PING', async () => {
    let pings = 0;
    const probe = new StoreProbe(async () => {
      pings++;
      await new Promise((r) => setTimeout(r, 5));
    });
    await Promise.all([probe.check(), probe.check(), probe.check()]);
    assert.equal(pings, 1);
  });

  test('a request that found Redis down voids the cached success', async () => {
    let up = true;
    const probe = new StoreProbe(async () => {
      if (!up) throw new StoreUnavailableError(new Error('Connection is closed.'));
    });
    assert.equal(await probe.check(), null);
    up = false;
    probe.failed(new StoreUnavailableError(new Error('Connection is closed.')));
    assert.equal(await probe.check(), 'redis unavailable: Connection is closed.');
    up = true;
    assert.equal(await probe.check(), null, 'recovers by itself');
  });

  test('a 503 answered to a request makes the next /readyz ask Redis again', async () => {
    const reader = new FakeReader();
    const app = createApp({ reader, log: quietLog() });
    assert.equal((await app.request('/readyz')).status, 200);
    reader.down = true;
    assert.equal((await app.request(`${V1BETA1}/nodes`)).status, 503);
    assert.equal((await app.request('/readyz')).status, 500);
    reader.down = false;
    assert.equal((await app.request('/readyz')).status, 200);
  });
});

describe('the plain-HTTP probe app (--port)', () => {
  // freshMs 0: every probe PINGs, so a change of the store shows at once.
  const probeApp = (reader = new FakeReader()) =>
    createProbeApp({
      log: quietLog(),
      store: new StoreProbe(() => reader.ping(), { freshMs: 0 }),
      shuttingDown: () => false,
    });

  test("OpenFaaS' /_/health is liveness and /_/ready is readiness", async () => {
    const reader = new FakeReader();
    const app = probeApp(reader);
    assert.deepEqual(await text(app, '/_/health'), {
      status: 200,
      body: 'ok',
      type: 'text/plain; charset=utf-8',
    });
    assert.equal((await text(app, '/_/ready')).status, 200);
    reader.down = true;
    assert.equal((await text(app, '/_/health')).status, 200);
    assert.equal((await text(app, '/_/ready')).status, 500);
  });

  test('serves health only, never metrics (it has no authentication)', async () => {
    const app = probeApp();
    assert.equal((await text(app, '/readyz')).status, 200);
    assert.equal((await text(app, `${V1BETA1}/nodes`)).status, 404);
    assert.equal((await text(app, '/apis')).status, 404);
  });

  test('the main app answers the platform probes too', async () => {
    const { app } = appWith();
    assert.equal((await text(app, '/_/health')).body, 'ok');
    assert.equal((await text(app, '/_/ready')).body, 'ok');
  });
});
