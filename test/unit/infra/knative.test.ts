/**
 * infra/knative: Knative Services, the PingSource and the shared objects, rendered by kubectl's
 * kustomize, validated against Knative's schemas (@kubernetes-models/knative) and the Kubernetes ones,
 * held to what Knative's webhook admits (its field masks and runtime contract), and cross-checked
 * against the programs' flag parsers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { nameCollisions, validateObject } from './builds.ts';
import { type CaOverlay, caBundleOverlay } from './ca-overlay.ts';
import { cronProblem } from './cron.ts';
import { crossCheck, listening, programConfig } from './cross-check.ts';
import { knativeProblems } from './knative.ts';
import { get, kustomize, type Obj, podTemplates } from './manifests.ts';

const NS = 'metrics-serverless';

async function validateAll(objects: Obj[]): Promise<void> {
  for (const o of objects) await validateObject(o);
}

function programOfKsvc(objects: Obj[], name: string) {
  const pod = podTemplates(objects).find((p) => p.owner === `Service/${NS}/${name}`);
  assert.ok(pod);
  const p = programConfig(objects, pod, pod.spec.containers[0]);
  assert.ok(p !== null && typeof p !== 'string', String(p));
  return p;
}

describe('kubectl apply -k infra/knative', () => {
  let objects: Obj[] = [];
  before(async () => {
    objects = await kustomize('infra/knative');
  });

  test('renders objects valid against the Knative and Kubernetes schemas, with no unknown field', async () => {
    await validateAll(objects);
  });

  test("both Knative Services are what Knative's webhook admits", () => {
    for (const name of ['metrics-serve', 'metrics-scrape']) {
      const ksvc = objects.find((o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === name);
      assert.ok(ksvc, name);
      assert.deepEqual(knativeProblems(ksvc), []);
      assert.equal(ksvc.metadata.labels['networking.knative.dev/visibility'], 'cluster-local');
    }
  });

  test('objects agree with each other and with the programs (PORT as Knative sets it)', () => {
    assert.deepEqual(crossCheck(objects), []);
  });

  test("a revision's timeoutSeconds (its pods' grace) holds queue-proxy's drain, the shutdown delay and the drain", () => {
    const shortened = structuredClone(objects);
    const ksvc = shortened.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-serve',
    );
    ksvc!.spec.template.spec.timeoutSeconds = 30;
    assert.match(
      crossCheck(shortened).join('\n'),
      /Service\/metrics-serverless\/metrics-serve container serve: a grace period of 30 s is shorter than a graceful stop: 30 s before SIGTERM \+ --shutdown-delay-duration 5 s \+ drain 15 s \+ 5 s = 55 s/,
    );
  });

  test('serve never scales to zero: min-scale = max-scale ≥ 2, no concurrency limit on the probe port', () => {
    const ksvc = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-serve',
    );
    const a = ksvc?.spec.template.metadata.annotations;
    assert.ok(Number(a['autoscaling.knative.dev/min-scale']) >= 2);
    assert.equal(a['autoscaling.knative.dev/max-scale'], a['autoscaling.knative.dev/min-scale']);
    assert.equal(ksvc?.spec.template.spec.containerConcurrency, 0);
  });

  test("the APIService's TLS Service selects the revision pods and reaches serve's undeclared TLS port", () => {
    const svc = get(objects, 'Service', 'metrics-serve-tls', NS);
    assert.equal(svc.apiVersion, 'v1');
    assert.deepEqual(svc.spec.selector, { 'serving.knative.dev/service': 'metrics-serve' });
    const p = programOfKsvc(objects, 'metrics-serve');
    assert.equal(svc.spec.ports[0].targetPort, listening(p).secure);
    // The declared (Knative) port is the plain one, which Knative's PORT gives to --port.
    const ksvc = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-serve',
    );
    assert.equal(ksvc?.spec.template.spec.containers[0].ports[0].containerPort, listening(p).plain);
    const api = get(objects, 'APIService', 'v1beta1.metrics.k8s.io');
    assert.deepEqual(api.spec.service, { name: 'metrics-serve-tls', namespace: NS, port: 443 });
  });

  test('a PingSource POSTs to the scraper every minute, and the resolution is one tick', () => {
    const ping = objects.find((o) => o.kind === 'PingSource' && o.metadata.name === 'metrics-scrape-tick');
    assert.ok(ping);
    assert.equal(ping.metadata.namespace, NS);
    assert.equal(cronProblem(ping.spec.schedule), undefined);
    assert.equal(ping.spec.schedule, '* * * * *');
    const ref = ping.spec.sink.ref;
    assert.equal(ref.apiVersion, 'serving.knative.dev/v1');
    assert.ok(
      objects.some(
        (o) => o.apiVersion === ref.apiVersion && o.kind === ref.kind && o.metadata.name === ref.name,
      ),
    );
    const p = programOfKsvc(objects, ref.name);
    assert.ok(p.program === 'scrape');
    // No --once, no --loop: the HTTP trigger server (POST /) on Knative's PORT.
    assert.ok(!p.config.once && !p.config.loop);
    assert.equal(p.config.metricResolutionMs, 60_000);
  });

  test('the scraper runs as its own ServiceAccount, bound to the scraper role', () => {
    const ksvc = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-scrape',
    );
    assert.equal(ksvc?.spec.template.spec.serviceAccountName, 'metrics-scrape');
    const binding = get(objects, 'ClusterRoleBinding', 'metrics-serverless:scrape');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'metrics-scrape', namespace: NS }]);
  });

  test("Knative's webhook rules catch a second port and a reserved variable", () => {
    const ksvc = structuredClone(
      objects.find((o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-serve')!,
    );
    ksvc.spec.template.spec.containers[0].ports.push({ name: 'https', containerPort: 8443 });
    ksvc.spec.template.spec.containers[0].env = [{ name: 'PORT', value: '9000' }];
    ksvc.spec.template.spec.priorityClassName = 'system-cluster-critical';
    const problems = knativeProblems(ksvc).join('\n');
    assert.match(problems, /more than one container port/);
    assert.match(problems, /env PORT is reserved/);
    assert.match(problems, /pod field priorityClassName is not allowed/);
  });
});

describe('kubectl apply -k infra/knative/overlays/loop-15s (sub-minute resolution)', () => {
  let objects: Obj[] = [];
  before(async () => {
    objects = await kustomize('infra/knative/overlays/loop-15s');
  });

  test('renders valid objects that agree with each other and with the programs', async () => {
    await validateAll(objects);
    assert.deepEqual(crossCheck(objects), []);
  });

  test('the scraper ticks by itself every 15 s in its single always-on pod', () => {
    const p = programOfKsvc(objects, 'metrics-scrape');
    assert.ok(p.program === 'scrape' && p.config.loop);
    assert.equal(p.config.metricResolutionMs, 15_000);
    const ksvc = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-scrape',
    );
    const a = ksvc?.spec.template.metadata.annotations;
    assert.equal(a['autoscaling.knative.dev/min-scale'], '1');
    assert.equal(a['autoscaling.knative.dev/max-scale'], '1');
  });
});

describe('Knative with the ca-bundle component (an overlay of infra/knative/base)', () => {
  let overlay: CaOverlay;
  before(async () => {
    overlay = await caBundleOverlay('infra/knative/base', NS, `metrics-serve-tls.${NS}.svc`);
  });
  after(() => overlay?.cleanup());

  test('the Knative Service mounts the certificate and serves it; the APIService carries the CA', async () => {
    await validateAll(overlay.objects);
    assert.deepEqual(crossCheck(overlay.objects, {}), []);
    assert.deepEqual(
      nameCollisions({ dir: 'ca-bundle overlay', applied: overlay.objects, functions: [] }),
      [],
    );
    const p = programOfKsvc(overlay.objects, 'metrics-serve');
    assert.ok(p.program === 'serve');
    assert.equal(p.config.tlsCertFile, '/etc/metrics-serve/tls/tls.crt');
    const ksvc = overlay.objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'metrics-serve',
    );
    assert.deepEqual(knativeProblems(ksvc!), []);
    for (const name of ['v1beta1.metrics.k8s.io', 'v1.metrics.k8s.io']) {
      const a = get(overlay.objects, 'APIService', name);
      assert.equal(Buffer.from(a.spec.caBundle, 'base64').toString(), overlay.caPem, name);
      assert.equal(a.spec.insecureSkipTLSVerify, undefined, name);
    }
  });
});
