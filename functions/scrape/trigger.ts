/**
 * The scraper's triggers, for cron sources (OpenFaaS cron-connector, Knative PingSource, any HTTP cron),
 * its own --loop ticker and platform probes: `POST /` runs the cycle due; concurrent triggers share the
 * cycle in flight; a trigger the lock skips says so (one info line, and the HTTP answer). While another
 * instance's cycle is in progress, this instance looks again when that cycle's lease ends, and retakes
 * the cycle if its runner died. Health: live while the process serves and, under --loop, while its
 * ticker keeps ticking.
 */
import { Hono } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { type CycleResult, cycleSucceeded } from './cycle.ts';

/** What set a trigger off: `POST /`, the --loop ticker, or a look at another instance's lease ending. */
export type TriggerSource = 'http' | 'tick' | 'standby';

export interface Trigger {
  /** Runs the cycle due, or joins the one already running in this process. */
  run(source: TriggerSource): Promise<CycleResult>;
  /** Under --loop, the first tick (the ticker then follows each cycle's due time). */
  start(): void;
  /** No more ticks or looks. */
  stop(): void;
  /** When the last cycle attempt started (ms), 0 before the first. */
  lastStart(): number;
}

export interface TriggerOptions {
  /** --loop: a tick at every due time. */
  loop: boolean;
  resolutionMs: number;
}

const at = (ms: number) => new Date(ms).toISOString();

/**
 * A trigger's answer, as the HTTP body (and, but for `result`, the skip's log fields): `ran` with the
 * cycle's figures, or `skipped` with who ran (or runs) the cycle and when the next is due.
 */
export function triggerAnswer(r: CycleResult) {
  if (r.ran || r.skipped === null) {
    return {
      result: 'ran' as const,
      started: at(r.start),
      nodes: r.nodes,
      scraped: r.scraped,
      failed: r.failed,
      points: r.points,
      durationMs: Math.round(r.durationMs),
      nextDue: at(r.nextDue),
    };
  }
  const s = r.skipped;
  return {
    result: 'skipped' as const,
    reason: s.reason === 'done' ? ('already-run' as const) : ('in-progress' as const),
    holder: s.by,
    started: at(s.started),
    ...(s.reason === 'done' ? { ended: at(s.until), state: s.state } : { leaseUntil: at(s.until) }),
    nextDue: at(r.nextDue),
    nextDueInSeconds: Math.max(0, Math.round(r.nextDueInMs / 1000)),
  };
}

/** The one info line of a skipped trigger (a standby's look: --v=1), with triggerAnswer's facts. */
export function logSkip(log: Logger, r: CycleResult, source: TriggerSource): void {
  const {
    result: _r,
    reason,
    ...facts
  } = triggerAnswer(r) as Extract<ReturnType<typeof triggerAnswer>, { result: 'skipped' }>;
  const msg =
    reason === 'already-run'
      ? 'Scrape cycle skipped: the cycle due has already run'
      : 'Scrape cycle skipped: another instance is running the cycle';
  // A standby's looks at a lease are not triggers: only what they change is news.
  if (source === 'standby') log.debug(1, msg, facts);
  else log.info(msg, facts);
}

export function createTrigger(runCycle: () => Promise<CycleResult>, log: Logger, o: TriggerOptions): Trigger {
  let inFlight: Promise<CycleResult> | null = null;
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const later = (source: TriggerSource, delayMs: number) => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(
      () => {
        trigger.run(source).catch(() => undefined); // logged by run
      },
      Math.max(50, delayMs),
    );
  };
  /** What comes next: a look when the lease seen ends; under --loop, the next due time. */
  const next = (r: CycleResult | null) => {
    if (r?.skipped?.reason === 'running') later('standby', r.wakeInMs);
    else if (o.loop) later('tick', r ? r.wakeInMs : Math.min(o.resolutionMs, 5000));
  };

  const trigger: Trigger = {
    run(source) {
      if (inFlight) return inFlight;
      last = Date.now();
      const run = runCycle();
      inFlight = run.finally(() => {
        inFlight = null;
      });
      run.then(
        (r) => {
          if (!r.ran) logSkip(log, r, source);
          next(r);
        },
        (err: unknown) => {
          // POST / answers the error itself; the ticker's and standby's are only seen here.
          if (source !== 'http') {
            log.error('Scrape cycle failed', { err: err instanceof Error ? err.message : String(err) });
          }
          next(null);
        },
      );
      return inFlight;
    },
    start() {
      if (o.loop) trigger.run('tick').catch(() => undefined);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    lastStart: () => last,
  };
  return trigger;
}

/**
 * @param tickingEveryMs under --loop, the resolution: /livez fails when no cycle started for 1.5 × that
 *   (metrics-server's metric-collection-timely check); null for a trigger-only server.
 * @param stopping true once a graceful stop began: /readyz fails.
 */
export function createTriggerApp(
  trigger: Trigger,
  log: Logger,
  tickingEveryMs: number | null,
  stopping: () => boolean = () => false,
): Hono {
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
      const r = await trigger.run('http');
      return c.json(triggerAnswer(r), cycleSucceeded(r) ? 200 : 500);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error('Scrape cycle failed', { err: error });
      return c.json({ result: 'failed', error }, 503);
    }
  });
  app.get('/', (c) => c.text('metrics scraper: POST / runs a scrape cycle\n'));
  const shutdown = () => (stopping() ? 'shutting down' : null);
  for (const path of ['/healthz', '/livez']) app.get(path, probe(live));
  // faas-netes probes /_/health for readiness too; of-watchdog fails it once SIGTERM arrived.
  app.get(
    '/_/health',
    probe(() => shutdown() ?? live()),
  );
  for (const path of ['/readyz', '/_/ready']) app.get(path, probe(shutdown));
  return app;
}
