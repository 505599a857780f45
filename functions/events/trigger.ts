/**
 * The events function's HTTP face, for cron sources (OpenFaaS cron-connector, Knative PingSource, any
 * HTTP cron) and platform probes: `POST /` runs a pass (concurrent triggers share the one in flight)
 * and answers what it did as JSON; /healthz and /livez say whether the loop turns (always, outside
 * --loop), /readyz whether Redis answers and no graceful stop has begun; /metrics.
 */
import { Hono } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { type EventsFunction, type PassResult, passSucceeded } from './events.ts';

/** Runs a pass, or joins the one already running in this process. */
export function singleFlight(run: () => Promise<PassResult>): () => Promise<PassResult> {
  let inFlight: Promise<PassResult> | null = null;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}

/** The answer to POST /: what was read, and per sink what was delivered and whether it is caught up. */
export function passSummary(r: PassResult) {
  return {
    ran: r.ran,
    ...(r.holder !== undefined ? { holder: r.holder } : {}),
    ...(r.read ? { read: r.read } : {}),
    ...(r.readError !== undefined ? { readError: r.readError } : {}),
    ...(r.leaseLost !== undefined ? { leaseLost: r.leaseLost } : {}),
    sinks: Object.fromEntries(
      r.sinks.map((s) => [
        s.sink,
        {
          caughtUp: s.caughtUp,
          delivered: s.delivered,
          rejected: s.rejected,
          failures: s.failures,
          ...(s.error !== undefined ? { error: s.error } : {}),
        },
      ]),
    ),
    durationMs: Math.round(r.durationMs),
  };
}

/** @param stopping true once a graceful stop began: /readyz, /_/ready and /_/health fail. */
export function createTriggerApp(
  events: EventsFunction,
  pass: () => Promise<PassResult>,
  log: Logger,
  stopping: () => boolean = () => false,
): Hono {
  const app = new Hono();
  const shutdown = () => (stopping() ? 'shutting down' : null);
  const probe = (failure: () => Promise<string | null> | string | null) => async () => {
    const why = await failure();
    return new Response(why ? `${why}\n` : 'ok', { status: why ? 500 : 200 });
  };
  app.post('/', async (c) => {
    try {
      const r = await pass();
      // Skipped because another instance holds the lease: not a failure, and said so.
      return c.json(passSummary(r), !r.ran || passSucceeded(r) ? 200 : 500);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error('Events pass failed', { err: error });
      return c.json({ ran: false, error }, 503);
    }
  });
  app.get('/', (c) => c.text('events: POST / runs a pass (read new events, deliver them to every sink)\n'));
  for (const path of ['/healthz', '/livez'])
    app.get(
      path,
      probe(() => events.live()),
    );
  // faas-netes probes /_/health for readiness too; of-watchdog fails it once SIGTERM arrived.
  app.get(
    '/_/health',
    probe(() => shutdown() ?? events.live()),
  );
  for (const path of ['/readyz', '/_/ready'])
    app.get(
      path,
      probe(async () => shutdown() ?? (await events.ready())),
    );
  app.get('/metrics', async () => {
    const { contentType, body } = await events.metrics();
    return new Response(body, { headers: { 'content-type': contentType } });
  });
  return app;
}
