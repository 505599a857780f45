/**
 * Private Redis topologies for tests, each on free loopback ports and in a temporary folder: a master with
 * replicas watched by Sentinels, and a Cluster of masters with replicas. Every server is a real
 * `redis-server` (Sentinels are `redis-server FILE --sentinel`), started memory-only; a test kills one with
 * `stop(true)` (SIGKILL, as a crash) and waits for the topology to fail over by itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  type RedisClusterOptions,
  type RedisServer,
  redisInfo,
  replicating,
  startRedisCluster,
  startRedisSentinels,
  startRedisServer,
  waitFor,
} from '../../sim/processes.ts';

export interface HostPort {
  host: string;
  port: number;
}

const HOST = '127.0.0.1';

/** Set-up waits are generous: the machine is shared and often loaded; only the contract is strict. */
const SETUP_MS = 60_000;

/** `fn` on a one-shot plain connection to 127.0.0.1:`port`; throws when the server does not answer. */
export async function onServer<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    // Short: a frozen Sentinel (freeze) accepts the connection and never answers.
    commandTimeout: 1000,
    enableReadyCheck: false,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export interface SentinelOptions {
  /** Replicas of the master (default 1). */
  replicas?: number;
  /** Sentinels (default 3; the quorum is a majority of them). */
  sentinels?: number;
  /** `sentinel down-after-milliseconds`: how long the master is silent before it is thought down. */
  downAfterMs: number;
  /** `sentinel failover-timeout` (also how soon a failed failover is tried again: twice this). */
  failoverTimeoutMs: number;
}

export interface SentinelGroup {
  /** The master name the Sentinels monitor (`--redis-sentinel-name`). */
  name: string;
  /** As `--redis-sentinels` takes them. */
  sentinels: HostPort[];
  /** The data servers (the first one starts as master). */
  servers: RedisServer[];
  /**
   * Freezes Sentinel `i` (SIGSTOP: it still accepts connections, as a paused VM's kernel does, but answers
   * nothing) until the returned thaw.
   */
  freeze(i: number): () => void;
  /** The server the Sentinels name as master now (every Sentinel that answers must agree). */
  master(): Promise<RedisServer>;
  /**
   * Waits until every Sentinel names a master other than `old` and that server says it is one; returns
   * it. Fails after `timeoutMs`.
   */
  failedOver(old: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  stop(): Promise<void>;
}

/**
 * A master, `replicas` replicas of it, and `sentinels` Sentinels monitoring it as `mymaster`; resolves once
 * every replica is in sync and every Sentinel knows every replica and every other Sentinel (without which
 * a failover could not happen).
 */
export async function startSentinelGroup(o: SentinelOptions): Promise<SentinelGroup> {
  const replicas = o.replicas ?? 1;
  const count = o.sentinels ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'ms-redis-sentinel-data-'));
  const servers: RedisServer[] = [];
  let watching: Awaited<ReturnType<typeof startRedisSentinels>> | undefined;
  const stopAll = async () => {
    await watching?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const master = await startRedisServer({ args: ['--dir', dir] });
    servers.push(master);
    for (let i = 0; i < replicas; i++) {
      servers.push(
        await startRedisServer({ args: ['--dir', dir, '--replicaof', HOST, String(master.port)] }),
      );
    }
    for (const r of servers.slice(1)) {
      await waitFor(`replica on port ${r.port} in sync`, SETUP_MS, () => replicating(r), 100);
    }
    watching = await startRedisSentinels(
      { host: HOST, port: master.port },
      { count, downAfterMs: o.downAfterMs, failoverTimeoutMs: o.failoverTimeoutMs },
    );
    // Sentinels learn replicas from the master's INFO and each other from hello messages (every 2 s).
    for (const s of watching.servers) {
      await waitFor(`Sentinel on port ${s.port} to know the group`, SETUP_MS, () =>
        onServer(s.port, async (r) => {
          const known = (await r.call('SENTINEL', 'replicas', watching!.name)) as unknown[];
          const peers = (await r.call('SENTINEL', 'sentinels', watching!.name)) as unknown[];
          return known.length === replicas && peers.length === count - 1;
        }),
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const { name, servers: sentinelServers } = watching;

  /** The master as the Sentinels that answer name it (a frozen one is left out; they must agree). */
  const named = async (): Promise<RedisServer> => {
    const answers = await Promise.allSettled(
      sentinelServers.map((s) =>
        onServer(s.port, async (r) => {
          const at = (await r.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
          return Number(at[1]);
        }),
      ),
    );
    const ports = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    if (ports.length === 0) throw new Error('no Sentinel answers');
    if (new Set(ports).size !== 1)
      throw new Error(`the Sentinels disagree on the master: ${ports.join(', ')}`);
    const server = servers.find((s) => s.port === ports[0]);
    if (!server) throw new Error(`the Sentinels name an unknown master: ${ports[0]}`);
    return server;
  };
  return {
    name,
    sentinels: sentinelServers.map((s) => ({ host: HOST, port: s.port })),
    servers,
    freeze(i) {
      const s = sentinelServers[i]!;
      s.signal('SIGSTOP');
      return () => s.signal('SIGCONT');
    },
    master: named,
    failedOver: (old, timeoutMs = SETUP_MS) =>
      waitFor(`a Sentinel failover away from port ${old.port}`, timeoutMs, async () => {
        const m = await named();
        if (m === old) return false;
        return (await redisInfo(m, 'replication')).get('role') === 'master' ? m : false;
      }),
    stop: stopAll,
  };
}

export interface RedisClusterGroup {
  /** Every master at start, as `--redis-cluster-nodes` takes them. */
  nodes: HostPort[];
  /** Every server, masters first (in `nodes`' order), then replicas. */
  servers: RedisServer[];
  /** The master that serves `key`'s slot now, as the first node that answers sees it. */
  masterOf(key: string): Promise<RedisServer>;
  /**
   * Waits until the cluster is whole again after `dead` was killed: `key`'s slot served by another master
   * that says it is one, and `cluster_state:ok` on every node still up. Returns that master.
   */
  failedOver(dead: RedisServer, key: string, timeoutMs?: number): Promise<RedisServer>;
  stop(): Promise<void>;
}

/** `CLUSTER NODES` as seen by one node: each node's port, flags and the slots it serves. */
async function clusterNodes(port: number) {
  const text = String(await onServer(port, (r) => r.call('CLUSTER', 'NODES')));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, , , , , , ...slots] = line.split(' ');
      return {
        id: id!,
        port: Number(address!.split('@')[0]!.split(':').at(-1)),
        flags: flags!.split(','),
        slots: slots.map((s) => s.split('-').map(Number) as [number, number?]),
      };
    });
}

