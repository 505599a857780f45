/**
 * infra/kubernetes: what `kubectl apply -k` applies, rendered by kubectl's kustomize, validated against
 * the Kubernetes schemas and cross-checked against itself and against the programs' flag parsers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parseHostPort } from '../../../shared/config/index.ts';
import { nameCollisions } from './builds.ts';
import { type CaOverlay, caBundleOverlay } from './ca-overlay.ts';
import { allows, crossCheck, listening, programConfig } from './cross-check.ts';
import { get, kustomize, type Obj, podTemplates, repoPath, validateBuiltin } from './manifests.ts';

const NS = 'metrics-serverless';

function container(objects: Obj[], kind: string, name: string): Obj {
  return get(objects, kind, name, NS).spec.template.spec.containers[0];
}

function configOf(objects: Obj[], kind: string, name: string) {
  const pod = podTemplates(objects).find((p) => p.owner === `${kind}/${NS}/${name}`);
  assert.ok(pod, `${kind} ${name} has a pod template`);
  const p = programConfig(objects, pod, pod.spec.containers[0]);
  assert.ok(p !== null && typeof p !== 'string', `${name} starts: ${p}`);
  return p;
}

/** Both the quick start and the Sentinel overlay hold to everything below. */
for (const variant of ['infra/kubernetes', 'infra/kubernetes/overlays/redis-sentinel']) {
  describe(`kubectl apply -k ${variant}`, () => {
    let objects: Obj[] = [];
    before(async () => {
      objects = await kustomize(variant);
    });

    test('renders, and every object is valid against its Kubernetes schema with no unknown field', async () => {
      assert.ok(objects.length > 10);
      for (const o of objects) await validateBuiltin(o);
    });

    test('objects agree: selectors, ports, probes, references, RBAC subjects, and every flag the programs get', () => {
      assert.deepEqual(crossCheck(objects), []);
    });

    test('the namespace and one ServiceAccount per function exist', () => {
      get(objects, 'Namespace', NS);
      get(objects, 'ServiceAccount', 'metrics-scrape', NS);
      get(objects, 'ServiceAccount', 'metrics-serve', NS);
    });

    test("the scraper may read kubelets' resource metrics and summaries, and get/list/watch nodes and pods", () => {
      const sa = { namespace: NS, name: 'metrics-scrape' };
      for (const resource of ['nodes/metrics', 'nodes/stats'])
        assert.ok(allows(objects, sa, { group: '', resource, verb: 'get' }), resource);
      for (const resource of ['nodes', 'pods'])
        for (const verb of ['get', 'list', 'watch'])
          assert.ok(allows(objects, sa, { group: '', resource, verb }), `${verb} ${resource}`);
      // nodes/proxy is kubelet admin (exec into pods): never granted.
      assert.ok(!allows(objects, sa, { group: '', resource: 'nodes/proxy', verb: 'get' }));
    });

    test('the serve function has the delegated-auth bindings metrics-server has', () => {
      const delegator = objects.find(
        (o) => o.kind === 'ClusterRoleBinding' && o.roleRef.name === 'system:auth-delegator',
      );
      assert.deepEqual(delegator?.subjects, [
        { kind: 'ServiceAccount', name: 'metrics-serve', namespace: NS },
      ]);
      const reader = objects.find(
        (o) => o.kind === 'RoleBinding' && o.roleRef.name === 'extension-apiserver-authentication-reader',
      );
      assert.equal(reader?.metadata.namespace, 'kube-system');
      assert.equal(reader?.roleRef.kind, 'Role');
      assert.deepEqual(reader?.subjects, [{ kind: 'ServiceAccount', name: 'metrics-serve', namespace: NS }]);
    });

    test("users keep metrics-server's system:aggregated-metrics-reader, aggregated into view, edit and admin", () => {
      const role = get(objects, 'ClusterRole', 'system:aggregated-metrics-reader');
      for (const to of ['view', 'edit', 'admin'])
        assert.equal(role.metadata.labels[`rbac.authorization.k8s.io/aggregate-to-${to}`], 'true');
      assert.deepEqual(role.rules, [
        { apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ]);
    });

    test('a view-metrics role grants reading metrics.k8s.io nodes and pods, and nothing else', () => {
      const role = get(objects, 'ClusterRole', 'metrics-serverless:view-metrics');
      assert.deepEqual(role.rules, [
        { apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list'] },
      ]);
      assert.equal(role.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view'], undefined);
    });

    test('serve runs 2+ replicas on different nodes, kept by a PodDisruptionBudget, as a critical pod', () => {
      const d = get(objects, 'Deployment', 'metrics-serve', NS);
      const own = d.spec.template.metadata.labels;
      assert.ok(d.spec.replicas >= 2);
      const [term] =
        d.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
      assert.equal(term.topologyKey, 'kubernetes.io/hostname');
      assert.ok(Object.entries(term.labelSelector.matchLabels).every(([k, v]) => own[k] === v));
      const pdb = get(objects, 'PodDisruptionBudget', 'metrics-serve', NS);
      assert.equal(pdb.spec.minAvailable, 1);
      assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
      assert.equal(d.spec.template.spec.priorityClassName, 'system-cluster-critical');
      // A rollout never needs a third node: one old pod goes before its replacement comes.
      assert.deepEqual(d.spec.strategy.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 });
    });

    test("the functions' containers are locked down as metrics-server's, with requests and a memory limit", () => {
      for (const name of ['metrics-serve', 'metrics-scrape']) {
        const c = container(objects, 'Deployment', name);
        assert.deepEqual(c.securityContext, {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
          capabilities: { drop: ['ALL'] },
        });
        assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, name);
      }
    });

    test('serve probes its real health endpoints on its plain port, and the TLS Service reaches --secure-port', () => {
      const p = configOf(objects, 'Deployment', 'metrics-serve');
      const c = container(objects, 'Deployment', 'metrics-serve');
      const port = (name: string) => c.ports.find((x: Obj) => x.name === name).containerPort;
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
      assert.equal(c.livenessProbe.httpGet.path, '/livez');
      assert.equal(port(c.readinessProbe.httpGet.port), listening(p).plain);
      const svc = get(objects, 'Service', 'metrics-serve-tls', NS);
      assert.deepEqual(
        svc.spec.ports.map((x: Obj) => [x.port, x.appProtocol]),
        [[443, 'https']],
      );
      assert.equal(port(svc.spec.ports[0].targetPort), listening(p).secure);
    });

    test('the scraper runs its own ticker (--loop), with its liveness probe on /livez', () => {
      const p = configOf(objects, 'Deployment', 'metrics-scrape');
      assert.equal(p.program, 'scrape');
      assert.ok(p.program === 'scrape' && p.config.loop);
      assert.equal(container(objects, 'Deployment', 'metrics-scrape').livenessProbe.httpGet.path, '/livez');
    });

    test('the v1beta1.metrics.k8s.io APIService points at the TLS Service, trusting it one explicit way', () => {
      const a = get(objects, 'APIService', 'v1beta1.metrics.k8s.io');
      assert.deepEqual(a.spec.service, { name: 'metrics-serve-tls', namespace: NS, port: 443 });
      assert.equal(a.spec.group, 'metrics.k8s.io');
      assert.equal(a.spec.version, 'v1beta1');
      // The quick start is metrics-server's insecure default, and says so in the file.
      assert.equal(a.spec.insecureSkipTLSVerify, true);
      assert.equal(a.spec.caBundle, undefined);
    });

    test('both functions read the same resolution and find Redis where a Service serves it', () => {
      const scrape = configOf(objects, 'Deployment', 'metrics-scrape');
      const serve = configOf(objects, 'Deployment', 'metrics-serve');
      assert.ok(scrape.program === 'scrape' && serve.program === 'serve');
      assert.equal(scrape.config.metricResolutionMs, 15_000);
      assert.equal(serve.config.metricResolutionMs, scrape.config.metricResolutionMs);
      const addresses =
        scrape.config.redisSentinels.length > 0
          ? scrape.config.redisSentinels
          : [new URL(scrape.config.redisUrl).host];
      assert.deepEqual(serve.config.redisSentinels, scrape.config.redisSentinels);
      assert.equal(serve.config.redisUrl, scrape.config.redisUrl);
      for (const address of addresses) {
        const hp = parseHostPort(address);
        assert.ok(hp, address);
        const [service, namespace, svc] = hp.host.split('.');
        assert.equal(svc, 'svc', `${address} is a Service address`);
        const s = get(objects, 'Service', service!, namespace);
        assert.ok(
          s.spec.ports.some((x: Obj) => x.port === hp.port),
          `${address}: Service ${service} has port ${hp.port}`,
        );
      }
    });
  });
}

describe('Redis with Sentinel (overlays/redis-sentinel)', () => {
  let objects: Obj[] = [];
  before(async () => {
    objects = await kustomize('infra/kubernetes/overlays/redis-sentinel');
  });

  test('replaces the single server: no Redis Deployment, a three-pod StatefulSet with a Sentinel in each', () => {
    assert.equal(
      objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'metrics-redis'),
      undefined,
    );
    const sts = get(objects, 'StatefulSet', 'metrics-redis', NS);
    assert.equal(sts.spec.replicas, 3);
    assert.deepEqual(
      sts.spec.template.spec.containers.map((c: Obj) => c.name),
      ['redis', 'sentinel'],
    );
    const headless = get(objects, 'Service', sts.spec.serviceName, NS);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(get(objects, 'PodDisruptionBudget', 'metrics-redis', NS).spec.minAvailable, 2);
  });

  test('the functions use the Sentinels, with the master name the Sentinels monitor, and no --redis-url', () => {
    const config = get(objects, 'ConfigMap', 'metrics-serverless', NS).data;
    assert.equal(config.REDIS_URL, undefined);
    const scripts = get(objects, 'ConfigMap', 'metrics-redis-scripts', NS).data;
    const monitor = /sentinel monitor (\S+) \$MASTER 6379 2/.exec(scripts['sentinel.sh']);
    assert.equal(monitor?.[1], config.REDIS_SENTINEL_NAME);
    assert.ok(scripts['common.sh'].includes(`get-master-addr-by-name ${config.REDIS_SENTINEL_NAME}`));
  });

  test('the start scripts are valid sh and name the Services and pods that exist', () => {
    const scripts = get(objects, 'ConfigMap', 'metrics-redis-scripts', NS).data;
    for (const text of Object.values(scripts)) execFileSync('sh', ['-n'], { input: String(text) });
    const sts = get(objects, 'StatefulSet', 'metrics-redis', NS);
    const common = String(scripts['common.sh']);
    assert.ok(common.includes(`$(hostname).${sts.spec.serviceName}.${NS}.svc`));
    assert.ok(common.includes(`${sts.metadata.name}-0.${sts.spec.serviceName}.${NS}.svc`));
    const sentinelHost = /-h (\S+) -p (\d+)/.exec(common);
    const [service] = String(sentinelHost?.[1]).split('.');
    const s = get(objects, 'Service', service!, NS);
    assert.ok(s.spec.ports.some((p: Obj) => p.port === Number(sentinelHost?.[2])));
  });
});

