/**
 * The kubelet client against hostile kubelets over real HTTPS: a body over the size cap, a kubelet that
 * trickles bytes (slow loris) or never answers, an error page that echoes the request's credentials;
 * and the kubelet credential files checked at start. Each gets a clear error, bounded in time, and
 * never a token or key in its text.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ignoredWithProxy, readKubeletCredentials } from '../../functions/scrape/credentials.ts';
import { KubeletClient, KubeletError, withoutCredentials } from '../../functions/scrape/kubelet.ts';
import { ConfigError } from '../../shared/config/index.ts';
import {
  type CertificateAndKey,
  type CertificateAuthority,
  createCA,
  issueCertificate,
  issueLoopbackServerCertificate,
} from '../../shared/pki.ts';

const TOKEN = 'sa-token-0123456789abcdef';
/** Label values in UTF-8 of two, three and four bytes per character. */
const SPLIT_BODY = 'pod_cpu_usage_seconds_total{namespace="café",pod="日本-0"} 1.5 1700000000000\n# 🚀\n';
let ca: CertificateAuthority;
let serving: CertificateAndKey;
let server: Server;
let url: string;
const sockets = new Set<import('node:net').Socket>();

before(async () => {
  ca = await createCA('kubelet-ca');
  serving = await issueLoopbackServerCertificate(ca, 'kubelet');
  server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    if (path === '/huge') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const write = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', write);
      };
      write();
      return;
    }
    if (path === '/trickle') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('#'), 50);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (path === '/split') {
      // One byte per TLS record: every multi-byte character arrives split between chunks.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const bytes = Buffer.from(SPLIT_BODY);
      let i = 0;
      const next = () => {
        if (i === bytes.length) return res.end();
        res.write(bytes.subarray(i, ++i), () => setImmediate(next));
      };
      next();
      return;
    }
    if (path === '/silent') return; // never answers
    if (path === '/echo') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`Internal Error: request headers were ${JSON.stringify(req.headers)}`);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

function client(o: { timeoutMs?: number; maxBytes?: number } = {}): KubeletClient {
  const c = new KubeletClient(
    { ca: ca.certPem },
    {
      endpoint: 'resource',
      via: 'direct',
      port: 10250,
      useNodeStatusPort: false,
      preferredAddressTypes: ['InternalIP'],
      timeoutMs: o.timeoutMs ?? 2000,
      maxBytes: o.maxBytes ?? 1024 * 1024,
    },
    'https://unused',
  );
  c.setHeaders({ Authorization: `Bearer ${TOKEN}` });
  return c;
}

async function failure(c: KubeletClient, path: string): Promise<{ err: KubeletError; ms: number }> {
  const started = Date.now();
  try {
    await c.fetch(new URL(`${url}${path}`));
  } catch (err) {
    assert.ok(err instanceof KubeletError, String(err));
    return { err, ms: Date.now() - started };
  } finally {
    c.close();
  }
  assert.fail(`GET ${path} succeeded`);
}

describe('hostile kubelets', () => {
  test('a body whose characters are split between chunks is read whole', async () => {
    const c = client();
    try {
      const { body } = await c.fetch(new URL(`${url}/split`));
      assert.equal(body, SPLIT_BODY);
    } finally {
      c.close();
    }
  });

  test('a body over the size cap fails as soon as the cap is passed, naming it', async () => {
    const { err, ms } = await failure(client({ maxBytes: 256 * 1024, timeoutMs: 10_000 }), '/huge');
    assert.equal(err.message, `response larger than ${256 * 1024} bytes`);
    assert.equal(err.timeout, false);
    assert.ok(ms < 5000, `${ms} ms`);
  });

  test('a kubelet trickling bytes is cut at the deadline for the whole request, not per byte', async () => {
    const { err, ms } = await failure(client({ timeoutMs: 500 }), '/trickle');
    assert.equal(err.message, 'timeout after 0.5s');
    assert.equal(err.timeout, true);
    assert.ok(ms >= 450 && ms < 3000, `${ms} ms`);
  });

  test('a kubelet that never answers is cut at the deadline', async () => {
    const { err } = await failure(client({ timeoutMs: 300 }), '/silent');
    assert.equal(err.timeout, true);
  });

  test('an error page echoing the request never puts the bearer token into the error text', async () => {
    const { err } = await failure(client(), '/echo');
    assert.match(err.message, /^request failed, status: "500 Internal Server Error": Internal Error/);
    assert.ok(!err.message.includes(TOKEN), err.message);
    assert.match(err.message, /\[redacted\]/);
  });

  test('credential redaction covers the header value and the bare token, and leaves other text', () => {
    const headers = { Authorization: `Bearer ${TOKEN}` };
    assert.equal(
      withoutCredentials(`a Bearer ${TOKEN} b ${TOKEN} c`, headers),
      'a [redacted] b [redacted] c',
    );
    assert.equal(withoutCredentials('nothing secret', headers), 'nothing secret');
  });
});