const clusterOk = async (port: number) =>
  String(await onServer(port, (r) => r.call('CLUSTER', 'INFO'))).includes('cluster_state:ok');

/**
 * A private Redis Cluster (sim/processes.ts' startRedisCluster) and what a failover test asks of it: which
 * master serves a key, and when the cluster is whole again after a kill.
 */
export async function startClusterGroup(o: RedisClusterOptions = {}): Promise<RedisClusterGroup> {
  const { nodes, servers, stop } = await startRedisCluster(o);
  const byPort = (port: number) => {
    const s = servers.find((x) => x.port === port);
    if (!s) throw new Error(`no server on port ${port}`);
    return s;
  };
  /** The master of `key`'s slot as `viewer` sees it. */
  const ownerSeenBy = async (viewer: RedisServer, key: string) => {
    const slot = Number(await onServer(viewer.port, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
    const owner = (await clusterNodes(viewer.port)).find(
      (n) => n.flags.includes('master') && n.slots.some(([a, b = a]) => slot >= a && slot <= b),
    );
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return byPort(owner.port);
  };
  return {
    nodes,
    servers,
    async masterOf(key) {
      let last: unknown;
      for (const viewer of servers) {
        try {
          return await ownerSeenBy(viewer, key);
        } catch (err) {
          last = err; // a node that is down: ask the next
        }
      }
      throw last;
    },
    failedOver: (dead, key, timeoutMs = SETUP_MS) =>
      waitFor(`a Cluster failover away from port ${dead.port}`, timeoutMs, async () => {
        const alive = servers.filter((s) => s !== dead);
        const owner = await ownerSeenBy(alive[0]!, key);
        if (owner === dead) return false;
        if ((await redisInfo(owner, 'replication')).get('role') !== 'master') return false;
        for (const s of alive) if (!(await clusterOk(s.port))) return false;
        return owner;
      }),
    stop,
  };
}
