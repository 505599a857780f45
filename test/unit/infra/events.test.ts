/**
 * The events function's manifests: each entry point under infra/ that runs it (plain Kubernetes,
 * Knative with a pass per tick or with --loop, OpenFaaS), the overlays docs/deploy.md tells users to
 * write to run it beside the metrics functions or with Redis Sentinel, and the sink example of
 * docs/events.md, held to what the function does with them: its identity may list and watch Events
 * and nothing else, Redis admits it, it reads the sink configuration it is given (parsed by its own
 * parsers) and its credentials only from mounted Secrets, and each platform triggers it the way the
 * docs say.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configuredSinks } from '../../../functions/events/sink-config.ts';
import { sinkKinds } from '../../../functions/events/sinks/registry.ts';
import type { EventsConfig } from '../../../shared/config/index.ts';
import { createLogger } from '../../../shared/log.ts';
import {
  type Build,
  clusterObjects,
  duplicates,
  nameCollisions,
  renderBuild,
  validateObject,
} from './builds.ts';
import { cronProblem } from './cron.ts';
import { crossCheck, mountedFile, type ProgramConfig, programConfig } from './cross-check.ts';
import { knativeProblems } from './knative.ts';
import {
  find,
  get,
  kustomize,
  type Obj,
  type PodTemplate,
  podTemplates,
  programOf,
  readYaml,
  repoPath,
} from './manifests.ts';
import { FN_NS, SECRETS_DIR, secretKeys, stackFunctions, validateFunction } from './openfaas.ts';
import { type Overlay, renderOverlay } from './overlay.ts';

const NS = 'metrics-serverless';
const ONLY_EVENTS = [{ apiGroups: [''], resources: ['events'], verbs: ['list', 'watch'] }];

interface EventsPod {
  pod: PodTemplate;
  container: Obj;
  config: EventsConfig;
}

/** The pods that run the events function, with the configuration each starts with. */
function eventsPods(objects: Obj[]): EventsPod[] {
  return podTemplates(objects).flatMap((pod) =>
    (pod.spec.containers ?? [])
      .filter((c: Obj) => programOf(String(c.image)) === 'events')
      .map((container: Obj) => {
        const p = programConfig(objects, pod, container) as ProgramConfig | string | null;
        assert.ok(p !== null && typeof p !== 'string' && p.program === 'events', `${pod.owner}: ${p}`);
        return { pod, container, config: p.config };
      }),
  );
}

function onlyEventsPod(objects: Obj[]): EventsPod {
  const pods = eventsPods(objects);
  assert.equal(pods.length, 1, pods.map((p) => p.pod.owner).join());
  return pods[0]!;
}

/**
 * Who the pod acts as towards the API server: its ServiceAccount, or (OpenFaaS CE, where every function
 * runs as `default`) the ServiceAccount whose token Secret it mounts for its kubeconfig.
 */
function identity(objects: Obj[], p: PodTemplate): { namespace: string; name: string } {
  const tokens = (p.spec.volumes ?? [])
    .flatMap((v: Obj) => v.projected?.sources ?? [v])
    .map((s: Obj) => s.secret && find(objects, 'Secret', s.secret.name ?? s.secret.secretName, p.namespace))
    .filter((s: Obj | undefined) => s?.type === 'kubernetes.io/service-account-token');
  if (tokens.length > 0) {
    assert.equal(tokens.length, 1);
    return {
      namespace: p.namespace,
      name: tokens[0].metadata.annotations['kubernetes.io/service-account.name'],
    };
  }
  return { namespace: p.namespace, name: p.spec.serviceAccountName ?? 'default' };
}

/** Every rule of every role bound to the ServiceAccount. */
function rulesOf(objects: Obj[], sa: { namespace: string; name: string }): Obj[] {
  return objects
    .filter(
      (b) =>
        (b.kind === 'ClusterRoleBinding' || b.kind === 'RoleBinding') &&
        (b.subjects ?? []).some(
          (s: Obj) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace,
        ),
    )
    .flatMap((b) => {
      const role = get(
        objects,
        b.roleRef.kind,
        b.roleRef.name,
        b.roleRef.kind === 'Role' ? b.metadata.namespace : undefined,
      );
      return role.rules ?? [];
    });
}

/** Label selectors as the API server reads them: matchLabels and In/Exists expressions. */
function selects(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return false;
  const byLabel = Object.entries<string>(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e: Obj) =>
    e.operator === 'In'
      ? e.values.includes(labels[e.key])
      : e.operator === 'Exists'
        ? e.key in labels
        : false,
  );
  return byLabel && byExpression;
}

