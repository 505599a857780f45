/**
 * The serve function's delegated authentication against the simulated API server, over real TLS:
 * trust read from kube-system/extension-apiserver-authentication and followed when kube-apiserver
 * rotates the front-proxy CA, a start that stops with the fix when the ConfigMap cannot be read,
 * bearer tokens through TokenReview, and logs that never carry a token even when reviews fail.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ServeHandle, startServe } from '../../../functions/serve/main.ts';
import { loadServeConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import { type CertificateAndKey, createCA, issueCertificate } from '../../../shared/pki.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { freePort, waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { get, type Reply } from '../../helpers/serve.ts';

const NODES = '/apis/metrics.k8s.io/v1beta1/nodes';

interface Started {
  handle: ServeHandle;
  lines: string[];
  ca: string;
  /** A GET on a fresh connection, with a client certificate or none. */
  get(path: string, o?: { cert?: CertificateAndKey; headers?: Record<string, string> }): Promise<Reply>;
  stop(): Promise<void>;
}

async function startOn(db: TestDb, args: string[], o: { authRefreshMs?: number } = {}): Promise<Started> {
  const certDir = await mkdtemp(join(tmpdir(), 'serve-auth-'));
  const lines: string[] = [];
  const config = loadServeConfig(
    [
      '--secure-port=0',
      '--bind-address=127.0.0.1',
      `--redis-url=${db.url}`,
      `--cert-dir=${certDir}`,
      '--v=10',
      // These tests stop it at once; the shutdown delay has its own test.
      '--shutdown-delay-duration=0s',
      ...args,
    ],
    {},
  );
  let handle: ServeHandle;
  try {
    handle = await startServe(config, {
      log: createLogger({ write: (l) => lines.push(l), verbosity: 10 }),
      drainMs: 500,
      ...o,
    });
  } catch (err) {
    await rm(certDir, { recursive: true, force: true });
    throw Object.assign(err as Error, { lines });
  }
  const ca = await readFile(join(certDir, 'apiserver.crt'), 'utf8');
  const started: Started = {
    handle,
    lines,
    ca,
    async get(path, g = {}) {
      const agent = new Agent({ ca, ...(g.cert ? { cert: g.cert.certPem, key: g.cert.keyPem } : {}) });
      try {
        return await get(agent, `${handle.url}${path}`, g.headers);
      } finally {
        agent.destroy();
      }
    },
    async stop() {
      await handle.close();
      await rm(certDir, { recursive: true, force: true });
    },
  };
  // serve answers from its first second, with 503s until its Redis client has connected.
  try {
    await waitFor('serve to be ready', 10_000, async () => (await started.get('/readyz')).status === 200);
  } catch (err) {
    await started.stop();
    throw err;
  }
  return started;
}

let sim: Sim;
let db: TestDb;
let dir: string;
const file = (n: string) => join(dir, n);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'serve-auth-sim-'));
  db = await leaseTestDb();
  sim = await startSim({ nodes: 1, podsPerNode: 1, seed: 'serve-auth' });
  await Promise.all([
    sim.writeKubeconfig(file('serve.kubeconfig'), 'serve'),
    sim.writeKubeconfig(file('nobody.kubeconfig'), 'nobody'),
  ]);
});
after(async () => {
  await sim?.stop();
  await db?.release();
  await rm(dir, { recursive: true, force: true });
});

