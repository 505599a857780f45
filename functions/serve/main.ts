/**
 * `npm run serve -- FLAGS`: the serve function as a plain Node program. `--help` lists the flags; a bad
 * flag prints `error: <message>` and exits 2; SIGTERM/SIGINT stop it gracefully (exit 0).
 *
 * Imported (by tests, the demo, the benchmark) it only exports startServe.
 */
import { ConfigError, loadServeConfig, serveSpec } from '../../shared/config/index.ts';
import { onShutdown, startProgram } from '../../shared/program.ts';
import { startServe } from './server.ts';

export { type ServeHandle, startServe } from './server.ts';

if (import.meta.main) {
  const { config, log } = startProgram('serve', serveSpec, loadServeConfig);
  try {
    const handle = await startServe(config, { log });
    onShutdown(log, () => handle.close());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    log.error('Serve failed to start', { err });
    process.exit(1);
  }
}
