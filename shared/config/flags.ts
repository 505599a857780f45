/**
 * Flags more than one function takes (and the demo reuses): the API server, Redis, the resolution,
 * logging, and the serving flags every function's HTTP servers take (serve's, as DESIGN.md names them;
 * the scrape and events trigger servers stop the same way). Help texts follow metrics-server's where the
 * flag is metrics-server's.
 */
import { hostPort } from './checks.ts';
import { GENERAL, type Rule } from './program.ts';
import { boolean, type Check, duration, integer, list, oneOf, string } from './spec.ts';

export const REDIS = 'Redis';
export const LOGGING = 'Logging';

export const version = boolean('version', {
  section: GENERAL,
  env: false, // a VERSION variable is too common to mean "print the version and exit"
  help: 'Show version and exit.',
});

export const kubeconfig = string('kubeconfig', {
  section: GENERAL,
  help: 'The path to the kubeconfig used to connect to the Kubernetes API server (defaults to in-cluster config)',
});

export const metricResolution = duration('metric-resolution', {
  section: GENERAL,
  default: '60s',
  min: '10s',
  help: 'The resolution at which metrics are scraped; each point is kept in Redis for this long. Must be at least 10s.',
});

/**
 * Every server of the process together (shared/http/connections.ts). A TLS connection holds about
 * 64 KiB once its handshake is done (a plain one about 10 KiB), so the default bounds what a flood of
 * connections can take to about 128 MiB: beside the serve function's ~190 MiB at rest and its list
 * caches (64 MiB at most), under the manifests' 512 Mi limit.
 */
export const maxOpenConnections = integer('max-open-connections', {
  section: GENERAL,
  default: 2048,
  min: 1,
  help: 'The maximum number of connections this process keeps open at a time, on all its ports. At the limit a new connection replaces the oldest one that has not completed a request yet (else the one idle longest); when every connection has a request in flight the new one is refused.',
});

export const shutdownDelayDuration = duration('shutdown-delay-duration', {
  section: GENERAL,
  default: '5s',
  help: 'Time to delay the termination after SIGTERM. During that time the server keeps serving requests normally; /healthz and /livez return success, but /readyz immediately returns failure. Then the listeners close, keep-alive connections are closed after their current response, and requests in flight get up to 15s to finish. This allows load balancers and Service endpoints to stop sending traffic to this server.',
});

/** What every function's HTTP servers take (shared/http/serving.ts). */
export const servingFlags = [maxOpenConnections, shutdownDelayDuration] as const;

const REDIS_URL_ALLOWED =
  'must be a redis:// or rediss:// URL with an optional numeric database path, such as redis://127.0.0.1:6379/0';

/** redis:// or rediss://, a host, an optional port and an optional database index; nothing else. */
export const redisUrlCheck: Check<string> = (v) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return REDIS_URL_ALLOWED;
  }
  const ok =
    (u.protocol === 'redis:' || u.protocol === 'rediss:') &&
    u.hostname !== '' &&
    /^(\/\d*)?$/.test(u.pathname) &&
    u.search === '' && // the store reads no URL options: a query would be silently ignored
    u.hash === '';
  return ok ? undefined : REDIS_URL_ALLOWED;
};

/** `redis://user:secret@host` → `redis://user:***@host`: values are echoed in errors and logs. */
export const redactUrl = (text: string): string => text.replace(/(\/\/[^/@:]*:).*@/, '$1***@');

export const redisUrl = string('redis-url', {
  section: REDIS,
  default: 'redis://127.0.0.1:6379',
  check: redisUrlCheck,
  echo: redactUrl,
  help: 'The Redis server: redis:// or rediss:// (TLS), credentials in the URL, an optional database index as the path.',
});

export const redisSentinels = list('redis-sentinels', {
  section: REDIS,
  item: hostPort,
  help: 'Comma-separated host:port list of Redis Sentinels to ask for the master named by --redis-sentinel-name, instead of --redis-url.',
});

