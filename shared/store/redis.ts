/**
 * Connecting to Redis: one server, Sentinel or Cluster, with options that fail fast. A request that
 * cannot reach Redis must fail within about a second (serve answers 503), never queue for minutes; and
 * both functions must reconnect by themselves when Redis comes back. Credentials and TLS apply to
 * every mode alike: the data connections (the server, Sentinel's master, every Cluster node) log in
 * with `auth`; Sentinels with their own `sentinelAuth`; every connection speaks TLS when `tls` is set.
 */

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseHostPort } from '../config/checks.ts';
import { ConfigError } from '../config/load.ts';
import { fastenPrimitivePrototypes } from '../fast-prototypes.ts';
import type { Logger } from '../log.ts';
import { followSwitchMaster } from './switch-master.ts';

// Loading ioredis leaves String.prototype slow for V8 (shared/fast-prototypes.ts): every function
// imports ioredis through this module, so this is where it is made fast again.
fastenPrimitivePrototypes();

export type RedisClient = Redis | Cluster;

/** An ACL user (or none: the default user) and its password. */
export interface Credentials {
  username?: string;
  password: string;
}

interface Secured {
  /** For every data connection; one server's URL may carry its own instead. */
  auth?: Credentials;
  /** TLS for every connection, as Node's options; one server's rediss:// URL asks for it too. */
  tls?: ConnectionOptions;
}

export type RedisTarget = Secured &
  (
    | { mode: 'single'; url: string }
    | { mode: 'sentinel'; sentinels: HostPort[]; name: string; sentinelAuth?: Credentials }
    | { mode: 'cluster'; nodes: HostPort[] }
  );

export interface HostPort {
  host: string;
  port: number;
}

/** Redis is unreachable or failed a command: the caller answers 503 / fails the cycle, and retries later. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(cause: unknown) {
    super(`redis unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface ConnectOptions {
  /** Per-command timeout: short for serve, long enough for a scrape cycle's pipelines. */
  commandTimeoutMs: number;
  /** Where connection errors and recoveries are reported: one line per outage (outageLog). */
  log?: Logger;
}

/** Redis (or a Sentinel) refused the credentials, or asked for some: retrying will not help by itself. */
export function isAuthError(err: Error): boolean {
  const cause = (err as { lastNodeError?: Error }).lastNodeError ?? err;
  return /\b(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|called without any password configured/i.test(
    cause.message,
  );
}

/**
 * ioredis reports every failed reconnect attempt; one warning per outage is enough (the rest at --v=4),
 * and one line when the connection is back. A refused login says so and which flags give credentials.
 */
function outageLog(log: Logger): { onError: (err: Error) => void; onReady: () => void } {
  let down = false;
  return {
    onError: (err) => {
      const cause = (err as { lastNodeError?: Error }).lastNodeError ?? err;
      const message = cause === err ? err.message : `${err.message}: ${cause.message}`;
      if (down) log.debug(4, 'Redis connection error', { err: message });
      else if (isAuthError(err)) {
        // ioredis names the Sentinels when it is they that refused ("All sentinels are unreachable … NOAUTH").
        const flags = /sentinels/i.test(message)
          ? '--redis-sentinel-username, --redis-sentinel-password-file'
          : '--redis-username, --redis-password-file';
        log.warn('Redis refused the credentials; retrying', { err: message, flags });
      } else log.warn('Redis connection failed; retrying', { err: message });
      down = true;
    },
    onReady: () => {
      if (down) log.info('Redis connection restored');
      down = false;
    },
  };
}

/** Options shared by every mode: RESP2 replies, no offline queue, one retry, quick reconnects. */
function baseOptions(o: ConnectOptions): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: o.commandTimeoutMs,
    protocol: 2,
    enableAutoPipelining: true,
    // Back off to at most half a second between reconnect attempts: a new master (after a failover) or
    // a server that is back is used within that time, which the 5 s failover budget counts on.
    retryStrategy: (times) => Math.min(times * 100, 500),
  };
}

/** Credentials and database index from a redis:// or rediss:// URL. */
export function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== '' ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** ioredis' login options for a user and password. */
const login = (c: Credentials | undefined): RedisOptions =>
  c === undefined ? {} : { ...(c.username ? { username: c.username } : {}), password: c.password };

export function createRedis(target: RedisTarget, o: ConnectOptions): RedisClient {
  const base = baseOptions(o);
  const tls = target.tls === undefined ? {} : { tls: target.tls };
  let client: RedisClient;
  switch (target.mode) {
    case 'single':
      client = new Redis({ ...base, ...urlOptions(target.url), ...login(target.auth), ...tls });
      break;
    case 'sentinel': {
      const sentinel = login(target.sentinelAuth);
      client = new Redis({
        ...base,
        ...login(target.auth),
        sentinels: target.sentinels,
        name: target.name,
        role: 'master',
        ...(sentinel.username ? { sentinelUsername: sentinel.username } : {}),
        ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
        // TLS to the Sentinels and to the master they name alike.
        ...(target.tls === undefined
          ? {}
          : { tls: target.tls, sentinelTLS: target.tls, enableTLSForSentinelMode: true }),
        // A Sentinel that accepts connections but does not answer (a paused VM) would hold every reconnect
        // attempt forever: each asks the next one after a second.
        sentinelCommandTimeout: 1000,
      });
      // ioredis' failoverDetector is left off: it can end a reconnecting client for good (switch-master.ts).
      followSwitchMaster(client);
      break;
    }
    case 'cluster': {
      client = new Cluster(target.nodes, {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        scaleReads: 'master',
        redisOptions: { ...base, ...login(target.auth), ...tls },
        clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
      });
      break;
    }
  }
  // Without a listener, an 'error' event would throw: always listen, report only when asked.
  const outage = o.log ? outageLog(o.log) : null;
  client.on('error', (err: Error) => outage?.onError(err));
  if (outage) client.on('ready', outage.onReady);
  return client;
}

