/**
 * The Workers scraper's settings (infra/workers/scrape.ts): what it cannot do on Workers it refuses at
 * the start of a tick with a line that says why, instead of failing node by node. And the cron check
 * used for every platform's schedules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkersAuthError, workersAuthSettings } from '../../../infra/workers/auth.ts';
import { WorkersScrapeError, workersScrapeConfig } from '../../../infra/workers/scrape.ts';
import { cronProblem } from './cron.ts';

const ok = { KUBE_API_SERVER: 'https://k8s.example.com/', KUBE_TOKEN: 't', KUBELET_VIA: 'proxy' };

describe('the Workers scraper settings', () => {
  test('given an API server, a token and kubelets via proxy, it takes the flags from the variables', () => {
    const c = workersScrapeConfig({ ...ok, METRIC_RESOLUTION: '60s' });
    assert.equal(c.apiServer, 'https://k8s.example.com');
    assert.equal(c.token, 't');
    assert.equal(c.config.metricResolutionMs, 60_000);
  });

  test('without KUBE_API_SERVER or KUBE_TOKEN it says Workers cannot read a kubeconfig', () => {
    for (const missing of ['KUBE_API_SERVER', 'KUBE_TOKEN']) {
      assert.throws(
        () => workersScrapeConfig({ ...ok, [missing]: '' }),
        (err: unknown) => err instanceof WorkersScrapeError && /cannot read a kubeconfig/.test(err.message),
      );
    }
  });

  test('with kubelets reached directly it says why Workers cannot, and what to set', () => {
    assert.throws(
      () => workersScrapeConfig({ ...ok, KUBELET_VIA: 'direct' }),
      (err: unknown) =>
        err instanceof WorkersScrapeError &&
        err.message.includes('KUBELET_VIA=proxy') &&
        err.message.includes('cannot open TLS connections to node addresses'),
    );
  });

  test('a setting that names a file is refused: a Worker has none', () => {
    assert.throws(
      () => workersScrapeConfig({ ...ok, KUBECONFIG: '/etc/kubeconfig' }),
      /KUBECONFIG names a file, and a Worker has no files/,
    );
  });

  test('a bad flag value stops it as it stops the Node scraper', () => {
    assert.throws(() => workersScrapeConfig({ ...ok, METRIC_RESOLUTION: '1s' }), /--metric-resolution/);
  });
});

describe("the Workers serve handler's authentication settings", () => {
  const auth = { KUBE_API_SERVER: 'https://k8s.example.com/', KUBE_AUTH_TOKEN: 'review-token' };

  test('an API server and the Worker’s own token: delegated, with anonymous requests only on health', () => {
    assert.deepEqual(workersAuthSettings(auth), {
      mode: 'delegated',
      apiServer: 'https://k8s.example.com',
      token: 'review-token',
      alwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
    });
    const s = workersAuthSettings({ ...auth, AUTHORIZATION_ALWAYS_ALLOW_PATHS: '/healthz' });
    assert.ok(s.mode === 'delegated' && s.alwaysAllowPaths.join() === '/healthz');
  });

  test('the scraper’s KUBE_TOKEN is not taken for reviews: KUBE_AUTH_TOKEN is its own identity', () => {
    assert.throws(
      () => workersAuthSettings({ KUBE_API_SERVER: auth.KUBE_API_SERVER, KUBE_TOKEN: 'scraper-token' }),
      (err: unknown) => err instanceof WorkersAuthError && /the secret KUBE_AUTH_TOKEN/.test(err.message),
    );
  });

  test('plain http only to a loopback API server (local development); a bad URL or flag value by name', () => {
    assert.equal(
      workersAuthSettings({ ...auth, KUBE_API_SERVER: 'http://127.0.0.1:6443' }).mode,
      'delegated',
    );
    assert.throws(
      () => workersAuthSettings({ ...auth, KUBE_API_SERVER: 'http://10.0.0.1:6443' }),
      /is not https:\/\//,
    );
    assert.throws(
      () => workersAuthSettings({ ...auth, KUBE_API_SERVER: 'k8s:6443' }),
      /is not a URL|is not https/,
    );
    assert.throws(
      () => workersAuthSettings({ ...auth, AUTHORIZATION_ALWAYS_ALLOW_PATHS: 'healthz' }),
      /--authorization-always-allow-paths/,
    );
  });

  test('INSECURE_DISABLE_AUTHENTICATION=true turns it off, needing nothing else; false is the default', () => {
    assert.deepEqual(workersAuthSettings({ INSECURE_DISABLE_AUTHENTICATION: 'true' }), { mode: 'disabled' });
    assert.throws(() => workersAuthSettings({ INSECURE_DISABLE_AUTHENTICATION: 'false' }), WorkersAuthError);
    assert.throws(
      () => workersAuthSettings({ INSECURE_DISABLE_AUTHENTICATION: '1' }),
      /must be true or false/,
    );
  });

  test('settings that name files, or need client certificates a Worker never sees, are refused', () => {
    for (const name of ['KUBECONFIG', 'AUTHENTICATION_KUBECONFIG', 'REQUESTHEADER_CLIENT_CA_FILE'])
      assert.throws(
        () => workersAuthSettings({ ...auth, [name]: '/etc/x' }),
        new RegExp(`${name} names a file`),
      );
  });
});

describe('five-field cron schedules', () => {
  test('accepts every minute, steps, ranges, lists and names', () => {
    for (const s of ['* * * * *', '*/15 * * * *', '0 0-23/2 1,15 JAN-MAR mon-fri', '59 23 31 12 7'])
      assert.equal(cronProblem(s), undefined, s);
  });
  test('rejects a seconds field, garbage, values out of range and zero steps', () => {
    assert.match(cronProblem('*/15 * * * * *') ?? '', /6 fields, not 5/);
    assert.match(cronProblem('bogus') ?? '', /1 fields/);
    assert.match(cronProblem('60 * * * *') ?? '', /minute "60" is outside 0-59/);
    assert.match(cronProblem('* * 0 * *') ?? '', /day of month "0"/);
    assert.match(cronProblem('*/0 * * * *') ?? '', /step 0/);
    assert.match(cronProblem('* * * FOO *') ?? '', /month "FOO"/);
  });
});
