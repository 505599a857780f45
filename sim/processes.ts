/**
 * Local processes for the demo, the tests and the benchmark: free loopback ports, a private
 * `redis-server`, and the project's own programs run as child processes exactly as deployed.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis, type RedisOptions } from 'ioredis';

/** Where freePort looks first: above the well-known services' ports, below the kernel's ephemeral range. */
const FREE_PORTS_FROM = 10_000;

/**
 * The first port of the kernel's range for outgoing connections' local ports (and for listening on port
 * 0); 32768, Linux's default, where it cannot be read.
 */
function ephemeralFrom(): number {
  try {
    const from = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    return Number.isInteger(from) && from > 0 ? from : 32768;
  } catch {
    return 32768;
  }
}

/** Listens on `port` (0: one the kernel picks) of 127.0.0.1 and closes again: the port, or null if taken. */
function tryPort(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err),
    );
    s.listen(port, '127.0.0.1', () => {
      const { port: bound } = s.address() as { port: number };
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A port free on 127.0.0.1 right now (the caller binds it next). Taken below the kernel's ephemeral
 * range where it can be: a port in that range may be given to an outgoing connection between this check
 * and the caller's bind (tests open thousands), and the bind then fails with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const to = ephemeralFrom();
  for (let i = 0; to - FREE_PORTS_FROM >= 1000 && i < 20; i++) {
    const port = await tryPort(FREE_PORTS_FROM + Math.floor(Math.random() * (to - FREE_PORTS_FROM)));
    if (port !== null) return port;
  }
  const port = await tryPort(0);
  if (port === null) throw new Error('no free port on 127.0.0.1');
  return port;
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The URL a program logged when it started listening (`message`, with its `url=` or `address=` field):
 * given port 0, each program picks its own free port, with no window in which another process can take
 * a port picked for it beforehand.
 */
export function listenedUrl(lines: readonly string[], message: string): string | undefined {
  for (const l of lines) {
    if (!l.includes(`"${message}`)) continue;
    const m = / (?:url|address)="([^"]+)"/.exec(l);
    if (m) return m[1];
  }
  return undefined;
}

/** `fn` on a one-shot client of `url` (no retries, a 1 s connect timeout); false when anything fails. */
async function ask<T>(url: string, options: RedisOptions, fn: (r: Redis) => Promise<T>): Promise<T | false> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    ...options,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Whether a Redis server answers PING at `url` (with these options: login, TLS) within about a second. */
export async function redisAnswers(url: string, options: RedisOptions = {}): Promise<boolean> {
  return (await ask(url, options, (r) => r.ping())) === 'PONG';
}

/** A temporary folder and the servers started in it; `stop` ends them all and removes it. */
async function serverGroup(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, servers, stop };
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisServer {
  /** redis:// (or rediss:// with TLS) and the port, without credentials */
  url: string;
  port: number;
  /** How this helper's own clients log in and speak TLS to it (ioredis options). */
  clientOptions: RedisOptions;
  /** Stops it (SIGKILL when `hard`, as a crash would) and waits for the exit. */
  stop(hard?: boolean): Promise<void>;
  /** Sends it a signal: SIGSTOP freezes it (it still accepts connections but answers nothing), SIGCONT thaws it. */
  signal(signal: NodeJS.Signals): void;
}

/** Files of a TLS-only server: its certificate and key, and the CA its clients' certificates are checked against. */
export interface RedisTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** tls-auth-clients: `yes` (redis-server's default) asks every client for a certificate */
  authClients?: 'yes' | 'optional' | 'no';
  /** the name the certificate is for, when it does not name 127.0.0.1: what this helper's clients verify */
  serverName?: string;
}

export interface RedisServerOptions {
  port?: number;
  args?: string[];
  /** requirepass: the default user's password */
  password?: string;
  /** an ACL user allowed everything; the default user is then turned off */
  user?: { name: string; password: string };
  /** TLS only: the plain port is closed */
  tls?: RedisTlsFiles;
  /** A Cluster node: a free cluster bus port of its own (the default, port + 10000, may be taken). */
  clusterBus?: boolean;
}

/** redis-server's arguments, and the ioredis options that satisfy them, for the helper's own probes. */
function securedServer(port: number, o: Omit<RedisServerOptions, 'port' | 'args'>) {
  const args: string[] = [];
  const client: RedisOptions = {};
  if (o.password !== undefined) {
    args.push('--requirepass', o.password);
    client.password = o.password;
  }
  if (o.user !== undefined) {
    args.push(
      '--user',
      o.user.name,
      'on',
      `>${o.user.password}`,
      '~*',
      '&*',
      '+@all',
      '--user',
      'default',
      'off',
    );
    Object.assign(client, { username: o.user.name, password: o.user.password });
  }
  if (o.tls !== undefined) {
    const t = o.tls;
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      t.certFile,
      '--tls-key-file',
      t.keyFile,
    );
    args.push('--tls-ca-cert-file', t.caFile, '--tls-auth-clients', t.authClients ?? 'no');
    client.tls = {
      ca: readFileSync(t.caFile, 'utf8'),
      cert: readFileSync(t.certFile, 'utf8'),
      key: readFileSync(t.keyFile, 'utf8'),
      ...(t.serverName ? { servername: t.serverName } : {}),
    };
  } else {
    args.push('--port', String(port));
  }
  return { args, client, url: `${o.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}` };
}

