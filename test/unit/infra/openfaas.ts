/**
 * OpenFaaS as the tests model it: the Function CRD's schema, what `faas-cli generate` makes of a
 * stack.yml function, and the objects faas-netes then creates for a Function (its Deployment and its
 * Service), so that a build's checks see what the cluster will hold.
 */
import { Ajv } from 'ajv';
import type { Obj } from './manifests.ts';

/** faas-netes' functions namespace (the default of `faas-cli deploy` and the chart). */
export const FN_NS = 'openfaas-fn';
export const SECRETS_DIR = '/var/openfaas/secrets';

/**
 * The openfaas.com/v1 Function CRD's openAPIV3Schema (openfaas/faas-netes,
 * artifacts/crds/openfaas.com_functions.yaml: the spec's fields, their types, `name` and `image`
 * required), written out here because no npm package ships it. The API server prunes or, with strict
 * field validation, rejects fields the schema does not declare: additionalProperties false says that.
 */
const resources = {
  type: 'object',
  additionalProperties: false,
  properties: { cpu: { type: 'string' }, memory: { type: 'string' } },
};
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const FUNCTION_SCHEMA = {
  type: 'object',
  required: ['spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'openfaas.com/v1' },
    kind: { const: 'Function' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['image', 'name'],
      additionalProperties: false,
      properties: {
        annotations: stringMap,
        constraints: { type: 'array', items: { type: 'string' } },
        environment: stringMap,
        handler: { type: 'string' },
        image: { type: 'string' },
        labels: stringMap,
        limits: resources,
        name: { type: 'string' },
        readOnlyRootFilesystem: { type: 'boolean' },
        requests: resources,
        secrets: { type: 'array', items: { type: 'string' } },
      },
    },
  },
};

export const validateFunction = new Ajv({ allErrors: true }).compile(FUNCTION_SCHEMA);

/** What `faas-cli generate` makes of a stack.yml function. */
export function generate(name: string, f: Obj): Obj {
  const spec: Obj = { name, image: f.image };
  for (const [from, to] of [
    ['labels', 'labels'],
    ['annotations', 'annotations'],
    ['environment', 'environment'],
    ['secrets', 'secrets'],
    ['requests', 'requests'],
    ['limits', 'limits'],
    ['readonly_root_filesystem', 'readOnlyRootFilesystem'],
    ['constraints', 'constraints'],
  ] as const) {
    if (f[from] !== undefined) spec[to] = f[from];
  }
  return { apiVersion: 'openfaas.com/v1', kind: 'Function', metadata: { name, namespace: FN_NS }, spec };
}

/**
 * The Deployment faas-netes makes of a Function (openfaas/faas-netes pkg/handlers/deploy.go): pods
 * labelled faas_function=<name>, the environment as given, port 8080, HTTP probes of /_/health on 8080
 * (httpProbe, the chart default), no terminationGracePeriodSeconds (the kubelet's 30 s), every key of the secrets projected under /var/openfaas/secrets, and
 * a writable /tmp emptyDir when the root filesystem is read-only.
 */
export function faasNetesDeployment(fn: Obj): Obj {
  const s = fn.spec;
  // The chart's defaults (functions.readinessProbe and livenessProbe), failureThreshold 3 (probes.go).
  const probe = {
    httpGet: { path: '/_/health', port: 8080 },
    initialDelaySeconds: 0,
    timeoutSeconds: 1,
    periodSeconds: 2,
    successThreshold: 1,
    failureThreshold: 3,
  };
  const volumes: Obj[] = [];
  const mounts: Obj[] = [];
  if (s.secrets?.length) {
    volumes.push({
      name: `${s.name}-projected-secrets`,
      projected: { sources: s.secrets.map((n: string) => ({ secret: { name: n } })) },
    });
    mounts.push({ name: `${s.name}-projected-secrets`, mountPath: SECRETS_DIR, readOnly: true });
  }
  if (s.readOnlyRootFilesystem) {
    volumes.push({ name: 'temp', emptyDir: {} });
    mounts.push({ name: 'temp', mountPath: '/tmp' });
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: s.name, namespace: fn.metadata?.namespace ?? FN_NS },
    spec: {
      replicas: Number(s.labels?.['com.openfaas.scale.min'] ?? 1),
      selector: { matchLabels: { faas_function: s.name } },
      template: {
        metadata: { labels: { ...s.labels, faas_function: s.name } },
        spec: {
          containers: [
            {
              name: s.name,
              image: s.image,
              env: Object.entries(s.environment ?? {}).map(([name, value]) => ({ name, value })),
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              livenessProbe: probe,
              readinessProbe: probe,
              securityContext: { readOnlyRootFilesystem: Boolean(s.readOnlyRootFilesystem) },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/**
 * The Service faas-netes makes of a Function (pkg/handlers/deploy.go, makeServiceSpec): ClusterIP,
 * port `http` 8080 → 8080, selecting the function's pods. It owns the function's name in its namespace.
 */
export function faasNetesService(fn: Obj): Obj {
  const name = fn.spec.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: fn.metadata?.namespace ?? FN_NS },
    spec: {
      type: 'ClusterIP',
      selector: { faas_function: name },
      ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 }],
    },
  };
}

/** The functions of a stack.yml as `faas-cli deploy` deploys them (`faas-cli generate`'s objects). */
export function stackFunctions(stack: Obj): Obj[] {
  return Object.entries<Obj>(stack.functions ?? {}).map(([name, f]) => generate(name, f));
}

/** The keys a Secret shows as files: its data, or what Kubernetes puts in a ServiceAccount token. */
export function secretKeys(secret: Obj): string[] {
  if (secret.type === 'kubernetes.io/service-account-token') return ['token', 'ca.crt', 'namespace'];
  return [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
}
