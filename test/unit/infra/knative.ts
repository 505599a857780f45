/**
 * What Knative Serving's admission webhook would say of a Knative Service: the pod and container fields
 * it admits without feature flags, one container with at most one port, no reserved port or variable,
 * probes on the declared port, and the volume kinds it allows.
 */
import { id, type Obj } from './manifests.ts';

/**
 * What Knative Serving admits in a revision's pod (knative/serving pkg/apis/serving/fieldmask.go,
 * PodSpecMask and ContainerMask, without feature flags), plus the revision's own fields.
 */
const KNATIVE_POD_FIELDS = new Set([
  'serviceAccountName',
  'containers',
  'volumes',
  'imagePullSecrets',
  'enableServiceLinks',
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
]);
const KNATIVE_CONTAINER_FIELDS = new Set([
  'name',
  'args',
  'command',
  'env',
  'workingDir',
  'envFrom',
  'image',
  'imagePullPolicy',
  'livenessProbe',
  'ports',
  'readinessProbe',
  'startupProbe',
  'resources',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'volumeMounts',
]);
/** Ports queue-proxy and Knative's sidecars use (runtime contract). */
const RESERVED_PORTS = new Set([8012, 8013, 8022, 9090, 9091, 8008, 8112]);
const RESERVED_ENV = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);

/** Problems Knative's admission webhook would report for a Knative Service. */
export function knativeProblems(ksvc: Obj): string[] {
  const out: string[] = [];
  const spec = ksvc.spec.template.spec;
  for (const k of Object.keys(spec))
    if (!KNATIVE_POD_FIELDS.has(k)) out.push(`${id(ksvc)}: pod field ${k} is not allowed`);
  if (spec.containers.length !== 1) out.push(`${id(ksvc)}: one container expected`);
  for (const c of spec.containers) {
    for (const k of Object.keys(c))
      if (!KNATIVE_CONTAINER_FIELDS.has(k)) out.push(`${id(ksvc)}: container field ${k} is not allowed`);
    if ((c.ports ?? []).length > 1) out.push(`${id(ksvc)}: more than one container port`);
    for (const p of c.ports ?? [])
      if (RESERVED_PORTS.has(p.containerPort)) out.push(`${id(ksvc)}: port ${p.containerPort} is reserved`);
    for (const e of c.env ?? [])
      if (RESERVED_ENV.has(e.name)) out.push(`${id(ksvc)}: env ${e.name} is reserved`);
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      const port = probe?.httpGet?.port;
      if (port !== undefined && port !== c.ports?.[0]?.containerPort)
        out.push(`${id(ksvc)}: probe port ${port} is not the container port`);
    }
  }
  for (const v of spec.volumes ?? []) {
    const source = Object.keys(v).filter((k) => k !== 'name');
    if (!source.every((k) => ['secret', 'configMap', 'projected', 'emptyDir'].includes(k)))
      out.push(`${id(ksvc)}: volume ${v.name} source ${source} is not allowed`);
  }
  return out;
}