describe('trust from kube-system/extension-apiserver-authentication', () => {
  let serve: Started;
  before(async () => {
    serve = await startOn(db, [`--kubeconfig=${file('serve.kubeconfig')}`], { authRefreshMs: 100 });
  });
  after(async () => serve?.stop());

  test('the start-up line names where the trust came from', () => {
    const line = serve.lines.find((l) => l.includes('Delegated authentication and authorization'));
    assert.ok(line, serve.lines.join('\n'));
    assert.match(line, /requestHeaderCa="configmap\/extension-apiserver-authentication in kube-system/);
    assert.match(line, /allowedNames=\["front-proxy-client"\]/);
  });

  test('the aggregator’s certificate makes X-Remote-User believed; the user is then authorized by review', async () => {
    const r = await serve.get(NODES, { cert: sim.frontProxyClient, headers: { 'X-Remote-User': 'viewer' } });
    assert.equal(r.status, 200, r.body);
    const denied = await serve.get(NODES, {
      cert: sim.frontProxyClient,
      headers: { 'X-Remote-User': 'nobody' },
    });
    assert.equal(denied.status, 403);
  });

  test('a certificate of the published client CA authenticates as its CN', async () => {
    const viewer = await sim.issueClusterClient('viewer');
    assert.equal((await serve.get(NODES, { cert: viewer })).status, 200);
    const stranger = await sim.issueClusterClient('stranger');
    assert.equal((await serve.get(NODES, { cert: stranger })).status, 403);
  });

  test('a bearer token is reviewed and the user authorized', async () => {
    const ok = await serve.get(NODES, { headers: { authorization: `Bearer ${sim.tokens.viewer}` } });
    assert.equal(ok.status, 200, ok.body);
    const bad = await serve.get(NODES, { headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
  });

  test('when kube-apiserver rotates the front-proxy CA, the new one is trusted and the old one no longer, even on an open connection', async () => {
    const agentOld = new Agent({
      keepAlive: true,
      ca: serve.ca,
      cert: sim.frontProxyClient.certPem,
      key: sim.frontProxyClient.keyPem,
    });
    try {
      const headers = { 'X-Remote-User': 'viewer' };
      assert.equal((await get(agentOld, `${serve.handle.url}${NODES}`, headers)).status, 200);
      const newCa = await createCA('front-proxy-ca-2');
      const newProxy = await issueCertificate(newCa, { commonName: 'front-proxy-client', usage: 'client' });
      sim.updateAuthenticationConfig({ 'requestheader-client-ca-file': newCa.certPem });
      await waitFor('the new front-proxy CA to be trusted', 5000, async () => {
        return (await serve.get(NODES, { cert: newProxy, headers })).status === 200;
      });
      assert.equal((await serve.get(NODES, { cert: sim.frontProxyClient, headers })).status, 401);
      assert.equal(
        (await get(agentOld, `${serve.handle.url}${NODES}`, headers)).status,
        401,
        'the open connection',
      );
      assert.ok(serve.lines.some((l) => l.includes('Authentication configuration changed')));
    } finally {
      agentOld.destroy();
      sim.updateAuthenticationConfig({ 'requestheader-client-ca-file': sim.frontProxyCaPem });
    }
  });
});

describe("the review caches' time-to-live flags (apiserver's names)", () => {
  const reviewsOf = (kind: string, since: number) =>
    sim
      .reviews()
      .slice(since)
      .filter((r) => r.kind === kind).length;

  /** Three requests as the viewer (allowed) and three as nobody (denied): the reviews each cost. */
  async function count(args: string[]) {
    const serve = await startOn(db, [`--kubeconfig=${file('serve.kubeconfig')}`, ...args]);
    try {
      // /readyz needs no review: wait for Redis, so that every counted request is answered.
      await waitFor('serve to be ready', 5000, async () => (await serve.get('/readyz')).status === 200);
      let since = sim.reviews().length;
      const headers = { authorization: `Bearer ${sim.tokens.viewer}` };
      for (let i = 0; i < 3; i++) assert.equal((await serve.get(NODES, { headers })).status, 200);
      const tokens = reviewsOf('TokenReview', since);
      const allowed = reviewsOf('SubjectAccessReview', since);
      since = sim.reviews().length;
      const nobody = { 'X-Remote-User': 'nobody' };
      for (let i = 0; i < 3; i++) {
        assert.equal((await serve.get(NODES, { cert: sim.frontProxyClient, headers: nobody })).status, 403);
      }
      return { tokens, allowed, denied: reviewsOf('SubjectAccessReview', since) };
    } finally {
      await serve.stop();
    }
  }

  test('by default every answer is kept (10 s): one review of each kind for three requests', async () => {
    assert.deepEqual(await count([]), { tokens: 1, allowed: 1, denied: 1 });
  });

  test('0s keeps no token review and no allowing answer; denials are still kept', async () => {
    assert.deepEqual(
      await count([
        '--authentication-token-webhook-cache-ttl=0s',
        '--authorization-webhook-cache-authorized-ttl=0s',
      ]),
      { tokens: 3, allowed: 3, denied: 1 },
    );
  });

  test('--authorization-webhook-cache-unauthorized-ttl=0s keeps no denial, and allowing answers are still kept', async () => {
    assert.deepEqual(await count(['--authorization-webhook-cache-unauthorized-ttl=0s']), {
      tokens: 1,
      allowed: 1,
      denied: 3,
    });
  });
});

describe('a serve function that may not read the ConfigMap', () => {
  test('does not start, and says which RoleBinding fixes it', async () => {
    await assert.rejects(startOn(db, [`--kubeconfig=${file('nobody.kubeconfig')}`]), (e: Error) => {
      assert.match(
        e.message,
        /unable to get configmap\/extension-apiserver-authentication in kube-system: .*403/,
      );
      assert.match(e.message, /--role=extension-apiserver-authentication-reader/);
      return true;
    });
  });
});

describe('the plain-HTTP probe port', () => {
  test('answers health without credentials and serves no metrics', async () => {
    const port = await freePort();
    const serve = await startOn(db, [`--kubeconfig=${file('serve.kubeconfig')}`, `--port=${port}`]);
    try {
      const plain = (path: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(`http://127.0.0.1:${port}${path}`, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      assert.equal(await plain('/livez'), 200);
      assert.equal(await plain(NODES), 404);
      assert.equal(await plain('/apis/metrics.k8s.io/v1beta1'), 404);
    } finally {
      await serve.stop();
    }
  });
});

describe('tokens and keys never reach the log', () => {
  test('with a token-bearing kubeconfig, callers’ tokens, and then an API server that stops answering', async () => {
    const serve = await startOn(db, [`--kubeconfig=${file('serve.kubeconfig')}`], { authRefreshMs: 100 });
    const secrets = [sim.tokens.serve, sim.tokens.viewer, sim.frontProxyClient.keyPem.split('\n')[1]!];
    try {
      assert.equal(
        (await serve.get(NODES, { headers: { authorization: `Bearer ${sim.tokens.viewer}` } })).status,
        200,
      );
      await sim.stop(); // TokenReview, SubjectAccessReview and the ConfigMap reload all fail from here
      const other = 'Bearer a-token-never-reviewed-before-0123456789';
      const r = await serve.get(NODES, { headers: { authorization: other } });
      assert.equal(r.status, 401, r.body);
      secrets.push(other.slice('Bearer '.length));
      await waitFor('the failed reload to be logged', 5000, async () =>
        serve.lines.some((l) => l.includes('Reloading the authentication configuration failed')),
      );
      const reviewLine = serve.lines.find((l) => l.includes('bearer tokens cannot be reviewed'));
      assert.ok(reviewLine, serve.lines.join('\n'));
      assert.match(reviewLine, /ECONNREFUSED/);
    } finally {
      await serve.stop();
    }
    assert.ok(serve.lines.length > 5);
    for (const line of serve.lines) {
      for (const s of secrets) assert.ok(!line.includes(s), `a secret in the log: ${line}`);
    }
  });
});
