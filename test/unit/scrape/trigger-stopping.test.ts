/** The scraper's trigger server during a graceful stop: readiness fails at once, liveness does not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTrigger, createTriggerApp } from '../../../functions/scrape/trigger.ts';
import { createLogger } from '../../../shared/log.ts';

test('once stopping, /readyz, /_/ready and /_/health (OpenFaaS probes it for readiness) fail; /livez and /healthz pass', async () => {
  let stopping = false;
  const log = createLogger({ write: () => {} });
  const trigger = createTrigger(() => Promise.reject(new Error('no cycle in this test')), log, {
    loop: false,
    resolutionMs: 60_000,
  });
  const app = createTriggerApp(trigger, log, null, () => stopping);
  const status = async (path: string) => (await app.request(path)).status;
  for (const path of ['/readyz', '/_/ready', '/_/health', '/livez', '/healthz'])
    assert.equal(await status(path), 200, path);
  stopping = true;
  for (const path of ['/readyz', '/_/ready', '/_/health']) assert.equal(await status(path), 500, path);
  for (const path of ['/livez', '/healthz']) assert.equal(await status(path), 200, path);
  assert.equal(await (await app.request('/readyz')).text(), 'shutting down\n');
});
