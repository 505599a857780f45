/**
 * Redis credentials and TLS in every mode (issue 11.2), against real redis-server processes: a
 * server with requirepass, one with an ACL user, Sentinel with its own requirepass in front of a master
 * with an ACL user, a 3-master Cluster, and each of the three over TLS with client certificates. Every
 * client here is made as both functions make theirs: flags → configuration → redisTarget → createRedis.
 * A refused login is one warning line naming the flags to check, then quiet retries; never a hang.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createScraper } from '../../../functions/scrape/scraper.ts';
import { ConfigError, loadScrapeConfig, loadServeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { createCA, issueCertificate } from '../../../shared/pki.ts';
import { connect, createRedis, type RedisClient, redisTarget } from '../../../shared/store/redis.ts';
import { startSim } from '../../../sim/index.ts';
import {
  type RedisCluster,
  type RedisSentinels,
  type RedisServer,
  type RedisTlsFiles,
  startRedisCluster,
  startRedisSentinels,
  startRedisServer,
  waitFor,
} from '../../../sim/processes.ts';
import { startServeAsMaster } from '../../helpers/serve.ts';

const APP = { name: 'app', password: 'app-secret' };
const SENTINEL_PASSWORD = 'sentinel-secret';

let dir: string;
const file = (name: string) => join(dir, name);
/** Server certificates name only redis.test (no IP): connecting to 127.0.0.1 needs --redis-tls-server-name. */
let serverTls: RedisTlsFiles;
let clientTlsFlags: string[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-redis-credentials-'));
  const ca = await createCA('redis-test-ca');
  const server = await issueCertificate(ca, {
    commonName: 'redis',
    dnsNames: ['redis.test'],
    usage: 'server-and-client',
  });
  const client = await issueCertificate(ca, { commonName: 'metrics-serverless', usage: 'client' });
  await Promise.all([
    // As a Secret mounted from `kubectl create secret --from-file` or `echo secret > file`: a trailing newline.
    writeFile(file('password'), `${APP.password}\n`),
    writeFile(file('password-crlf'), `${APP.password}\r\n`),
    writeFile(file('wrong-password'), 'not-the-password\n'),
    writeFile(file('sentinel-password'), `${SENTINEL_PASSWORD}\n`),
    writeFile(file('empty'), ''),
    writeFile(file('ca.crt'), ca.certPem),
    writeFile(file('server.crt'), server.certPem),
    writeFile(file('server.key'), server.keyPem),
    writeFile(file('client.crt'), client.certPem),
    writeFile(file('client.key'), client.keyPem),
  ]);
  serverTls = {
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    authClients: 'yes',
    serverName: 'redis.test',
  };
  clientTlsFlags = [
    `--redis-tls-ca-file=${file('ca.crt')}`,
    `--redis-tls-cert-file=${file('client.crt')}`,
    `--redis-tls-key-file=${file('client.key')}`,
    '--redis-tls-server-name=redis.test',
  ];
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Opened {
  redis: RedisClient;
  lines: string[];
  /** 'error' events so far: one per failed attempt */
  errors(): number;
}

/** A client made from these flags exactly as the serve function makes its own. */
function open(argv: string[]): Opened {
  const lines: string[] = [];
  const redis = createRedis(redisTarget(loadServeConfig(argv, {})), {
    commandTimeoutMs: 2000,
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  let errors = 0;
  redis.on('error', () => errors++);
  return { redis, lines, errors: () => errors };
}

/** Logs in as `user`, and writes and reads keys in several hash slots. */
async function works(argv: string[], user: string): Promise<void> {
  const { redis, lines } = open(argv);
  try {
    await connect(redis);
    assert.equal(await redis.call('ACL', 'WHOAMI'), user);
    for (const tag of ['a', 'b', 'c', 'd']) {
      await redis.set(`ms-credentials-test:{${tag}}`, tag, 'EX', 60);
      assert.equal(await redis.get(`ms-credentials-test:{${tag}}`), tag);
    }
    assert.deepEqual(
      lines.filter((l) => /^[WE]/.test(l)),
      [],
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * The first connection fails with `cause`; the client keeps retrying (three more failed attempts are
 * awaited), and the log holds exactly one line: `message`, with `cause` and `flags` when given.
 */
async function refused(argv: string[], cause: RegExp, message: string, flags?: string): Promise<void> {
  const { redis, lines, errors } = open(argv);
  try {
    await assert.rejects(connect(redis), cause);
    const seen = errors();
    await waitFor('three more attempts', 15_000, async () => errors() >= seen + 3);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.ok(lines[0]!.startsWith('W'), lines[0]);
    assert.ok(lines[0]!.includes(`"${message}"`), lines[0]);
    assert.match(lines[0]!, cause);
    if (flags) assert.ok(lines[0]!.includes(`flags="${flags}"`), lines[0]);
  } finally {
    redis.disconnect();
  }
}

const DATA_FLAGS = '--redis-username, --redis-password-file';
const SENTINEL_FLAGS = '--redis-sentinel-username, --redis-sentinel-password-file';
const REFUSED = 'Redis refused the credentials; retrying';

describe('one server with requirepass', () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer({ password: APP.password });
  });
  after(async () => server?.stop());

  test('--redis-password-file logs in; its trailing newline (LF or CRLF) is not part of the password', async () => {
    await works([`--redis-url=${server.url}`, `--redis-password-file=${file('password')}`], 'default');
    await works([`--redis-url=${server.url}`, `--redis-password-file=${file('password-crlf')}`], 'default');
  });

  test('the password in a redis:// URL still works', async () => {
    await works([`--redis-url=redis://:${APP.password}@127.0.0.1:${server.port}`], 'default');
  });

  test('no password, or a wrong one: one line naming the flags, then quiet retries', async () => {
    await refused([`--redis-url=${server.url}`], /NOAUTH/, REFUSED, DATA_FLAGS);
    await refused(
      [`--redis-url=${server.url}`, `--redis-password-file=${file('wrong-password')}`],
      /WRONGPASS/,
      REFUSED,
      DATA_FLAGS,
    );
  });

  test('an unreadable or empty password file stops the start with one line naming the flag', () => {
    const start = (path: string) => () =>
      redisTarget(loadServeConfig([`--redis-url=${server.url}`, `--redis-password-file=${path}`], {}));
    assert.throws(start(file('missing')), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^cannot read --redis-password-file .*missing: ENOENT/);
      return true;
    });
    assert.throws(start(file('empty')), {
      name: 'ConfigError',
      message: `--redis-password-file ${file('empty')} is empty`,
    });
  });
});

describe('one server with an ACL user (the default user off)', () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer({ user: APP });
  });
  after(async () => server?.stop());

  test('--redis-username and --redis-password-file log in as that user', async () => {
    await works(
      [`--redis-url=${server.url}`, '--redis-username=app', `--redis-password-file=${file('password')}`],
      'app',
    );
  });

  test('as does a URL with the user and password', async () => {
    await works([`--redis-url=redis://app:${APP.password}@127.0.0.1:${server.port}`], 'app');
  });

  test('another user, or the password alone (the default user): refused, once', async () => {
    await refused(
      [`--redis-url=${server.url}`, '--redis-username=nobody', `--redis-password-file=${file('password')}`],
      /WRONGPASS/,
      REFUSED,
      DATA_FLAGS,
    );
    await refused(
      [`--redis-url=${server.url}`, `--redis-password-file=${file('password')}`],
      /WRONGPASS/,
      REFUSED,
    );
  });
});

