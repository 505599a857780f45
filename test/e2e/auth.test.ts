/**
 * End to end, delegated authentication and authorization: the serve program runs as deployed (its own
 * kubeconfig for TokenReview, SubjectAccessReview and kube-system/extension-apiserver-authentication),
 * behind the simulated API server's aggregation, and is also called directly: by real kubectl with a
 * bearer token, and by hand-made HTTPS requests that try to pass as someone else.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { kubeconfig, type ReviewRecord } from '../../sim/index.ts';
import { type Cluster, startCluster, table } from './harness.ts';

const SERVE_USER = 'system:serviceaccount:kube-system:metrics-serve';
const V1BETA1 = '/apis/metrics.k8s.io/v1beta1';
let c: Cluster;

interface Reply {
  status: number;
  body: string;
}

/** An HTTPS GET straight to the serve function, optionally with a client certificate. */
function direct(
  path: string,
  o: { headers?: Record<string, string>; cert?: { certPem: string; keyPem: string } } = {},
): Promise<Reply> {
  const agent = new Agent({
    ca: c.serveCaPem,
    ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
  });
  return new Promise((resolve, reject) => {
    const req = request(`${c.serveUrl}${path}`, { agent, headers: o.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', (err) => {
      agent.destroy();
      reject(err);
    });
    req.end();
  });
}

const status = (r: Reply) =>
  JSON.parse(r.body) as { kind: string; code: number; reason: string; message: string };

/** The reviews the serve function asked since `from` (an index into the API server's review log). */
function reviewsSince(from: number): ReviewRecord[] {
  return c.sim
    .reviews()
    .slice(from)
    .filter((r) => r.caller === SERVE_USER);
}

/** A kubeconfig that sends `role`'s token to the serve function itself, trusting its serving CA. */
async function directKubeconfig(role: 'viewer' | 'nobody'): Promise<string> {
  const path = c.file(`direct-${role}.kubeconfig`);
  await writeFile(path, kubeconfig(c.serveUrl, c.serveCaPem, role, c.sim.tokens[role]), { mode: 0o600 });
  return path;
}

before(async () => {
  // The most verbose log, so the test of what never reaches it sees everything the serve function writes.
  c = await startCluster(
    { nodes: 2, podsPerNode: 3, housekeepingMs: 1000, seed: 'e2e-auth' },
    { serveArgs: ['--v=10'] },
  );
  await Promise.all([
    c.sim.writeKubeconfig(c.file('viewer.kubeconfig'), 'viewer'),
    c.sim.writeKubeconfig(c.file('nobody.kubeconfig'), 'nobody'),
  ]);
  for (let i = 0; i < 2; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1200));
    const { code, lines } = await c.cycle();
    assert.equal(code, 0, lines.join('\n'));
  }
});
after(async () => c?.stop());

describe('through the API server’s aggregation (front-proxy certificate, X-Remote-User)', () => {
  test('a permitted user (viewer) gets kubectl top, after the serve function asked a SubjectAccessReview for them', async () => {
    const from = c.sim.reviews().length;
    const r = await c.kubectl(['top', 'nodes'], '1.32', c.file('viewer.kubeconfig'));
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout).slice(1);
    assert.deepEqual(
      rows.map((row) => row[0]),
      c.sim.cluster.nodes().map((n) => n.name),
    );
    const asked = reviewsSince(from).filter((x) => x.kind === 'SubjectAccessReview');
    const forNodes = asked.find((x) => {
      const spec = x.spec as { user?: string; resourceAttributes?: Record<string, string> };
      return spec.user === 'viewer' && spec.resourceAttributes?.resource === 'nodes';
    });
    assert.ok(forNodes, `a SubjectAccessReview for viewer listing nodes, among ${JSON.stringify(asked)}`);
    assert.deepEqual((forNodes.spec as { resourceAttributes: unknown }).resourceAttributes, {
      verb: 'list',
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      resource: 'nodes',
    });
    assert.equal(forNodes.allowed, true);
  });

  test('a denied user (nobody) gets kubectl’s Forbidden error with Kubernetes’ wording', async () => {
    const r = await c.kubectl(['top', 'pods', '-n', 'default'], '1.32', c.file('nobody.kubeconfig'));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /Error from server \(Forbidden\): pods\.metrics\.k8s\.io is forbidden: User "nobody" cannot list resource "pods" in API group "metrics\.k8s\.io" in the namespace "default"/,
    );
    assert.equal(r.stdout, '');
  });
});

