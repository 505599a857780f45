/**
 * --tls-min-version and --tls-cipher-suites on the serve function's HTTPS port, over real TLS
 * handshakes: what a client may negotiate, and that the policy survives a CA reload (a new secure
 * context would otherwise fall back to Node's defaults: a quiet security regression).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ConnectionOptions, connect } from 'node:tls';
import { type ServeHandle, startServe } from '../../../functions/serve/main.ts';
import { loadServeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { createCA } from '../../../shared/pki.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
let dir: string;
before(async () => {
  db = await leaseTestDb();
  dir = await mkdtemp(join(tmpdir(), 'serve-tls-policy-'));
});
after(async () => {
  await db?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Started {
  handle: ServeHandle;
  lines: string[];
  /** Rewrites --client-ca-file with a new CA: the next reload installs a new secure context. */
  rotateClientCa(): Promise<void>;
}

async function startWith(flags: string[]): Promise<Started> {
  const caFile = join(dir, `client-ca-${Math.random().toString(36).slice(2)}.crt`);
  const write = async () => writeFile(caFile, (await createCA('tls-policy-client-ca')).certPem);
  await write();
  const lines: string[] = [];
  const config = loadServeConfig(
    [
      '--secure-port=0',
      '--bind-address=127.0.0.1',
      `--redis-url=${db.url}`,
      `--cert-dir=${dir}`,
      `--client-ca-file=${caFile}`,
      `--requestheader-client-ca-file=${caFile}`,
      // Stopped at once: the shutdown delay has its own test.
      '--shutdown-delay-duration=0s',
      ...flags,
    ],
    {},
  );
  const handle = await startServe(config, {
    log: createLogger({ write: (l) => lines.push(l) }),
    drainMs: 500,
    authRefreshMs: 50,
  });
  return {
    handle,
    lines,
    async rotateClientCa() {
      const before = lines.filter((l) => l.includes('Authentication configuration changed')).length;
      await write();
      await waitFor('the new CA to be installed', 5000, async () =>
        lines.filter((l) => l.includes('Authentication configuration changed')).length > before
          ? true
          : undefined,
      );
    },
  };
}

/** A TLS handshake and `GET /livez` on it: the protocol and suite agreed on, or the error. */
function probe(url: string, o: ConnectionOptions): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false, ...o }, () => {
      const agreed = `${socket.getProtocol()} ${socket.getCipher().standardName}`;
      socket.write('GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      let reply = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        reply += d;
      });
      socket.on('end', () => resolve(`${agreed} ${reply.split('\r\n')[0]}`));
    });
    socket.on('error', (err) => resolve(`refused: ${err.message}`));
  });
}

const TLS11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;
const TLS12 = { maxVersion: 'TLSv1.2' } as const;
const TLS13 = { minVersion: 'TLSv1.3' } as const;

describe('without TLS flags', () => {
  let s: Started;
  before(async () => {
    s = await startWith([]);
  });
  after(async () => s?.handle.close());

  test('TLS 1.2 and 1.3 are served, TLS 1.1 is not (Go’s default minimum, VersionTLS12)', async () => {
    assert.match(await probe(s.handle.url, TLS12), /^TLSv1\.2 \S+ HTTP\/1\.1 200 OK$/);
    assert.match(await probe(s.handle.url, TLS13), /^TLSv1\.3 \S+ HTTP\/1\.1 200 OK$/);
    assert.match(await probe(s.handle.url, TLS11), /^refused: .*(protocol version|no protocols available)/);
  });
});

describe('--tls-min-version=VersionTLS13', () => {
  let s: Started;
  before(async () => {
    s = await startWith(['--tls-min-version=VersionTLS13']);
  });
  after(async () => s?.handle.close());

  test('a TLS 1.2 client is refused in the handshake; TLS 1.3 is served', async () => {
    assert.match(await probe(s.handle.url, TLS12), /^refused: .*protocol version/);
    assert.match(await probe(s.handle.url, TLS13), /^TLSv1\.3 \S+ HTTP\/1\.1 200 OK$/);
  });

  test('still after the CA was reloaded and a new secure context installed', async () => {
    await s.rotateClientCa();
    assert.match(await probe(s.handle.url, TLS12), /^refused: .*protocol version/);
    assert.match(await probe(s.handle.url, TLS13), /^TLSv1\.3 /);
  });
});

describe('--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (the serving key is ECDSA)', () => {
  let s: Started;
  before(async () => {
    s = await startWith(['--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384']);
  });
  after(async () => s?.handle.close());

  test('a TLS 1.2 client gets that suite, and one offering only another is refused', async () => {
    assert.equal(
      await probe(s.handle.url, {
        ...TLS12,
        ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384',
      }),
      'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 HTTP/1.1 200 OK',
    );
    assert.match(
      await probe(s.handle.url, { ...TLS12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
      /^refused: .*handshake failure/,
    );
  });

  test("TLS 1.3's suites all stay on, as in Go", async () => {
    assert.equal(
      await probe(s.handle.url, { ...TLS13, ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }),
      'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 HTTP/1.1 200 OK',
    );
  });

  test('still after the CA was reloaded', async () => {
    await s.rotateClientCa();
    assert.match(
      await probe(s.handle.url, { ...TLS12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
      /^refused: .*handshake failure/,
    );
  });
});

describe('older clients, when asked for', () => {
  test('--tls-min-version=VersionTLS11 serves a TLS 1.1 client', async () => {
    const s = await startWith(['--tls-min-version=VersionTLS11']);
    try {
      assert.match(await probe(s.handle.url, TLS11), /^TLSv1\.1 \S+ HTTP\/1\.1 200 OK$/);
    } finally {
      await s.handle.close();
    }
  });

  test('an insecure suite is served with kube-apiserver’s warning', async () => {
    const s = await startWith([
      '--tls-cipher-suites=TLS_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    ]);
    try {
      assert.ok(
        s.lines.some((l) =>
          /"Use of insecure cipher detected" cipher="TLS_RSA_WITH_AES_128_GCM_SHA256"/.test(l),
        ),
        s.lines.join('\n'),
      );
      assert.equal(s.lines.filter((l) => l.includes('insecure cipher')).length, 1);
    } finally {
      await s.handle.close();
    }
  });
});