/**
 * A master with the ACL user and a Sentinel with its own requirepass, for the describe it is called in
 * (TLS on both when asked). `at()`: the flags that reach it; `login()`: every credential it needs.
 */
function sentinelSetup(o: { tls: boolean }) {
  let master: RedisServer | undefined;
  let sentinels: RedisSentinels | undefined;
  before(async () => {
    master = await startRedisServer({ user: APP, ...(o.tls ? { tls: serverTls } : {}) });
    sentinels = await startRedisSentinels(
      { host: '127.0.0.1', port: master.port },
      {
        masterAuth: { username: APP.name, password: APP.password },
        password: SENTINEL_PASSWORD,
        ...(o.tls ? { tls: serverTls } : {}),
      },
    );
  });
  after(async () => {
    await sentinels?.stop();
    await master?.stop();
  });
  return {
    at: () => [
      `--redis-sentinels=${sentinels!.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`,
      `--redis-sentinel-name=${sentinels!.name}`,
      ...(o.tls ? ['--redis-tls', ...clientTlsFlags] : []),
    ],
    login: () => [
      '--redis-username=app',
      `--redis-password-file=${file('password')}`,
      `--redis-sentinel-password-file=${file('sentinel-password')}`,
    ],
  };
}

describe('Sentinel with its own requirepass, in front of a master with an ACL user', () => {
  const sentinel = sentinelSetup({ tls: false });
  const flags = () => sentinel.at();

  test('the master’s credentials and the Sentinels’ own log in to each', async () => {
    await works([...flags(), ...sentinel.login()], 'app');
  });

  test('without the Sentinels’ password: refused by the Sentinels, naming their flags', async () => {
    await refused(
      [...flags(), '--redis-username=app', `--redis-password-file=${file('password')}`],
      /NOAUTH/,
      REFUSED,
      SENTINEL_FLAGS,
    );
  });

  test('a wrong master password: refused by the master, naming its flags', async () => {
    await refused(
      [
        ...flags(),
        '--redis-username=app',
        `--redis-password-file=${file('wrong-password')}`,
        `--redis-sentinel-password-file=${file('sentinel-password')}`,
      ],
      /WRONGPASS/,
      REFUSED,
      DATA_FLAGS,
    );
  });
});