describe('the ca-bundle path: the aggregator verifies the serve function with your CA', () => {
  let overlay: CaOverlay;
  let objects: Obj[] = [];
  before(async () => {
    overlay = await caBundleOverlay('infra/kubernetes/base', NS, `metrics-serve-tls.${NS}.svc`);
    objects = overlay.objects;
  });
  after(() => overlay?.cleanup());

  test('renders valid objects that agree with each other and with the serve function', async () => {
    for (const o of objects) await validateBuiltin(o);
    assert.deepEqual(crossCheck(objects), []);
    assert.deepEqual(nameCollisions({ dir: 'ca-bundle overlay', applied: objects, functions: [] }), []);
  });

  test('docs/deploy.md and the component tell users to make the certificate for the name the aggregator dials', () => {
    const a = get(objects, 'APIService', 'v1beta1.metrics.k8s.io');
    const serverName = `${a.spec.service.name}.${a.spec.service.namespace}.svc`;
    const docs = readFileSync(repoPath('docs/deploy.md'), 'utf8');
    assert.deepEqual(
      [...docs.matchAll(/subjectAltName=DNS:(\S+)/g)].map((m) => m[1]),
      [serverName],
    );
    const component = readFileSync(
      repoPath('infra/kubernetes/components/ca-bundle/kustomization.yaml'),
      'utf8',
    );
    assert.ok(component.includes(`with the DNS name ${serverName}`));
  });

  test("both APIServices' caBundle is the CA, and neither is told to skip verification", () => {
    for (const name of ['v1beta1.metrics.k8s.io', 'v1.metrics.k8s.io']) {
      const a = get(objects, 'APIService', name);
      assert.equal(a.spec.insecureSkipTLSVerify, undefined, name);
      assert.equal(Buffer.from(a.spec.caBundle, 'base64').toString(), overlay.caPem, name);
    }
  });

  test('serve presents the mounted certificate, which that CA verifies for the name the aggregator dials', () => {
    const p = configOf(objects, 'Deployment', 'metrics-serve');
    assert.ok(p.program === 'serve');
    assert.equal(p.config.tlsCertFile, '/etc/metrics-serve/tls/tls.crt');
    assert.equal(p.config.tlsPrivateKeyFile, '/etc/metrics-serve/tls/tls.key');
    const a = get(objects, 'APIService', 'v1beta1.metrics.k8s.io');
    const serverName = `${a.spec.service.name}.${a.spec.service.namespace}.svc`;
    const ca = new X509Certificate(Buffer.from(a.spec.caBundle, 'base64'));
    const cert = new X509Certificate(overlay.certPem);
    assert.ok(cert.verify(ca.publicKey));
    assert.equal(cert.checkHost(serverName), serverName);
  });
});

