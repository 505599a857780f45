/**
 * The serve app behind its guard, through `app.request()` with the env @hono/node-server would pass
 * (the TLS socket and its peer certificates, the distinct request headers): who is believed to be
 * asking, and what they are let do. Certificates are real (shared/pki); the API server is a fake that
 * answers SubjectAccessReviews and records them.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { Hono } from 'hono';
import { createApp } from '../../../functions/serve/app.ts';
import { delegatingAuthorizer } from '../../../functions/serve/auth/authorizer.ts';
import { parseCaBundle, verifyChain } from '../../../functions/serve/auth/certificates.ts';
import { clientCertificateAuthenticator } from '../../../functions/serve/auth/client-certificate.ts';
import { authGuard } from '../../../functions/serve/auth/guard.ts';
import { alwaysAllowPaths } from '../../../functions/serve/auth/paths.ts';
import type { RequestHeaderConfig } from '../../../functions/serve/auth/request-header.ts';
import { requestHeaderAuthenticator } from '../../../functions/serve/auth/request-header.ts';
import { createLogger } from '../../../shared/log.ts';
import {
  type CertificateAndKey,
  type CertificateAuthority,
  createCA,
  issueCertificate,
} from '../../../shared/pki.ts';
import { FakeApi, fetchHeaders, nodeEnv, SARS, sarAnswer, tlsSocket } from './auth-fakes.ts';
import { FakeReader } from './fake-reader.ts';

const NODES = '/apis/metrics.k8s.io/v1beta1/nodes';

let frontProxyCa: CertificateAuthority;
let clusterCa: CertificateAuthority;
let lookalikeCa: CertificateAuthority;
let proxy: CertificateAndKey;
let otherProxy: CertificateAndKey;
let alice: CertificateAndKey;
let forged: CertificateAndKey;
let serverOnly: CertificateAndKey;

before(async () => {
  [frontProxyCa, clusterCa, lookalikeCa] = await Promise.all([
    createCA('front-proxy-ca'),
    createCA('kubernetes'),
    // Same subject name as the front-proxy CA, another key: only a signature check tells them apart.
    createCA('front-proxy-ca'),
  ]);
  [proxy, otherProxy, alice, forged, serverOnly] = await Promise.all([
    issueCertificate(frontProxyCa, { commonName: 'front-proxy-client', usage: 'client' }),
    issueCertificate(frontProxyCa, { commonName: 'some-other-proxy', usage: 'client' }),
    issueCertificate(clusterCa, { commonName: 'alice', organizations: ['dev', 'ops'], usage: 'client' }),
    issueCertificate(lookalikeCa, { commonName: 'front-proxy-client', usage: 'client' }),
    issueCertificate(frontProxyCa, { commonName: 'front-proxy-client', dnsNames: ['x'], usage: 'server' }),
  ]);
});

interface Setup {
  app: Hono;
  api: FakeApi;
  lines: string[];
}

function setup(
  o: {
    allowedNames?: string[];
    allow?: (spec: Record<string, unknown>) => boolean;
    anonymousPaths?: (path: string) => boolean;
  } = {},
): Setup {
  const api = new FakeApi(sarAnswer(o.allow ?? (() => true)));
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), verbosity: 10 });
  const requestHeader: RequestHeaderConfig = {
    ca: parseCaBundle(frontProxyCa.certPem, 'front-proxy CA'),
    allowedNames: o.allowedNames ?? ['front-proxy-client'],
    usernameHeaders: ['X-Remote-User'],
    groupHeaders: ['X-Remote-Group'],
    extraHeaderPrefixes: ['X-Remote-Extra-'],
  };
  const clientCa = parseCaBundle(clusterCa.certPem, 'client CA');
  const guard = authGuard({
    authenticators: [
      requestHeaderAuthenticator(() => requestHeader),
      clientCertificateAuthenticator(() => clientCa),
    ],
    authorizer: delegatingAuthorizer({
      api,
      alwaysAllowed: alwaysAllowPaths(['/healthz', '/readyz', '/livez']),
    }),
    log,
    ...(o.anonymousPaths ? { anonymousPaths: o.anonymousPaths } : {}),
  });
  const app = createApp({ reader: new FakeReader(), log, guard });
  return { app, api, lines };
}

async function call(
  s: Setup,
  path: string,
  o: { cert?: CertificateAndKey; authorized?: boolean; headers?: Record<string, string | string[]> } = {},
) {
  const socket = o.cert ? tlsSocket([o.cert.certPem], o.authorized ?? true) : undefined;
  const headers = o.headers ?? {};
  const res = await s.app.request(path, { headers: fetchHeaders(headers) }, nodeEnv(socket, headers));
  return { status: res.status, body: await res.text() };
}

const lastSpec = (api: FakeApi): Record<string, unknown> => {
  const call = api.posts(SARS).at(-1);
  assert.ok(call, 'a SubjectAccessReview was asked');
  return (call.body as { spec: Record<string, unknown> }).spec;
};

describe('the front proxy: identity headers from a verified front-proxy certificate', () => {
  test('are believed: user, every group line, extras; the user joins system:authenticated', async () => {
    const s = setup();
    const r = await call(s, NODES, {
      cert: proxy,
      headers: {
        'X-Remote-User': 'alice',
        'X-Remote-Group': ['dev', 'a, b'],
        'X-Remote-Extra-Scopes': ['read', 'write'],
        'X-Remote-Extra-Acme.com%2Fproject': 'p1',
      },
    });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(lastSpec(s.api), {
      user: 'alice',
      groups: ['dev', 'a, b', 'system:authenticated'],
      extra: { scopes: ['read', 'write'], 'acme.com/project': ['p1'] },
      resourceAttributes: { verb: 'list', group: 'metrics.k8s.io', version: 'v1beta1', resource: 'nodes' },
    });
  });

  test('a denied user gets 403 with Kubernetes’ text, never data', async () => {
    const s = setup({ allow: () => false });
    const r = await call(s, NODES, { cert: proxy, headers: { 'X-Remote-User': 'bob' } });
    assert.equal(r.status, 403);
    const body = JSON.parse(r.body) as { message: string; reason: string; code: number };
    assert.deepEqual(
      { message: body.message, reason: body.reason, code: body.code },
      {
        message:
          'nodes.metrics.k8s.io is forbidden: User "bob" cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope',
        reason: 'Forbidden',
        code: 403,
      },
    );
  });

  test('a common name outside --requestheader-allowed-names is refused: 401, headers not read', async () => {
    const s = setup();
    const r = await call(s, NODES, { cert: otherProxy, headers: { 'X-Remote-User': 'alice' } });
    assert.equal(r.status, 401);
    assert.equal(s.api.calls.length, 0);
    assert.ok(
      s.lines.some((l) => l.includes('cn=some-other-proxy is not in the allowed list')),
      s.lines.join('\n'),
    );
  });

  test('with no allowed names, any common name the front-proxy CA signed may assert users', async () => {
    const s = setup({ allowedNames: [] });
    const r = await call(s, NODES, { cert: otherProxy, headers: { 'X-Remote-User': 'alice' } });
    assert.equal(r.status, 200);
    assert.equal(lastSpec(s.api).user, 'alice');
  });

  test('a front-proxy certificate without a username header identifies nobody: 401', async () => {
    const s = setup();
    const r = await call(s, NODES, { cert: proxy, headers: { 'X-Remote-Group': 'system:masters' } });
    assert.equal(r.status, 401);
  });

  test('a look-alike CA (same name, other key) does not pass, even when node:tls said authorized', async () => {
    const s = setup();
    const r = await call(s, NODES, {
      cert: forged,
      headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' },
    });
    assert.equal(r.status, 401);
    assert.equal(s.api.calls.length, 0);
  });

  test('a certificate node:tls could not verify is refused even if it would chain', async () => {
    const s = setup();
    const r = await call(s, NODES, { cert: proxy, authorized: false, headers: { 'X-Remote-User': 'alice' } });
    assert.equal(r.status, 401);
  });

  test('the same identity again is one review; another group or extra is its own review', async () => {
    const s = setup();
    const as = (headers: Record<string, string | string[]>) => call(s, NODES, { cert: proxy, headers });
    const hpa = { 'X-Remote-User': 'hpa', 'X-Remote-Group': 'g1' };
    assert.equal((await as(hpa)).status, 200);
    assert.equal((await as(hpa)).status, 200);
    assert.equal(s.api.posts(SARS).length, 1, 'the second answer came from the review cache');
    assert.equal((await as({ ...hpa, 'X-Remote-Group': ['g1', 'g2'] })).status, 200);
    assert.deepEqual(lastSpec(s.api).groups, ['g1', 'g2', 'system:authenticated']);
    assert.equal((await as({ ...hpa, 'X-Remote-Extra-Scopes': 'read' })).status, 200);
    assert.deepEqual(lastSpec(s.api).extra, { scopes: ['read'] });
    assert.equal(s.api.posts(SARS).length, 3);
    assert.equal((await as(hpa)).status, 200);
    assert.equal(s.api.posts(SARS).length, 3, 'still cached for the first identity');
    // An identity too long to keep is still authenticated and reviewed (and its answer cached) by content.
    const many = { ...hpa, 'X-Remote-Group': Array.from({ length: 200 }, (_, i) => `group-${i}`) };
    assert.equal((await as(many)).status, 200);
    assert.equal((await as(many)).status, 200);
    assert.equal(s.api.posts(SARS).length, 4);
    assert.equal((lastSpec(s.api).groups as string[]).length, 201);
  });

  test('a chain checked once is still held to its validity period at every later check', () => {
    const bundle = parseCaBundle(frontProxyCa.certPem, 'ca');
    const chain = [new X509Certificate(proxy.certPem)];
    const leaf = chain[0]!;
    assert.equal(verifyChain(chain, bundle, leaf.validFromDate.getTime() + 1000), null);
    assert.match(
      verifyChain(chain, bundle, leaf.validToDate.getTime() + 1000) ?? '',
      /^x509: certificate has expired or is not yet valid: current time .* is outside /,
    );
    assert.match(verifyChain(chain, bundle, leaf.validFromDate.getTime() - 1000) ?? '', /not yet valid/);
    assert.equal(verifyChain(chain, bundle, leaf.validFromDate.getTime() + 1000), null);
    const other = parseCaBundle(clusterCa.certPem, 'other');
    assert.equal(verifyChain(chain, other), 'x509: certificate signed by unknown authority', 'per bundle');
  });

  test('a certificate not made for client authentication is refused', () => {
    const bundle = parseCaBundle(frontProxyCa.certPem, 'ca');
    const chain = [new X509Certificate(serverOnly.certPem)];
    assert.equal(verifyChain(chain, bundle), 'x509: certificate specifies an incompatible key usage');
  });
});

describe('spoofed identity headers without a verified front-proxy certificate', () => {
  test('no certificate: the request is anonymous and X-Remote-User is ignored', async () => {
    const s = setup({ allow: (spec) => spec.user === 'admin' });
    const r = await call(s, NODES, {
      headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' },
    });
    assert.equal(r.status, 403);
    assert.match(r.body, /User \\"system:anonymous\\" cannot list resource \\"nodes\\"/);
    assert.deepEqual(lastSpec(s.api), {
      user: 'system:anonymous',
      groups: ['system:unauthenticated'],
      resourceAttributes: { verb: 'list', group: 'metrics.k8s.io', version: 'v1beta1', resource: 'nodes' },
    });
  });

  test('a cluster-CA client certificate: the user is its CN and O, not the headers', async () => {
    const s = setup({ allow: () => false });
    const r = await call(s, NODES, {
      cert: alice,
      headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' },
    });
    assert.equal(r.status, 403);
    assert.deepEqual(
      { user: lastSpec(s.api).user, groups: lastSpec(s.api).groups },
      { user: 'alice', groups: ['dev', 'ops', 'system:authenticated'] },
    );
  });
});

describe('anonymous callers and the always-allow paths', () => {
  for (const path of ['/healthz', '/readyz', '/livez']) {
    test(`${path} answers without credentials and without a review`, async () => {
      const s = setup({ allow: () => false });
      const r = await call(s, path);
      assert.deepEqual(r, { status: 200, body: 'ok' });
      assert.equal(s.api.calls.length, 0);
    });
  }

  test('a health sub-check is not an always-allow path: it is reviewed', async () => {
    const s = setup({ allow: () => false });
    const r = await call(s, '/healthz/ping');
    assert.equal(r.status, 403);
    assert.equal(
      JSON.parse(r.body).message,
      'forbidden: User "system:anonymous" cannot get path "/healthz/ping"',
    );
  });

  test('/metrics needs authorization like metrics-server’s: a non-resource review of GET /metrics', async () => {
    const denied = setup({ allow: () => false });
    const anonymous = await call(denied, '/metrics');
    assert.equal(anonymous.status, 403);
    assert.equal(
      JSON.parse(anonymous.body).message,
      'forbidden: User "system:anonymous" cannot get path "/metrics"',
    );
    const s = setup({ allow: (spec) => spec.user === 'prometheus' });
    const r = await call(s, '/metrics', { cert: proxy, headers: { 'X-Remote-User': 'prometheus' } });
    assert.ok(r.status !== 401 && r.status !== 403, `${r.status} ${r.body}`);
    assert.deepEqual(lastSpec(s.api), {
      user: 'prometheus',
      groups: ['system:authenticated'],
      nonResourceAttributes: { path: '/metrics', verb: 'get' },
    });
  });

  test('system:masters is allowed without a review', async () => {
    const s = setup({ allow: () => false });
    const r = await call(s, NODES, {
      cert: proxy,
      headers: { 'X-Remote-User': 'root', 'X-Remote-Group': 'system:masters' },
    });
    assert.equal(r.status, 200);
    assert.equal(s.api.calls.length, 0);
  });
});

describe('anonymous requests limited to some paths (what the Worker does)', () => {
  const health = alwaysAllowPaths(['/healthz', '/readyz', '/livez']);

  test('without credentials, a path outside them is 401 before any review; health still answers', async () => {
    const s = setup({ allow: () => true, anonymousPaths: health });
    const r = await call(s, NODES);
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).reason, 'Unauthorized');
    assert.equal(s.api.calls.length, 0);
    assert.deepEqual(await call(s, '/healthz'), { status: 200, body: 'ok' });
  });

  test('with credentials, the request is authorized as before', async () => {
    const s = setup({ allow: (spec) => spec.user === 'alice', anonymousPaths: health });
    assert.equal((await call(s, NODES, { cert: alice })).status, 200);
  });
});

describe('when the API server cannot be asked', () => {
  test('the request fails closed with a 500 Status, and one log line says why', async () => {
    const s = setup();
    s.api.answer = () => {
      throw new Error('connect ECONNREFUSED');
    };
    const first = await call(s, NODES, { cert: proxy, headers: { 'X-Remote-User': 'alice' } });
    const second = await call(s, NODES, { cert: proxy, headers: { 'X-Remote-User': 'alice' } });
    for (const r of [first, second]) {
      assert.equal(r.status, 500);
      assert.equal(JSON.parse(r.body).reason, 'InternalError');
    }
    const lines = s.lines.filter((l) => l.includes('Unable to authorize the request'));
    assert.equal(lines.length, 1, s.lines.join('\n'));
    assert.match(lines[0]!, /SubjectAccessReview failed: .*ECONNREFUSED/);
  });
});
