/**
 * Every flag of metrics-server (v0.9, k8s.io/apiserver and component-base 1.36: its `--help`, plus the
 * hidden deprecated `--audit-webhook-batch-initial-backoff`), and what each means here. The one place
 * that knows this: the parser refuses a flag listed with `refused` (one line, the reason), accepts it
 * with an info line when its value is the `harmless` one, and the docs generator prints the migration
 * table from it. A flag without `refused` is one a function here declares under the same name (a test
 * keeps the two in step), so a user's metrics-server arguments carry over.
 */
import type { ForeignFlag, Predecessor } from './program.ts';

const GENERIC = 'Generic';
const KUBELET = 'Kubelet client';
const SERVING = 'Apiserver secure serving';
const AUTHN = 'Apiserver authentication';
const AUTHZ = 'Apiserver authorization';
const AUDIT = 'Apiserver audit log';
const FEATURES = 'Features';
const LOGGING = 'Logging';

const EMULATION =
  'the serve function implements one API, metrics.k8s.io/v1beta1, and emulates no other Kubernetes version';
const NO_AUDIT =
  "the serve function keeps no audit log: it answers read-only metrics.k8s.io requests, and kube-apiserver's audit log records each of them on its way through the aggregator";
const NO_WATCH = 'there are no watch requests here (watch is refused with 405), which is all it is for';
const HTTP1 = 'the serve function speaks HTTP/1.1 only';
const NO_PROFILING = 'nothing here serves profiling (/debug/pprof)';
const UNBUFFERED = 'every log line is written to stderr at once: the output is neither buffered nor split';

const audit = (names: readonly string[]): ForeignFlag[] =>
  names.map((name) => ({ name, section: AUDIT, refused: NO_AUDIT }));

