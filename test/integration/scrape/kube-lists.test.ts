/**
 * The scraper's lists (shared/kube.ts: nodes, Running pods, Running pods with their nodes) over the
 * credentials shared/kube-credentials.ts reads without client-node, against the development API server
 * over real HTTPS: the same answers as over client-node's KubeConfig, page after page (more pods than one
 * page holds), for a bearer token, a token file and a client certificate with the CA in a file; and the
 * same failures: the API server's refusals (403 and 401, their Status messages) and a server certificate the CA does
 * not vouch for.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiStatusError, KubeApi, loadKubeConfig, type PodOnNode } from '../../../shared/kube.ts';
import { kubeCredentials } from '../../../shared/kube-credentials.ts';
import { createCA } from '../../../shared/pki.ts';
import { type Sim, startSim } from '../../../sim/index.ts';

// 4 nodes × 140 pods: more Running pods than one page of 500.
const NODES = 4;
const PODS_PER_NODE = 140;

let sim: Sim;
let dir: string;

const kubeconfig = (user: Record<string, string>, cluster: Record<string, string>) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: sim.apiServer.url, ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'u' } }],
    'current-context': 'sim',
  });

/** A kubeconfig file (JSON is YAML) for one user, the CA given as a file. */
async function file(name: string, user: Record<string, string>, caPem = sim.apiServer.caPem) {
  await writeFile(join(dir, `${name}.ca`), caPem);
  const path = join(dir, `${name}.kubeconfig`);
  await writeFile(path, kubeconfig(user, { 'certificate-authority': join(dir, `${name}.ca`) }));
  return path;
}

/** Both readings of one kubeconfig: without client-node, and by client-node's KubeConfig. */
function both(path: string) {
  const creds = kubeCredentials(path);
  assert.equal(creds.reader, 'light', 'read without client-node');
  return { light: new KubeApi(creds), clientNode: new KubeApi(loadKubeConfig(path)) };
}

async function podsOnNodes(api: KubeApi): Promise<PodOnNode[]> {
  const out: PodOnNode[] = [];
  await api.listRunningPodsOnNodes((p) => out.push(p));
  return out;
}

const running = () => sim.cluster.pods().filter((p) => p.phase === 'Running');

before(async () => {
  sim = await startSim({ nodes: NODES, podsPerNode: PODS_PER_NODE, seed: 'kube-lists' });
  dir = await mkdtemp(join(tmpdir(), 'ms-kube-lists-'));
  await writeFile(join(dir, 'client.crt'), sim.scraperClient.certPem);
  await writeFile(join(dir, 'client.key'), sim.scraperClient.keyPem);
  await writeFile(join(dir, 'token'), sim.tokens.scraper);
});
after(async () => {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the lists over credentials read without client-node', () => {
  const users: [string, () => Record<string, string>][] = [
    ['a bearer token', () => ({ token: sim.tokens.scraper })],
    ['a token file', () => ({ 'token-file': join(dir, 'token') })],
    [
      'a client certificate and key',
      () => ({ 'client-certificate': join(dir, 'client.crt'), 'client-key': join(dir, 'client.key') }),
    ],
  ];
  for (const [what, user] of users) {
    test(`${what}: nodes, Running pods and pods with their nodes, as over KubeConfig`, async () => {
      const { light, clientNode } = both(await file(what.replaceAll(' ', '-'), user()));
      try {
        const nodes = await light.listNodes();
        assert.deepEqual(nodes, await clientNode.listNodes());
        assert.deepEqual(
          nodes.map((n) => n.name).sort(),
          sim.cluster
            .nodes()
            .map((n) => n.name)
            .sort(),
        );
        assert.ok(nodes.every((n) => n.addresses.length > 0 && n.kubeletPort > 0));

        const pods = await light.listRunningPods();
        assert.ok(pods.length > 500, `${pods.length} pods: more than one page`);
        assert.deepEqual(pods, await clientNode.listRunningPods());
        const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
        assert.deepEqual(pods.map(key).sort(), running().map(key).sort());

        const onNodes = await podsOnNodes(light);
        assert.deepEqual(onNodes, await podsOnNodes(clientNode));
        const nodeOf = new Map(running().map((p) => [key(p), p.nodeName]));
        assert.equal(onNodes.length, pods.length);
        for (const p of onNodes) assert.equal(p.nodeName, nodeOf.get(key(p)), key(p));
      } finally {
        light.close();
        clientNode.close();
      }
    });
  }

  const refusals: [string, () => Record<string, string>, number][] = [
    ['a user the API server forbids the lists', () => ({ token: sim.tokens.nobody }), 403],
    ['no credentials at all', () => ({}), 401],
  ];
  for (const [what, user, status] of refusals) {
    test(`${what}: the same ApiStatusError (${status}), with the Status' message`, async () => {
      const { light, clientNode } = both(await file(what.replaceAll(' ', '-'), user()));
      try {
        const refused = async (api: KubeApi) => {
          const err = await api.listNodes().then(
            () => assert.fail('listed'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof ApiStatusError, String(err));
          assert.equal(err.status, status);
          return err.message;
        };
        assert.equal(await refused(light), await refused(clientNode));
      } finally {
        light.close();
        clientNode.close();
      }
    });
  }

  test('a CA that did not sign the server certificate: the TLS failure, as over KubeConfig', async () => {
    const other = await createCA('kube-lists-other-ca');
    const { light, clientNode } = both(await file('other-ca', { token: sim.tokens.scraper }, other.certPem));
    try {
      const failure = (api: KubeApi) =>
        api.listRunningPods().then(
          () => assert.fail('listed'),
          (e: unknown) => (e as NodeJS.ErrnoException).code,
        );
      const code = await failure(light);
      assert.match(String(code), /CERT|SIGNATURE|ISSUER/, String(code));
      assert.equal(code, await failure(clientNode));
    } finally {
      light.close();
      clientNode.close();
    }
  });
});
