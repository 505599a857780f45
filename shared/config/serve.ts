/** The serve function's flags: metrics-server's secure serving, delegated authentication and authorization. */

import { ipAddress } from './checks.ts';
import {
  kubeconfig,
  loggingFlags,
  metricResolution,
  redisFlags,
  redisRules,
  servingFlags,
  version,
} from './flags.ts';
import { loadConfig, type Notice } from './load.ts';
import { metricsServer } from './metrics-server.ts';
import { type ConfigFor, defineProgram, type Siblings } from './program.ts';
import { scrapeSpec } from './scrape.ts';
import { type Check, duration, list, oneOf, port, string } from './spec.ts';
import { cipherSuite, TLS_VERSION_NAMES } from './tls.ts';

const SERVING = 'Secure serving';
const AUTHN = 'Authentication';
const AUTHZ = 'Authorization';

/** A path, or a prefix ending in `*` (k8s.io/apiserver's path authorizer allows no other `*`). */
const absolutePath: Check<string> = (v) => {
  if (!v.startsWith('/')) return `${JSON.stringify(v)} is not a path starting with /`;
  if (v.slice(0, -1).includes('*')) return `${JSON.stringify(v)}: only a trailing * is allowed`;
  return undefined;
};

export const serveSpec = defineProgram({
  description:
    'serve: answers metrics.k8s.io (kubectl top, the HPA) over HTTPS from what the scraper wrote to Redis.',
  // With scrape, it replaces metrics-server: one argument list carries over to both.
  siblings: (): Siblings => ({ scrape: scrapeSpec }),
  replaces: metricsServer,
  flags: [
    version,
    kubeconfig,
    metricResolution,
    ...servingFlags,
    ...redisFlags,
    port('secure-port', {
      section: SERVING,
      default: 10250,
      zero: 'pick a free port',
      help: 'The port on which to serve HTTPS with authentication and authorization.',
    }),
    string('bind-address', {
      section: SERVING,
      default: '0.0.0.0',
      check: ipAddress,
      help: 'The IP address on which to listen for the --secure-port and --port ports. If 0.0.0.0 or ::, all interfaces will be used.',
    }),
    port('port', {
      section: SERVING,
      default: 0,
      zero: 'disabled',
      help: "A plain-HTTP port for the platform's probes and watchdog (OpenFaaS, Knative set PORT).",
    }),
    string('tls-cert-file', {
      section: SERVING,
      help: 'File containing the default x509 Certificate for HTTPS. (CA cert, if any, concatenated after server cert). If --tls-cert-file and --tls-private-key-file are not provided, a self-signed certificate and key are generated and saved to the directory specified by --cert-dir.',
    }),
    string('tls-private-key-file', {
      section: SERVING,
      help: 'File containing the default x509 private key matching --tls-cert-file.',
    }),
    string('cert-dir', {
      section: SERVING,
      help: 'The directory where the self-signed certificate is written (defaults to a new temporary folder). If --tls-cert-file and --tls-private-key-file are provided, this flag will be ignored.',
    }),
    oneOf('tls-min-version', TLS_VERSION_NAMES, {
      section: SERVING,
      default: 'VersionTLS12',
      help: 'Minimum TLS version supported. Possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13',
    }),
    list('tls-cipher-suites', {
      section: SERVING,
      item: cipherSuite,
      help: "Comma-separated list of cipher suites for the server, by Go's names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, …). They choose what TLS 1.0–1.2 may negotiate; TLS 1.3's suites are always on, as in Go. If omitted, the default suites are used.",
    }),
    string('authentication-kubeconfig', {
      section: AUTHN,
      help: "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create tokenreviews.authentication.k8s.io (defaults to --kubeconfig).",
    }),
    string('client-ca-file', {
      section: AUTHN,
      help: 'If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.',
    }),
    string('requestheader-client-ca-file', {
      section: AUTHN,
      help: 'Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers (defaults to the one in kube-system/extension-apiserver-authentication).',
    }),
    duration('authentication-token-webhook-cache-ttl', {
      section: AUTHN,
      default: '10s',
      help: 'The duration to cache responses from the webhook token authenticator.',
    }),
    list('requestheader-allowed-names', {
      section: AUTHN,
      help: 'List of client certificate common names to allow to provide usernames in headers specified by --requestheader-username-headers. If empty, any client certificate validated by the authorities in --requestheader-client-ca-file is allowed.',
    }),
    list('requestheader-username-headers', {
      section: AUTHN,
      default: ['X-Remote-User'],
      help: 'List of request headers to inspect for usernames. X-Remote-User is common.',
    }),
    list('requestheader-group-headers', {
      section: AUTHN,
      default: ['X-Remote-Group'],
      help: 'List of request headers to inspect for groups. X-Remote-Group is suggested.',
    }),
    list('requestheader-extra-headers-prefix', {
      section: AUTHN,
      default: ['X-Remote-Extra-'],
      help: 'List of request header prefixes to inspect. X-Remote-Extra- is suggested.',
    }),
    list('authorization-always-allow-paths', {
      section: AUTHZ,
      default: ['/healthz', '/readyz', '/livez'],
      item: absolutePath,
      help: "A list of HTTP paths to skip during authorization, i.e. these are authorized without contacting the 'core' kubernetes server.",
    }),
    string('authorization-kubeconfig', {
      section: AUTHZ,
      help: "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create subjectaccessreviews.authorization.k8s.io (defaults to --kubeconfig).",
    }),
    duration('authorization-webhook-cache-authorized-ttl', {
      section: AUTHZ,
      default: '10s',
      help: "The duration to cache 'authorized' responses from the webhook authorizer.",
    }),
    duration('authorization-webhook-cache-unauthorized-ttl', {
      section: AUTHZ,
      default: '10s',
      help: "The duration to cache 'unauthorized' responses from the webhook authorizer.",
    }),
    ...loggingFlags,
  ],
  rules: [
    ...redisRules,
    (c, x) =>
      c.tlsCertFile !== '' && c.tlsPrivateKeyFile === ''
        ? `${x.ref('tls-cert-file')} requires --tls-private-key-file`
        : undefined,
    (c, x) =>
      c.tlsPrivateKeyFile !== '' && c.tlsCertFile === ''
        ? `${x.ref('tls-private-key-file')} requires --tls-cert-file`
        : undefined,
  ],
});

export type ServeConfig = ConfigFor<typeof serveSpec>;

/**
 * The serve function's configuration from argv (without node and the script) and the environment;
 * throws ConfigError. --authentication-kubeconfig and --authorization-kubeconfig fall back to --kubeconfig.
 * Flags accepted but not used here go to `onNotice`.
 */
export function loadServeConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  onNotice?: (notice: Notice) => void,
): ServeConfig {
  const c = loadConfig(serveSpec, argv, env, onNotice);
  return {
    ...c,
    authenticationKubeconfig: c.authenticationKubeconfig || c.kubeconfig,
    authorizationKubeconfig: c.authorizationKubeconfig || c.kubeconfig,
  };
}
