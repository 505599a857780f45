/**
 * The Worker's fetch handler (infra/workers/worker.ts) without an API server to review requests with:
 * it serves nothing and says what to set, unless authentication is turned off by its loudly named
 * variable, and then every response says so. The module is run on Node here, against the real Redis
 * (these branches use no runtime API; the workerd tests in worker.test.ts cover the reviews).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DISABLED_WARNING } from '../../../infra/workers/auth.ts';
import worker from '../../../infra/workers/worker.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

const NODES = 'https://worker.example/apis/metrics.k8s.io/v1beta1/nodes';

/** An ExecutionContext that keeps what it is handed, so the test can wait for it. */
function context() {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (p: Promise<unknown>) => void pending.push(p),
    settled: () => Promise.allSettled(pending),
  };
}

describe('the Worker without an API server to ask', () => {
  let db: TestDb;
  const lines: string[] = [];
  let restore: () => void;
  before(async () => {
    db = await leaseTestDb();
    const log = console.log;
    console.log = (line: unknown) => void lines.push(String(line));
    restore = () => {
      console.log = log;
    };
  });
  after(async () => {
    restore();
    await db?.release();
  });

  test('refuses every request, health included, with a 500 Status naming what to set, and logs why', async () => {
    for (const url of [NODES, 'https://worker.example/healthz']) {
      const ctx = context();
      const res = await worker.fetch(new Request(url), { REDIS_URL: db.url, KUBE_API_SERVER: '' }, ctx);
      await ctx.settled();
      assert.equal(res.status, 500);
      const status = (await res.json()) as { kind: string; reason: string; message: string };
      assert.equal(status.kind, 'Status');
      assert.equal(status.reason, 'InternalError');
      assert.match(status.message, /the Worker cannot authenticate requests, so it serves none/);
      assert.match(
        status.message,
        /set KUBE_API_SERVER .* and the secret KUBE_AUTH_TOKEN .* or INSECURE_DISABLE_AUTHENTICATION=true/,
      );
    }
    // One line, not one per request.
    assert.equal(lines.filter((l) => l.includes('Refusing every request')).length, 1);
  });

  test('a setting it cannot honour is refused the same way, by name', async () => {
    for (const [env, text] of [
      [
        { INSECURE_DISABLE_AUTHENTICATION: 'yes' },
        'INSECURE_DISABLE_AUTHENTICATION must be true or false, not "yes"',
      ],
      [{ KUBE_API_SERVER: 'http://k8s.example.com', KUBE_AUTH_TOKEN: 't' }, 'is not https://'],
      [
        { KUBE_API_SERVER: 'https://k8s.example.com', KUBE_AUTH_TOKEN: 't', CLIENT_CA_FILE: '/ca.crt' },
        'CLIENT_CA_FILE names a file',
      ],
    ] as const) {
      const res = await worker.fetch(new Request(NODES), { REDIS_URL: db.url, ...env }, context());
      assert.equal(res.status, 500);
      assert.ok(((await res.json()) as { message: string }).message.includes(text), text);
    }
  });

  test('INSECURE_DISABLE_AUTHENTICATION=true serves anyone, says so on every response, and warns once', async () => {
    const env = { REDIS_URL: db.url, INSECURE_DISABLE_AUTHENTICATION: 'true' };
    for (const url of [NODES, 'https://worker.example/readyz']) {
      const ctx = context();
      const res = await worker.fetch(new Request(url), env, ctx);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('warning'), DISABLED_WARNING);
      await res.arrayBuffer();
      await ctx.settled();
    }
    assert.match(
      DISABLED_WARNING,
      /^299 - "authentication is disabled \(INSECURE_DISABLE_AUTHENTICATION=true\): anyone/,
    );
    assert.equal(lines.filter((l) => l.includes('Authentication is disabled')).length, 1);
  });
});
