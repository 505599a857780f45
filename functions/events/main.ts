/**
 * `npm run events -- FLAGS`: the events function as a plain Node program.
 *   --once   one pass, then exit (0: every sink has everything journaled; 1: a sink is still behind,
 *            or the pass could not run)
 *   --loop   a watch kept open, delivered as events arrive; a standby while another instance holds the
 *            lease (plus the HTTP server, for probes and /metrics)
 *   neither  an HTTP trigger server: POST / runs a pass (cron-connector, PingSource, any HTTP cron)
 */
import { ConfigError, eventsSpec, loadEventsConfig } from '../../shared/config/index.ts';
import { Serving } from '../../shared/http/serving.ts';
import { listenForTriggers, onShutdown, startProgram } from '../../shared/program.ts';
import { createEvents, passSucceeded } from './events.ts';
import { configuredSinks } from './sink-config.ts';
import { InvalidSink } from './sinks/sink.ts';
import { createTriggerApp, passSummary, singleFlight } from './trigger.ts';

const { config, log } = startProgram('events', eventsSpec, loadEventsConfig);
const events = (() => {
  try {
    return createEvents(config, log, configuredSinks(config.sink, config.sinkConfig));
  } catch (err) {
    // A bad --sink URI, --sink-config or --kubeconfig file: one line naming it, as for a bad flag.
    if (!(err instanceof InvalidSink || err instanceof ConfigError)) throw err;
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
const serving = new Serving({ maxOpenConnections: config.maxOpenConnections, log });
const app = createTriggerApp(events, pass, log, () => serving.stopping);
await listenForTriggers(serving, {
  name: 'Events server',
  fetch: app.fetch,
  port: config.port,
  host: config.bindAddress,
  loop: config.loop,
  log,
  cleanup: () => events.close(),
});
const looping = config.loop
  ? events.loop(stop.signal).catch((err: unknown) => {
      log.error('Events loop failed', { err: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    })
  : Promise.resolve();

// The watch stops at once (its lease goes to a standby), while triggers, probes and /metrics are
// answered for the shutdown delay and a pass in flight finishes (or is cut after the drain timeout;
// what it journaled stays, and the next pass delivers the rest).
onShutdown(log, async () => {
  stop.abort();
  await Promise.all([looping, serving.shutdown(config.shutdownDelayDurationMs)]);
  await events.close();
});
