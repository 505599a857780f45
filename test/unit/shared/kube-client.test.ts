/**
 * client-node's KubeConfig and Watch as shared/kube.ts loads them: without the generated API (its ≈ 3,000
 * modules), yet the package's own classes, behaving as they do when the whole package is imported.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { CONFIG_GEN_IMPORTS } from '../../../shared/kube.ts';
import * as kubeGen from '../../../shared/kube-gen.ts';

const kube = new URL('../../../shared/kube.ts', import.meta.url).href;
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team-a}}]
current-context: x
`;

test("kube-gen.ts exports exactly what client-node's config.js imports from its generated API", () => {
  const configJs = createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/config.js');
  const line = /import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/.exec(readFileSync(configJs, 'utf8'));
  assert.ok(line, `config.js imports from ./gen/index.js (${configJs})`);
  const names = (line[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
  assert.deepEqual(names, [...CONFIG_GEN_IMPORTS].sort());
  assert.deepEqual(Object.keys(kubeGen).sort(), names);
});

test('kube-gen.ts re-exports the very bindings of the package index', async () => {
  const full = await import('@kubernetes/client-node');
  assert.equal(kubeGen.createConfiguration, full.createConfiguration);
  assert.equal(kubeGen.ServerConfiguration, full.ServerConfiguration);
});

test('a kubeconfig loaded and used without the generated API; then the same classes as the whole package', () => {
  const code = `
import { registerHooks } from 'node:module';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const seen = [];
registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });
const kube = await import(${JSON.stringify(kube)});
const file = join(mkdtempSync(join(tmpdir(), 'kube-client-')), 'config');
writeFileSync(file, ${JSON.stringify(KUBECONFIG)});
const kc = kube.loadKubeConfig(file);
const opts = {};
await kc.applyToHTTPSOptions(opts);
new kube.KubeApi(kc).close();
const watch = new (kube.kubeClient().Watch)(kc);
const generated = seen.filter((u) => /client-node\\/dist\\/gen\\/(index|models|apis|types)\\b/.test(u));
const full = await import('@kubernetes/client-node');
process.stdout.write(JSON.stringify({
  generated,
  server: kc.getCurrentCluster().server,
  namespace: kc.getContextObject(kc.getCurrentContext()).namespace,
  authorization: opts.headers?.Authorization,
  rejectUnauthorized: opts.rejectUnauthorized,
  sameKubeConfig: kube.kubeClient().KubeConfig === full.KubeConfig && kc instanceof full.KubeConfig,
  sameWatch: watch instanceof full.Watch,
}));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  );
  assert.deepEqual(out, {
    generated: [],
    server: 'https://127.0.0.1:6443',
    namespace: 'team-a',
    authorization: 'Bearer secret-token',
    rejectUnauthorized: false,
    sameKubeConfig: true,
    sameWatch: true,
  });
});
