/**
 * The scraper's configuration: DESIGN.md's flag table for the defaults, metrics-server's validation
 * rules (reference/metrics-server-behaviour.md §2.2–§2.4) for what is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadScrapeConfig, shardTimeoutMs } from '../../../shared/config/index.ts';

function failure(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadScrapeConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be rejected`);
}

describe('given no flags, the scraper', () => {
  test('uses the defaults of DESIGN.md and metrics-server', () => {
    assert.deepEqual(loadScrapeConfig([], {}), {
      version: false,
      kubeconfig: '',
      metricResolutionMs: 60_000,
      maxOpenConnections: 2048,
      shutdownDelayDurationMs: 5000,
      redisUrl: 'redis://127.0.0.1:6379',
      redisSentinels: [],
      redisSentinelName: '',
      redisClusterNodes: [],
      redisUsername: '',
      redisPasswordFile: '',
      redisSentinelUsername: '',
      redisSentinelPasswordFile: '',
      redisTls: false,
      redisTlsCaFile: '',
      redisTlsCertFile: '',
      redisTlsKeyFile: '',
      redisTlsServerName: '',
      redisTlsInsecureSkipVerify: false,
      once: false,
      loop: false,
      port: 8080,
      bindAddress: '0.0.0.0',
      kubeletPort: 10250,
      kubeletUseNodeStatusPort: false,
      kubeletPreferredAddressTypes: ['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP'],
      kubeletInsecureTls: false,
      kubeletCertificateAuthority: '',
      kubeletClientCertificate: '',
      kubeletClientKey: '',
      kubeletRequestTimeoutMs: 10_000,
      kubeletEndpoint: 'resource',
      kubeletVia: 'direct',
      kubeletConcurrency: 256,
      kubeletMaxResponseSizeBytes: 16 * 1024 * 1024,
      nodeSelector: '',
      shardSize: 0,
      shardUrl: '',
      shardSecretFile: '',
      shardTimeoutMs: 0,
      v: 0,
      logFormat: 'text',
      help: false,
    });
  });
});

describe("metrics-server's manifest arguments", () => {
  test('for the kubelet client carry over unchanged', () => {
    const c = loadScrapeConfig(
      [
        '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
        '--kubelet-use-node-status-port',
        '--metric-resolution=15s',
      ],
      {},
    );
    assert.deepEqual(c.kubeletPreferredAddressTypes, ['InternalIP', 'ExternalIP', 'Hostname']);
    assert.equal(c.kubeletUseNodeStatusPort, true);
    assert.equal(c.metricResolutionMs, 15_000);
  });

  test('-v N and --v=N set the verbosity, -l the node selector', () => {
    assert.equal(loadScrapeConfig(['-v', '4'], {}).v, 4);
    assert.equal(loadScrapeConfig(['--v=10'], {}).v, 10);
    assert.equal(loadScrapeConfig(['-l', 'role=worker'], {}).nodeSelector, 'role=worker');
  });
});

describe('the platform', () => {
  test("sets the trigger server's port through PORT, as Knative does", () => {
    assert.equal(loadScrapeConfig([], { PORT: '9000' }).port, 9000);
  });

  test('configures every flag through its variable', () => {
    const c = loadScrapeConfig([], {
      METRIC_RESOLUTION: '30s',
      KUBELET_INSECURE_TLS: 'true',
      KUBELET_VIA: 'proxy',
      KUBELET_ENDPOINT: 'summary',
      KUBELET_MAX_RESPONSE_SIZE: '4Mi',
      LOG_FORMAT: 'json',
    });
    assert.equal(c.metricResolutionMs, 30_000);
    assert.equal(c.kubeletInsecureTls, true);
    assert.equal(c.kubeletVia, 'proxy');
    assert.equal(c.kubeletEndpoint, 'summary');
    assert.equal(c.kubeletMaxResponseSizeBytes, 4 * 1024 * 1024);
    assert.equal(c.logFormat, 'json');
  });
});

describe('the scraper refuses', () => {
  test('--once together with --loop', () => {
    assert.equal(failure(['--once', '--loop']), 'cannot use both --once and --loop');
    assert.equal(
      failure(['--once'], { LOOP: '1' }),
      'cannot use both --once and --loop from environment variable LOOP',
    );
  });

  test('a metric resolution under 10s', () => {
    assert.equal(
      failure(['--metric-resolution=9s']),
      'invalid value "9s" for --metric-resolution (METRIC_RESOLUTION): must be a duration of at least 10s',
    );
    assert.equal(
      failure([], { METRIC_RESOLUTION: '5s' }),
      'invalid value "5s" for --metric-resolution from environment variable METRIC_RESOLUTION: must be a duration of at least 10s',
    );
  });

  test('a kubelet request timeout that is not positive', () => {
    assert.equal(
      failure(['--kubelet-request-timeout=0s']),
      'invalid value "0s" for --kubelet-request-timeout (KUBELET_REQUEST_TIMEOUT): must be a duration greater than 0, such as 10s',
    );
  });

  test('a kubelet request timeout above 90% of the resolution, naming both flags', () => {
    // 10s resolution × 0.9 = 9s < the default 10s timeout: metrics-server refuses this too
    assert.equal(
      failure(['--metric-resolution=10s']),
      '--kubelet-request-timeout (10s) must be at most 90% of --metric-resolution (10s): lower the timeout or raise the resolution',
    );
    assert.equal(
      failure(['--metric-resolution=20s'], { KUBELET_REQUEST_TIMEOUT: '19s' }),
      '--kubelet-request-timeout from environment variable KUBELET_REQUEST_TIMEOUT (19s) must be at most 90% of --metric-resolution (20s): lower the timeout or raise the resolution',
    );
    assert.equal(
      loadScrapeConfig(['--metric-resolution=10s', '--kubelet-request-timeout=9s'], {})
        .kubeletRequestTimeoutMs,
      9000,
    );
    assert.throws(
      () => loadScrapeConfig(['--metric-resolution=10s', '--kubelet-request-timeout=9001ms'], {}),
      ConfigError,
    );
  });

  test('sharding flags that cannot work together, each with one line naming the flag', () => {
    assert.equal(failure(['--shard-url=http://scraper']), '--shard-url requires --shard-size');
    assert.equal(
      failure(['--shard-size=100', '--shard-url=http://scraper']),
      '--shard-url requires --shard-secret-file: a shard invocation is authenticated by its shared secret',
    );
    assert.equal(
      failure(['--shard-size=100', '--shard-url=scraper:8080', '--shard-secret-file=/s']),
      'invalid value "scraper:8080" for --shard-url (SHARD_URL): must be an http:// or https:// URL',
    );
    assert.equal(
      failure(['--shard-size=-1']),
      'invalid value "-1" for --shard-size (SHARD_SIZE): must be an integer of at least 0',
    );
    assert.equal(
      failure(['--metric-resolution=20s', '--shard-timeout=19s']),
      '--shard-timeout (19s) must be at most 90% of --metric-resolution (20s)',
    );
    assert.equal(
      failure(['--shard-timeout=5s']),
      '--shard-timeout (5s) must be longer than --kubelet-request-timeout (10s): a shard waits for its kubelets',
    );
    const c = loadScrapeConfig(
      ['--shard-size=500', '--shard-url=http://scraper.kube-system.svc', '--shard-secret-file=/s'],
      {},
    );
    assert.deepEqual([c.shardSize, c.shardUrl, c.shardTimeoutMs], [500, 'http://scraper.kube-system.svc', 0]);
    assert.equal(shardTimeoutMs(c), 15_000);
    assert.equal(
      shardTimeoutMs(loadScrapeConfig(['--metric-resolution=10s', '--kubelet-request-timeout=8s'], {})),
      9000,
    );
  });

  test('--kubelet-certificate-authority together with --kubelet-insecure-tls', () => {
    assert.equal(
      failure(['--kubelet-certificate-authority=/ca.crt', '--kubelet-insecure-tls']),
      'cannot use both --kubelet-certificate-authority and --kubelet-insecure-tls',
    );
    assert.equal(
      failure(['--kubelet-certificate-authority=/ca.crt'], { KUBELET_INSECURE_TLS: 'true' }),
      'cannot use both --kubelet-certificate-authority and --kubelet-insecure-tls from environment variable KUBELET_INSECURE_TLS',
    );
  });

  test('a kubelet client key without its certificate, and the other way round', () => {
    assert.equal(
      failure(['--kubelet-client-key=/tls.key']),
      '--kubelet-client-key requires --kubelet-client-certificate',
    );
    assert.equal(
      failure(['--kubelet-client-certificate=/tls.crt']),
      '--kubelet-client-certificate requires --kubelet-client-key',
    );
    const c = loadScrapeConfig(
      ['--kubelet-client-certificate=/tls.crt', '--kubelet-client-key=/tls.key'],
      {},
    );
    assert.equal(c.kubeletClientCertificate, '/tls.crt');
    assert.equal(c.kubeletClientKey, '/tls.key');
  });

  test('a node address type that does not exist, naming it', () => {
    assert.equal(
      failure(['--kubelet-preferred-address-types=InternalIP,PublicIP']),
      'invalid value "InternalIP,PublicIP" for --kubelet-preferred-address-types (KUBELET_PREFERRED_ADDRESS_TYPES): "PublicIP" is not one of Hostname, InternalDNS, InternalIP, ExternalDNS, ExternalIP',
    );
    assert.equal(
      failure(['--kubelet-preferred-address-types=internalip']),
      'invalid value "internalip" for --kubelet-preferred-address-types (KUBELET_PREFERRED_ADDRESS_TYPES): "internalip" is not one of Hostname, InternalDNS, InternalIP, ExternalDNS, ExternalIP',
    );
    assert.equal(
      failure(['--kubelet-preferred-address-types=']),
      'invalid value "" for --kubelet-preferred-address-types (KUBELET_PREFERRED_ADDRESS_TYPES): must name at least one of Hostname, InternalDNS, InternalIP, ExternalDNS, ExternalIP',
    );
  });

  test('an unknown kubelet endpoint or path', () => {
    assert.equal(
      failure(['--kubelet-endpoint=stats']),
      'invalid value "stats" for --kubelet-endpoint (KUBELET_ENDPOINT): must be one of resource, summary',
    );
    assert.equal(
      failure(['--kubelet-via=tunnel']),
      'invalid value "tunnel" for --kubelet-via (KUBELET_VIA): must be one of direct, proxy',
    );
  });

  test('a concurrency under 1 and a response limit that is not a size', () => {
    assert.equal(
      failure(['--kubelet-concurrency=0']),
      'invalid value "0" for --kubelet-concurrency (KUBELET_CONCURRENCY): must be an integer of at least 1',
    );
    assert.equal(
      failure(['--kubelet-max-response-size=16MB']),
      'invalid value "16MB" for --kubelet-max-response-size (KUBELET_MAX_RESPONSE_SIZE): must be a size greater than 0 such as 16Mi, 512Ki or 1G',
    );
  });

  test('ports outside 1–65535 (0 only for the trigger server: pick a free port)', () => {
    assert.equal(
      failure(['--kubelet-port=0']),
      'invalid value "0" for --kubelet-port (KUBELET_PORT): must be a port from 1 to 65535',
    );
    assert.equal(
      failure([], { PORT: '65536' }),
      'invalid value "65536" for --port from environment variable PORT: must be a port from 0 to 65535 (0 = pick a free port)',
    );
    assert.equal(loadScrapeConfig(['--port=0'], {}).port, 0);
  });

  test('a bind address that is not an IP address', () => {
    assert.equal(
      failure(['--bind-address=localhost']),
      'invalid value "localhost" for --bind-address (BIND_ADDRESS): must be an IP address such as 0.0.0.0 or ::',
    );
    assert.equal(loadScrapeConfig(['--bind-address=::'], {}).bindAddress, '::');
  });

  test('a node selector that does not parse, with the parser’s reason', () => {
    assert.match(
      failure(['--node-selector=(((']),
      /^invalid value "\(\(\(" for --node-selector \(NODE_SELECTOR\): must be a label selector: \S.*$/,
    );
    assert.equal(
      loadScrapeConfig(['--node-selector=env in (prod),!spot'], {}).nodeSelector,
      'env in (prod),!spot',
    );
  });
});