describe('kubelet credential files, checked at start', () => {
  let dir: string;
  let clientCert: CertificateAndKey;
  let otherKey: string;
  const file = (n: string) => join(dir, n);
  const flags = (o: Partial<Parameters<typeof readKubeletCredentials>[0]>) => ({
    kubeletVia: 'direct' as const,
    kubeletCertificateAuthority: '',
    kubeletClientCertificate: '',
    kubeletClientKey: '',
    ...o,
  });
  const rejects = (o: Partial<Parameters<typeof readKubeletCredentials>[0]>, message: RegExp) =>
    assert.throws(
      () => readKubeletCredentials(flags(o)),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes('PRIVATE KEY'), e.message);
        return true;
      },
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubelet-creds-'));
    clientCert = await issueCertificate(ca, { commonName: 'scraper', usage: 'client' });
    otherKey = (await issueCertificate(ca, { commonName: 'other', usage: 'client' })).keyPem;
    await Promise.all([
      writeFile(file('ca.crt'), ca.certPem),
      writeFile(file('client.crt'), clientCert.certPem),
      writeFile(file('client.key'), clientCert.keyPem),
      writeFile(file('other.key'), otherKey),
      writeFile(file('garbage'), 'not a pem file'),
    ]);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('readable, matching files are loaded', () => {
    const c = readKubeletCredentials(
      flags({
        kubeletCertificateAuthority: file('ca.crt'),
        kubeletClientCertificate: file('client.crt'),
        kubeletClientKey: file('client.key'),
      }),
    );
    assert.equal(c.ca?.toString(), ca.certPem);
    assert.equal(c.cert?.toString(), clientCert.certPem);
    assert.equal(c.key?.toString(), clientCert.keyPem);
  });

  test('an unreadable client certificate names the flag and the cause', () => {
    rejects(
      { kubeletClientCertificate: file('missing.crt'), kubeletClientKey: file('client.key') },
      /^cannot read --kubelet-client-certificate .*missing\.crt: ENOENT/,
    );
  });

  test('a CA or certificate file that is not PEM is named', () => {
    rejects(
      { kubeletCertificateAuthority: file('garbage') },
      /^--kubelet-certificate-authority .*garbage holds no PEM certificate$/,
    );
    rejects(
      { kubeletClientCertificate: file('garbage'), kubeletClientKey: file('client.key') },
      /^--kubelet-client-certificate .*garbage holds no PEM certificate$/,
    );
  });

  test('a key that is not a key, or not the certificate’s, is named without echoing it', () => {
    rejects(
      { kubeletClientCertificate: file('client.crt'), kubeletClientKey: file('garbage') },
      /^--kubelet-client-key .*garbage holds no usable PEM private key$/,
    );
    rejects(
      { kubeletClientCertificate: file('client.crt'), kubeletClientKey: file('other.key') },
      /^--kubelet-client-key .*other\.key does not belong to --kubelet-client-certificate .*client\.crt$/,
    );
  });

  test('with --kubelet-via=proxy the kubelet TLS flags are named as ignored (a warning at start)', () => {
    assert.deepEqual(
      ignoredWithProxy({
        ...flags({ kubeletVia: 'proxy', kubeletCertificateAuthority: '/ca' }),
        kubeletInsecureTls: true,
      }),
      ['--kubelet-certificate-authority', '--kubelet-insecure-tls'],
    );
    assert.deepEqual(
      ignoredWithProxy({ ...flags({ kubeletCertificateAuthority: '/ca' }), kubeletInsecureTls: true }),
      [],
    );
  });

  test('through the API server’s proxy no kubelet credential file is read', () => {
    assert.deepEqual(
      readKubeletCredentials(flags({ kubeletVia: 'proxy', kubeletCertificateAuthority: file('missing') })),
      {},
    );
  });
});
