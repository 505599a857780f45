/**
 * Configuration: typed flags with environment variables, validated up front in one place.
 *
 *   const config = loadScrapeConfig(process.argv.slice(2), process.env); // throws ConfigError
 *   if (config.help) { process.stdout.write(helpText(scrapeSpec, 'scrape')); process.exit(0); }
 */

export * from './checks.ts';
export { type EventsConfig, eventsSpec, loadEventsConfig } from './events.ts';
export * from './flags.ts';
export * from './help.ts';
export * from './load.ts';
export { METRICS_SERVER_FLAGS, metricsServer } from './metrics-server.ts';
export * from './program.ts';
export {
  ADDRESS_TYPES,
  type AddressType,
  loadScrapeConfig,
  type ScrapeConfig,
  scrapeSpec,
  shardTimeoutMs,
} from './scrape.ts';
export { loadServeConfig, type ServeConfig, serveSpec } from './serve.ts';
export * from './spec.ts';
export * from './tls.ts';