export const METRICS_SERVER_FLAGS: readonly ForeignFlag[] = [
  { name: 'kubeconfig', section: 'Metrics server' },
  {
    name: 'metric-resolution',
    section: 'Metrics server',
    note: 'points live in Redis for one resolution; one scrape cycle per resolution across every scraper instance',
  },
  { name: 'version', section: 'Metrics server' },

  {
    name: 'advertise-address',
    section: GENERIC,
    refused:
      "nothing is advertised: the API server reaches the serve function through the APIService's Service",
  },
  {
    name: 'cors-allowed-origins',
    section: GENERIC,
    refused: 'no CORS: metrics.k8s.io is read by the aggregator and API clients, not by browsers',
  },
  { name: 'emulated-version', section: GENERIC, refused: EMULATION },
  { name: 'emulation-forward-compatible', section: GENERIC, refused: EMULATION },
  {
    name: 'external-hostname',
    section: GENERIC,
    refused: 'no externalized URLs are generated (no Swagger UI, no OpenID discovery)',
  },
  {
    name: 'feature-gates',
    section: GENERIC,
    refused: 'there are no feature gates: every behaviour is on, or set by a flag of its own',
  },
  {
    name: 'goaway-chance',
    section: GENERIC,
    refused: `${HTTP1}, so there is no HTTP/2 GOAWAY; spread load with more replicas behind the Service`,
  },
  {
    name: 'livez-grace-period',
    section: GENERIC,
    refused: 'there are no post-start hooks: /livez answers as soon as the process serves',
  },
  {
    name: 'max-mutating-requests-inflight',
    section: GENERIC,
    refused: 'metrics.k8s.io is read-only: there are no mutating requests',
  },
  {
    name: 'max-requests-inflight',
    section: GENERIC,
    refused:
      "requests are not counted or queued here: each is answered from Redis in one or two commands, and kube-apiserver's priority and fairness already applies to them through the aggregator",
  },
  { name: 'min-compatibility-version', section: GENERIC, refused: EMULATION },
  { name: 'min-request-timeout', section: GENERIC, refused: NO_WATCH },
  {
    name: 'request-timeout',
    section: GENERIC,
    refused:
      'every request is answered from Redis under a 1 s command timeout (a 503 Status when Redis does not answer), so no handler runs long enough to need one',
  },
  { name: 'runtime-config-emulation-forward-compatible', section: GENERIC, refused: EMULATION },
  {
    name: 'shutdown-delay-duration',
    section: GENERIC,
    note: 'default 5s (metrics-server: 0s); every function drains its HTTP server this way (docs/behaviour.md)',
  },
  {
    name: 'shutdown-send-retry-after',
    section: GENERIC,
    refused: 'requests are answered until the process stops serving, never refused with 429 Retry-After',
  },
  { name: 'shutdown-watch-termination-grace-period', section: GENERIC, refused: NO_WATCH },
  {
    name: 'storage-initialization-timeout',
    section: GENERIC,
    refused:
      'there is no storage to initialize: /readyz fails until Redis answers, and requests get a 503 Status meanwhile',
  },
  {
    name: 'strict-transport-security-directives',
    section: GENERIC,
    refused: 'no HSTS header: metrics.k8s.io is not served to browsers',
  },

  {
    name: 'deprecated-kubelet-completely-insecure',
    section: KUBELET,
    refused:
      'plain-HTTP, anonymous kubelet access is not supported: use --kubelet-insecure-tls, or --kubelet-via=proxy to go through the API server',
  },
  {
    name: 'kubelet-certificate-authority',
    section: KUBELET,
    note: "without it, the kubeconfig's CA (the cluster CA)",
  },
  { name: 'kubelet-client-certificate', section: KUBELET },
  { name: 'kubelet-client-key', section: KUBELET },
  { name: 'kubelet-insecure-tls', section: KUBELET },
  { name: 'kubelet-port', section: KUBELET },
  { name: 'kubelet-preferred-address-types', section: KUBELET },
  { name: 'kubelet-request-timeout', section: KUBELET },
  { name: 'kubelet-use-node-status-port', section: KUBELET },
  { name: 'node-selector', section: KUBELET },

  {
    name: 'bind-address',
    section: SERVING,
    note: "serve: the HTTPS (and probe) address; scrape: its trigger server's address",
  },
  {
    name: 'cert-dir',
    section: SERVING,
    note: 'default: a new temporary folder (metrics-server: apiserver.local.config/certificates)',
  },
  {
    name: 'disable-http2-serving',
    section: SERVING,
    refused: `${HTTP1}: HTTP/2 is always off`,
    harmless: 'true',
  },
  {
    name: 'http2-max-streams-per-connection',
    section: SERVING,
    refused: `${HTTP1}: there are no HTTP/2 streams`,
  },
  {
    name: 'permit-address-sharing',
    section: SERVING,
    refused: 'Node always binds its listening ports with SO_REUSEADDR; that cannot be turned off',
    harmless: 'true',
  },
  {
    name: 'permit-port-sharing',
    section: SERVING,
    refused: 'one process per port (no SO_REUSEPORT): run more replicas instead',
    harmless: 'false',
  },
  {
    name: 'secure-port',
    section: SERVING,
    note: "default 10250, as metrics-server's manifests set it (its binary's default is 443); 0 picks a free port",
  },
  { name: 'tls-cert-file', section: SERVING },
  {
    name: 'tls-cipher-suites',
    section: SERVING,
    note: "Go's names, mapped to OpenSSL's; as in Go, they choose TLS 1.0–1.2 suites, and TLS 1.3's are always on",
  },
  {
    name: 'tls-curve-preferences',
    section: SERVING,
    refused: "not supported: the serve function offers Node's default key-exchange groups",
  },
  { name: 'tls-min-version', section: SERVING, note: 'default VersionTLS12, as in metrics-server' },
  { name: 'tls-private-key-file', section: SERVING },
  {
    name: 'tls-sni-cert-key',
    section: SERVING,
    refused:
      'one serving certificate only (--tls-cert-file, --tls-private-key-file): the aggregator reaches the serve function under one Service name',
  },

  {
    name: 'authentication-kubeconfig',
    section: AUTHN,
    note: 'defaults to --kubeconfig (metrics-server: in-cluster)',
  },
  {
    name: 'authentication-skip-lookup',
    section: AUTHN,
    refused:
      'configmap/extension-apiserver-authentication is read exactly when --client-ca-file or --requestheader-client-ca-file is missing; that cannot be forced off',
    harmless: 'false',
  },
  { name: 'authentication-token-webhook-cache-ttl', section: AUTHN },
  {
    name: 'authentication-tolerate-lookup-failure',
    section: AUTHN,
    refused:
      'without configmap/extension-apiserver-authentication nothing the aggregator sends could be authenticated, so the serve function stops instead of serving everyone as anonymous',
    harmless: 'false',
  },
  { name: 'client-ca-file', section: AUTHN },
  { name: 'requestheader-allowed-names', section: AUTHN },
  { name: 'requestheader-client-ca-file', section: AUTHN },
  { name: 'requestheader-extra-headers-prefix', section: AUTHN },
  { name: 'requestheader-group-headers', section: AUTHN },
  {
    name: 'requestheader-uid-headers',
    section: AUTHN,
    refused:
      "not supported: a user's UID is not read from the front proxy; SubjectAccessReviews carry the user's name, groups and extra",
  },
  { name: 'requestheader-username-headers', section: AUTHN },

  { name: 'authorization-always-allow-paths', section: AUTHZ },
  {
    name: 'authorization-kubeconfig',
    section: AUTHZ,
    note: 'defaults to --kubeconfig (metrics-server: in-cluster)',
  },
  { name: 'authorization-webhook-cache-authorized-ttl', section: AUTHZ },
  { name: 'authorization-webhook-cache-unauthorized-ttl', section: AUTHZ },

  ...audit([
    'audit-log-batch-buffer-size',
    'audit-log-batch-max-size',
    'audit-log-batch-max-wait',
    'audit-log-batch-throttle-burst',
    'audit-log-batch-throttle-enable',
    'audit-log-batch-throttle-qps',
    'audit-log-compress',
    'audit-log-format',
    'audit-log-maxage',
    'audit-log-maxbackup',
    'audit-log-maxsize',
    'audit-log-mode',
    'audit-log-path',
    'audit-log-truncate-enabled',
    'audit-log-truncate-max-batch-size',
    'audit-log-truncate-max-event-size',
    'audit-log-version',
    'audit-policy-file',
    'audit-webhook-batch-buffer-size',
    // deprecated and hidden from metrics-server's --help, still accepted there
    'audit-webhook-batch-initial-backoff',
    'audit-webhook-batch-max-size',
    'audit-webhook-batch-max-wait',
    'audit-webhook-batch-throttle-burst',
    'audit-webhook-batch-throttle-enable',
    'audit-webhook-batch-throttle-qps',
    'audit-webhook-config-file',
    'audit-webhook-initial-backoff',
    'audit-webhook-mode',
    'audit-webhook-truncate-enabled',
    'audit-webhook-truncate-max-batch-size',
    'audit-webhook-truncate-max-event-size',
    'audit-webhook-version',
  ]),

  { name: 'contention-profiling', section: FEATURES, refused: NO_PROFILING, harmless: 'false' },
  { name: 'debug-socket-path', section: FEATURES, refused: `${NO_PROFILING}, so there is no debug socket` },
  {
    name: 'enable-priority-and-fairness',
    section: FEATURES,
    refused:
      "no API priority and fairness here: kube-apiserver's already applies to these requests on their way through the aggregator",
    harmless: 'false',
  },
  { name: 'profiling', section: FEATURES, refused: NO_PROFILING, harmless: 'false' },

  { name: 'log-flush-frequency', section: LOGGING, refused: `${UNBUFFERED}, so there is nothing to flush` },
  { name: 'log-json-info-buffer-size', section: LOGGING, refused: UNBUFFERED },
  { name: 'log-json-split-stream', section: LOGGING, refused: UNBUFFERED, harmless: 'false' },
  { name: 'log-text-info-buffer-size', section: LOGGING, refused: UNBUFFERED },
  { name: 'log-text-split-stream', section: LOGGING, refused: UNBUFFERED, harmless: 'false' },
  {
    name: 'logging-format',
    section: LOGGING,
    note: 'an alias of --log-format; json needs no feature gate here',
  },
  { name: 'v', section: LOGGING },
  {
    name: 'vmodule',
    section: LOGGING,
    refused: 'verbosity is one level per process (--v); there are no per-file levels',
  },
];

/** scrape and serve replace metrics-server together (events replaces event exporters, not it). */
export const metricsServer: Predecessor = { name: 'metrics-server', flags: METRICS_SERVER_FLAGS };
