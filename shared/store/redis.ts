/**
 * Connecting to Redis: one server, Sentinel or Cluster, with options that fail fast. A request that
 * cannot reach Redis must fail within about a second (serve answers 503), never queue for minutes; and
 * both functions must reconnect by themselves when Redis comes back.
 */

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseHostPort } from '../config/checks.ts';
import type { Logger } from '../log.ts';
import { followSwitchMaster } from './switch-master.ts';

export type RedisClient = Redis | Cluster;

export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; url?: string }
  | { mode: 'cluster'; nodes: HostPort[]; url?: string };

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

/**
 * ioredis reports every failed reconnect attempt; one warning per outage is enough (the rest at --v=4),
 * and one line when the connection is back.
 */
function outageLog(log: Logger): { onError: (err: Error) => void; onReady: () => void } {
  let down = false;
  return {
    onError: (err) => {
      if (down) log.debug(4, 'Redis connection error', { err: err.message });
      else log.warn('Redis connection failed; retrying', { err: err.message });
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

export function createRedis(target: RedisTarget, o: ConnectOptions): RedisClient {
  const base = baseOptions(o);
  let client: RedisClient;
  switch (target.mode) {
    case 'single':
      client = new Redis({ ...base, ...urlOptions(target.url) });
      break;
    case 'sentinel': {
      const { host: _h, port: _p, ...auth } = target.url ? urlOptions(target.url) : {};
      client = new Redis({
        ...base,
        ...auth,
        sentinels: target.sentinels,
        name: target.name,
        role: 'master',
        // A Sentinel that accepts connections but does not answer (a paused VM) would hold every reconnect
        // attempt forever: each asks the next one after a second.
        sentinelCommandTimeout: 1000,
      });
      // ioredis' failoverDetector is left off: it can end a reconnecting client for good (switch-master.ts).
      followSwitchMaster(client);
      break;
    }
    case 'cluster': {
      const { host: _h, port: _p, db: _d, ...auth } = target.url ? urlOptions(target.url) : {};
      client = new Cluster(target.nodes, {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        scaleReads: 'master',
        redisOptions: { ...base, ...auth },
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
 * A second client to the same target with the same options (a subscriber's own connection), following
 * Sentinel failovers as createRedis' clients do; it reports no errors (the first one does).
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

/** Connects a lazyConnect client, waiting until it is ready (commands before that would fail). */
export async function connect(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'wait' || client.status === 'end') {
    await client.connect();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const ready = () => {
      client.off('end', ended);
      resolve();
    };
    const ended = () => {
      client.off('ready', ready);
      reject(new Error('connection closed'));
    };
    client.once('ready', ready);
    client.once('end', ended);
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

/** The Redis mode the flags chose (the config rules already made sure only one was). */
export function redisTarget(c: {
  redisUrl: string;
  redisSentinels: readonly string[];
  redisSentinelName: string;
  redisClusterNodes: readonly string[];
}): RedisTarget {
  const hostPorts = (list: readonly string[]) =>
    list.map((text) => {
      const hp = parseHostPort(text);
      if (!hp) throw new Error(`not host:port: ${text}`);
      return hp;
    });
  if (c.redisSentinels.length > 0) {
    return {
      mode: 'sentinel',
      sentinels: hostPorts(c.redisSentinels),
      name: c.redisSentinelName,
      url: c.redisUrl,
    };
  }
  if (c.redisClusterNodes.length > 0) {
    return { mode: 'cluster', nodes: hostPorts(c.redisClusterNodes), url: c.redisUrl };
  }
  return { mode: 'single', url: c.redisUrl };
}