/**
 * A second client to the same target with the same options (lazy too: a subscriber's own connection, the
 * cycle lease's), following Sentinel failovers as createRedis' clients do; it reports no errors (the
 * first one does).
 */
export function duplicate(client: RedisClient): RedisClient {
  if (client.isCluster) {
    const d = (client as Cluster).duplicate();
    d.on('error', () => {});
    return d;
  }
  const d = (client as Redis).duplicate();
  d.on('error', () => {});
  if (d.options.sentinels) followSwitchMaster(d);
  return d;
}

/** The database index a client uses (always 0 in Cluster mode). */
export function databaseOf(client: RedisClient): number {
  return client.isCluster ? 0 : ((client as Redis).options.db ?? 0);
}

/**
 * Connects a lazyConnect client, waiting until it is ready (commands before that would fail), or
 * failing with the first error: in Sentinel mode ioredis' own connect() never settles while no Sentinel
 * answers (or all refuse the login), and a `--once` run must not wait for ever. With `timeoutMs`, also
 * gives up after that long (a host that never answers raises no error): a caller that must answer (a
 * probe, a sink) cannot wait for it. The client keeps retrying by itself either way.
 */
export async function connect(client: RedisClient, timeoutMs?: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', ready);
      client.off('error', failed);
      client.off('end', ended);
      if (err) reject(err);
      else resolve();
    };
    const ready = () => settle();
    const failed = (err: Error) => settle(err);
    const ended = () => settle(new Error('connection closed'));
    client.once('ready', ready);
    client.once('error', failed);
    client.once('end', ended);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => settle(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
    }
    if (client.status === 'wait' || client.status === 'end') client.connect().catch(failed);
  });
}

/** Runs a store operation, turning every Redis failure into StoreUnavailableError. */
export async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
  }
}

/** The Redis flags, as both functions' configurations have them. */
export interface RedisFlags {
  redisUrl: string;
  redisSentinels: readonly string[];
  redisSentinelName: string;
  redisClusterNodes: readonly string[];
  redisUsername: string;
  redisPasswordFile: string;
  redisSentinelUsername: string;
  redisSentinelPasswordFile: string;
  redisTls: boolean;
  redisTlsCaFile: string;
  redisTlsCertFile: string;
  redisTlsKeyFile: string;
  redisTlsServerName: string;
  redisTlsInsecureSkipVerify: boolean;
}

/** A file a flag names, read at start: an unreadable one stops the program with one line naming the flag. */
function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read --${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** A password file: a Secret's value, with the one trailing newline an editor or `echo` adds dropped. */
export function readPassword(flag: string, path: string): string {
  const password = readFlagFile(flag, path).replace(/\r?\n$/, '');
  if (password === '') throw new ConfigError(`--${flag} ${path} is empty`);
  return password;
}

function credentials(username: string, passwordFlag: string, passwordFile: string): Credentials | undefined {
  if (passwordFile === '') return undefined;
  const password = readPassword(passwordFlag, passwordFile);
  return username === '' ? { password } : { username, password };
}

function tlsOptions(c: RedisFlags): ConnectionOptions | undefined {
  if (!c.redisTls && !c.redisUrl.startsWith('rediss:')) return undefined;
  return {
    ...(c.redisTlsCaFile ? { ca: readFlagFile('redis-tls-ca-file', c.redisTlsCaFile) } : {}),
    ...(c.redisTlsCertFile ? { cert: readFlagFile('redis-tls-cert-file', c.redisTlsCertFile) } : {}),
    ...(c.redisTlsKeyFile ? { key: readFlagFile('redis-tls-key-file', c.redisTlsKeyFile) } : {}),
    ...(c.redisTlsServerName ? { servername: c.redisTlsServerName } : {}),
    ...(c.redisTlsInsecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
}

/**
 * The Redis mode the flags chose (the config rules already made sure only one was), with the
 * credentials and TLS files read now: throws ConfigError naming the flag of a file that cannot be read.
 */
export function redisTarget(c: RedisFlags): RedisTarget {
  const hostPorts = (list: readonly string[]) =>
    list.map((text) => {
      const hp = parseHostPort(text);
      if (!hp) throw new Error(`not host:port: ${text}`);
      return hp;
    });
  const auth = credentials(c.redisUsername, 'redis-password-file', c.redisPasswordFile);
  const tls = tlsOptions(c);
  const secured = { ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) };
  if (c.redisSentinels.length > 0) {
    const sentinelAuth = credentials(
      c.redisSentinelUsername,
      'redis-sentinel-password-file',
      c.redisSentinelPasswordFile,
    );
    return {
      mode: 'sentinel',
      sentinels: hostPorts(c.redisSentinels),
      name: c.redisSentinelName,
      ...(sentinelAuth ? { sentinelAuth } : {}),
      ...secured,
    };
  }
  if (c.redisClusterNodes.length > 0) {
    return { mode: 'cluster', nodes: hostPorts(c.redisClusterNodes), ...secured };
  }
  return { mode: 'single', url: c.redisUrl, ...secured };
}