/** Whether Redis' NetworkPolicy admits the pod (from its own namespace, or one a namespaceSelector names). */
function redisAdmits(objects: Obj[], p: PodTemplate): boolean {
  const policy = get(objects, 'NetworkPolicy', 'metrics-redis', NS);
  return (policy.spec.ingress ?? []).some((rule: Obj) =>
    (rule.from ?? []).some((peer: Obj) => {
      const namespaceOk = peer.namespaceSelector
        ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': p.namespace })
        : p.namespace === policy.metadata.namespace;
      return namespaceOk && (peer.podSelector === undefined || selects(peer.podSelector, p.labels));
    }),
  );
}

/** The Redis Service a config's Redis URL or Sentinels name, which must exist with that port. */
function redisAddresses(config: EventsConfig): string[] {
  return config.redisSentinels.length > 0 ? config.redisSentinels : [new URL(config.redisUrl).host];
}

function assertRedisServed(objects: Obj[], config: EventsConfig): void {
  for (const address of redisAddresses(config)) {
    const [host, port] = address.split(':');
    const [service, namespace, svc] = host!.split('.');
    assert.equal(svc, 'svc', `${address} is a Service address`);
    const s = get(objects, 'Service', service!, namespace);
    assert.ok(
      s.spec.ports.some((x: Obj) => x.port === Number(port)),
      `${address}: Service ${service} has port ${port}`,
    );
  }
}

