/**
 * `--help` of both functions: every flag, with its type, its environment variable and its default, in
 * metrics-server's layout. The expected defaults are DESIGN.md's flag table, written out by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  helpText,
  loadScrapeConfig,
  loadServeConfig,
  scrapeSpec,
  serveSpec,
} from '../../../shared/config/index.ts';

/** [flag, environment variable, `(default …)` text or undefined when none is shown] */
type Row = [string, string, string | undefined];

const common: Row[] = [
  ['kubeconfig', 'KUBECONFIG', undefined],
  ['metric-resolution', 'METRIC_RESOLUTION', '60s'],
  ['max-open-connections', 'MAX_OPEN_CONNECTIONS', '2048'],
  ['shutdown-delay-duration', 'SHUTDOWN_DELAY_DURATION', '5s'],
  ['redis-url', 'REDIS_URL', '"redis://127.0.0.1:6379"'],
  ['redis-sentinels', 'REDIS_SENTINELS', undefined],
  ['redis-sentinel-name', 'REDIS_SENTINEL_NAME', undefined],
  ['redis-cluster-nodes', 'REDIS_CLUSTER_NODES', undefined],
  ['redis-username', 'REDIS_USERNAME', undefined],
  ['redis-password-file', 'REDIS_PASSWORD_FILE', undefined],
  ['redis-sentinel-username', 'REDIS_SENTINEL_USERNAME', undefined],
  ['redis-sentinel-password-file', 'REDIS_SENTINEL_PASSWORD_FILE', undefined],
  ['redis-tls', 'REDIS_TLS', undefined],
  ['redis-tls-ca-file', 'REDIS_TLS_CA_FILE', undefined],
  ['redis-tls-cert-file', 'REDIS_TLS_CERT_FILE', undefined],
  ['redis-tls-key-file', 'REDIS_TLS_KEY_FILE', undefined],
  ['redis-tls-server-name', 'REDIS_TLS_SERVER_NAME', undefined],
  ['redis-tls-insecure-skip-verify', 'REDIS_TLS_INSECURE_SKIP_VERIFY', undefined],
  ['v', 'V', undefined],
  ['log-format', 'LOG_FORMAT', '"text"'],
];

const scrape: Row[] = [
  ...common,
  ['once', 'ONCE', undefined],
  ['loop', 'LOOP', undefined],
  ['port', 'PORT', '8080'],
  ['bind-address', 'BIND_ADDRESS', '"0.0.0.0"'],
  ['kubelet-port', 'KUBELET_PORT', '10250'],
  ['kubelet-use-node-status-port', 'KUBELET_USE_NODE_STATUS_PORT', undefined],
  [
    'kubelet-preferred-address-types',
    'KUBELET_PREFERRED_ADDRESS_TYPES',
    '[Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP]',
  ],
  ['kubelet-insecure-tls', 'KUBELET_INSECURE_TLS', undefined],
  ['kubelet-certificate-authority', 'KUBELET_CERTIFICATE_AUTHORITY', undefined],
  ['kubelet-client-certificate', 'KUBELET_CLIENT_CERTIFICATE', undefined],
  ['kubelet-client-key', 'KUBELET_CLIENT_KEY', undefined],
  ['kubelet-request-timeout', 'KUBELET_REQUEST_TIMEOUT', '10s'],
  ['kubelet-endpoint', 'KUBELET_ENDPOINT', '"resource"'],
  ['kubelet-via', 'KUBELET_VIA', '"direct"'],
  ['kubelet-concurrency', 'KUBELET_CONCURRENCY', '256'],
  ['kubelet-max-response-size', 'KUBELET_MAX_RESPONSE_SIZE', '16Mi'],
  ['node-selector', 'NODE_SELECTOR', undefined],
  ['shard-size', 'SHARD_SIZE', undefined],
  ['shard-url', 'SHARD_URL', undefined],
  ['shard-secret-file', 'SHARD_SECRET_FILE', undefined],
  ['shard-timeout', 'SHARD_TIMEOUT', '0s'],
];

