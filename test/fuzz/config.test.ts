/**
 * Configuration as a careless or hostile environment gives it (function platforms pass everything
 * as environment variables): random arguments and variables either load or stop the program with a
 * ConfigError, never another exception, and a ConfigError is one line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ConfigError,
  envName,
  loadScrapeConfig,
  loadServeConfig,
  METRICS_SERVER_FLAGS,
  scrapeSpec,
  serveSpec,
} from '../../shared/config/index.ts';

// Each program's own flags, its sibling's (accepted and noted) and metrics-server's (refused or noted).
const flagNames = [
  ...new Set([...scrapeSpec.flags, ...serveSpec.flags, ...METRICS_SERVER_FLAGS].map((f) => f.name)),
];
const VALUES = [
  '',
  '0',
  '-1',
  '1s',
  '1m30s',
  '15',
  'true',
  'false',
  'x',
  '1Mi',
  '-',
  '--',
  '=',
  '::1',
  '0.0.0.0',
  '/healthz,*x',
  'a=b',
  '(((',
  'redis://h:1/2',
  'rediss://u:p@h',
  '1e999',
  '\n',
  '🚀',
];
const value = fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 10 }));
const arg = fc.oneof(
  fc.tuple(fc.constantFrom(...flagNames), value).map(([f, v]) => `--${f}=${v}`),
  fc.constantFrom(...flagNames).map((f) => `--${f}`),
  value,
  fc.constantFrom('-h', '-l', '--', '-', '---x', '--no-such-flag'),
);
const argv = fc.array(arg, { maxLength: 6 });
const env = fc.dictionary(
  fc.oneof(fc.constantFrom(...flagNames.map(envName)), fc.string({ maxLength: 6 })),
  value,
  { maxKeys: 5 },
);

/** `oneLine`: the inputs hold no line break, so neither may the message (one line naming the flag). */
function loadsOrConfigError(load: () => unknown, oneLine: boolean): void {
  try {
    load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (oneLine)
      assert.ok(!/[\r\n]/.test(err.message), `a ConfigError of more than one line: ${err.message}`);
  }
}

const noBreaks = (a: string[], e: Record<string, string>) =>
  ![...a, ...Object.keys(e), ...Object.values(e)].some((s) => /[\r\n\u2028\u2029]/.test(s));

describe('random arguments and environment', () => {
  test('the scraper’s configuration loads or fails with a ConfigError', () => {
    fc.assert(
      fc.property(argv, env, (a, e) => loadsOrConfigError(() => loadScrapeConfig(a, e), noBreaks(a, e))),
      { numRuns: 3000 },
    );
  });

  test('the serve function’s configuration loads or fails with a ConfigError', () => {
    fc.assert(
      fc.property(argv, env, (a, e) => loadsOrConfigError(() => loadServeConfig(a, e), noBreaks(a, e))),
      { numRuns: 3000 },
    );
  });
});
