/** The serve function's configuration: DESIGN.md's flag table, metrics-server's serving and auth flags. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadServeConfig } from '../../../shared/config/index.ts';

function failure(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadServeConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be rejected`);
}

describe('given no flags, the serve function', () => {
  test('uses the defaults of DESIGN.md and metrics-server', () => {
    assert.deepEqual(loadServeConfig([], {}), {
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
      securePort: 10250,
      bindAddress: '0.0.0.0',
      port: 0,
      tlsCertFile: '',
      tlsPrivateKeyFile: '',
      certDir: '',
      tlsMinVersion: 'VersionTLS12',
      tlsCipherSuites: [],
      authenticationKubeconfig: '',
      clientCaFile: '',
      requestheaderClientCaFile: '',
      authenticationTokenWebhookCacheTtlMs: 10_000,
      requestheaderAllowedNames: [],
      requestheaderUsernameHeaders: ['X-Remote-User'],
      requestheaderGroupHeaders: ['X-Remote-Group'],
      requestheaderExtraHeadersPrefix: ['X-Remote-Extra-'],
      authorizationAlwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
      authorizationKubeconfig: '',
      authorizationWebhookCacheAuthorizedTtlMs: 10_000,
      authorizationWebhookCacheUnauthorizedTtlMs: 10_000,
      v: 0,
      logFormat: 'text',
      help: false,
    });
  });
});

describe("metrics-server's manifest arguments", () => {
  test('for serving carry over unchanged', () => {
    const c = loadServeConfig(['--cert-dir=/tmp', '--secure-port=10250', '--metric-resolution=15s'], {});
    assert.equal(c.certDir, '/tmp');
    assert.equal(c.securePort, 10250);
    assert.equal(c.metricResolutionMs, 15_000);
  });
});

describe('the kubeconfigs for TokenReview and SubjectAccessReview', () => {
  test('default to --kubeconfig', () => {
    const c = loadServeConfig(['--kubeconfig=/etc/kube/config'], {});
    assert.equal(c.authenticationKubeconfig, '/etc/kube/config');
    assert.equal(c.authorizationKubeconfig, '/etc/kube/config');
  });

  test('can each be set on their own', () => {
    const c = loadServeConfig(['--kubeconfig=/k', '--authentication-kubeconfig=/authn'], {
      AUTHORIZATION_KUBECONFIG: '/authz',
    });
    assert.equal(c.kubeconfig, '/k');
    assert.equal(c.authenticationKubeconfig, '/authn');
    assert.equal(c.authorizationKubeconfig, '/authz');
  });

  test('--kubeconfig itself comes from $KUBECONFIG when not given', () => {
    assert.equal(
      loadServeConfig([], { KUBECONFIG: '/home/me/.kube/config' }).kubeconfig,
      '/home/me/.kube/config',
    );
  });
});

describe('ports', () => {
  test('the plain-HTTP port is off unless the platform sets PORT', () => {
    assert.equal(loadServeConfig([], {}).port, 0);
    assert.equal(loadServeConfig([], { PORT: '8080' }).port, 8080);
  });

  test('0 means "pick a free port" for --secure-port; anything past 65535 is refused', () => {
    assert.equal(loadServeConfig(['--secure-port=0'], {}).securePort, 0);
    assert.equal(
      failure(['--secure-port=70000']),
      'invalid value "70000" for --secure-port (SECURE_PORT): must be a port from 0 to 65535 (0 = pick a free port)',
    );
  });
});

describe('the serving certificate', () => {
  test('needs both files or neither', () => {
    assert.equal(failure(['--tls-cert-file=/tls.crt']), '--tls-cert-file requires --tls-private-key-file');
    assert.equal(
      failure([], { TLS_PRIVATE_KEY_FILE: '/tls.key' }),
      '--tls-private-key-file from environment variable TLS_PRIVATE_KEY_FILE requires --tls-cert-file',
    );
    const c = loadServeConfig(['--tls-cert-file=/tls.crt', '--tls-private-key-file=/tls.key'], {});
    assert.equal(c.tlsCertFile, '/tls.crt');
    assert.equal(c.tlsPrivateKeyFile, '/tls.key');
  });
});

describe('delegated authentication and authorization', () => {
  test('request-header lists take comma-separated values, as metrics-server’s do', () => {
    const c = loadServeConfig(
      [
        '--requestheader-allowed-names=front-proxy-client,aggregator',
        '--requestheader-group-headers=X-Groups',
      ],
      {},
    );
    assert.deepEqual(c.requestheaderAllowedNames, ['front-proxy-client', 'aggregator']);
    assert.deepEqual(c.requestheaderGroupHeaders, ['X-Groups']);
  });

  test('always-allowed paths must be paths', () => {
    assert.deepEqual(
      loadServeConfig(['--authorization-always-allow-paths=/healthz,/metrics'], {})
        .authorizationAlwaysAllowPaths,
      ['/healthz', '/metrics'],
    );
    assert.equal(
      failure(['--authorization-always-allow-paths=/healthz,readyz']),
      'invalid value "/healthz,readyz" for --authorization-always-allow-paths (AUTHORIZATION_ALWAYS_ALLOW_PATHS): "readyz" is not a path starting with /',
    );
  });

  test("the scraper's flags are accepted and left to it; a flag neither knows is unknown", () => {
    const notices: unknown[] = [];
    loadServeConfig(['--kubelet-insecure-tls'], {}, (n) => notices.push(n));
    assert.deepEqual(notices, [
      {
        message: 'Flag used by another function; ignored here',
        fields: { flag: '--kubelet-insecure-tls', usedBy: 'scrape' },
      },
    ]);
    assert.equal(failure(['--kubelet-insecure-tsl']), 'unknown flag --kubelet-insecure-tsl');
  });
});
