/**
 * Reading, rendering and checking the deploy manifests: objects from YAML files or `kubectl kustomize`
 * (the kustomize kubectl embeds, so what is tested is what `kubectl apply -k` applies), validation
 * against the real schemas, and the cross-checks between objects and the programs they run.
 *
 * Schemas: built-in kinds are validated by kubernetes-models (types, required fields, formats) and,
 * for unknown fields (which `kubectl apply` rejects with strict field validation), walked against
 * @kubernetes/client-node's generated models; Knative kinds by @kubernetes-models/knative.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const repoPath = (path: string): string => `${repoRoot}${path}`;

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field below
export type Obj = Record<string, any>;

const run = promisify(execFile);

export function parseYaml(text: string, source: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as Obj);
  }
  return out;
}

export function readYaml(path: string): Obj[] {
  return parseYaml(readFileSync(repoPath(path), 'utf8'), path);
}

/** What `kubectl apply -k <dir>` would send, rendered by kubectl's own kustomize. */
export async function kustomize(dir: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir.startsWith('/') ? dir : repoPath(dir)], {
    maxBuffer: 16 << 20,
  });
  return parseYaml(stdout, `kubectl kustomize ${dir}`);
}

export const id = (o: Obj): string =>
  `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

/** A built-in Kubernetes group ('' core, apps, policy, *.k8s.io), as opposed to a CRD's. */
export function isBuiltin(o: Obj): boolean {
  const parts = String(o.apiVersion).split('/');
  const group = parts.length > 1 ? parts[0]! : '';
  return !group.includes('.') || group.endsWith('.k8s.io');
}

/** An object by kind and name; a plain kind means the built-in one (a Knative Service is not a Service). */
export function find(objects: Obj[], kind: string, name: string, namespace?: string): Obj | undefined {
  return objects.find(
    (o) =>
      o.kind === kind &&
      isBuiltin(o) &&
      o.metadata?.name === name &&
      (namespace === undefined || (o.metadata?.namespace ?? undefined) === namespace),
  );
}

export function get(objects: Obj[], kind: string, name: string, namespace?: string): Obj {
  const o = find(objects, kind, name, namespace);
  if (!o) throw new Error(`no ${kind} ${namespace ? `${namespace}/` : ''}${name} among the objects`);
  return o;
}

// ---- schemas ------------------------------------------------------------------------------------

interface ModelClass {
  new (data: unknown): { validate(): void };
}

const models = new Map<string, Record<string, ModelClass>>();

async function modelsFor(apiVersion: string): Promise<Record<string, ModelClass>> {
  let m = models.get(apiVersion);
  if (!m) {
    const [group] = apiVersion.split('/');
    const knative = group?.endsWith('.knative.dev') ?? false;
    m = (await import(
      knative ? `@kubernetes-models/knative/${apiVersion}` : `kubernetes-models/${apiVersion}`
    )) as Record<string, ModelClass>;
    models.set(apiVersion, m);
  }
  return m;
}

/**
 * Base64 fields as the API server reads them: Go's decoder skips line breaks, and kustomize writes
 * Secret data (and what replacements copy from it) wrapped at 70 columns; the schema's pattern does not.
 */
function unwrapBase64(o: Obj): Obj {
  const copy = structuredClone(o);
  const unwrap = (v: unknown) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v);
  if (copy.kind === 'Secret' && copy.data) {
    for (const k of Object.keys(copy.data)) copy.data[k] = unwrap(copy.data[k]);
  }
  if (copy.kind === 'APIService' && copy.spec?.caBundle) copy.spec.caBundle = unwrap(copy.spec.caBundle);
  return copy;
}

/** Validates against the kind's schema; throws naming the object and the failing field. */
export async function validateSchema(o: Obj): Promise<void> {
  const Model = (await modelsFor(o.apiVersion))[o.kind];
  if (!Model) throw new Error(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}`);
  try {
    new Model(unwrapBase64(o)).validate();
  } catch (err) {
    throw new Error(`${id(o)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

interface Attribute {
  baseName: string;
  type: string;
}
const generated = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] }>;

/** Paths of fields the type does not have (what strict field validation rejects). */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return Object.entries(value as Obj).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  }
  const attributes = generated[type]?.getAttributeTypeMap?.();
  if (!attributes || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Obj)) {
    const a = attributes.find((x) => x.baseName === k);
    if (!a) out.push(`${path}.${k}`);
    else out.push(...unknownFields(v, a.type, `${path}.${k}`));
  }
  return out;
}

/** client-node's model name of a built-in kind (`apps/v1` Deployment → V1Deployment). */
export function builtinType(o: Obj): string {
  const version = String(o.apiVersion).split('/').pop()!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${o.kind}`;
}

/** Schema and unknown fields of a built-in object; throws naming the object. */
export async function validateBuiltin(o: Obj): Promise<void> {
  await validateSchema(o);
  const type = builtinType(o);
  if (!generated[type]?.getAttributeTypeMap) throw new Error(`${id(o)}: no generated model ${type}`);
  const unknown = unknownFields(o, type);
  if (unknown.length > 0) throw new Error(`${id(o)}: unknown fields ${unknown.join(', ')}`);
}

// ---- pods and the programs they run -------------------------------------------------------------

export interface PodTemplate {
  /** The owning object, e.g. Deployment/metrics-serverless/metrics-serve. */
  owner: string;
  namespace: string;
  labels: Record<string, string>;
  spec: Obj;
  /** Environment the platform injects into every container (Knative's PORT). */
  injectedEnv: Record<string, string>;
  /** How long the kubelet waits after the pod's deletion before it kills the containers. */
  gracePeriodSeconds: number;
  /**
   * How long of that grace passes before the program gets SIGTERM: Knative gives the user container a
   * preStop hook that waits for queue-proxy's drain.
   */
  beforeSigtermSeconds: number;
  /** Whether the kubelet probes the program's readiness itself (Knative's queue-proxy probes it instead). */
  kubeletReadiness: boolean;
}

/** The kubelet's default terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_SECONDS = 30;
/**
 * Knative: the pod's grace is the revision's timeoutSeconds (pkg/reconciler/revision/resources,
 * `TerminationGracePeriodSeconds: rev.Spec.TimeoutSeconds`), 300 s unless config-defaults says
 * otherwise; the user container's preStop hook (queue-proxy's /wait-for-drain) returns once no request
 * came through queue-proxy for its drainSleepDuration, 30 s.
 */
export const KNATIVE_DEFAULT_TIMEOUT_SECONDS = 300;
export const KNATIVE_DRAIN_SECONDS = 30;

/** Pod templates of workloads, with the labels the platform adds (Knative: serving.knative.dev/service). */
export function podTemplates(objects: Obj[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const namespace = o.metadata?.namespace ?? 'default';
    if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind) && o.apiVersion === `apps/v1`) {
      const t = o.spec.template;
      out.push({
        owner: id(o),
        namespace,
        labels: t.metadata?.labels ?? {},
        spec: t.spec,
        injectedEnv: {},
        gracePeriodSeconds: t.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
        beforeSigtermSeconds: 0,
        kubeletReadiness: true,
      });
    }
    if (o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1') {
      const t = o.spec.template;
      const port = t.spec.containers?.[0]?.ports?.[0]?.containerPort ?? 8080;
      out.push({
        owner: id(o),
        namespace,
        labels: { ...(t.metadata?.labels ?? {}), 'serving.knative.dev/service': o.metadata.name },
        spec: t.spec,
        // Knative's runtime contract: PORT is the single declared containerPort (default 8080).
        injectedEnv: { PORT: String(port) },
        gracePeriodSeconds: t.spec.timeoutSeconds ?? KNATIVE_DEFAULT_TIMEOUT_SECONDS,
        beforeSigtermSeconds: KNATIVE_DRAIN_SECONDS,
        kubeletReadiness: false,
      });
    }
  }
  return out;
}

