/**
 * Private Redis topologies for tests, each on free loopback ports and in a temporary folder: a master with
 * replicas watched by Sentinels, and a Cluster of masters with replicas. Every server is a real
 * `redis-server` (Sentinels are `redis-server FILE --sentinel`), started memory-only; a test kills one with
 * `stop(true)` (SIGKILL, as a crash) and waits for the topology to fail over by itself.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, type RedisServer, redisAnswers, startRedisServer, waitFor } from '../../sim/processes.ts';

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

/** One section of `INFO` as its `field:value` lines. */
async function info(port: number, section: string): Promise<Map<string, string>> {
  const text = await onServer(port, (r) => r.info(section));
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/** A replica's view of replication: its role, and whether its link to the master is up. */
async function replicating(port: number): Promise<boolean> {
  const r = await info(port, 'replication');
  return r.get('role') === 'slave' && r.get('master_link_status') === 'up';
}

/** A folder, the servers started in it, and one stop for them all. */
async function group(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const servers: RedisServer[] = [];
  return {
    dir,
    servers,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Sentinel's handle: a RedisServer that can also be frozen (SIGSTOP) and thawed (SIGCONT). */
type Sentinel = Omit<RedisServer, 'clientOptions'> & { signal(signal: 'SIGSTOP' | 'SIGCONT'): void };

/** `redis-server FILE --sentinel` (the file must come first, so startRedisServer cannot start it). */
async function startSentinel(file: string, port: number): Promise<Sentinel> {
  const child = spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://${HOST}:${port}`;
  try {
    await waitFor(`Sentinel on port ${port}`, SETUP_MS, () => redisAnswers(url), 25);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    port,
    signal: (signal) => child.kill(signal),
    async stop(hard = false) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT'); // a frozen one would never act on SIGTERM
        child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      }
      await exited;
    },
  };
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
  const name = 'mymaster';
  const replicas = o.replicas ?? 1;
  const count = o.sentinels ?? 3;
  const { dir, servers, stop } = await group('ms-redis-sentinel-');
  const sentinelServers: Sentinel[] = [];
  const stopAll = async () => {
    await Promise.all(sentinelServers.map((s) => s.stop()));
    await stop();
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
      await waitFor(`replica on port ${r.port} in sync`, SETUP_MS, () => replicating(r.port), 100);
    }
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // A Sentinel rewrites its configuration file: each gets its own, in the group's folder.
      const file = join(dir, `sentinel-${i}.conf`);
      await writeFile(
        file,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          `sentinel monitor ${name} ${HOST} ${master.port} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${name} ${o.downAfterMs}`,
          `sentinel failover-timeout ${name} ${o.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinelServers.push(await startSentinel(file, port));
    }
    // Sentinels learn replicas from the master's INFO and each other from hello messages (every 2 s).
    for (const s of sentinelServers) {
      await waitFor(`Sentinel on port ${s.port} to know the group`, SETUP_MS, () =>
        onServer(s.port, async (r) => {
          const known = (await r.call('SENTINEL', 'replicas', name)) as unknown[];
          const peers = (await r.call('SENTINEL', 'sentinels', name)) as unknown[];
          return known.length === replicas && peers.length === count - 1;
        }),
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

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
        return (await info(m.port, 'replication')).get('role') === 'master' ? m : false;
      }),
    stop: stopAll,
  };
}

export interface ClusterOptions {
  /** Masters (default 3); slots are spread evenly over them. */
  masters?: number;
  /** Replicas per master (default 0). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node is silent before it is thought failing (Redis' default 15 s). */
  nodeTimeoutMs?: number;
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
 * A private Redis Cluster: `masters` masters with `replicasPerMaster` replicas each, slots assigned by
 * `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok` and knows every other
 * node, and every replica is in sync with its master.
 */
export async function startRedisCluster(o: ClusterOptions = {}): Promise<RedisClusterGroup> {
  const masters = o.masters ?? 3;
  const replicas = o.replicasPerMaster ?? 0;
  const { dir, servers, stop } = await group('ms-redis-cluster-');
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const args = [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${i}.conf`),
        '--dir',
        dir,
      ];
      if (o.nodeTimeoutMs !== undefined) args.push('--cluster-node-timeout', String(o.nodeTimeoutMs));
      servers.push(await startRedisServer({ args, clusterBus: true }));
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'],
        { timeout: SETUP_MS },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`redis-cli --cluster create: ${stderr || err.message}`)) : resolve(),
      );
    });
    for (const s of servers) {
      await waitFor(`cluster_state:ok on port ${s.port}`, SETUP_MS, async () => {
        if (!(await clusterOk(s.port))) return false;
        return (await clusterNodes(s.port)).length === servers.length;
      });
    }
    // redis-cli makes the first `masters` addresses masters; wait until their replicas are in sync.
    for (const s of servers.slice(masters)) {
      await waitFor(`cluster replica on port ${s.port} in sync`, SETUP_MS, () => replicating(s.port), 100);
    }
  } catch (err) {
    await stop();
    throw err;
  }

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
    nodes: servers.slice(0, masters).map((s) => ({ host: HOST, port: s.port })),
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
        if ((await info(owner.port, 'replication')).get('role') !== 'master') return false;
        for (const s of alive) if (!(await clusterOk(s.port))) return false;
        return owner;
      }),
    stop,
  };
}