/** redis-server ended before it answered; `addressInUse` when a port it was given was taken meanwhile. */
class RedisStartError extends Error {
  override name = 'RedisStartError';
  readonly addressInUse: boolean;
  constructor(message: string, output: string) {
    super(`${message}${output ? `; its output:\n${output}` : ''}`);
    this.addressInUse = /Address already in use/i.test(output);
  }
}

/** Runs redis-server with `argv` until `ready` holds; the handle stops it. */
async function spawnRedis(
  argv: string[],
  port: number,
  url: string,
  clientOptions: RedisOptions,
  ready: () => Promise<boolean>,
): Promise<RedisServer> {
  const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Its log (stdout unless a logfile is set) is read to the end, the last few KiB kept for errors.
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4096);
    });
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      ended = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (ended) throw new RedisStartError(`redis-server on port ${port} exited at start`, output.trim());
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RedisStartError(
        `timed out after 10000ms waiting for redis-server on port ${port}`,
        output.trim(),
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    port,
    clientOptions,
    async stop(hard = false) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT'); // a frozen one would never act on SIGTERM
        child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      }
      await exited;
    },
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/**
 * A private, memory-only redis-server on 127.0.0.1 (a free port unless given), optionally with a
 * password, an ACL user, TLS. A free port picked here can be taken by another process before the
 * server binds it: then it starts again on other free ports.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const { args, client, url } = securedServer(port, opts);
    const bus = opts.clusterBus ? ['--cluster-port', String(await freePort())] : [];
    const argv = [
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...args,
      ...bus,
      ...(opts.args ?? []),
    ];
    try {
      return await spawnRedis(argv, port, url, client, () => redisAnswers(url, client));
    } catch (err) {
      const retry =
        err instanceof RedisStartError && err.addressInUse && (opts.port === undefined || bus.length > 0);
      if (!retry || attempt >= 5) throw err;
    }
  }
}

export interface RedisSentinels {
  /** the master name they monitor */
  name: string;
  /** as --redis-sentinels takes them */
  sentinels: { host: string; port: number }[];
  servers: RedisServer[];
  /** Stops every Sentinel and removes their folder. */
  stop(): Promise<void>;
}

export interface RedisSentinelOptions {
  count?: number;
  name?: string;
  /** how the Sentinels log in to the master (sentinel auth-user / auth-pass) */
  masterAuth?: { username?: string; password: string };
  /** the Sentinels' own requirepass (and the one they use with each other) */
  password?: string;
  /** TLS only, to clients and to the master alike */
  tls?: RedisTlsFiles;
  /** `sentinel down-after-milliseconds`: how long the master is silent before it is thought down (1000) */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (5000; also how soon a failed failover is tried again: twice this) */
  failoverTimeoutMs?: number;
}

/**
 * `count` Sentinels (`redis-server FILE --sentinel`) on free loopback ports, monitoring `master`;
 * resolves once each names the master.
 */
export async function startRedisSentinels(
  master: { host: string; port: number },
  o: RedisSentinelOptions = {},
): Promise<RedisSentinels> {
  const name = o.name ?? 'mymaster';
  const count = o.count ?? 1;
  const { dir, servers, stop } = await serverGroup('ms-redis-sentinel-');
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const { client, url } = securedServer(port, {
        ...(o.password ? { password: o.password } : {}),
        ...(o.tls ? { tls: o.tls } : {}),
      });
      const conf = [
        o.tls
          ? `port 0\ntls-port ${port}\ntls-cert-file ${o.tls.certFile}\ntls-key-file ${o.tls.keyFile}\n` +
            `tls-ca-cert-file ${o.tls.caFile}\ntls-auth-clients ${o.tls.authClients ?? 'no'}\ntls-replication yes`
          : `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} ${master.host} ${master.port} ${Math.floor(count / 2) + 1}`,
        `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${o.failoverTimeoutMs ?? 5000}`,
        ...(o.masterAuth?.username ? [`sentinel auth-user ${name} ${o.masterAuth.username}`] : []),
        ...(o.masterAuth ? [`sentinel auth-pass ${name} ${o.masterAuth.password}`] : []),
        ...(o.password ? [`requirepass ${o.password}`, `sentinel sentinel-pass ${o.password}`] : []),
      ].join('\n');
      const file = join(dir, `sentinel-${i}.conf`);
      await writeFile(file, `${conf}\n`);
      const named = async () =>
        (await ask(url, client, async (r) => {
          const at = (await r.call('SENTINEL', 'get-master-addr-by-name', name)) as string[] | null;
          return at?.[1] === String(master.port);
        })) === true;
      servers.push(await spawnRedis([file, '--sentinel'], port, url, client, named));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, sentinels: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), servers, stop };
}

