/**
 * Every kustomization under infra/ renders with kubectl's kustomize into valid objects, every component
 * is used, and every entry point (builds.ts says which directories those are) is held to what a cluster
 * would do with it: valid objects, no name a platform's controller takes for itself, no duplicate, and
 * objects that agree with each other and with the programs, down to the APIService reaching the serve
 * pods' TLS port. A new entry point is covered by being there; infra/README.md must list it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  type Build,
  clusterObjects,
  duplicates,
  entryPoints,
  kustomizations,
  nameCollisions,
  renderBuild,
  validateObject,
} from './builds.ts';
import { crossCheck } from './cross-check.ts';
import { get, id, kustomize, type Obj, podTemplates, programOf, repoPath, repoRoot } from './manifests.ts';

const all = kustomizations();
const entries = entryPoints(all);

describe('the kustomizations under infra/', () => {
  for (const k of all.filter((x) => x.kind === 'Kustomization')) {
    test(`${k.dir} renders, and every object it yields is valid against its schema`, async () => {
      const objects = await kustomize(k.dir);
      assert.ok(objects.length > 0);
      for (const o of objects) await validateObject(o);
    });
  }

  // ca-bundle needs a Secret the user provides: the tests render it in overlays made with generated
  // certificates (ca-overlay.ts), for plain Kubernetes and for Knative.
  const renderedByTests = new Set([repoPath('infra/kubernetes/components/ca-bundle')]);

  test('every component is used by a kustomization (or rendered by the tests)', () => {
    const used = new Set(all.flatMap((k) => k.components));
    const components = all.filter((k) => k.kind === 'Component').map((k) => repoPath(k.dir));
    assert.ok(components.length >= 4);
    for (const c of components)
      assert.ok(used.has(c) || renderedByTests.has(c), `${relative(repoRoot, c)} is used`);
  });
});

describe('the entry points: what `kubectl apply -k` (and faas-cli) send to a cluster', () => {
  test('are every kustomization no other one builds on, and infra/README.md lists exactly those', () => {
    assert.ok(entries.includes('infra/kubernetes') && entries.includes('infra/knative'), entries.join());
    for (const block of ['infra/kubernetes/base', 'infra/kubernetes/common', 'infra/knative/base'])
      assert.ok(!entries.includes(block), `${block} is a building block`);
    const readme = readFileSync(repoPath('infra/README.md'), 'utf8');
    const listed = [...readme.matchAll(/kubectl apply -k (infra\/[\w./-]+?)\/?`/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(listed)].sort(), [...entries].sort());
  });

  for (const dir of entries) {
    describe(dir, () => {
      let build: Build;
      before(async () => {
        build = await renderBuild(dir);
      });

      test('every object, OpenFaaS Functions included, is valid against its schema', async () => {
        for (const o of [...build.applied, ...build.functions]) await validateObject(o);
      });

      test("no object takes a name a platform's controller creates, and none is defined twice", () => {
        assert.deepEqual([...nameCollisions(build), ...duplicates(build)], []);
      });

      test('the objects agree with each other and with the programs; an APIService reaches the serve pods’ TLS port', () => {
        assert.deepEqual(crossCheck(clusterObjects(build)), []);
      });

      test('with the serve function, metrics.k8s.io is registered in v1beta1 and in v1 (preferred), both to the same Service, trusted alike; without it, no APIService', () => {
        const services = build.applied.filter((o) => o.kind === 'APIService');
        const serves = podTemplates(clusterObjects(build)).some((p) =>
          (p.spec.containers ?? []).some((c: Obj) => programOf(String(c.image)) === 'serve'),
        );
        // An APIService nothing serves makes discovery fail for every client (and stalls namespace
        // deletion): an entry point without the serve function (the events function alone) has none.
        if (!serves) {
          assert.deepEqual(services.map(id), []);
          return;
        }
        const byVersion = new Map(services.map((a) => [a.spec.version as string, a]));
        assert.deepEqual([...byVersion.keys()].sort(), ['v1', 'v1beta1']);
        const [v1, v1beta1] = [byVersion.get('v1')!, byVersion.get('v1beta1')!];
        for (const a of [v1, v1beta1]) {
          assert.equal(a.metadata.name, `${a.spec.version}.metrics.k8s.io`);
          assert.equal(a.spec.group, 'metrics.k8s.io');
        }
        const { version: _v1, versionPriority: p1, ...rest1 } = v1.spec;
        const { version: _v2, versionPriority: p2, ...rest2 } = v1beta1.spec;
        assert.deepEqual(rest1, rest2, 'service, trust and group priority');
        assert.ok(p1 > p2, 'v1 has the higher versionPriority');
      });
    });
  }
});

describe('the build checks catch what they are for', () => {
  const with_ = async (dir: string, change: (b: Build) => void): Promise<Build> => {
    const b = structuredClone(await renderBuild(dir));
    change(b);
    return b;
  };
  const NS = 'metrics-serverless';

  test("a v1 Service named like a Knative Service: Knative's placeholder for the Route", async () => {
    const b = await with_('infra/knative', (x) =>
      x.applied.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'metrics-serve', namespace: NS },
        spec: {
          selector: { 'serving.knative.dev/service': 'metrics-serve' },
          ports: [{ port: 443, targetPort: 8443 }],
        },
      }),
    );
    assert.match(
      nameCollisions(b).join('\n'),
      /Service\/metrics-serverless\/metrics-serve: its name is taken by Knative Serving's placeholder Service for the Route of Knative Service metrics-serverless\/metrics-serve/,
    );
  });

  test("a Service or Deployment named like a revision's, or like an OpenFaaS Function", async () => {
    const knative = await with_('infra/knative', (x) => {
      x.applied.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'metrics-scrape-00001-private', namespace: NS },
      });
    });
    assert.match(
      nameCollisions(knative).join('\n'),
      /metrics-scrape-00001-private: its name is taken by Knative Serving's revision Services/,
    );
    const openfaas = await with_('infra/openfaas', (x) => {
      get(x.applied, 'Service', 'metrics-serve-tls', 'openfaas-fn').metadata.name = 'metrics-serve';
    });
    assert.match(
      nameCollisions(openfaas).join('\n'),
      /Service\/openfaas-fn\/metrics-serve: its name is taken by faas-netes' Service of Function openfaas-fn\/metrics-serve/,
    );
  });

  test('an object defined twice', async () => {
    const b = await with_('infra/kubernetes', (x) =>
      x.applied.push(structuredClone(get(x.applied, 'ConfigMap', 'metrics-serverless', NS))),
    );
    assert.match(
      duplicates(b).join('\n'),
      /^\/ConfigMap\/metrics-serverless\/metrics-serverless: defined twice$/,
    );
  });

  test('an APIService whose Service selects other pods, or no pods, or reaches another port', async () => {
    const problems = async (change: (svc: Obj) => void) => {
      const b = await with_('infra/kubernetes', (x) =>
        change(get(x.applied, 'Service', 'metrics-serve-tls', NS)),
      );
      return crossCheck(clusterObjects(b)).join('\n');
    };
    assert.match(
      await problems((svc) => {
        svc.spec.selector = { 'app.kubernetes.io/name': 'metrics-scrape' };
      }),
      /APIService\/v1beta1.metrics.k8s.io: Service metrics-serverless\/metrics-serve-tls selects Deployment\/metrics-serverless\/metrics-scrape, which does not run the serve function/,
    );
    assert.match(
      await problems((svc) => {
        svc.spec.selector = { 'app.kubernetes.io/name': 'metrics-server' };
      }),
      /Service metrics-serverless\/metrics-serve-tls selects no pods: the APIService has no endpoints/,
    );
    assert.match(
      await problems((svc) => {
        svc.spec.ports[0].targetPort = 'http';
      }),
      /port 443 → http reaches 8080 of Deployment\/metrics-serverless\/metrics-serve, whose serve function listens for HTTPS on 10250/,
    );
    assert.match(
      await problems((svc) => {
        svc.spec.ports[0].port = 8443;
      }),
      /Service metrics-serverless\/metrics-serve-tls has no port 443/,
    );
  });

  test('a PingSource whose sink is not in the build', async () => {
    const b = await with_('infra/knative', (x) => {
      const ping = x.applied.find((o) => o.kind === 'PingSource');
      ping!.spec.sink.ref.name = 'metrics-scraper';
    });
    assert.match(
      crossCheck(clusterObjects(b)).join('\n'),
      /PingSource\/metrics-serverless\/metrics-scrape-tick: sink serving.knative.dev\/v1 Service metrics-serverless\/metrics-scraper does not exist/,
    );
  });

  test('a kind without a schema', async () => {
    await assert.rejects(
      validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
      /Widget\/w: no schema for example.com\/v1 Widget/,
    );
  });
});
