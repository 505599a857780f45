/**
 * What a cluster receives from each way of deploying: the entry points under infra/ (found by one rule,
 * below), each rendered by kubectl's kustomize together with the OpenFaaS functions of a stack.yml
 * beside it, then held to what the cluster would do with it:
 *
 * - every object validates against its kind's schema (Kubernetes, Knative, the OpenFaaS Function CRD;
 *   a kind without a schema is itself a failure);
 * - no object takes a name a platform's controller will create for itself (Knative Serving's Service,
 *   Route, Configuration and revision objects of a Knative Service; faas-netes' Deployment and Service
 *   of a Function): the controller then refuses to adopt it and the workload never becomes ready;
 * - no two objects share a group, kind, namespace and name;
 * - and the cross-checks of cross-check.ts on the objects the cluster ends up with (those applied plus
 *   faas-netes' objects), among them that each APIService's Service selects the serve pods on their
 *   TLS port.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import {
  id,
  isBuiltin,
  kustomize,
  type Obj,
  parseYaml,
  repoPath,
  repoRoot,
  unknownFields,
  validateBuiltin,
  validateSchema,
} from './manifests.ts';
import { faasNetesDeployment, faasNetesService, stackFunctions, validateFunction } from './openfaas.ts';

export interface Kustomization {
  /** The directory, relative to the repository. */
  dir: string;
  kind: 'Kustomization' | 'Component';
  /** Its resources and components, as absolute paths. */
  resources: string[];
  components: string[];
}

function findKustomizations(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...findKustomizations(path));
    else if (entry === 'kustomization.yaml') out.push(path);
  }
  return out;
}

/** Every kustomization.yaml under infra/, sorted by directory. */
export function kustomizations(): Kustomization[] {
  return findKustomizations(repoPath('infra'))
    .sort()
    .map((file) => {
      const k = parseYaml(readFileSync(file, 'utf8'), file)[0] ?? {};
      const at = (paths: unknown) => ((paths ?? []) as string[]).map((p) => resolve(dirname(file), p));
      return {
        dir: relative(repoRoot, dirname(file)),
        kind: k.kind === 'Component' ? 'Component' : 'Kustomization',
        resources: at(k.resources),
        components: at(k.components),
      };
    });
}

/**
 * The entry points, by one rule: a Kustomization (not a Component) that no other kustomization under
 * infra/ lists among its resources. A listed one is a building block (base/, common/, redis/), which is
 * rendered and validated on its own but is not what anyone applies.
 */
export function entryPoints(all: Kustomization[] = kustomizations()): string[] {
  const used = new Set(all.flatMap((k) => k.resources));
  return all.filter((k) => k.kind === 'Kustomization' && !used.has(repoPath(k.dir))).map((k) => k.dir);
}

export interface Build {
  /** The entry point's directory (relative to the repository), or a temporary overlay's. */
  dir: string;
  /** What `kubectl apply -k DIR` sends, rendered by kubectl's own kustomize. */
  applied: Obj[];
  /** The openfaas.com/v1 Functions of DIR/stack.yml: what `faas-cli deploy -f DIR/stack.yml` deploys. */
  functions: Obj[];
}

