/**
 * `npm run scrape -- FLAGS`: the scraper function as a plain Node program.
 *   --once   one cycle now (after the one in progress on another instance, if any), then exit (0: a node
 *            was scraped, or there are none; 1: every node failed or the cycle could not run)
 *   --loop   its own ticker, a cycle every --metric-resolution (plus the HTTP server, for probes)
 *   neither  an HTTP trigger server: POST / runs a cycle (cron-connector, PingSource, any HTTP cron)
 * Under both --loop and the trigger server, POST /shard scrapes one shard of another instance's cycle.
 */
import { ConfigError, loadScrapeConfig, scrapeSpec } from '../../shared/config/index.ts';
import { Serving } from '../../shared/http/serving.ts';
import { listenForTriggers, onShutdown, startProgram } from '../../shared/program.ts';
import { cycleSucceeded } from './cycle.ts';
import { createScraper } from './scraper.ts';
import { addShardRoute } from './shard-route.ts';
import { createTrigger, createTriggerApp } from './trigger.ts';

const { config, log } = startProgram('scrape', scrapeSpec, loadScrapeConfig);
const scraper = (() => {
  try {
    return createScraper(config, log);
  } catch (err) {
    // An unreadable or mismatched kubelet credential file: one line naming the flag, as for a bad flag.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
})();

if (config.once) {
  let code = 1;
  try {
    code = cycleSucceeded(await scraper.run('once')) ? 0 : 1;
  } catch (err) {
    log.error('Scrape cycle failed', { err: err instanceof Error ? err.message : String(err) });
  }
  await scraper.close();
  process.exit(code);
}

const trigger = createTrigger(() => scraper.run('trigger'), log, {
  loop: config.loop,
  resolutionMs: config.metricResolutionMs,
});
const serving = new Serving({ maxOpenConnections: config.maxOpenConnections, log });
const app = createTriggerApp(
  trigger,
  log,
  config.loop ? config.metricResolutionMs : null,
  () => serving.stopping,
);
addShardRoute(app, { secret: scraper.shardSecret, run: (req, signal) => scraper.shard(req, signal) }, log);
app.get('/metrics', async () => {
  const { contentType, body } = await scraper.metrics();
  return new Response(body, { headers: { 'content-type': contentType } });
});
await listenForTriggers(serving, {
  name: 'Scrape trigger server',
  fetch: app.fetch,
  port: config.port,
  host: config.bindAddress,
  loop: config.loop,
  log,
  cleanup: () => scraper.close(),
});

trigger.start();

// Triggers keep being answered for the shutdown delay (a cron tick refused while the endpoints
// propagate would be a missed cycle), then cycles in flight finish before the scraper closes.
onShutdown(log, async () => {
  await serving.shutdown(config.shutdownDelayDurationMs);
  trigger.stop();
  await scraper.close();
});
