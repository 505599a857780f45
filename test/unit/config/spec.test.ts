/**
 * The flag machinery, on a small program made for these tests: how argv and the environment become a
 * typed object, and the one-line messages for everything that can be wrong.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  boolean,
  ConfigError,
  defineProgram,
  duration,
  helpText,
  integer,
  list,
  listOf,
  loadConfig,
  oneOf,
  port,
  quantity,
  string,
  withDefault,
} from '../../../shared/config/index.ts';

const demo = defineProgram({
  description: 'demo: a program for these tests.',
  flags: [
    string('name', { section: 'General', default: 'world', help: 'Who to greet.' }),
    string('secret-url', {
      section: 'General',
      help: 'A URL with a password.',
      echo: (t) => t.replace(/:[^:@/]*@/, ':***@'),
      check: (v) => (v.startsWith('x') ? 'must not start with x' : undefined),
    }),
    boolean('dry-run', { section: 'General', help: 'Do nothing.' }),
    integer('workers', { section: 'Work', default: 4, min: 1, help: 'How many workers.' }),
    integer('level', { section: 'Work', short: 'l', min: 0, max: 10, help: 'How loud.' }),
    port('listen-port', { section: 'Work', default: 8080, help: 'Where to listen.' }),
    port('probe-port', { section: 'Work', default: 0, zero: 'disabled', help: 'Where probes go.' }),
    duration('interval', { section: 'Work', default: '60s', min: '10s', help: 'How often.' }),
    duration('timeout', { section: 'Work', default: '10s', positive: true, help: 'How long to wait.' }),
    quantity('max-body', { section: 'Work', default: '16Mi', help: 'The largest body.' }),
    list('peers', { section: 'Work', default: ['a', 'b'], help: 'Who else.' }),
    listOf('colours', ['red', 'green', 'blue'], {
      section: 'Work',
      default: ['red'],
      help: 'Which colours.',
    }),
    oneOf('format', ['text', 'json'], { section: 'Work', default: 'text', help: 'How to print.' }),
  ],
  rules: [
    (c, x) => (c.dryRun && c.workers > 1 ? `${x.ref('dry-run')} needs --workers=1` : undefined),
    (c, x) =>
      c.timeoutMs > c.intervalMs
        ? `${x.ref('timeout')} (${x.text('timeout')}) must be at most ${x.ref('interval')} (${x.text('interval')})`
        : undefined,
  ],
});

const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(demo, argv, env);

/** The ConfigError message of a load that must fail. */
function failure(argv: string[], env: Record<string, string> = {}): string {
  try {
    load(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/, 'a ConfigError is one line');
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be rejected`);
}

describe('given no flags and no environment', () => {
  test('every value is its default, typed: durations in ms, sizes in bytes, lists as arrays', () => {
    assert.deepEqual(load([]), {
      name: 'world',
      secretUrl: '',
      dryRun: false,
      workers: 4,
      level: 0,
      listenPort: 8080,
      probePort: 0,
      intervalMs: 60_000,
      timeoutMs: 10_000,
      maxBodyBytes: 16 * 1024 * 1024,
      peers: ['a', 'b'],
      colours: ['red'],
      format: 'text',
      help: false,
    });
  });
});

describe('values on the command line', () => {
  test('--flag value and --flag=value mean the same', () => {
    assert.equal(load(['--name', 'Ada']).name, 'Ada');
    assert.equal(load(['--name=Ada']).name, 'Ada');
    assert.equal(load(['--name=a=b']).name, 'a=b', 'only the first = separates');
    assert.equal(load(['--name=']).name, '', '--flag= sets an empty value');
  });

  test('a short flag takes -l N, -l=N and -lN', () => {
    assert.equal(load(['-l', '3']).level, 3);
    assert.equal(load(['-l=4']).level, 4);
    assert.equal(load(['-l5']).level, 5);
  });

  test('a boolean is on when bare, and takes =true/=false/=1/=0', () => {
    assert.equal(load(['--dry-run', '--workers=1']).dryRun, true);
    assert.equal(load(['--dry-run=true', '--workers=1']).dryRun, true);
    assert.equal(load(['--dry-run=1', '--workers=1']).dryRun, true);
    assert.equal(load(['--dry-run=false']).dryRun, false);
    assert.equal(load(['--dry-run=0']).dryRun, false);
  });

  test('the last of a repeated flag wins, except for lists, which add up as pflag does', () => {
    assert.equal(load(['--name=a', '--name=b']).name, 'b');
    assert.deepEqual(load(['--peers=x', '--peers', 'y,z']).peers, ['x', 'y', 'z']);
  });

  test('lists are split on commas, with blanks trimmed and empty items dropped; --list= is empty', () => {
    assert.deepEqual(load(['--peers= p , q,,r ']).peers, ['p', 'q', 'r']);
    assert.deepEqual(load(['--peers=']).peers, []);
  });

  test('durations are Go-style and come out in milliseconds', () => {
    assert.equal(load(['--interval=1m30s']).intervalMs, 90_000);
    assert.equal(load(['--interval=15s', '--timeout=1500ms']).timeoutMs, 1500);
  });

  test('sizes are quantities and come out in bytes', () => {
    assert.equal(load(['--max-body=512Ki']).maxBodyBytes, 512 * 1024);
    assert.equal(load(['--max-body=1G']).maxBodyBytes, 1_000_000_000);
  });

  test('a port may be 0 only where 0 is documented', () => {
    assert.equal(load(['--probe-port=0']).probePort, 0);
    assert.equal(load(['--listen-port=65535']).listenPort, 65535);
  });
});

describe('values from the environment', () => {
  test('each flag reads its upper-snake-case variable', () => {
    const c = load([], { NAME: 'Env', WORKERS: '9', INTERVAL: '2m', PEERS: 'e,f', LISTEN_PORT: '81' });
    assert.equal(c.name, 'Env');
    assert.equal(c.workers, 9);
    assert.equal(c.intervalMs, 120_000);
    assert.deepEqual(c.peers, ['e', 'f']);
    assert.equal(c.listenPort, 81);
  });

  test('a flag beats its variable, and the variable beats the default', () => {
    assert.equal(load(['--name=Flag'], { NAME: 'Env' }).name, 'Flag');
    assert.equal(load([], { NAME: 'Env' }).name, 'Env');
    assert.equal(
      load(['--workers=2'], { WORKERS: 'not a number' }).workers,
      2,
      'an overridden variable is not read',
    );
  });

  test('booleans read true/false/1/0', () => {
    assert.equal(load([], { DRY_RUN: 'true', WORKERS: '1' }).dryRun, true);
    assert.equal(load([], { DRY_RUN: '1', WORKERS: '1' }).dryRun, true);
    assert.equal(load([], { DRY_RUN: 'false' }).dryRun, false);
    assert.equal(load([], { DRY_RUN: '0' }).dryRun, false);
  });

  test('an empty variable counts as unset', () => {
    assert.equal(load([], { NAME: '' }).name, 'world');
  });

  test('--help is never read from the environment', () => {
    assert.equal(load([], { HELP: 'true' }).help, false);
  });
});

describe('bad values: one line naming the flag, the value and what is allowed', () => {
  test('from a flag, the message names the flag and its variable', () => {
    assert.equal(
      failure(['--interval=5s']),
      'invalid value "5s" for --interval (INTERVAL): must be a duration of at least 10s',
    );
  });

  test('from the environment, the message says so', () => {
    assert.equal(
      failure([], { INTERVAL: '5s' }),
      'invalid value "5s" for --interval from environment variable INTERVAL: must be a duration of at least 10s',
    );
  });

  test('each type says what it accepts', () => {
    assert.equal(
      failure(['--interval=soon']),
      'invalid value "soon" for --interval (INTERVAL): must be a duration such as 15s or 1m30s',
    );
    assert.equal(
      failure(['--timeout=0s']),
      'invalid value "0s" for --timeout (TIMEOUT): must be a duration greater than 0, such as 10s',
    );
    assert.equal(
      failure(['--dry-run=yes']),
      'invalid value "yes" for --dry-run (DRY_RUN): must be true or false',
    );
    assert.equal(
      failure([], { DRY_RUN: 'on' }),
      'invalid value "on" for --dry-run from environment variable DRY_RUN: must be true or false',
    );
    assert.equal(
      failure(['--workers=many']),
      'invalid value "many" for --workers (WORKERS): must be an integer of at least 1',
    );
    assert.equal(
      failure(['--workers=0']),
      'invalid value "0" for --workers (WORKERS): must be an integer of at least 1',
    );
    assert.equal(
      failure(['--workers=1.5']),
      'invalid value "1.5" for --workers (WORKERS): must be an integer of at least 1',
    );
    assert.equal(
      failure(['-l', '11']),
      'invalid value "11" for --level (LEVEL): must be an integer from 0 to 10',
    );
    assert.equal(
      failure(['--format=yaml']),
      'invalid value "yaml" for --format (FORMAT): must be one of text, json',
    );
    assert.equal(
      failure(['--max-body=lots']),
      'invalid value "lots" for --max-body (MAX_BODY): must be a size greater than 0 such as 16Mi, 512Ki or 1G',
    );
    assert.equal(
      failure(['--max-body=0']),
      'invalid value "0" for --max-body (MAX_BODY): must be a size greater than 0 such as 16Mi, 512Ki or 1G',
    );
  });

  test('ports are 1 to 65535, or 0 where 0 is documented', () => {
    assert.equal(
      failure(['--listen-port=0']),
      'invalid value "0" for --listen-port (LISTEN_PORT): must be a port from 1 to 65535',
    );
    assert.equal(
      failure(['--listen-port=65536']),
      'invalid value "65536" for --listen-port (LISTEN_PORT): must be a port from 1 to 65535',
    );
    assert.equal(
      failure(['--probe-port=-1']),
      'invalid value "-1" for --probe-port (PROBE_PORT): must be a port from 0 to 65535 (0 = disabled)',
    );
  });

  test('a list of fixed words names the bad item, and needs at least one', () => {
    assert.equal(
      failure(['--colours=red,mauve']),
      'invalid value "red,mauve" for --colours (COLOURS): "mauve" is not one of red, green, blue',
    );
    assert.equal(
      failure(['--colours=']),
      'invalid value "" for --colours (COLOURS): must name at least one of red, green, blue',
    );
  });

  test('a flag can redact what it echoes', () => {
    assert.equal(
      failure(['--secret-url=x://u:hunter2@host']),
      'invalid value "x://u:***@host" for --secret-url (SECRET_URL): must not start with x',
    );
  });
});

describe('the command line itself', () => {
  test('an unknown flag is named, with a suggestion when one is close', () => {
    assert.equal(failure(['--foo']), 'unknown flag --foo');
    assert.equal(failure(['--intreval=1m']), 'unknown flag --intreval (did you mean --interval?)');
    assert.equal(failure(['--dry_run']), 'unknown flag --dry_run (did you mean --dry-run?)');
    assert.equal(failure(['--dry-r']), 'unknown flag --dry-r (did you mean --dry-run?)');
    assert.equal(failure(['-x']), 'unknown flag -x');
    assert.equal(failure(['-interval=1m']), 'unknown flag -interval (did you mean --interval?)');
  });

  test('a flag without its value says so', () => {
    assert.equal(failure(['--name']), 'missing value for --name: expected a string');
    assert.equal(
      failure(['--interval', '--dry-run']),
      'missing value for --interval: expected a duration such as 15s or 1m30s',
    );
  });

  test('a stray argument is rejected; after a boolean, the message shows the = form', () => {
    assert.equal(failure(['hello']), 'unexpected argument "hello": this program takes flags only');
    assert.equal(
      failure(['--dry-run', 'false']),
      'unexpected argument "false": --dry-run takes no separate value (write --dry-run=false)',
    );
  });

  test('a value may start with a single dash', () => {
    assert.equal(load(['--name', '-x']).name, '-x');
  });
});

describe('rules across flags', () => {
  test('a rule names the flags in conflict', () => {
    assert.equal(failure(['--dry-run']), '--dry-run needs --workers=1');
  });

  test('a rule names the variable when the value came from the environment', () => {
    assert.equal(
      failure([], { DRY_RUN: 'true' }),
      '--dry-run from environment variable DRY_RUN needs --workers=1',
    );
  });

  test('a rule can quote the values as written, defaults included', () => {
    assert.equal(failure(['--timeout=90s']), '--timeout (90s) must be at most --interval (60s)');
  });
});

describe('--help', () => {
  test('-h and --help set help and skip every other check, so help always works', () => {
    assert.equal(load(['-h']).help, true);
    assert.equal(load(['--help']).help, true);
    const c = load(['--interval=1s', '--bogus', '--help', 'stray'], { WORKERS: 'zero' });
    assert.equal(c.help, true);
    assert.equal(c.intervalMs, 60_000, 'with --help the values are the defaults');
    assert.equal(c.workers, 4);
  });

  test('is grouped by section, each flag with its type, default and variable, like metrics-server', () => {
    const text = helpText(demo, 'demo');
    const lines = text.split('\n');
    assert.equal(lines[0], 'demo: a program for these tests.');
    assert.ok(text.includes('Usage:\n  demo [flags]\n'));
    assert.ok(text.indexOf('General flags:') < text.indexOf('Work flags:'));
    const line = (flag: string) =>
      lines.find((l) => l.includes(`--${flag} `) || l.endsWith(`--${flag}`)) ?? '';
    assert.match(line('interval'), /^ {6}--interval duration +How often\. \(default 60s\) \[\$INTERVAL\]$/);
    assert.match(line('name'), /^ {6}--name string +Who to greet\. \(default "world"\) \[\$NAME\]$/);
    assert.match(line('dry-run'), /^ {6}--dry-run +Do nothing\. \[\$DRY_RUN\]$/);
    assert.match(line('level'), /^ {2}-l, --level int +How loud\. \[\$LEVEL\]$/);
    assert.match(line('peers'), /--peers strings +Who else\. \(default \[a,b\]\) \[\$PEERS\]$/);
    assert.match(line('format'), /--format text\|json +How to print\. \(default "text"\) \[\$FORMAT\]$/);
    assert.match(
      line('max-body'),
      /--max-body quantity +The largest body\. \(default 16Mi\) \[\$MAX_BODY\]$/,
    );
    assert.match(line('probe-port'), /--probe-port int +Where probes go\. 0 = disabled\. \[\$PROBE_PORT\]$/);
    assert.match(line('help'), /^ {2}-h, --help +Show this help and exit\.$/);
  });

  test('help columns line up within a section', () => {
    const text = helpText(demo, 'demo');
    const work = text.split('Work flags:\n\n')[1]!.trimEnd().split('\n');
    assert.equal(work.length, 10);
    // where the help text starts: after the flag, its type and the padding
    const column = (l: string) => /^\s+(?:-\w, )?--\S+(?: \S+)?\s+/.exec(l)![0].length;
    assert.deepEqual(new Set(work.map(column)), new Set([column(work[0]!)]));
  });
});

describe('composing programs', () => {
  test('a program can reuse a flag with its own default', () => {
    const interval = duration('interval', {
      section: 'General',
      default: '60s',
      min: '1s',
      help: 'How often.',
    });
    const small = defineProgram({ description: 'small', flags: [withDefault(interval, '5s')] });
    assert.equal(loadConfig(small, [], {}).intervalMs, 5000);
    assert.match(helpText(small, 'small'), /\(default 5s\)/);
  });

  test('declaring the same flag twice is a programming error', () => {
    const a = string('name', { section: 'General', help: 'A.' });
    assert.throws(
      () => defineProgram({ description: 'twice', flags: [a, a] }),
      /flag --name is declared twice/,
    );
  });
});