export const redisSentinelName = string('redis-sentinel-name', {
  section: REDIS,
  help: 'The master name the Sentinels of --redis-sentinels monitor.',
});

export const redisClusterNodes = list('redis-cluster-nodes', {
  section: REDIS,
  item: hostPort,
  help: 'Comma-separated host:port list of Redis Cluster nodes to start from, instead of --redis-url.',
});

export const redisUsername = string('redis-username', {
  section: REDIS,
  help: 'The Redis ACL user (Redis 6 and later) for every data connection, in every mode (one server, Sentinel, Cluster); needs --redis-password-file.',
});

export const redisPasswordFile = string('redis-password-file', {
  section: REDIS,
  help: "File holding the Redis password (a mounted Secret; one trailing newline is dropped), for --redis-username or the server's requirepass, in every mode. A password is never taken from a flag's value.",
});

export const redisSentinelUsername = string('redis-sentinel-username', {
  section: REDIS,
  help: "The Sentinels' own ACL user, when they require one; needs --redis-sentinel-password-file.",
});

export const redisSentinelPasswordFile = string('redis-sentinel-password-file', {
  section: REDIS,
  help: "File holding the Sentinels' own password (their requirepass), when they require one; the master's is --redis-password-file.",
});

export const redisTls = boolean('redis-tls', {
  section: REDIS,
  help: 'Use TLS for every Redis connection, Sentinels and Cluster nodes included; a rediss:// --redis-url does the same for one server.',
});

export const redisTlsCaFile = string('redis-tls-ca-file', {
  section: REDIS,
  help: "File of the CA certificates that sign Redis' serving certificates (defaults to Node's trusted roots).",
});

export const redisTlsCertFile = string('redis-tls-cert-file', {
  section: REDIS,
  help: 'Client certificate for Redis servers that ask for one (tls-auth-clients); needs --redis-tls-key-file.',
});

export const redisTlsKeyFile = string('redis-tls-key-file', {
  section: REDIS,
  help: 'Private key of --redis-tls-cert-file.',
});

export const redisTlsServerName = string('redis-tls-server-name', {
  section: REDIS,
  help: "The name to send (SNI) and to verify Redis' certificates against, instead of the address connected to; for servers that share one certificate name.",
});

export const redisTlsInsecureSkipVerify = boolean('redis-tls-insecure-skip-verify', {
  section: REDIS,
  help: "Do not verify Redis' serving certificates: the connection is encrypted but not authenticated. For testing only.",
});

export const redisFlags = [
  redisUrl,
  redisSentinels,
  redisSentinelName,
  redisClusterNodes,
  redisUsername,
  redisPasswordFile,
  redisSentinelUsername,
  redisSentinelPasswordFile,
  redisTls,
  redisTlsCaFile,
  redisTlsCertFile,
  redisTlsKeyFile,
  redisTlsServerName,
  redisTlsInsecureSkipVerify,
] as const;

type RedisRule = Rule<typeof redisFlags>;

/** One Redis mode: a server (--redis-url), Sentinel, or Cluster. */
const modeRules: readonly RedisRule[] = [
  (c, x) =>
    c.redisSentinels.length > 0 && c.redisSentinelName === ''
      ? `${x.ref('redis-sentinels')} requires --redis-sentinel-name`
      : undefined,
  (c, x) =>
    c.redisSentinelName !== '' && c.redisSentinels.length === 0
      ? `${x.ref('redis-sentinel-name')} requires --redis-sentinels`
      : undefined,
  (c, x) =>
    c.redisSentinels.length > 0 && c.redisClusterNodes.length > 0
      ? `cannot use both ${x.ref('redis-sentinels')} and ${x.ref('redis-cluster-nodes')}: choose one Redis mode`
      : undefined,
  (c, x) => {
    if (x.source('redis-url') === 'default') return undefined;
    const other =
      c.redisSentinels.length > 0
        ? 'redis-sentinels'
        : c.redisClusterNodes.length > 0
          ? 'redis-cluster-nodes'
          : undefined;
    return other === undefined
      ? undefined
      : `cannot use both ${x.ref('redis-url')} and ${x.ref(other)}: choose one Redis mode (credentials: --redis-username, --redis-password-file)`;
  },
];