describe('a 3-master Cluster with an ACL user', () => {
  let cluster: RedisCluster;
  const nodes = () => `--redis-cluster-nodes=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, user: APP });
  });
  after(async () => cluster?.stop());

  test('every node is logged in to as that user, keys in slots on several masters', async () => {
    await works([nodes(), '--redis-username=app', `--redis-password-file=${file('password')}`], 'app');
  });

  test('a wrong password: refused once, the cause named', async () => {
    await refused(
      [nodes(), '--redis-username=app', `--redis-password-file=${file('wrong-password')}`],
      /WRONGPASS|refresh slots/,
      REFUSED,
      DATA_FLAGS,
    );
  });
});

describe('TLS with client certificates, in every mode', () => {
  describe('one server (rediss://)', () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedisServer({ password: APP.password, tls: serverTls });
    });
    after(async () => server?.stop());

    test('the CA, the client certificate and the server name: logged in', async () => {
      assert.match(server.url, /^rediss:/);
      await works(
        [`--redis-url=${server.url}`, ...clientTlsFlags, `--redis-password-file=${file('password')}`],
        'default',
      );
    });

    test('without --redis-tls-server-name the certificate does not name 127.0.0.1', async () => {
      const flags = clientTlsFlags.filter((f) => !f.startsWith('--redis-tls-server-name'));
      await refused(
        [`--redis-url=${server.url}`, ...flags, `--redis-password-file=${file('password')}`],
        /does not match certificate's altnames/,
        'Redis connection failed; retrying',
      );
    });

    test("without --redis-tls-ca-file Node's roots do not trust it; --redis-tls-insecure-skip-verify does not ask", async () => {
      const noCa = clientTlsFlags.filter((f) => !f.startsWith('--redis-tls-ca-file'));
      await refused(
        [`--redis-url=${server.url}`, ...noCa, `--redis-password-file=${file('password')}`],
        /certificate/,
        'Redis connection failed; retrying',
      );
      await works(
        [
          `--redis-url=${server.url}`,
          `--redis-tls-cert-file=${file('client.crt')}`,
          `--redis-tls-key-file=${file('client.key')}`,
          '--redis-tls-insecure-skip-verify',
          `--redis-password-file=${file('password')}`,
        ],
        'default',
      );
    });

    test('without a client certificate the server (tls-auth-clients yes) hangs up', async () => {
      const { redis } = open([
        `--redis-url=${server.url}`,
        `--redis-tls-ca-file=${file('ca.crt')}`,
        '--redis-tls-server-name=redis.test',
        `--redis-password-file=${file('password')}`,
      ]);
      try {
        await assert.rejects(connect(redis));
      } finally {
        redis.disconnect();
      }
    });
  });

  describe('Sentinel (--redis-tls), Sentinels and master both on TLS', () => {
    const sentinel = sentinelSetup({ tls: true });

    test('logged in to the Sentinels and to the master they name', async () => {
      await works([...sentinel.at(), ...sentinel.login()], 'app');
    });
  });

  describe('Cluster (--redis-tls), the cluster bus on TLS too', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3, password: APP.password, tls: serverTls });
    });
    after(async () => cluster?.stop());

    test('every node is reached over TLS and logged in to', async () => {
      await works(
        [
          `--redis-cluster-nodes=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
          '--redis-tls',
          ...clientTlsFlags,
          `--redis-password-file=${file('password')}`,
        ],
        'default',
      );
    });
  });
});

describe('the functions themselves, on Sentinel with TLS and both passwords', () => {
  const sentinel = sentinelSetup({ tls: true });
  const flags = () => [...sentinel.at(), ...sentinel.login()];

  test('the scraper runs a cycle into it, and the serve function is ready on it', async () => {
    const sim = await startSim({ nodes: 2, podsPerNode: 2, seed: 'redis-credentials' });
    const lines: string[] = [];
    await Promise.all([
      writeFile(file('kubelet-ca.crt'), sim.kubeletCaPem),
      sim.writeKubeconfig(file('scraper.kubeconfig'), 'scraper'),
    ]);
    const scraper = createScraper(
      loadScrapeConfig(
        [
          ...flags(),
          `--kubeconfig=${file('scraper.kubeconfig')}`,
          `--kubelet-certificate-authority=${file('kubelet-ca.crt')}`,
          '--kubelet-use-node-status-port',
          '--kubelet-preferred-address-types=InternalIP',
        ],
        {},
      ),
      createLogger({ write: (l) => lines.push(l) }),
    );
    try {
      const r = await scraper.run('once');
      assert.equal(r.scraped, 2, lines.join('\n'));
    } finally {
      await scraper.close();
      await sim.stop();
    }
    const serve = await startServeAsMaster(flags());
    try {
      await waitFor(
        'serve to be ready on Redis',
        10_000,
        async () => (await serve.get('/readyz')).status === 200,
      );
      const nodes = await serve.get('/apis/metrics.k8s.io/v1beta1/nodes');
      assert.equal(nodes.status, 200, nodes.body);
    } finally {
      await serve.stop();
    }
  });
});