describe('the cross-checks catch what they are for', () => {
  let objects: Obj[] = [];
  before(async () => {
    objects = await kustomize('infra/kubernetes');
  });
  const mutated = (change: (o: Obj[]) => void) => {
    const copy = structuredClone(objects);
    change(copy);
    return copy;
  };

  test('a flag the program does not accept', () => {
    const bad = mutated((o) => container(o, 'Deployment', 'metrics-scrape').args.push('--kubelet-insecure'));
    assert.match(
      crossCheck(bad).join('\n'),
      /metrics-scrape container scrape: the program would stop at start: error: unknown flag --kubelet-insecure/,
    );
  });

  test('a probe on a port the program does not serve health on', () => {
    const bad = mutated((o) => {
      container(o, 'Deployment', 'metrics-serve').livenessProbe.httpGet.port = 'https';
    });
    assert.match(crossCheck(bad).join('\n'), /livenessProbe port https is not the plain-HTTP --port 8080/);
  });

  test('a Service selector that matches no pod, and a binding to a missing ServiceAccount', () => {
    const bad = mutated((o) => {
      get(o, 'Service', 'metrics-serve-tls', NS).spec.selector = {
        'app.kubernetes.io/name': 'metrics-server',
      };
      get(o, 'ClusterRoleBinding', 'metrics-serverless:scrape').subjects[0].name = 'metrics-scraper';
    });
    const problems = crossCheck(bad).join('\n');
    assert.match(
      problems,
      /Service\/metrics-serverless\/metrics-serve-tls: selector .* matches no pod template/,
    );
    assert.match(problems, /subject ServiceAccount metrics-serverless\/metrics-scraper does not exist/);
  });

  test('an unknown field fails schema validation', async () => {
    const bad = mutated((o) => {
      get(o, 'Deployment', 'metrics-serve', NS).spec.replica = 3;
    });
    await assert.rejects(
      validateBuiltin(get(bad, 'Deployment', 'metrics-serve', NS)),
      /unknown fields \.spec\.replica/,
    );
  });

  test('a grace period shorter than the graceful stop the flags make (delay + drain + margin)', () => {
    // A longer delay in the ConfigMap, as an operator would set it, and the grace left as it was.
    const bad = mutated((o) => {
      get(o, 'ConfigMap', 'metrics-serverless', NS).data.SHUTDOWN_DELAY_DURATION = '20s';
    });
    const problems = crossCheck(bad).join('\n');
    for (const name of ['metrics-serve', 'metrics-scrape'])
      assert.match(
        problems,
        new RegExp(
          `Deployment/${NS}/${name} container \\w+: a grace period of 30 s is shorter than a graceful stop: --shutdown-delay-duration 20 s \\+ drain 15 s \\+ 5 s = 40 s`,
        ),
      );
    const fixed = mutated((o) => {
      get(o, 'ConfigMap', 'metrics-serverless', NS).data.SHUTDOWN_DELAY_DURATION = '20s';
      for (const name of ['metrics-serve', 'metrics-scrape'])
        get(o, 'Deployment', name, NS).spec.template.spec.terminationGracePeriodSeconds = 40;
    });
    assert.doesNotMatch(crossCheck(fixed).join('\n'), /grace period/);
  });

  test('a readiness probe that would see the stop only after the shutdown delay ended', () => {
    const bad = mutated((o) => {
      container(o, 'Deployment', 'metrics-serve').readinessProbe.periodSeconds = 10;
    });
    assert.match(
      crossCheck(bad).join('\n'),
      /metrics-serve container serve: readinessProbe sees the stop only after up to 30 s \(periodSeconds × failureThreshold\), after --shutdown-delay-duration 5 s ended/,
    );
  });

  test('a read-only root with the self-signed certificate but no writable --cert-dir', () => {
    const bad = mutated((o) => {
      const c = container(o, 'Deployment', 'metrics-serve');
      c.volumeMounts = [];
    });
    assert.match(crossCheck(bad).join('\n'), /--cert-dir \/tmp is not on a writable emptyDir/);
  });
});
