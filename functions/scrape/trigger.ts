/**
 * The scraper's HTTP face, for cron sources (OpenFaaS cron-connector, Knative PingSource, any HTTP cron)
 * and platform probes: `POST /` runs a cycle; concurrent triggers share the cycle in flight. Health:
 * live while the process serves and, under --loop, while its ticker keeps ticking.
 */
import { Hono } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { type CycleResult, cycleSucceeded } from './cycle.ts';

export interface Trigger {
  /** Runs a cycle, or joins the one already running in this process. */
  run(): Promise<CycleResult>;
  /** When the last cycle attempt started (ms), 0 before the first. */
  lastStart(): number;
}

export function singleFlight(runOnce: () => Promise<CycleResult>): Trigger {
  let inFlight: Promise<CycleResult> | null = null;
  let last = 0;
  return {
    run() {
      if (!inFlight) {
        last = Date.now();
        inFlight = runOnce().finally(() => {
          inFlight = null;
        });
      }
      return inFlight;
    },
    lastStart: () => last,
  };
}

function summary(r: CycleResult) {
  return {
    ran: r.ran,
    nodes: r.nodes,
    scraped: r.scraped,
    failed: r.failed,
    points: r.points,
    durationMs: Math.round(r.durationMs),
  };
}

/**
 * @param tickingEveryMs under --loop, the resolution: /livez fails when no cycle started for 1.5 × that
 *   (metrics-server's metric-collection-timely check); null for a trigger-only server.
 */
export function createTriggerApp(trigger: Trigger, log: Logger, tickingEveryMs: number | null): Hono {
  const app = new Hono();
  const live = () => {
    if (tickingEveryMs === null || trigger.lastStart() === 0) return null;
    const since = Date.now() - trigger.lastStart();
    return since > 1.5 * tickingEveryMs
      ? `metric collection didn't finish on time (last start ${since}ms ago)`
      : null;
  };
  const probe = (failure: () => string | null) => () => {
    const why = failure();
    return new Response(why ? `${why}\n` : 'ok', { status: why ? 500 : 200 });
  };
  app.post('/', async (c) => {
    try {
      const r = await trigger.run();
      return c.json(summary(r), cycleSucceeded(r) ? 200 : 500);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error('Scrape cycle failed', { err: error });
      return c.json({ error }, 503);
    }
  });
  app.get('/', (c) => c.text('metrics scraper: POST / runs a scrape cycle\n'));
  for (const path of ['/healthz', '/livez', '/_/health']) app.get(path, probe(live));
  for (const path of ['/readyz', '/_/ready'])
    app.get(
      path,
      probe(() => null),
    );
  return app;
}
