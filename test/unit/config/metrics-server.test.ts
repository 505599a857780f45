/**
 * A user replacing metrics-server pastes its argument list into both functions (issue 9.6). Each
 * function takes the flags it implements, accepts its sibling's with one info line naming the function
 * that uses them, and refuses every other metrics-server flag with one line saying why it has no
 * meaning here. The argument lists are metrics-server's own (test/fixtures/metrics-server/upstream.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  ConfigError,
  loadScrapeConfig,
  loadServeConfig,
  METRICS_SERVER_FLAGS,
  type Notice,
  scrapeSpec,
  serveSpec,
} from '../../../shared/config/index.ts';

interface Upstream {
  flags: { names: string[] };
  arguments: Record<string, { from: string; args: string[] }>;
}
const upstream = JSON.parse(
  readFileSync(new URL('../../fixtures/metrics-server/upstream.json', import.meta.url), 'utf8'),
) as Upstream;

const programs = {
  scrape: { load: loadScrapeConfig, spec: scrapeSpec, sibling: 'serve', siblingSpec: serveSpec },
  serve: { load: loadServeConfig, spec: serveSpec, sibling: 'scrape', siblingSpec: scrapeSpec },
} as const;

function loadWithNotices(name: keyof typeof programs, argv: string[]) {
  const notices: Notice[] = [];
  const config = programs[name].load(argv, {}, (n) => notices.push(n));
  return { config, notices };
}

function failure(name: keyof typeof programs, argv: string[]): string {
  try {
    programs[name].load(argv, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`${name} accepted ${JSON.stringify(argv)}`);
}

const declares = (spec: typeof scrapeSpec | typeof serveSpec, name: string) =>
  spec.flags.some((f) => f.name === name || f.aliases.includes(name));
const flagName = (arg: string) => arg.replace(/^--/, '').split('=')[0]!;
const ignoredBy = (notices: Notice[]) =>
  notices.filter((n) => n.message === 'Flag used by another function; ignored here').map((n) => n.fields);

describe("metrics-server's own argument lists, through both functions", () => {
  for (const [list, { from, args }] of Object.entries(upstream.arguments)) {
    test(`${list} (${from.split(/[ ,:]/)[0]}) loads in scrape and serve, each noting the other's flags`, () => {
      for (const name of ['scrape', 'serve'] as const) {
        const { notices } = loadWithNotices(name, args);
        const { spec, sibling } = programs[name];
        const theirs = args.map(flagName).filter((f) => !declares(spec, f));
        assert.deepEqual(
          ignoredBy(notices),
          theirs.map((f) => ({ flag: `--${f}`, usedBy: sibling })),
          `${name}: one info line per flag of ${sibling}`,
        );
        assert.ok(
          theirs.every((f) => declares(programs[name].siblingSpec, f)),
          `${name}: every other flag is ${sibling}'s`,
        );
      }
    });
  }

  test("the manifests' values land where each function uses them", () => {
    const args = upstream.arguments.testComponent!.args;
    const scrape = loadScrapeConfig(args, {});
    assert.deepEqual(scrape.kubeletPreferredAddressTypes, ['InternalIP', 'ExternalIP', 'Hostname']);
    assert.equal(scrape.kubeletUseNodeStatusPort, true);
    assert.equal(scrape.metricResolutionMs, 15_000);
    assert.equal(scrape.kubeletInsecureTls, true);
    assert.equal(scrape.nodeSelector, 'metrics-server-skip!=true');
    assert.equal(scrape.v, 4);
    const serve = loadServeConfig(args, {});
    assert.equal(serve.certDir, '/tmp');
    assert.equal(serve.securePort, 10250);
    assert.equal(serve.metricResolutionMs, 15_000);
    assert.equal(serve.v, 4);

    const helm = loadServeConfig(upstream.arguments.helmRendered!.args, {});
    assert.deepEqual(helm.authorizationAlwaysAllowPaths, ['/metrics']);
    assert.equal(helm.tlsCertFile, '/tmp/tls-certs/tls.crt');
    assert.equal(helm.tlsPrivateKeyFile, '/tmp/tls-certs/tls.key');
  });

  test('a sibling flag is noted once however often it is given, and its value is still checked', () => {
    const { notices } = loadWithNotices('scrape', ['--cert-dir=/a', '--cert-dir', '/b']);
    assert.deepEqual(ignoredBy(notices), [{ flag: '--cert-dir', usedBy: 'serve' }]);
    assert.equal(
      failure('scrape', ['--secure-port=https']),
      'invalid value "https" for --secure-port (a flag of the serve function): must be a port from 0 to 65535 (0 = pick a free port)',
    );
    assert.equal(
      failure('serve', ['--kubelet-request-timeout=soon']),
      'invalid value "soon" for --kubelet-request-timeout (a flag of the scrape function): must be a duration such as 15s or 1m30s',
    );
  });

  test("a sibling's short flag and boolean flags take values as in the sibling", () => {
    const { config, notices } = loadWithNotices('serve', [
      '-l',
      'tier=web',
      '--kubelet-insecure-tls',
      '--v=2',
    ]);
    assert.deepEqual(ignoredBy(notices), [
      { flag: '--node-selector', usedBy: 'scrape' },
      { flag: '--kubelet-insecure-tls', usedBy: 'scrape' },
    ]);
    assert.equal(config.v, 2);
  });

  test('every flag one function declares is accepted by the other (the mechanism, flag by flag)', () => {
    for (const name of ['scrape', 'serve'] as const) {
      const { spec, siblingSpec, sibling } = programs[name];
      for (const f of siblingSpec.flags) {
        if (f.name === 'help' || declares(spec, f.name)) continue;
        const arg = f.boolean ? `--${f.name}` : `--${f.name}=${f.default}`;
        const { notices } = loadWithNotices(name, [arg]);
        assert.deepEqual(ignoredBy(notices), [{ flag: `--${f.name}`, usedBy: sibling }], `${name} ${arg}`);
      }
    }
  });
});

describe('the generic API-server flags metrics-server users set', () => {
  test("--v and --logging-format (component-base's name for --log-format) work in both", () => {
    for (const name of ['scrape', 'serve'] as const) {
      const { config, notices } = loadWithNotices(name, ['--v=4', '--logging-format=json']);
      assert.equal(config.v, 4);
      assert.equal(config.logFormat, 'json');
      assert.deepEqual(notices, []);
      assert.equal(
        failure(name, ['--logging-format=yaml']),
        'invalid value "yaml" for --logging-format: must be one of text, json',
      );
    }
  });

  test("--tls-min-version and --tls-cipher-suites take Go's names in serve, and scrape notes them as serve's", () => {
    const args = [
      '--tls-min-version=VersionTLS13',
      '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256',
    ];
    const serve = loadServeConfig(args, {});
    assert.equal(serve.tlsMinVersion, 'VersionTLS13');
    assert.deepEqual(serve.tlsCipherSuites, [
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      'TLS_AES_128_GCM_SHA256',
    ]);
    assert.deepEqual(ignoredBy(loadWithNotices('scrape', args).notices), [
      { flag: '--tls-min-version', usedBy: 'serve' },
      { flag: '--tls-cipher-suites', usedBy: 'serve' },
    ]);
    assert.equal(
      failure('serve', ['--tls-min-version=TLS1.2']),
      'invalid value "TLS1.2" for --tls-min-version (TLS_MIN_VERSION): must be one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13',
    );
    assert.equal(
      failure('scrape', ['--tls-cipher-suites=ECDHE-RSA-AES128-GCM-SHA256']),
      'invalid value "ECDHE-RSA-AES128-GCM-SHA256" for --tls-cipher-suites (a flag of the serve function): "ECDHE-RSA-AES128-GCM-SHA256" is not a cipher suite name of Go\'s crypto/tls (such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)',
    );
  });
});

describe('every other metrics-server flag', () => {
  const refused = METRICS_SERVER_FLAGS.filter((f) => f.refused !== undefined);

  test('stops both functions with one line naming it and why it has no meaning here', () => {
    assert.ok(refused.length > 50);
    for (const f of refused) {
      for (const name of ['scrape', 'serve'] as const) {
        const message = failure(name, [`--${f.name}=x`]);
        assert.equal(message, `--${f.name} is a metrics-server flag that has no meaning here: ${f.refused}`);
        assert.doesNotMatch(message, /[\r\n]/);
      }
    }
  });

  test('is refused even at the value that would be harmless elsewhere, unless it states what happens here', () => {
    assert.match(failure('serve', ['--profiling']), /^--profiling is a metrics-server flag/);
    assert.match(failure('serve', ['--disable-http2-serving=false']), /^--disable-http2-serving is a/);
    for (const f of METRICS_SERVER_FLAGS.filter((x) => x.harmless !== undefined)) {
      for (const name of ['scrape', 'serve'] as const) {
        const { notices } = loadWithNotices(name, [`--${f.name}=${f.harmless}`]);
        assert.deepEqual(notices, [
          {
            message: 'A metrics-server flag that states what happens here anyway; ignored',
            fields: { flag: `--${f.name}=${f.harmless}`, why: f.refused },
          },
        ]);
      }
    }
  });

  test('--tls-min-version is never silently ignored: an unknown spelling is an error, not a default', () => {
    assert.match(
      failure('scrape', ['--tls-min-version=VersionTLS14']),
      /--tls-min-version \(a flag of the serve/,
    );
  });
});

describe('the table of metrics-server flags (shared/config/metrics-server.ts)', () => {
  test("names every flag of metrics-server's --help, once", () => {
    const names = METRICS_SERVER_FLAGS.map((f) => f.name);
    assert.equal(new Set(names).size, names.length, 'no flag twice');
    assert.deepEqual([...names].sort(), upstream.flags.names);
  });

  test('a flag without a reason is declared by a function here, and a flag with one by neither', () => {
    for (const f of METRICS_SERVER_FLAGS) {
      const takers = (['scrape', 'serve'] as const).filter((n) => declares(programs[n].spec, f.name));
      if (f.refused === undefined) {
        assert.ok(takers.length > 0, `--${f.name} has no reason to be refused, yet no function declares it`);
      } else {
        assert.deepEqual(takers, [], `--${f.name} is declared by ${takers.join(', ')}: remove its reason`);
      }
    }
  });
});
