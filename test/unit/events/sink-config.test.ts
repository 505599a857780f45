/**
 * Sinks as the operator names them: --sink URIs (heapster's form) and the --sink-config file, parsed
 * once at start; everything wrong is one line naming the flag or the file and the place in it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { configuredSinks } from '../../../functions/events/sink-config.ts';
import { redisSink } from '../../../functions/events/sinks/redis.ts';
import { parseSinkUri, sinkKinds } from '../../../functions/events/sinks/registry.ts';
import { InvalidSink } from '../../../functions/events/sinks/sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'sink-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const file = (text: string) => {
  const f = join(dir, `sinks-${files++}.yaml`);
  writeFileSync(f, text);
  return f;
};

function refused(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof InvalidSink, `expected InvalidSink, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err.message;
  }
  assert.fail('expected it to be refused');
}

describe('--sink', () => {
  test('names each sink after its kind, in the order given', () => {
    const s = configuredSinks(['stdout', 'redis:?stream=k8s-events'], '');
    assert.deepEqual(
      s.map((x) => [x.name, x.kind, x.uri]),
      [
        ['stdout', 'stdout', 'stdout'],
        ['redis', 'redis', 'redis:?stream=k8s-events'],
      ],
    );
  });

  test('refuses an unknown kind, listing the known ones', () => {
    assert.equal(
      refused(() => configuredSinks(['elasticsearch:http://es:9200'], '')),
      `invalid value "elasticsearch:http://es:9200" for --sink: unknown sink kind "elasticsearch" (known: ${sinkKinds().join(', ')})`,
    );
  });

  test('refuses two sinks of one kind (their cursors would be one), pointing to --sink-config', () => {
    assert.match(
      refused(() => configuredSinks(['redis:?stream=a', 'redis:?stream=b'], '')),
      /two --sink redis: .* --sink-config/,
    );
  });

  test('refuses options a kind does not know, and stdout with any', () => {
    assert.match(
      refused(() => configuredSinks(['redis:?stram=x'], '')),
      /for --sink: redis sink: unknown option "stram"; allowed: maxlen, password_file, stream$/,
    );
    assert.match(
      refused(() => configuredSinks(['stdout:?x=1'], '')),
      /stdout takes no options/,
    );
  });
});

describe('the redis sink URI', () => {
  test("without a URL writes to the function's own Redis; stream and maxlen have defaults", () => {
    assert.deepEqual(redisSink.parse(''), { stream: 'k8s-events', maxlen: 100_000, url: undefined });
    assert.deepEqual(redisSink.parse('?stream=audit&maxlen=0'), {
      stream: 'audit',
      maxlen: 0,
      url: undefined,
    });
  });

  test('with a redis:// or rediss:// URL names another Redis and database, options in its query', () => {
    assert.deepEqual(redisSink.parse('redis://events-redis:6380/2?stream=k8s'), {
      stream: 'k8s',
      maxlen: 100_000,
      url: 'redis://events-redis:6380/2',
    });
    assert.equal(redisSink.parse('rediss://user@r.example:6379').url, 'rediss://user@r.example:6379');
  });

  test('refuses a password in the URL (it would show in flags and logs), an unreadable password_file, bad values', () => {
    assert.match(
      refused(() => redisSink.parse('redis://:hunter2@r:6379?stream=x')),
      /use password_file=FILE/,
    );
    assert.match(
      refused(() => redisSink.parse('redis://r:6379?password_file=/no/such/file')),
      /redis sink: option "password_file": cannot read \/no\/such\/file: ENOENT/,
    );
    assert.match(
      refused(() => redisSink.parse('?password_file=/etc/hostname')),
      /password_file goes with a redis:\/\/ URL/,
    );
    assert.match(
      refused(() => redisSink.parse('?maxlen=-1')),
      /redis sink: option "maxlen": expected a whole number from 0 to /,
    );
    assert.match(
      refused(() => redisSink.parse('?stream=')),
      /redis sink: option "stream": must not be empty/,
    );
    assert.match(
      refused(() => redisSink.parse('http://r:6379')),
      /must be a redis:\/\/ or rediss:\/\//,
    );
    assert.match(
      refused(() => redisSink.parse('?stream=a&stream=b')),
      /redis sink: option "stream" is given more than once/,
    );
    assert.match(
      refused(() => parseSinkUri('redis:r:6379')),
      /neither \?OPTIONS nor a redis:\/\/ URL|must be a redis/,
    );
  });
});

describe('--sink-config', () => {
  test('gives named sinks with routing, after the --sink ones', () => {
    const f = file(`
sinks:
  - name: warnings
    uri: 'redis:?stream=warnings'
    match:
      - type: Warning
    drop:
      - namespace: kube-system
  - name: everything
    uri: stdout
`);
    const s = configuredSinks(['redis:?stream=all'], f);
    assert.deepEqual(
      s.map((x) => [x.name, x.kind, x.route.match.length, x.route.drop.length]),
      [
        ['redis', 'redis', 0, 0],
        ['warnings', 'redis', 1, 1],
        ['everything', 'stdout', 0, 0],
      ],
    );
    assert.ok(s[1]!.route.match[0]!.type instanceof RegExp);
  });

  const bad: [string, string, RegExp][] = [
    ['not YAML', 'sinks: [unclosed', /is not YAML: /],
    ['no sinks', 'sinks: []', /: sinks: must name at least one sink$/],
    ['an empty file', '', /: sinks: /],
    ['an unknown top-level field', 'sinks: [{name: a, uri: stdout}]\nroute: {}', /: unknown field "route"$/],
    [
      'an unknown field in a sink (a typo)',
      'sinks: [{name: a, uri: stdout, mathc: []}]',
      /: sinks\[0\]: unknown field "mathc"$/,
    ],
    [
      'an invalid pattern',
      'sinks: [{name: a, uri: stdout, drop: [{namespace: "*test*"}]}]',
      /: sinks\[0\]\.drop\[0\]\.namespace: invalid regular expression "\*test\*": /,
    ],
    [
      'a bad name',
      'sinks: [{name: "My Sink", uri: stdout}]',
      /: sinks\[0\]\.name: must be lower-case letters/,
    ],
    [
      'a bad URI',
      'sinks: [{name: a, uri: "redis:?nope=1"}]',
      /: sinks\[0\] \(a\): redis sink: unknown option "nope"; allowed: maxlen, password_file, stream$/,
    ],
    [
      'a name used twice',
      'sinks: [{name: a, uri: stdout}, {name: a, uri: "redis:"}]',
      /the sink name a is used twice/,
    ],
  ];
  for (const [what, text, message] of bad) {
    test(`with ${what} stops the program, naming the file and the place`, () => {
      const f = file(text);
      const m = refused(() => configuredSinks([], f));
      assert.ok(m.includes(`--sink-config ${f}`), m);
      assert.match(m, message);
    });
  }

  test('that cannot be read is named with the cause', () => {
    assert.match(
      refused(() => configuredSinks([], join(dir, 'missing.yaml'))),
      /^cannot read --sink-config .*missing\.yaml: ENOENT/,
    );
  });

  test('may not reuse a name a --sink has (its kind)', () => {
    assert.match(
      refused(() => configuredSinks(['stdout'], file('sinks: [{name: stdout, uri: "redis:"}]'))),
      /the sink name stdout is used twice/,
    );
  });
});
