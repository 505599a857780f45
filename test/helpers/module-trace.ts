/**
 * `node --import=test/helpers/module-trace.ts …` with MODULE_TRACE_FILE=<file>: every module the
 * process loads (import or require, its URL) appended to the file, one a line, so a test can say what a
 * process it started did not load.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.MODULE_TRACE_FILE;
if (file) {
  registerHooks({
    load(url, context, next) {
      appendFileSync(file, `${url}\n`);
      return next(url, context);
    },
  });
}