describe('called directly with a bearer token (TokenReview, then SubjectAccessReview)', () => {
  test('kubectl as viewer: the token is reviewed, the request authorized, the metrics served', async () => {
    const from = c.sim.reviews().length;
    // Not `kubectl top`: it also reads core pods, which only the API server serves.
    const r = await c.kubectl(['get', '--raw', `${V1BETA1}/pods`], '1.32', await directKubeconfig('viewer'));
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { namespace: string } }[] };
    assert.equal(list.kind, 'PodMetricsList');
    assert.ok(list.items.length > 0, r.stdout);
    const asked = reviewsSince(from);
    assert.ok(
      asked.some((x) => x.kind === 'TokenReview' && x.authenticated === true),
      JSON.stringify(asked),
    );
    assert.ok(
      asked.some((x) => {
        const spec = x.spec as {
          user?: string;
          groups?: string[];
          resourceAttributes?: Record<string, string>;
        };
        return (
          x.kind === 'SubjectAccessReview' &&
          spec.user === 'viewer' &&
          spec.groups?.includes('system:authenticated') === true &&
          spec.resourceAttributes?.namespace === undefined &&
          spec.resourceAttributes?.resource === 'pods' &&
          spec.resourceAttributes?.verb === 'list'
        );
      }),
      JSON.stringify(asked),
    );
  });

  test('kubectl top as nobody: the serve function’s own 403, in the words kubectl prints', async () => {
    const r = await c.kubectl(['top', 'pods', '-n', 'default'], '1.32', await directKubeconfig('nobody'));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /Error from server \(Forbidden\): pods\.metrics\.k8s\.io is forbidden: User "nobody" cannot list resource "pods" in API group "metrics\.k8s\.io" in the namespace "default"/,
    );
  });

  test('an unknown token is refused with 401 Unauthorized, which kubectl reports as not logged in', async () => {
    const r = await direct(`${V1BETA1}/nodes`, {
      headers: { authorization: 'Bearer not-a-token-of-this-cluster' },
    });
    assert.equal(r.status, 401);
    assert.deepEqual(
      { kind: status(r).kind, reason: status(r).reason, message: status(r).message },
      { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' },
    );
    const path = c.file('bad-token.kubeconfig');
    await writeFile(path, kubeconfig(c.serveUrl, c.serveCaPem, 'someone', 'not-a-token-of-this-cluster'));
    const k = await c.kubectl(['get', '--raw', `${V1BETA1}/nodes`], '1.32', path);
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /You must be logged in to the server \(Unauthorized\)/);
  });
});

describe('spoofed identity headers are never believed', () => {
  const spoof = { 'x-remote-user': 'admin', 'x-remote-group': 'system:masters' };

  test('X-Remote-User: admin without any client certificate is an anonymous request, forbidden', async () => {
    const r = await direct(`${V1BETA1}/nodes`, { headers: spoof });
    assert.equal(r.status, 403);
    assert.equal(
      status(r).message,
      'nodes.metrics.k8s.io is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope',
    );
    assert.doesNotMatch(r.body, /NodeMetrics/);
  });

  test('X-Remote-User: admin with a cluster-CA client certificate: the user is the certificate’s, not the header’s', async () => {
    const cert = await c.sim.issueClusterClient('mallory', ['developers']);
    const r = await direct(`${V1BETA1}/nodes`, { headers: spoof, cert });
    assert.equal(r.status, 403);
    assert.match(status(r).message, /User "mallory" cannot list resource "nodes"/);
  });

  test('a front-proxy-CA certificate whose name is not allowed (not front-proxy-client) is refused: 401', async () => {
    const cert = await c.sim.issueFrontProxyClient('not-the-aggregator');
    const r = await direct(`${V1BETA1}/nodes`, { headers: spoof, cert });
    assert.equal(r.status, 401);
    assert.equal(status(r).reason, 'Unauthorized');
  });

  test('the real front-proxy certificate does make the headers believed (the control case)', async () => {
    const r = await direct(`${V1BETA1}/nodes`, { headers: spoof, cert: c.sim.frontProxyClient });
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { kind: string }).kind, 'NodeMetricsList');
  });
});

describe('anonymous callers', () => {
  for (const path of ['/healthz', '/readyz', '/livez']) {
    test(`${path} answers ok without credentials (an always-allow path)`, async () => {
      const r = await direct(path);
      assert.deepEqual(r, { status: 200, body: 'ok' });
    });
  }

  test('everything else needs authorization: discovery and a health sub-check are forbidden to anonymous', async () => {
    const discovery = await direct(V1BETA1);
    assert.equal(discovery.status, 403);
    assert.equal(
      status(discovery).message,
      `forbidden: User "system:anonymous" cannot get path "${V1BETA1}"`,
    );
    // Always-allow paths match exactly (or by a trailing *), as in k8s.io/apiserver.
    const sub = await direct('/healthz/ping');
    assert.equal(sub.status, 403);
  });
});

describe('credentials never reach the log', () => {
  test('the scraper’s failure lines (a kubelet answering 500, garbage, nothing) never carry its token', async () => {
    const [broken, garbage] = c.sim.cluster.nodes().map((n) => n.name);
    c.sim.cluster.setFault(broken!, 'status-500');
    c.sim.cluster.setFault(garbage!, 'garbage');
    try {
      const { lines } = await c.cycle(['--v=10']);
      assert.ok(
        lines.some((l) => l.includes(broken!) && l.includes('500')),
        `the failing node is logged:\n${lines.join('\n')}`,
      );
      for (const l of lines) assert.ok(!l.includes(c.sim.tokens.scraper), `the scraper's token in: ${l}`);
    } finally {
      c.sim.cluster.setFault(broken!, 'none');
      c.sim.cluster.setFault(garbage!, 'none');
    }
  });

  test('the serve function’s log, after every request above, carries neither its own token nor a caller’s', () => {
    assert.ok(c.serveLog.length > 0);
    for (const l of c.serveLog) {
      for (const t of [
        c.sim.tokens.serve,
        c.sim.tokens.viewer,
        c.sim.tokens.nobody,
        'not-a-token-of-this-cluster',
      ]) {
        assert.ok(!l.includes(t), `a token in: ${l}`);
      }
    }
  });
});