const serve: Row[] = [
  ...common,
  ['secure-port', 'SECURE_PORT', '10250'],
  ['bind-address', 'BIND_ADDRESS', '"0.0.0.0"'],
  ['port', 'PORT', undefined],
  ['tls-cert-file', 'TLS_CERT_FILE', undefined],
  ['tls-private-key-file', 'TLS_PRIVATE_KEY_FILE', undefined],
  ['cert-dir', 'CERT_DIR', undefined],
  ['tls-min-version', 'TLS_MIN_VERSION', '"VersionTLS12"'],
  ['tls-cipher-suites', 'TLS_CIPHER_SUITES', undefined],
  ['client-ca-file', 'CLIENT_CA_FILE', undefined],
  ['requestheader-client-ca-file', 'REQUESTHEADER_CLIENT_CA_FILE', undefined],
  ['authentication-token-webhook-cache-ttl', 'AUTHENTICATION_TOKEN_WEBHOOK_CACHE_TTL', '10s'],
  ['requestheader-allowed-names', 'REQUESTHEADER_ALLOWED_NAMES', undefined],
  ['requestheader-username-headers', 'REQUESTHEADER_USERNAME_HEADERS', '[X-Remote-User]'],
  ['requestheader-group-headers', 'REQUESTHEADER_GROUP_HEADERS', '[X-Remote-Group]'],
  ['requestheader-extra-headers-prefix', 'REQUESTHEADER_EXTRA_HEADERS_PREFIX', '[X-Remote-Extra-]'],
  ['authorization-always-allow-paths', 'AUTHORIZATION_ALWAYS_ALLOW_PATHS', '[/healthz,/readyz,/livez]'],
  ['authentication-kubeconfig', 'AUTHENTICATION_KUBECONFIG', undefined],
  ['authorization-kubeconfig', 'AUTHORIZATION_KUBECONFIG', undefined],
  ['authorization-webhook-cache-authorized-ttl', 'AUTHORIZATION_WEBHOOK_CACHE_AUTHORIZED_TTL', '10s'],
  ['authorization-webhook-cache-unauthorized-ttl', 'AUTHORIZATION_WEBHOOK_CACHE_UNAUTHORIZED_TTL', '10s'],
];

const cases = [
  { name: 'scrape', spec: scrapeSpec, rows: scrape, load: loadScrapeConfig },
  { name: 'serve', spec: serveSpec, rows: serve, load: loadServeConfig },
];

for (const { name, spec, rows, load } of cases) {
  describe(`${name} --help`, () => {
    const text = helpText(spec, name);
    const lines = text.split('\n');
    const lineOf = (flag: string) => lines.find((l) => new RegExp(`^ +(?:-\\w, )?--${flag}( |$)`).test(l));

    test('lists every flag with its variable and default', () => {
      for (const [flag, env, def] of rows) {
        const line = lineOf(flag);
        assert.ok(line, `--${flag} is missing from --help`);
        assert.ok(line.endsWith(` [$${env}]`), `--${flag} shows [$${env}]: ${line}`);
        if (def === undefined) assert.doesNotMatch(line, /\(default /, `--${flag} shows no default`);
        else assert.ok(line.includes(` (default ${def}) `), `--${flag} shows (default ${def}): ${line}`);
      }
    });

    test('lists nothing the program does not declare, and -h/--help and --version without a variable', () => {
      const listed = lines.filter((l) => /^ {2}(?:-\w, | {4})--/.test(l));
      assert.equal(listed.length, rows.length + 2);
      assert.match(lineOf('help') ?? '', /^ {2}-h, --help +Show this help and exit\.$/);
      assert.match(lineOf('version') ?? '', /^ {6}--version +Show version and exit\.$/);
    });

    test("ends with the sibling's flags being accepted, and metrics-server's others refused", () => {
      const sibling = name === 'scrape' ? 'serve' : 'scrape';
      assert.ok(text.includes(`The flags of the ${sibling} function are accepted too, and ignored here`));
      assert.ok(text.endsWith('(docs/configuration.md: "Coming from metrics-server").\n'));
    });

    test('shows each flag’s type as pflag does', () => {
      assert.match(lineOf('metric-resolution') ?? '', /--metric-resolution duration /);
      assert.match(lineOf('redis-url') ?? '', /--redis-url string /);
      assert.match(lineOf('redis-sentinels') ?? '', /--redis-sentinels strings /);
      assert.match(lineOf('v') ?? '', /^ {2}-v, --v int /);
      assert.match(lineOf('log-format') ?? '', /--log-format text\|json /);
    });

    test('starts with what the program is and how to call it, and groups flags under section titles', () => {
      assert.match(lines[0]!, new RegExp(`^${name}: `));
      assert.ok(text.includes(`Usage:\n  ${name} [flags]\n`));
      assert.ok(text.indexOf('General flags:\n') < text.indexOf('Redis flags:\n'));
      assert.ok(text.indexOf('Redis flags:\n') < text.indexOf('Logging flags:\n'));
    });

    test('is asked for with -h or --help, and wins over bad flags', () => {
      assert.equal(load(['-h'], {}).help, true);
      assert.equal(load(['--no-such-flag', '--help'], {}).help, true);
    });
  });
}
