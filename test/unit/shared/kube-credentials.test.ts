/**
 * shared/kube-credentials.ts against client-node's KubeConfig: for every kind of kubeconfig it reads
 * itself, the same server and the same TLS options and headers as KubeConfig.applyToHTTPSOptions; for
 * every other kind, KubeConfig itself (its errors included).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../../shared/config/index.ts';
import { kubeClient, loadKubeConfig } from '../../../shared/kube.ts';
import { kubeCredentials } from '../../../shared/kube-credentials.ts';

let dir: string;
const b64 = (s: string) => Buffer.from(s).toString('base64');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-kube-creds-'));
  await mkdir(join(dir, 'certs'));
  await writeFile(join(dir, 'certs', 'ca.pem'), 'CA FROM A FILE\n');
  await writeFile(join(dir, 'certs', 'client.pem'), 'CLIENT CERT FROM A FILE\n');
  await writeFile(join(dir, 'certs', 'client.key'), 'CLIENT KEY FROM A FILE\n');
  await writeFile(join(dir, 'token'), 'token-from-a-file');
});
after(() => rm(dir, { recursive: true, force: true }));

const config = (cluster: string, user: string, extra = '') => `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: 'https://elsewhere:1'}
- name: c
  cluster: ${cluster}
users:
- name: u
  user: ${user}
contexts:
- {name: x, context: {cluster: c, user: u, namespace: team-a}}
- {name: y, context: {cluster: other, user: u}}
current-context: x
${extra}`;

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** What client-node's KubeConfig makes of a request's options. */
async function clientNode(path: string): Promise<{ server: string; opts: https.RequestOptions }> {
  const kc = loadKubeConfig(path);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return { server: kc.getCurrentCluster()!.server, opts };
}

async function light(path: string, serviceAccountDir?: string) {
  const creds = kubeCredentials(path, 'kubeconfig', serviceAccountDir);
  const opts: https.RequestOptions = {};
  await creds.applyToHTTPSOptions(opts);
  return { server: creds.server, opts, reader: creds.reader };
}

describe('a kubeconfig read without client-node', () => {
  // [what, cluster, user], given the folder of the kubeconfig and its files.
  const cases: [string, (d: string) => string, (d: string) => string][] = [
    [
      'a token and inline CA',
      () => `{server: 'https://10.0.0.1:6443/', certificate-authority-data: ${b64('INLINE CA')}}`,
      () => '{token: abc.def}',
    ],
    [
      'a token file and a CA file, relative to the kubeconfig',
      () => `{server: 'https://api.example:443', certificate-authority: certs/ca.pem}`,
      (d) => `{token-file: ${JSON.stringify(join(d, 'token'))}}`,
    ],
    [
      'a client certificate and key (files), skipping TLS verification, a TLS server name',
      () =>
        `{server: 'https://[::1]:6443', insecure-skip-tls-verify: true, tls-server-name: kubernetes.default}`,
      () => '{client-certificate: certs/client.pem, client-key: certs/client.key}',
    ],
    [
      'a client certificate and key (data), a CA file (absolute) preferred to data',
      (d) =>
        `{server: 'https://h:1', certificate-authority: ${JSON.stringify(join(d, 'certs', 'ca.pem'))}, certificate-authority-data: ${b64('IGNORED')}}`,
      () => `{client-certificate-data: ${b64('CERT DATA')}, client-key-data: ${b64('KEY DATA')}, token: t}`,
    ],
    ['no credentials at all', () => `{server: 'https://127.0.0.1:6443'}`, () => '{}'],
  ];
  for (const [what, cluster, user] of cases) {
    test(`${what}: as KubeConfig reads it`, async () => {
      const file = await write('config', config(cluster(dir), user(dir)));
      const got = await light(file);
      assert.equal(got.reader, 'light');
      const want = await clientNode(file);
      assert.equal(got.server, want.server);
      // KubeConfig also makes an https.Agent of them, which no caller here uses (each has its own).
      const { agent: _, ...options } = want.opts;
      assert.deepEqual(got.opts, options);
    });
  }

  test('the in-cluster ServiceAccount, without any kubeconfig: as KubeConfig.loadFromCluster', async (t) => {
    const sa = join(dir, 'sa');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'sa-token');
    await writeFile(join(sa, 'ca.crt'), 'SA CA');
    const env = {
      KUBECONFIG: '',
      HOME: join(dir, 'no-home'),
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '443',
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    t.after(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    const got = await light('', sa);
    assert.equal(got.reader, 'light');
    const kc = new (kubeClient().KubeConfig)();
    kc.loadFromCluster();
    // Its files are under /var/run/secrets here (not in this test's folder): the server from it, the
    // rest as it would send it.
    assert.equal(got.server, kc.getCurrentCluster()!.server);
    assert.equal(got.server, 'https://[fd00::1]:443');
    assert.deepEqual(got.opts, { ca: Buffer.from('SA CA'), headers: { Authorization: 'Bearer sa-token' } });
  });
});

describe('what is left to client-node', () => {
  for (const [what, user] of [
    ['an exec user', `{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}}`],
    ['basic auth', '{username: a, password: b}'],
    ['impersonation', '{token: t, as: someone}'],
  ] as const) {
    test(`${what}: KubeConfig's own reading`, async () => {
      const file = await write('left.config', config(`{server: 'https://h:1'}`, user));
      assert.equal(kubeCredentials(file).reader, 'client-node');
    });
  }

  test('several files to merge', async () => {
    const a = await write('a.config', config(`{server: 'https://h:1'}`, '{token: t}'));
    const b = await write(
      'b.config',
      'clusters: [{name: b, cluster: {server: "https://h:2"}}]\nusers: [{name: ub, user: {token: t}}]\ncontexts: [{name: xb, context: {cluster: b, user: ub}}]\n',
    );
    const creds = kubeCredentials(`${a}${delimiter}${b}`);
    assert.equal(creds.reader, 'client-node');
    assert.equal(creds.server, 'https://h:1');
  });

  test('a file KubeConfig refuses: its ConfigError, naming the flag', async () => {
    const missing = join(dir, 'missing.config');
    assert.throws(
      () => kubeCredentials(missing),
      (e: unknown) => e instanceof ConfigError && /--kubeconfig .*missing\.config/.test(e.message),
    );
    const bad = await write('bad.config', config(`{}`, '{token: t}'));
    assert.throws(
      () => kubeCredentials(bad),
      (e: unknown) => e instanceof ConfigError && /server is missing/.test(e.message),
    );
    const noContext = await write(
      'nocontext.config',
      config(`{server: 'https://h:1'}`, '{token: t}').replace('current-context: x', 'current-context: none'),
    );
    assert.throws(() => kubeCredentials(noContext), ConfigError);
  });
});
