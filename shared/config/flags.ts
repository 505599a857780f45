/**
 * Flags both functions take (and the demo reuses): the API server, Redis, the resolution and logging.
 * Help texts follow metrics-server's where the flag is metrics-server's.
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

export const redisFlags = [redisUrl, redisSentinels, redisSentinelName, redisClusterNodes] as const;

/** One Redis mode: a server (--redis-url), Sentinel, or Cluster. */
export const redisRules: readonly Rule<typeof redisFlags>[] = [
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
      : `cannot use both ${x.ref('redis-url')} and ${x.ref(other)}: choose one Redis mode`;
  },
];

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
