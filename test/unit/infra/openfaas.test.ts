/**
 * infra/openfaas: stack.yml, its Function objects, and the Kubernetes objects around them, checked
 * against the Function CRD's schema, the Kubernetes schemas, OpenFaaS' workload contract, and the
 * programs' own flag parsers (each function's environment is what its program is started with).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadKubeConfig } from '../../../shared/kube.ts';
import { cronProblem } from './cron.ts';
import { crossCheck, listening, programConfig } from './cross-check.ts';
import {
  get,
  HEALTH_PATHS,
  kustomize,
  type Obj,
  podTemplates,
  readYaml,
  repoPath,
  validateBuiltin,
} from './manifests.ts';
import {
  FN_NS,
  faasNetesDeployment,
  faasNetesService,
  SECRETS_DIR,
  secretKeys,
  stackFunctions,
  validateFunction,
} from './openfaas.ts';

describe('OpenFaaS: stack.yml, its Function objects and kubectl apply -k infra/openfaas', () => {
  const stack = readYaml('infra/openfaas/stack.yml')[0]!;
  const functions = readYaml('infra/openfaas/functions.yaml');
  let objects: Obj[] = [];
  let all: Obj[] = [];
  before(async () => {
    objects = await kustomize('infra/openfaas');
    all = [...objects, ...functions.flatMap((f) => [faasNetesDeployment(f), faasNetesService(f)])];
  });

  test('stack.yml declares both functions with lang dockerfile, as DNS-1035 names', () => {
    assert.deepEqual(Object.keys(stack.functions).sort(), ['metrics-scrape', 'metrics-serve']);
    for (const [name, f] of Object.entries<Obj>(stack.functions)) {
      assert.equal(f.lang, 'dockerfile', name);
      assert.match(name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
      assert.equal(
        readFileSync(repoPath(`${join('infra/openfaas', f.handler)}/Dockerfile`), 'utf8').includes(
          `AS ${name.replace('metrics-', '')}`,
        ),
        true,
      );
    }
  });

  test('functions.yaml is what faas-cli generate makes of stack.yml', () => {
    assert.deepEqual(functions, stackFunctions(stack));
  });

  test('every Function is valid against the Function CRD schema', () => {
    for (const fn of functions) assert.ok(validateFunction(fn), JSON.stringify(validateFunction.errors));
    // And the schema rejects what the API server would: an unknown field, a missing image.
    assert.equal(
      validateFunction({ ...functions[0], spec: { ...functions[0]!.spec, args: ['--once'] } }),
      false,
    );
    assert.equal(
      validateFunction({ apiVersion: 'openfaas.com/v1', kind: 'Function', spec: { name: 'x' } }),
      false,
    );
  });

  test('the Kubernetes objects are valid against their schemas, with no unknown field', async () => {
    for (const o of objects) await validateBuiltin(o);
  });

  test('objects and the functions as faas-netes deploys them agree, and each program starts with its environment', () => {
    assert.deepEqual(crossCheck(all), []);
  });

  test('the scraper opts into cron-connector with a valid five-field schedule', () => {
    const a = stack.functions['metrics-scrape'].annotations;
    assert.equal(a.topic, 'cron-function');
    assert.equal(cronProblem(a.schedule), undefined);
    const p = programConfig(
      all,
      podTemplates(all).find((t) => t.owner === `Deployment/${FN_NS}/metrics-scrape`)!,
      faasNetesDeployment(functions[0]!).spec.template.spec.containers[0],
    );
    assert.ok(p !== null && typeof p !== 'string' && p.program === 'scrape');
    // cron-connector POSTs to the trigger server; one cycle per minute tick.
    assert.ok(!p.config.once && !p.config.loop);
    assert.equal(p.config.metricResolutionMs, 60_000);
  });

  test('scale labels pin serve at min == max ≥ 2, and both run with a read-only root filesystem', () => {
    const l = stack.functions['metrics-serve'].labels;
    assert.ok(Number(l['com.openfaas.scale.min']) >= 2);
    assert.equal(l['com.openfaas.scale.max'], l['com.openfaas.scale.min']);
    for (const f of Object.values<Obj>(stack.functions)) assert.equal(f.readonly_root_filesystem, true);
  });

  test("the watchdog's contract: HTTP on 8080 with /_/health and /_/ready, from each program's own --port", () => {
    assert.ok(HEALTH_PATHS.includes('/_/health') && HEALTH_PATHS.includes('/_/ready'));
    for (const t of podTemplates(all).filter((x) => x.namespace === FN_NS)) {
      const p = programConfig(all, t, t.spec.containers[0]);
      assert.ok(p !== null && typeof p !== 'string', String(p));
      assert.equal(listening(p).plain, 8080, t.owner);
    }
  });

  test('secrets are files under /var/openfaas/secrets: every listed secret exists, keys are unique, paths resolve', () => {
    for (const fn of functions) {
      const keys = fn.spec.secrets.flatMap((n: string) => secretKeys(get(objects, 'Secret', n, FN_NS)));
      assert.equal(new Set(keys).size, keys.length, `${fn.spec.name}: duplicate secret keys ${keys}`);
      for (const value of Object.values<string>(fn.spec.environment)) {
        if (value.startsWith(`${SECRETS_DIR}/`))
          assert.ok(
            keys.includes(value.slice(SECRETS_DIR.length + 1)),
            `${fn.spec.name}: ${value} is mounted`,
          );
      }
      // The token secret is of the function's own ServiceAccount, which exists.
      const token = get(objects, 'Secret', `${fn.spec.name}-token`, FN_NS);
      get(objects, 'ServiceAccount', token.metadata.annotations['kubernetes.io/service-account.name'], FN_NS);
    }
  });

  test('the TLS Service reaches the serve function’s SECURE_PORT, and the APIService points at it', () => {
    const svc = get(objects, 'Service', 'metrics-serve-tls', FN_NS);
    const t = podTemplates(all).find((x) => x.owner === `Deployment/${FN_NS}/metrics-serve`)!;
    const p = programConfig(all, t, t.spec.containers[0]);
    assert.ok(p !== null && typeof p !== 'string');
    assert.equal(svc.spec.ports[0].targetPort, listening(p).secure);
    assert.deepEqual(get(objects, 'APIService', 'v1beta1.metrics.k8s.io').spec.service, {
      name: 'metrics-serve-tls',
      namespace: FN_NS,
      port: 443,
    });
  });

  test('the roles are the plain-Kubernetes ones, bound to the openfaas-fn identities', async () => {
    const k8s = await kustomize('infra/kubernetes');
    for (const name of [
      'metrics-serverless:scrape',
      'system:aggregated-metrics-reader',
      'metrics-serverless:view-metrics',
    ])
      assert.deepEqual(get(objects, 'ClusterRole', name).rules, get(k8s, 'ClusterRole', name).rules, name);
    assert.deepEqual(get(objects, 'ClusterRoleBinding', 'metrics-serverless:scrape').subjects, [
      { kind: 'ServiceAccount', name: 'metrics-scrape', namespace: FN_NS },
    ]);
  });

  describe('the kubeconfig secret, as client-node reads it in the function', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openfaas-secrets-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('uses the in-cluster API server, the mounted CA and the mounted token', async () => {
      const text = String(get(objects, 'Secret', 'metrics-kubeconfig', FN_NS).stringData.kubeconfig);
      // The secrets as OpenFaaS mounts them, in a folder of our own instead of /var/openfaas/secrets.
      writeFileSync(join(dir, 'kubeconfig'), text.replaceAll(`${SECRETS_DIR}/`, `${dir}/`));
      writeFileSync(join(dir, 'token'), 'sa-token-from-the-secret');
      writeFileSync(join(dir, 'ca.crt'), 'CA PEM');
      const kc = loadKubeConfig(join(dir, 'kubeconfig'));
      assert.equal(kc.getCurrentCluster()?.server, 'https://kubernetes.default.svc');
      const opts: { headers?: Record<string, unknown>; ca?: unknown } = {};
      await kc.applyToHTTPSOptions(opts);
      assert.equal(opts.headers?.Authorization, 'Bearer sa-token-from-the-secret');
      assert.equal(String(opts.ca), 'CA PEM');
    });
  });
});
