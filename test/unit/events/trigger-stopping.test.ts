/** The events trigger server during a graceful stop: readiness fails at once, liveness does not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventsFunction } from '../../../functions/events/events.ts';
import { createTriggerApp } from '../../../functions/events/trigger.ts';
import { createLogger } from '../../../shared/log.ts';

/** An events function whose Redis answers and whose loop turns: only the stop can fail a probe. */
const healthy = {
  ready: async () => null,
  live: () => null,
} as Pick<EventsFunction, 'ready' | 'live'> as EventsFunction;

test('once stopping, /readyz, /_/ready and /_/health (OpenFaaS probes it for readiness) fail; /livez and /healthz pass', async () => {
  let stopping = false;
  const pass = () => Promise.reject(new Error('no pass in this test'));
  const app = createTriggerApp(healthy, pass, createLogger({ write: () => {} }), () => stopping);
  const status = async (path: string) => (await app.request(path)).status;
  for (const path of ['/readyz', '/_/ready', '/_/health', '/livez', '/healthz'])
    assert.equal(await status(path), 200, path);
  stopping = true;
  for (const path of ['/readyz', '/_/ready', '/_/health']) assert.equal(await status(path), 500, path);
  for (const path of ['/livez', '/healthz']) assert.equal(await status(path), 200, path);
  assert.equal(await (await app.request('/readyz')).text(), 'shutting down\n');
});

test('a Redis that does not answer still fails /readyz, with its reason, while not stopping', async () => {
  const down = { ...healthy, ready: async () => 'redis unavailable' } as EventsFunction;
  const app = createTriggerApp(
    down,
    () => Promise.reject(new Error('unused')),
    createLogger({ write: () => {} }),
  );
  const r = await app.request('/readyz');
  assert.equal(r.status, 500);
  assert.equal(await r.text(), 'redis unavailable\n');
});