export interface RedisCluster {
  /** Every master at start, as `--redis-cluster-nodes` takes them. */
  nodes: { host: string; port: number }[];
  /** Every server, masters first (in `nodes`' order), then replicas. */
  servers: RedisServer[];
  /** Stops every server and removes their folder. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions extends Omit<RedisServerOptions, 'port' | 'args' | 'clusterBus'> {
  /** Masters (default 3); slots are spread evenly over them. */
  masters?: number;
  /** Replicas per master (default 0). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node is silent before it is thought failing (Redis' default 15 s). */
  nodeTimeoutMs?: number;
}

/** Set-up waits are generous: the machine is shared and often loaded; a healthy start takes a second. */
const SETUP_MS = 60_000;

/**
 * A private Redis Cluster on free loopback ports: `masters` memory-only masters with `replicasPerMaster`
 * replicas each, slots assigned by `redis-cli --cluster create`, every node secured as `o` says (its
 * cluster bus over TLS too); resolves once every node reports `cluster_state:ok` and knows every other
 * node, and every replica is in sync with its master.
 */
export async function startRedisCluster(o: RedisClusterOptions = {}): Promise<RedisCluster> {
  const { masters = 3, replicasPerMaster = 0, nodeTimeoutMs, ...security } = o;
  const { dir, servers, stop } = await serverGroup('ms-redis-cluster-');
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      servers.push(
        await startRedisServer({
          ...security,
          clusterBus: true,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--dir',
            dir,
            ...(nodeTimeoutMs !== undefined ? ['--cluster-node-timeout', String(nodeTimeoutMs)] : []),
            ...(o.tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
          ],
        }),
      );
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    const login = o.user
      ? ['--user', o.user.name, '--pass', o.user.password]
      : o.password !== undefined
        ? ['-a', o.password]
        : [];
    const tls = o.tls
      ? ['--tls', '--cacert', o.tls.caFile, '--cert', o.tls.certFile, '--key', o.tls.keyFile]
      : [];
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        [
          ...login,
          '--no-auth-warning',
          ...tls,
          '--cluster',
          'create',
          ...addresses,
          '--cluster-replicas',
          String(replicasPerMaster),
          '--cluster-yes',
        ],
        { timeout: SETUP_MS },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`redis-cli --cluster create: ${stderr || err.message}`)) : resolve(),
      );
    });
    for (const s of servers) {
      await waitFor(`cluster_state:ok on port ${s.port}, knowing every node`, SETUP_MS, () =>
        ask(s.url, s.clientOptions, async (r) => {
          if (!String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
          return (
            String(await r.call('CLUSTER', 'NODES'))
              .trim()
              .split('\n').length === servers.length
          );
        }),
      );
    }
    // redis-cli makes the first `masters` addresses masters; wait until their replicas are in sync.
    for (const s of servers.slice(masters)) {
      await waitFor(`cluster replica on port ${s.port} in sync`, SETUP_MS, () => replicating(s), 100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes: servers.slice(0, masters).map((s) => ({ host: '127.0.0.1', port: s.port })),
    servers,
    stop,
  };
}

/** One section of `INFO` of `server` as its `field:value` lines; throws when it does not answer. */
export async function redisInfo(server: RedisServer, section: string): Promise<Map<string, string>> {
  const text = await ask(server.url, server.clientOptions, (r) => r.info(section));
  if (text === false) throw new Error(`redis-server on port ${server.port} did not answer INFO`);
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/** Whether `server` is a replica whose link to its master is up. */
export async function replicating(server: RedisServer): Promise<boolean> {
  const r = await redisInfo(server, 'replication');
  return r.get('role') === 'slave' && r.get('master_link_status') === 'up';
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Program {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal) when it ends. */
  exited: Promise<number | NodeJS.Signals>;
  stop(): Promise<number | NodeJS.Signals>;
}

/**
 * Starts `node functions/<fn>/main.ts ARGS` on this Node (24), like `npm run <fn> -- ARGS`.
 * Each output line goes to `onLine` (default: inherited stdio); `env` is added to this environment.
 */
export function startProgram(
  fn: 'scrape' | 'serve' | 'events',
  args: string[],
  onLine?: (line: string) => void,
  env: Record<string, string> = {},
): Program {
  const child = spawn(process.execPath, [`functions/${fn}/main.ts`, ...args], {
    cwd: ROOT,
    stdio: onLine ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    env: { ...process.env, ...env },
  });
  if (onLine) {
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        buf += d;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
      stream?.on('end', () => buf && onLine(buf));
    }
  }
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 0)),
  );
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A graceful stop takes the shutdown delay (default 5 s) and the drain (at most 15 s).
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}
