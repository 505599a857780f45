/**
 * The Workers scraper's settings (infra/workers/scrape.ts): what it cannot do on Workers it refuses at
 * the start of a tick with a line that says why, instead of failing node by node. And the cron check
 * used for every platform's schedules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