export const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The environment a container sees: platform variables, then envFrom, then env (later wins). */
export function containerEnv(objects: Obj[], pod: PodTemplate, container: Obj): Record<string, string> {
  const env: Record<string, string> = { ...pod.injectedEnv };
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name ?? from.secretRef?.name;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const source = get(objects, kind, name, pod.namespace);
    for (const [k, v] of Object.entries(source.data ?? {})) {
      env[`${from.prefix ?? ''}${k}`] =
        kind === 'Secret' ? Buffer.from(String(v), 'base64').toString() : String(v);
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      env[e.name] = String(get(objects, 'ConfigMap', ref.name, pod.namespace).data?.[ref.key] ?? '');
    } else env[e.name] = '';
  }
  return env;
}

/** Which of the project's programs an image runs (by the image name the Dockerfile targets build). */
export function programOf(image: string): 'scrape' | 'serve' | 'events' | null {
  const name = image.split('/').pop()!.split(':')[0]!.split('@')[0]!;
  if (name === 'metrics-scrape') return 'scrape';
  if (name === 'metrics-serve') return 'serve';
  if (name === 'metrics-events') return 'events';
  return null;
}

/** The health endpoints each program serves on its plain-HTTP --port (functions/*\/trigger.ts, app.ts). */
export const HEALTH_PATHS = ['/healthz', '/livez', '/readyz', '/_/health', '/_/ready'] as const;
