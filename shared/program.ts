/**
 * The start of every program (scrape, serve, events, the demo): configuration from flags and environment,
 * `--help` and `--version`, one clear line and exit 2 for a bad value, the logger, an info line for
 * each flag accepted but not used here, the trigger server, and a clean stop on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import { type AnyFlag, ConfigError, helpText, type Notice, type Program } from './config/index.ts';
import type { ListenOptions, Serving } from './http/serving.ts';
import { createLogger, type LogFormat, type Logger } from './log.ts';

interface Loaded {
  help: boolean;
  version?: boolean;
  v: number;
  logFormat: LogFormat;
}

/** This project's version, as package.json gives it. */
export function projectVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

/**
 * Loads the configuration or ends the process: help → stdout, exit 0; --version → stdout, exit 0;
 * bad flag → stderr, exit 2.
 */
export function startProgram<F extends readonly AnyFlag[], C extends Loaded>(
  name: string,
  program: Program<F>,
  load: (
    argv: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
    onNotice: (notice: Notice) => void,
  ) => C,
): { config: C; log: Logger } {
  let config: C;
  const notices: Notice[] = [];
  try {
    config = load(process.argv.slice(2), process.env, (n) => notices.push(n));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText(program, name));
    process.exit(0);
  }
  if (config.version) {
    process.stdout.write(`v${projectVersion()}\n`);
    process.exit(0);
  }
  const log = createLogger({ verbosity: config.v, format: config.logFormat });
  for (const n of notices) log.info(n.message, n.fields);
  return { config, log };
}

/**
 * A trigger server (scrape's, events'): listens through `serving` and logs `<name> listening` with its
 * address and mode; a port that cannot be opened is one error line, then `cleanup` and exit 1.
 */
export async function listenForTriggers(
  serving: Serving,
  o: Omit<ListenOptions, 'tls'> & { loop: boolean; log: Logger; cleanup: () => Promise<void> },
): Promise<void> {
  try {
    const { url } = await serving.listen(o);
    o.log.info(`${o.name} listening`, { address: url, mode: o.loop ? 'loop' : 'trigger' });
  } catch (err) {
    o.log.error(`${o.name} failed to start`, { err: err instanceof Error ? err.message : String(err) });
    await o.cleanup();
    process.exit(1);
  }
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then exits; a second signal exits at once.
 * Returns a function that removes the handlers.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info('Shutting down', { signal });
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('Shutdown failed', { err: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