/** The sinks the function starts with, parsed by its own parser from the file the pod mounts. */
function startingSinks(objects: Obj[], e: EventsPod): string[] {
  const file = mountedFile(objects, e.pod, e.container, e.config.sinkConfig);
  assert.ok('text' in file, 'problem' in file ? file.problem : '');
  const dir = mkdtempSync(join(tmpdir(), 'sinks-'));
  try {
    writeFileSync(join(dir, 'sinks.yaml'), file.text);
    return configuredSinks(e.config.sink, join(dir, 'sinks.yaml')).map((s) => s.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const knativeService = (objects: Obj[], name: string) =>
  objects.find(
    (o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service' && o.metadata.name === name,
  );

const ENTRIES = [
  'infra/kubernetes/events',
  'infra/knative/events',
  'infra/knative/events/overlays/loop',
  'infra/openfaas/events',
];

for (const dir of ENTRIES) {
  describe(`the events function from ${dir}`, () => {
    let build: Build;
    let objects: Obj[];
    let e: EventsPod;
    before(async () => {
      build = await renderBuild(dir);
      objects = clusterObjects(build);
      e = onlyEventsPod(objects);
    });

    test('its identity may list and watch Events, and nothing else', () => {
      const sa = identity(objects, e.pod);
      assert.notEqual(sa.name, 'default');
      get(objects, 'ServiceAccount', sa.name, sa.namespace);
      assert.deepEqual(rulesOf(objects, sa), ONLY_EVENTS);
    });

    test('Redis admits its pods, at an address a Service serves', () => {
      assert.ok(redisAdmits(objects, e.pod), e.pod.owner);
      assertRedisServed(objects, e.config);
    });

    test('it starts with the sinks of the file it mounts (stdout), parsed by its own parser', () => {
      assert.deepEqual(startingSinks(objects, e), ['stdout']);
    });

    test('no APIService and no metrics function: it can be applied alone', () => {
      assert.deepEqual(
        objects.filter((o) => o.kind === 'APIService').map((o) => o.metadata.name),
        [],
      );
      assert.deepEqual(
        podTemplates(objects).flatMap((p) =>
          (p.spec.containers ?? [])
            .map((c: Obj) => programOf(String(c.image)))
            .filter((x: unknown) => x !== 'events' && x !== null),
        ),
        [],
      );
    });

    if (!dir.startsWith('infra/openfaas')) {
      test('sink credentials are files of an optional Secret, the s3 sink’s among them', () => {
        const mount = e.container.volumeMounts.find(
          (m: Obj) => m.mountPath === '/etc/metrics-events/secrets',
        );
        const volume = e.pod.spec.volumes.find((v: Obj) => v.name === mount?.name);
        assert.deepEqual(volume?.secret, { secretName: 'metrics-events-credentials', optional: true });
        const aws = e.container.env.find((x: Obj) => x.name === 'AWS_SHARED_CREDENTIALS_FILE');
        assert.equal(aws?.value, '/etc/metrics-events/secrets/aws-credentials');
      });
    }
  });
}

describe('each platform runs it the way docs/deploy.md says', () => {
  test('plain Kubernetes: --loop in two replicas (one reads, one stands by), probes on its health endpoints', async () => {
    const objects = await kustomize('infra/kubernetes/events');
    const e = onlyEventsPod(objects);
    assert.ok(e.config.loop);
    const d = get(objects, 'Deployment', 'metrics-events', NS);
    assert.equal(d.spec.replicas, 2);
    assert.equal(e.container.livenessProbe.httpGet.path, '/livez');
    assert.equal(e.container.readinessProbe.httpGet.path, '/readyz');
    assert.ok(e.container.securityContext.readOnlyRootFilesystem);
  });

  test('Knative: a pass per PingSource tick, ending before the request timeout, in one pod at most', async () => {
    const objects = await kustomize('infra/knative/events');
    const e = onlyEventsPod(objects);
    assert.ok(!e.config.loop && !e.config.once, 'the trigger server');
    const ping = objects.find((o) => o.kind === 'PingSource');
    assert.equal(cronProblem(ping?.spec.schedule), undefined);
    assert.deepEqual(ping?.spec.sink.ref, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      name: 'metrics-events',
    });
    const ksvc = knativeService(objects, 'metrics-events')!;
    assert.deepEqual(knativeProblems(ksvc), []);
    assert.ok(e.config.passTimeoutMs < ksvc.spec.template.spec.timeoutSeconds * 1000);
    assert.equal(ksvc.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale'], '1');
  });

  test('Knative, overlays/loop: --loop in one always-on pod, and no PingSource', async () => {
    const objects = await kustomize('infra/knative/events/overlays/loop');
    assert.ok(onlyEventsPod(objects).config.loop);
    const ksvc = knativeService(objects, 'metrics-events')!;
    assert.deepEqual(knativeProblems(ksvc), []);
    const a = ksvc.spec.template.metadata.annotations;
    assert.equal(a['autoscaling.knative.dev/min-scale'], '1');
    assert.equal(a['autoscaling.knative.dev/max-scale'], '1');
    assert.equal(
      objects.find((o) => o.kind === 'PingSource'),
      undefined,
    );
  });

  describe('OpenFaaS: stack.yml, functions.yaml and kubectl apply -k infra/openfaas/events', () => {
    const stack = readYaml('infra/openfaas/events/stack.yml')[0]!;
    const functions = readYaml('infra/openfaas/events/functions.yaml');
    let build: Build;
    before(async () => {
      build = await renderBuild('infra/openfaas/events');
    });

    test('functions.yaml is what faas-cli generate makes of stack.yml, valid against the Function CRD', () => {
      assert.deepEqual(functions, stackFunctions(stack));
      for (const fn of functions) assert.ok(validateFunction(fn), JSON.stringify(validateFunction.errors));
      const handler = stack.functions['metrics-events'].handler;
      assert.ok(
        readFileSync(repoPath(`${join('infra/openfaas/events', handler)}/Dockerfile`), 'utf8').includes(
          'AS events',
        ),
      );
    });

    test('cron-connector triggers a pass every minute, which ends before the gateway’s 60 s timeout', () => {
      const a = stack.functions['metrics-events'].annotations;
      assert.equal(a.topic, 'cron-function');
      assert.equal(cronProblem(a.schedule), undefined);
      const e = onlyEventsPod(clusterObjects(build));
      assert.ok(!e.config.loop && !e.config.once);
      assert.ok(e.config.passTimeoutMs < 60_000);
      assert.ok(e.config.sinkConfig.startsWith(`${SECRETS_DIR}/`));
    });

    test('its secrets exist in openfaas-fn, with no key twice', () => {
      const fn = functions[0]!;
      const keys = fn.spec.secrets.flatMap((n: string) => secretKeys(get(build.applied, 'Secret', n, FN_NS)));
      assert.equal(new Set(keys).size, keys.length, `duplicate secret keys ${keys}`);
    });

    test('the role is the plain-Kubernetes one', async () => {
      const k8s = await kustomize('infra/kubernetes/events');
      assert.deepEqual(
        get(build.applied, 'ClusterRole', 'metrics-serverless:events').rules,
        get(k8s, 'ClusterRole', 'metrics-serverless:events').rules,
      );
    });
  });
});

describe("applied beside the metrics functions' entry point of the same platform", () => {
  const pairs = [
    ['infra/kubernetes', 'infra/kubernetes/events'],
    ['infra/knative', 'infra/knative/events'],
    ['infra/knative/overlays/loop-15s', 'infra/knative/events/overlays/loop'],
    ['infra/openfaas', 'infra/openfaas/events'],
  ] as const;
  const key = (o: Obj) => `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

  for (const [metrics, events] of pairs) {
    test(`${events} and ${metrics} share objects only as the same objects, the namespace and Redis among them`, async () => {
      const [a, b] = await Promise.all([kustomize(metrics), kustomize(events)]);
      const theirs = new Map(a.map((o) => [key(o), o]));
      const shared = b.filter((o) => theirs.has(key(o)));
      for (const o of shared) assert.deepEqual(o, theirs.get(key(o)), key(o));
      const names = shared.map((o) => `${o.kind}/${o.metadata.name}`);
      for (const must of [
        'Namespace/metrics-serverless',
        'Deployment/metrics-redis',
        'NetworkPolicy/metrics-redis',
      ])
        assert.ok(names.includes(must), `${must} is shared: ${names.join(', ')}`);
    });
  }
});

describe('the overlays docs/deploy.md shows: the events function beside the metrics functions, with Redis Sentinel', () => {
  const overlays: Record<string, Parameters<typeof renderOverlay>[0]> = {
    'metrics and events (plain Kubernetes)': {
      resources: ['infra/kubernetes/base', 'infra/kubernetes/events/base'],
      components: ['infra/kubernetes/components/self-signed-tls'],
    },
    'metrics and events with Redis Sentinel': {
      resources: ['infra/kubernetes/base', 'infra/kubernetes/events/base'],
      components: [
        'infra/kubernetes/components/self-signed-tls',
        'infra/kubernetes/components/redis-sentinel',
      ],
    },
    'events alone with Redis Sentinel': {
      resources: ['infra/kubernetes/redis', 'infra/kubernetes/events/base'],
      components: ['infra/kubernetes/components/redis-sentinel'],
    },
    'metrics and events (Knative)': {
      resources: ['infra/knative/base', 'infra/knative/events/base'],
      components: ['infra/kubernetes/components/self-signed-tls'],
    },
  };
  const rendered = new Map<string, Overlay>();
  before(async () => {
    for (const [name, spec] of Object.entries(overlays)) rendered.set(name, await renderOverlay(spec));
  });
  after(() => {
    for (const o of rendered.values()) o.cleanup();
  });

  for (const name of Object.keys(overlays)) {
    test(`${name}: valid objects that agree with each other and with the programs, none twice`, async () => {
      const { objects } = rendered.get(name)!;
      for (const o of objects) await validateObject(o);
      const build = { dir: name, applied: objects, functions: [] };
      assert.deepEqual([...crossCheck(objects), ...nameCollisions(build), ...duplicates(build)], []);
      const e = onlyEventsPod(objects);
      assert.ok(redisAdmits(objects, e.pod));
      assertRedisServed(objects, e.config);
      // Beside a scraper, both use the same Redis; with Sentinel, both through the Sentinels.
      const scrape = podTemplates(objects).find((p) => p.spec.containers[0].image.includes('metrics-scrape'));
      if (scrape) {
        const p = programConfig(objects, scrape, scrape.spec.containers[0]) as ProgramConfig;
        assert.ok(p.program === 'scrape');
        assert.deepEqual(
          [e.config.redisUrl, e.config.redisSentinels, e.config.redisSentinelName],
          [p.config.redisUrl, p.config.redisSentinels, p.config.redisSentinelName],
        );
      }
      assert.equal(e.config.redisSentinels.length > 0, name.includes('Sentinel'));
    });
  }
});

describe("docs/events.md's sink example: every kind of sink, its credentials from the Secret", () => {
  const docs = readFileSync(repoPath('docs/events.md'), 'utf8');
  const block = (first: string) => {
    const m = new RegExp(
      `\`\`\`\\w*\\n${first.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n([\\s\\S]*?)\`\`\``,
    ).exec(docs);
    assert.ok(m, `a code block starting ${first}`);
    return m[1]!;
  };
  const sinks = block('# my-events/sinks.yaml');
  const kustomization = block('# my-events/kustomization.yaml');
  const command = docs.slice(docs.indexOf('create secret generic metrics-events-credentials'));
  const keys = [...command.slice(0, command.indexOf('```')).matchAll(/--from-file=([\w.-]+)=/g)].map(
    (m) => m[1]!,
  );
  const SECRETS = '/etc/metrics-events/secrets/';
  const paths = [...sinks.matchAll(/\w+_file=([^&'\s]+)/g)].map((m) => m[1]!);

  test('names every kind of sink, once', () => {
    const kinds = [...sinks.matchAll(/uri: '?(\w+)/g)].map((m) => m[1]);
    assert.deepEqual([...kinds].sort(), [...sinkKinds()].sort());
  });

  test('every file a sink reads is a key of the documented Secret, and every key is read', () => {
    for (const p of paths) {
      assert.ok(p.startsWith(SECRETS), p);
      assert.ok(keys.includes(p.slice(SECRETS.length)), `${p} is created by the kubectl command`);
    }
    const read = new Set([...paths.map((p) => p.slice(SECRETS.length)), 'aws-credentials']);
    assert.deepEqual([...keys].sort(), [...read].sort());
  });

  test('the overlay renders, the function starts with those sinks, and every secret file is in the mounted Secret', async () => {
    const resources = [...kustomization.matchAll(/- \.\.\/(infra\/\S+)/g)].map((m) => m[1]!);
    assert.deepEqual(resources, ['infra/kubernetes/events']);
    const o = await renderOverlay({
      resources,
      extra: kustomization.slice(kustomization.indexOf('configMapGenerator:')).trimEnd().split('\n'),
      files: { 'sinks.yaml': sinks },
    });
    try {
      assert.deepEqual(crossCheck(o.objects), []);
      const e = onlyEventsPod(o.objects);
      const file = mountedFile(o.objects, e.pod, e.container, e.config.sinkConfig);
      assert.ok('text' in file && file.text === sinks);
    } finally {
      o.cleanup();
    }
  });

  test('with those secret files present, every sink parses and is created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    try {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      for (const k of keys) writeFileSync(join(dir, k), k.endsWith('.pem') ? pem : `${k}-value\n`);
      writeFileSync(join(dir, 'sinks.yaml'), sinks.replaceAll(SECRETS, `${dir}/`));
      const configured = configuredSinks([], join(dir, 'sinks.yaml'));
      assert.deepEqual(configured.map((s) => s.kind).sort(), [...sinkKinds()].sort());
      const log = createLogger({ write: () => {} });
      for (const c of configured) await c.create({ log }).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the cross-checks catch what they are for (events)', () => {
  let objects: Obj[];
  before(async () => {
    objects = await kustomize('infra/kubernetes/events');
  });
  const problems = (change: (o: Obj[]) => void) => {
    const copy = structuredClone(objects);
    change(copy);
    return crossCheck(copy).join('\n');
  };
  const container = (o: Obj[]) => get(o, 'Deployment', 'metrics-events', NS).spec.template.spec.containers[0];
  const sinksMap = (o: Obj[]) =>
    o.find((x) => x.kind === 'ConfigMap' && x.metadata.name.startsWith('metrics-events-sinks'))!;

  test('a flag the events function does not take', () => {
    assert.match(
      problems((o) => container(o).args.push('--sinks=stdout')),
      /container events: the program would stop at start: error: unknown flag --sinks/,
    );
  });

  test('a --sink-config file that is not mounted, or not in the ConfigMap', () => {
    assert.match(
      problems((o) => {
        container(o).args[2] = '--sink-config=/etc/sinks.yaml';
      }),
      /--sink-config \/etc\/sinks.yaml is on no mounted volume/,
    );
    assert.match(
      problems((o) => {
        container(o).args[2] = '--sink-config=/etc/metrics-events/config/sink.yaml';
      }),
      /no ConfigMap or Secret mounted there holds sink.yaml/,
    );
  });

  test('a sink the function would refuse, and a secret file outside a Secret', () => {
    assert.match(
      problems((o) => {
        sinksMap(o).data['sinks.yaml'] = 'sinks:\n  - name: hook\n    uri: webhok:https://x\n';
      }),
      /--sink-config sink hook: unknown sink kind "webhok"/,
    );
    assert.match(
      problems((o) => {
        sinksMap(o).data['sinks.yaml'] =
          'sinks:\n  - name: hook\n    uri: webhook:https://x/?bearer_token_file=/etc/metrics-events/config/token\n';
      }),
      /bearer_token_file=\/etc\/metrics-events\/config\/token is not in a mounted Secret/,
    );
    assert.match(
      problems((o) => {
        sinksMap(o).data['sinks.yaml'] = 'sinks:\n  - nam: x\n';
      }),
      /--sink-config \/etc\/metrics-events\/config\/sinks.yaml: sinks\.0/,
    );
  });

  test('a required Secret that does not exist (an optional one may be absent)', () => {
    assert.match(
      problems((o) => {
        const v = get(o, 'Deployment', 'metrics-events', NS).spec.template.spec.volumes.find(
          (x: Obj) => x.name === 'credentials',
        );
        delete v.secret.optional;
      }),
      /volume credentials: Secret metrics-events-credentials does not exist/,
    );
  });
});