/** Credentials: a user needs a password; each is given once; Sentinel's own only with Sentinels. */
const credentialRules: readonly RedisRule[] = [
  (c, x) =>
    c.redisUsername !== '' && c.redisPasswordFile === ''
      ? `${x.ref('redis-username')} requires --redis-password-file`
      : undefined,
  (c, x) =>
    c.redisSentinelUsername !== '' && c.redisSentinelPasswordFile === ''
      ? `${x.ref('redis-sentinel-username')} requires --redis-sentinel-password-file`
      : undefined,
  (c, x) => {
    const given = c.redisSentinelUsername !== '' ? 'redis-sentinel-username' : 'redis-sentinel-password-file';
    return (c.redisSentinelUsername !== '' || c.redisSentinelPasswordFile !== '') &&
      c.redisSentinels.length === 0
      ? `${x.ref(given)} requires --redis-sentinels`
      : undefined;
  },
  (c, x) => {
    const u = new URL(c.redisUrl); // checked by redisUrlCheck
    const twice =
      u.password !== '' && c.redisPasswordFile !== ''
        ? 'redis-password-file'
        : u.username !== '' && c.redisUsername !== ''
          ? 'redis-username'
          : undefined;
    return twice === undefined
      ? undefined
      : `${x.ref('redis-url')} has credentials and ${x.ref(twice)} is given too: give them once`;
  },
];

/** TLS: the options need TLS, and do not contradict each other. */
const tlsRules: readonly RedisRule[] = [
  (c, x) =>
    c.redisTls && x.source('redis-url') !== 'default' && c.redisUrl.startsWith('redis:')
      ? `${x.ref('redis-tls')} contradicts ${x.ref('redis-url')} (redis://): use a rediss:// URL`
      : undefined,
  (c, x) => {
    if (c.redisTls || c.redisUrl.startsWith('rediss:')) return undefined;
    const option = (
      [
        'redis-tls-ca-file',
        'redis-tls-cert-file',
        'redis-tls-key-file',
        'redis-tls-server-name',
        'redis-tls-insecure-skip-verify',
      ] as const
    ).find((f) => x.source(f) !== 'default');
    return option === undefined
      ? undefined
      : `${x.ref(option)} needs TLS: add --redis-tls (or use a rediss:// --redis-url)`;
  },
  (c, x) =>
    c.redisTlsCaFile !== '' && c.redisTlsInsecureSkipVerify
      ? `cannot use both ${x.ref('redis-tls-ca-file')} and ${x.ref('redis-tls-insecure-skip-verify')}`
      : undefined,
  (c, x) =>
    c.redisTlsCertFile !== '' && c.redisTlsKeyFile === ''
      ? `${x.ref('redis-tls-cert-file')} requires --redis-tls-key-file`
      : undefined,
  (c, x) =>
    c.redisTlsKeyFile !== '' && c.redisTlsCertFile === ''
      ? `${x.ref('redis-tls-key-file')} requires --redis-tls-cert-file`
      : undefined,
];

export const redisRules: readonly RedisRule[] = [...modeRules, ...credentialRules, ...tlsRules];

export const verbosity = integer('v', {
  section: LOGGING,
  short: 'v',
  min: 0,
  max: 10,
  help: 'Number for the log level verbosity, from 0 to 10, as klog -v.',
});

export const logFormat = oneOf('log-format', ['text', 'json'], {
  section: LOGGING,
  default: 'text',
  aliases: ['logging-format'], // component-base's name, which metrics-server's arguments use
  help: 'Sets the log format. Permitted formats: "text", "json". Also --logging-format, as in metrics-server.',
});

export const loggingFlags = [verbosity, logFormat] as const;