function stackBeside(dir: string): Obj | null {
  const file = join(dir.startsWith('/') ? dir : repoPath(dir), 'stack.yml');
  try {
    return parseYaml(readFileSync(file, 'utf8'), file)[0] ?? null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function renderBuild(dir: string): Promise<Build> {
  const stack = stackBeside(dir);
  return { dir, applied: await kustomize(dir), functions: stack ? stackFunctions(stack) : [] };
}

/** Objects the cluster then holds: what was applied, the Functions, and what faas-netes makes of them. */
export function clusterObjects(b: Build): Obj[] {
  return [
    ...b.applied,
    ...b.functions,
    ...b.functions.flatMap((f) => [faasNetesDeployment(f), faasNetesService(f)]),
  ];
}

// ---- schemas ------------------------------------------------------------------------------------

const isKnative = (o: Obj) => String(o.apiVersion).split('/')[0]!.endsWith('.knative.dev');

/** Validates one object against its kind's schema; throws naming the object and the field. */
export async function validateObject(o: Obj): Promise<void> {
  if (o.apiVersion === 'openfaas.com/v1' && o.kind === 'Function') {
    if (!validateFunction(o)) throw new Error(`${id(o)}: ${JSON.stringify(validateFunction.errors)}`);
    return;
  }
  if (isKnative(o)) {
    await validateSchema(o);
    if (o.kind === 'Service') {
      // The Knative models check types; the pod and its metadata must also hold no unknown field.
      const { containerConcurrency: _c, timeoutSeconds: _t, ...pod } = o.spec.template.spec;
      const unknown = [
        ...unknownFields(o.metadata, 'V1ObjectMeta', '.metadata'),
        ...unknownFields(o.spec.template.metadata, 'V1ObjectMeta', '.spec.template.metadata'),
        ...unknownFields(pod, 'V1PodSpec', '.spec.template.spec'),
      ];
      if (unknown.length > 0) throw new Error(`${id(o)}: unknown fields ${unknown.join(', ')}`);
    }
    return;
  }
  if (isBuiltin(o)) return validateBuiltin(o);
  throw new Error(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}: the tests cannot validate it`);
}

// ---- names the platforms take ------------------------------------------------------------------

/** A name a platform's controller will create an object under. */
interface Claim {
  group: string;
  kind: string;
  namespace: string;
  name: string | RegExp;
  /** Who creates it, and why, for the problem line. */
  by: string;
}

const groupOf = (o: Obj): string => {
  const parts = String(o.apiVersion).split('/');
  return parts.length > 1 ? parts[0]! : '';
};
const namespaceOf = (o: Obj): string => o.metadata?.namespace ?? 'default';
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What Knative Serving creates for a Knative Service (its Route and Configuration, the Route's
 * placeholder Service of the same name, and per revision `<name>-NNNNN` a Revision, the Services
 * `<rev>` and `<rev>-private`, and the Deployment `<rev>-deployment`), and what faas-netes creates for
 * a Function (a Deployment and a Service named after it).
 */
function claims(objects: Obj[]): Claim[] {
  const out: Claim[] = [];
  for (const o of objects) {
    const namespace = namespaceOf(o);
    const name = String(o.metadata?.name);
    if (groupOf(o) === 'serving.knative.dev' && o.kind === 'Service') {
      const owner = `Knative Service ${namespace}/${name}`;
      const named = o.spec?.template?.metadata?.name;
      const rev = named ? literal(String(named)) : `${literal(name)}-\\d{5}`;
      const claim = (group: string, kind: string, n: string | RegExp, by: string) =>
        out.push({ group, kind, namespace, name: n, by: `${by} of ${owner}` });
      claim('', 'Service', name, "Knative Serving's placeholder Service for the Route");
      claim('serving.knative.dev', 'Route', name, "Knative Serving's Route");
      claim('serving.knative.dev', 'Configuration', name, "Knative Serving's Configuration");
      claim('serving.knative.dev', 'Revision', new RegExp(`^${rev}$`), "Knative Serving's revisions");
      claim('', 'Service', new RegExp(`^${rev}(-private)?$`), "Knative Serving's revision Services");
      claim('apps', 'Deployment', new RegExp(`^${rev}-deployment$`), "Knative Serving's revision Deployment");
    }
    if (o.apiVersion === 'openfaas.com/v1' && o.kind === 'Function') {
      const fn = String(o.spec?.name ?? name);
      const by = `faas-netes' %s of Function ${namespace}/${fn}`;
      out.push({
        group: 'apps',
        kind: 'Deployment',
        namespace,
        name: fn,
        by: by.replace('%s', 'Deployment'),
      });
      out.push({ group: '', kind: 'Service', namespace, name: fn, by: by.replace('%s', 'Service') });
    }
  }
  return out;
}

/** Objects of the build that take a name a platform will create an object under. */
export function nameCollisions(b: Build): string[] {
  const objects = [...b.applied, ...b.functions];
  const out: string[] = [];
  for (const c of claims(objects)) {
    for (const o of objects) {
      const name = String(o.metadata?.name);
      if (groupOf(o) !== c.group || o.kind !== c.kind || namespaceOf(o) !== c.namespace) continue;
      if (typeof c.name === 'string' ? name !== c.name : !c.name.test(name)) continue;
      out.push(
        `${c.group ? `${c.group}/` : ''}${id(o)}: its name is taken by ${c.by}, which will not adopt an object it does not own`,
      );
    }
  }
  return out;
}

/** Objects that share group, kind, namespace and name (the second would overwrite the first). */
export function duplicates(b: Build): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const o of [...b.applied, ...b.functions]) {
    const key = `${groupOf(o)}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    if (seen.has(key)) out.push(`${key}: defined twice`);
    seen.add(key);
  }
  return out;
}
