/**
 * `npm run events -- FLAGS`: the events function as a plain Node program.
 *   --once   one pass, then exit (0: every sink has everything journaled; 1: a sink is still behind,
 *            or the pass could not run)
 *   --loop   a watch kept open, delivered as events arrive; a standby while another instance holds the
 *            lease (plus the HTTP server, for probes and /metrics)
 *   neither  an HTTP trigger server: POST / runs a pass (cron-connector, PingSource, any HTTP cron)
 */
import { serve } from '@hono/node-server';
import { eventsSpec, loadEventsConfig } from '../../shared/config/index.ts';
import { onShutdown, startProgram } from '../../shared/program.ts';
import { createEvents, passSucceeded } from './events.ts';
import { configuredSinks } from './sink-config.ts';
import { InvalidSink } from './sinks/sink.ts';
import { createTriggerApp, passSummary, singleFlight } from './trigger.ts';

const { config, log } = startProgram('events', eventsSpec, loadEventsConfig);
const events = (() => {
  try {
    return createEvents(config, log, configuredSinks(config.sink, config.sinkConfig));
  } catch (err) {
    // A bad --sink URI or --sink-config file: one line naming it, as for a bad flag.
    if (!(err instanceof InvalidSink)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
})();

if (config.once) {
  let code = 1;
  try {
    const r = await events.pass({ waitForLease: true });
    if (!r.ran)
      log.error('Pass could not run: another instance holds the events lease', { holder: r.holder });
    else log.info('Events pass finished', passSummary(r));
    code = passSucceeded(r) ? 0 : 1;
  } catch (err) {
    log.error('Events pass failed', { err: err instanceof Error ? err.message : String(err) });
  }
  await events.close();
  process.exit(code);
}

const stop = new AbortController();
const pass = singleFlight(async () => {
  const r = await events.pass();
  if (r.ran) log.info('Events pass finished', passSummary(r));
  return r;
});
const app = createTriggerApp(events, pass, log);
const server = serve({ fetch: app.fetch, port: config.port, hostname: config.bindAddress }, (info) => {
  log.info('Events server listening', {
    address: `http://${config.bindAddress}:${info.port}`,
    mode: config.loop ? 'loop' : 'trigger',
  });
});
const looping = config.loop
  ? events.loop(stop.signal).catch((err: unknown) => {
      log.error('Events loop failed', { err: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    })
  : Promise.resolve();

onShutdown(log, async () => {
  stop.abort();
  await looping;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await events.close();
});
