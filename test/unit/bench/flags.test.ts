/**
 * `npm run bench -- --help` (bench/flags.ts): the usage text names every flag the bench takes, and a flag
 * it does not know is one line and the usage, not a stack trace, before anything starts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { BENCH_OPTIONS, USAGE } from '../../../bench/flags.ts';
import { repoPath } from '../infra/manifests.ts';

const bench = (...args: string[]) =>
  spawnSync(process.execPath, [repoPath('bench/main.ts'), ...args], { encoding: 'utf8', timeout: 30_000 });

test('the usage names every flag of the bench', () => {
  for (const name of Object.keys(BENCH_OPTIONS)) assert.ok(USAGE.includes(`--${name}`), `--${name}`);
});

test('--help prints the usage and exits 0, starting nothing', () => {
  for (const flag of ['--help', '-h']) {
    const r = bench(flag);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, USAGE);
    assert.equal(r.stderr, '');
  }
});

test('an unknown flag is named, with the usage, and exits 2', () => {
  const r = bench('--nodez', '10');
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `Unknown option '--nodez'\n\n${USAGE}`);
});
