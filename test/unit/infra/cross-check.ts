/**
 * Cross-checks between rendered objects, and between objects and the programs they run. Each returns
 * the problems it found (one line each, naming the object), so a test shows all of them at once.
 *
 * The programs are checked by their own configuration loaders: a container's args and environment are
 * parsed by loadScrapeConfig / loadServeConfig / loadEventsConfig exactly as at start-up, and the ports,
 * probes and files that the manifests promise are compared with what that configuration makes the
 * program do. The events function's sinks are parsed by its own parsers too: each --sink, and the
 * --sink-config file as the ConfigMap or Secret it is mounted from holds it.
 */
import { relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SinkConfigFile } from '../../../functions/events/sink-config.ts';
import { parseSinkUri } from '../../../functions/events/sinks/registry.ts';
import {
  ConfigError,
  type EventsConfig,
  loadEventsConfig,
  loadScrapeConfig,
  loadServeConfig,
  type ScrapeConfig,
  type ServeConfig,
} from '../../../shared/config/index.ts';
import { DRAIN_TIMEOUT_MS } from '../../../shared/http/serving.ts';
import {
  containerEnv,
  find,
  HEALTH_PATHS,
  id,
  matches,
  type Obj,
  type PodTemplate,
  podTemplates,
  programOf,
} from './manifests.ts';

export interface CrossCheckOptions {
  /** Secrets the user provides (not among the objects), e.g. the TLS Secret of the ca-bundle path. */
  externalSecrets?: string[];
}

/**
 * Secrets the manifests name for the user to create (each shipped value would be one every cluster
 * shares): the shard secret of the sharded entry points (docs/scaling.md).
 */
const USER_CREATED_SECRETS = ['metrics-scrape-shard'];

/** Roles every cluster has (bootstrap policy): bindings may name them without defining them. */
const BUILTIN_CLUSTER_ROLES = new Set(['system:auth-delegator', 'view', 'edit', 'admin', 'cluster-admin']);
const BUILTIN_ROLES = new Set(['kube-system/extension-apiserver-authentication-reader']);

export type ProgramConfig =
  | { program: 'scrape'; config: ScrapeConfig }
  | { program: 'serve'; config: ServeConfig }
  | { program: 'events'; config: EventsConfig };

/** The configuration a container's program would start with, or the one line it would stop with. */
export function programConfig(
  objects: Obj[],
  pod: PodTemplate,
  container: Obj,
): ProgramConfig | string | null {
  const program = programOf(String(container.image));
  if (program === null) return null;
  const argv: string[] = (container.args ?? []).map(String);
  const env = containerEnv(objects, pod, container);
  try {
    if (program === 'scrape') return { program, config: loadScrapeConfig(argv, env) };
    if (program === 'events') return { program, config: loadEventsConfig(argv, env) };
    return { program, config: loadServeConfig(argv, env) };
  } catch (err) {
    if (err instanceof ConfigError) return `error: ${err.message}`;
    throw err;
  }
}

/**
 * What the grace period must hold after SIGTERM besides the shutdown delay and the drain: Redis quit,
 * the process' exit, the kubelet's own slack.
 */
export const GRACE_MARGIN_SECONDS = 5;

/**
 * A graceful stop must fit in the pod's grace period (whatever precedes SIGTERM, then
 * --shutdown-delay-duration, the drain, a margin), and a kubelet probing readiness must see it fail
 * before the shutdown delay ends (when the listeners close and a probe could only be refused).
 */
function checkTermination(pod: PodTemplate, c: Obj, p: ProgramConfig, where: string, out: string[]): void {
  const delayS = p.config.shutdownDelayDurationMs / 1000;
  const drainS = DRAIN_TIMEOUT_MS / 1000;
  const needed = pod.beforeSigtermSeconds + delayS + drainS + GRACE_MARGIN_SECONDS;
  if (pod.gracePeriodSeconds < needed) {
    const before = pod.beforeSigtermSeconds > 0 ? `${pod.beforeSigtermSeconds} s before SIGTERM + ` : '';
    out.push(
      `${where}: a grace period of ${pod.gracePeriodSeconds} s is shorter than a graceful stop: ${before}--shutdown-delay-duration ${delayS} s + drain ${drainS} s + ${GRACE_MARGIN_SECONDS} s = ${needed} s`,
    );
  }
  const probe = c.readinessProbe;
  if (!pod.kubeletReadiness || !probe || delayS === 0) return;
  // The kubelet's defaults: every 10 s, unready after 3 failures in a row.
  const seenS = (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3);
  if (seenS > delayS)
    out.push(
      `${where}: readinessProbe sees the stop only after up to ${seenS} s (periodSeconds × failureThreshold), after --shutdown-delay-duration ${delayS} s ended`,
    );
}

/** Ports the program listens on: plain HTTP (probes, triggers) and, for serve, its TLS port. */
export function listening(p: ProgramConfig): { plain: number | null; secure: number | null } {
  if (p.program !== 'serve') return { plain: p.config.once ? null : p.config.port, secure: null };
  return { plain: p.config.port === 0 ? null : p.config.port, secure: p.config.securePort };
}

function declaredPort(container: Obj, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p: Obj) => p.name === port)?.containerPort;
}

/** The volume mount at (or above) a path, the deepest one, if any. */
function mountAt(container: Obj, path: string): Obj | undefined {
  const mounts: Obj[] = [...(container.volumeMounts ?? [])].sort(
    (a, b) => String(b.mountPath).length - String(a.mountPath).length,
  );
  return mounts.find(
    (x) => path === x.mountPath || path.startsWith(`${String(x.mountPath).replace(/\/$/, '')}/`),
  );
}

/** The volume mounted at (or above) a path, if any. */
function mountOf(pod: PodTemplate, container: Obj, path: string): Obj | undefined {
  const m = mountAt(container, path);
  return m && pod.spec.volumes?.find((v: Obj) => v.name === m.name);
}

const secretText = (secret: Obj, key: string): string | undefined =>
  secret.stringData?.[key] ??
  (secret.data?.[key] === undefined ? undefined : Buffer.from(String(secret.data[key]), 'base64').toString());

/**
 * What a container reads at `path`, from the ConfigMap or Secret mounted there (a volume of either, or a
 * projection of them): the text, or why it cannot be read.
 */
export function mountedFile(
  objects: Obj[],
  pod: PodTemplate,
  container: Obj,
  path: string,
): { text: string } | { problem: string } {
  const m = mountAt(container, path);
  const volume = mountOf(pod, container, path);
  if (!m || !volume) return { problem: `${path} is on no mounted volume` };
  const key = m.subPath ?? relative(String(m.mountPath), path);
  const sources: Obj[] = volume.projected?.sources ?? [volume];
  for (const source of sources) {
    const ref = source.configMap ?? source.secret;
    if (!ref) continue;
    const kind = source.configMap ? 'ConfigMap' : 'Secret';
    const name = ref.name ?? ref.secretName;
    const item = (ref.items as Obj[] | undefined)?.find((i) => i.path === key);
    if (ref.items && !item) continue;
    const o = find(objects, kind, name, pod.namespace);
    if (!o) continue;
    const text = kind === 'ConfigMap' ? o.data?.[item?.key ?? key] : secretText(o, item?.key ?? key);
    if (text !== undefined) return { text: String(text) };
  }
  return { problem: `${path}: no ConfigMap or Secret mounted there holds ${key}` };
}

/**
 * The events function's sinks, as it parses them at start: each --sink, and each entry of the
 * --sink-config file the container reads. Secret files a sink names (`*_file=`) must be in a mounted
 * Secret: never in the image, a ConfigMap or a flag.
 */
function checkSinks(
  objects: Obj[],
  pod: PodTemplate,
  c: Obj,
  config: EventsConfig,
  where: string,
  out: string[],
) {
  const uris = [...config.sink.map((uri) => ({ uri, from: '--sink' }))];
  if (config.sinkConfig !== '') {
    const file = mountedFile(objects, pod, c, config.sinkConfig);
    if ('problem' in file) out.push(`${where}: --sink-config ${file.problem}`);
    else {
      const r = SinkConfigFile.safeParse(parseYaml(file.text) ?? {});
      if (!r.success)
        out.push(
          `${where}: --sink-config ${config.sinkConfig}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
        );
      else uris.push(...r.data.sinks.map((s) => ({ uri: s.uri, from: `--sink-config sink ${s.name}` })));
    }
  }
  const inSecret = (path: string) => {
    const v = mountOf(pod, c, path);
    return Boolean(v?.secret || v?.projected?.sources?.every((s: Obj) => s.secret));
  };
  for (const { uri, from } of uris) {
    for (const [, option, path] of uri.matchAll(/[?&](\w+_file)=([^&]+)/g)) {
      if (!inSecret(path!)) out.push(`${where}: ${from}: ${option}=${path} is not in a mounted Secret`);
    }
    try {
      parseSinkUri(uri);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A kind that reads its secret file while parsing: the file is the mounted Secret's, at run time.
      const unread = /cannot read (\S+):/.exec(message)?.[1];
      if (unread === undefined || !inSecret(unread)) out.push(`${where}: ${from}: ${message}`);
    }
  }
}

function checkContainer(objects: Obj[], pod: PodTemplate, c: Obj, out: string[]): void {
  const where = `${pod.owner} container ${c.name}`;
  const p = programConfig(objects, pod, c);
  if (p === null) return;
  if (typeof p === 'string') {
    out.push(`${where}: the program would stop at start: ${p}`);
    return;
  }
  if (c.command !== undefined) out.push(`${where}: command overrides the image's ENTRYPOINT`);
  const { plain, secure } = listening(p);
  for (const port of c.ports ?? []) {
    if (port.containerPort !== plain && port.containerPort !== secure)
      out.push(`${where}: declares port ${port.containerPort}, which the program does not listen on`);
  }
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = c[kind];
    if (!probe) continue;
    const http = probe.httpGet;
    if (!http) {
      out.push(`${where}: ${kind} is not an HTTP GET of a health endpoint`);
      continue;
    }
    // Knative probes name no port: they go to the single declared port.
    const port = http.port === undefined ? c.ports?.[0]?.containerPort : declaredPort(c, http.port);
    if (port !== plain) out.push(`${where}: ${kind} port ${http.port} is not the plain-HTTP --port ${plain}`);
    if ((http.scheme ?? 'HTTP') !== 'HTTP') out.push(`${where}: ${kind} scheme ${http.scheme} is not HTTP`);
    const path = String(http.path).split('?')[0];
    if (!(HEALTH_PATHS as readonly string[]).includes(path ?? ''))
      out.push(`${where}: ${kind} path ${http.path} is not a health endpoint the program serves`);
  }
  if (p.program === 'events') checkSinks(objects, pod, c, p.config, where, out);
  if (plain !== null || secure !== null) checkTermination(pod, c, p, where, out);
  if (p.program === 'scrape' && p.config.shardSecretFile !== '') {
    const v = mountOf(pod, c, p.config.shardSecretFile);
    if (!(v?.secret || v?.projected?.sources?.every((s: Obj) => s.secret)))
      out.push(`${where}: --shard-secret-file ${p.config.shardSecretFile} is not in a mounted Secret`);
  }
  if (p.program === 'serve') {
    const cfg = p.config;
    if (cfg.tlsCertFile !== '') {
      for (const file of [cfg.tlsCertFile, cfg.tlsPrivateKeyFile]) {
        const v = mountOf(pod, c, file);
        if (!v?.secret) out.push(`${where}: ${file} is not in a mounted Secret`);
      }
    } else if (c.securityContext?.readOnlyRootFilesystem) {
      // The self-signed certificate is written to --cert-dir (by default a new folder under /tmp).
      const dir = cfg.certDir || '/tmp';
      if (!mountOf(pod, c, dir)?.emptyDir)
        out.push(`${where}: --cert-dir ${dir} is not on a writable emptyDir with a read-only root`);
    }
  }
}

function checkPod(objects: Obj[], pod: PodTemplate, options: CrossCheckOptions, out: string[]): void {
  const sa = pod.spec.serviceAccountName;
  if (sa && !find(objects, 'ServiceAccount', sa, pod.namespace))
    out.push(`${pod.owner}: ServiceAccount ${sa} does not exist`);
  for (const v of pod.spec.volumes ?? []) {
    if (v.configMap && !find(objects, 'ConfigMap', v.configMap.name, pod.namespace))
      out.push(`${pod.owner}: volume ${v.name}: ConfigMap ${v.configMap.name} does not exist`);
    const secret = v.secret?.secretName;
    // An optional Secret (one the user creates, such as sink credentials) may be absent.
    if (
      secret &&
      v.secret.optional !== true &&
      !find(objects, 'Secret', secret, pod.namespace) &&
      !options.externalSecrets?.includes(secret) &&
      !USER_CREATED_SECRETS.includes(secret)
    )
      out.push(`${pod.owner}: volume ${v.name}: Secret ${secret} does not exist`);
  }
  for (const c of pod.spec.containers ?? []) {
    for (const from of c.envFrom ?? []) {
      const name = from.configMapRef?.name;
      if (name && !find(objects, 'ConfigMap', name, pod.namespace))
        out.push(`${pod.owner}: envFrom ConfigMap ${name} does not exist`);
    }
    checkContainer(objects, pod, c, out);
  }
}

/** Does some container of the pod listen on this port (declared, or a port its program opens)? */
function podListens(objects: Obj[], pod: PodTemplate, target: number | string): boolean {
  return (pod.spec.containers ?? []).some((c: Obj) => {
    if (typeof target === 'string') return c.ports?.some((p: Obj) => p.name === target) ?? false;
    if (c.ports?.some((p: Obj) => p.containerPort === target)) return true;
    const p = programConfig(objects, pod, c);
    if (p === null || typeof p === 'string') return false;
    const { plain, secure } = listening(p);
    return target === plain || target === secure;
  });
}

function checkServices(objects: Obj[], pods: PodTemplate[], out: string[]): void {
  for (const s of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1')) {
    const namespace = s.metadata.namespace ?? 'default';
    if (s.spec.type === 'ExternalName') continue;
    const selected = pods.filter(
      (p) => p.namespace === namespace && matches(s.spec.selector ?? {}, p.labels),
    );
    if (selected.length === 0) {
      out.push(`${id(s)}: selector ${JSON.stringify(s.spec.selector)} matches no pod template`);
      continue;
    }
    for (const port of s.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const pod of selected) {
        if (!podListens(objects, pod, target))
          out.push(`${id(s)}: port ${port.port} → ${target}: ${pod.owner} does not listen there`);
      }
    }
  }
}

function checkSelectors(objects: Obj[], pods: PodTemplate[], out: string[]): void {
  for (const o of objects) {
    const namespace = o.metadata?.namespace ?? 'default';
    let selector: Record<string, string> | undefined;
    if (o.kind === 'PodDisruptionBudget') selector = o.spec.selector?.matchLabels;
    if (o.kind === 'NetworkPolicy') selector = o.spec.podSelector?.matchLabels;
    if (['Deployment', 'StatefulSet'].includes(o.kind)) {
      selector = o.spec.selector?.matchLabels;
      if (!matches(selector ?? {}, o.spec.template.metadata?.labels ?? {}))
        out.push(`${id(o)}: selector does not match its own pod template`);
      continue;
    }
    if (selector === undefined) continue;
    if (!pods.some((p) => p.namespace === namespace && matches(selector, p.labels)))
      out.push(`${id(o)}: selector ${JSON.stringify(selector)} matches no pod template`);
  }
}

/**
 * The aggregator dials the APIService's Service (its ClusterIP, on `service.port`, default 443) with
 * HTTPS: that Service must select pods that run the serve function, all of them, and its port must
 * lead to the serve function's --secure-port in each.
 */
function checkApiServiceBackend(objects: Obj[], pods: PodTemplate[], a: Obj, svc: Obj, out: string[]): void {
  const ref = a.spec.service;
  const where = `${id(a)}: Service ${ref.namespace}/${ref.name}`;
  const port = (svc.spec.ports ?? []).find((p: Obj) => p.port === (ref.port ?? 443));
  if (!port) {
    out.push(`${where} has no port ${ref.port ?? 443}`);
    return;
  }
  const selected = pods.filter(
    (p) =>
      p.namespace === (svc.metadata.namespace ?? 'default') && matches(svc.spec.selector ?? {}, p.labels),
  );
  if (selected.length === 0) out.push(`${where} selects no pods: the APIService has no endpoints`);
  const target = port.targetPort ?? port.port;
  for (const pod of selected) {
    const serve = (pod.spec.containers ?? []).find((c: Obj) => programOf(String(c.image)) === 'serve');
    if (!serve) {
      out.push(`${where} selects ${pod.owner}, which does not run the serve function`);
      continue;
    }
    const p = programConfig(objects, pod, serve);
    if (p === null || typeof p === 'string') continue; // checkContainer reports it
    const secure = listening(p).secure;
    const reached = declaredPort(serve, target);
    if (reached !== secure)
      out.push(
        `${where} port ${port.port} → ${target} reaches ${reached ?? 'no port'} of ${pod.owner}, whose serve function listens for HTTPS on ${secure}`,
      );
  }
}

function checkApiServices(objects: Obj[], pods: PodTemplate[], out: string[]): void {
  for (const a of objects.filter((o) => o.kind === 'APIService')) {
    const spec = a.spec;
    if (a.metadata.name !== `${spec.version}.${spec.group}`)
      out.push(`${id(a)}: name is not <version>.<group> (${spec.version}.${spec.group})`);
    if (Boolean(spec.caBundle) === Boolean(spec.insecureSkipTLSVerify))
      out.push(`${id(a)}: needs exactly one of caBundle and insecureSkipTLSVerify`);
    const ref = spec.service;
    const svc = ref && find(objects, 'Service', ref.name, ref.namespace);
    if (!svc) {
      out.push(`${id(a)}: Service ${ref?.namespace}/${ref?.name} does not exist`);
      continue;
    }
    if (svc.spec.clusterIP === 'None')
      out.push(`${id(a)}: Service ${ref.name} is headless: the aggregator refuses it`);
    if (svc.spec.type === 'ExternalName')
      out.push(
        `${id(a)}: Service ${ref.name} is an ExternalName: the aggregator would dial ${svc.spec.externalName}`,
      );
    checkApiServiceBackend(objects, pods, a, svc, out);
  }
}

function checkRbac(objects: Obj[], out: string[]): void {
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    for (const s of b.subjects ?? []) {
      if (s.kind === 'ServiceAccount' && !find(objects, 'ServiceAccount', s.name, s.namespace))
        out.push(`${id(b)}: subject ServiceAccount ${s.namespace}/${s.name} does not exist`);
    }
    const ref = b.roleRef;
    if (
      ref.kind === 'ClusterRole' &&
      !find(objects, 'ClusterRole', ref.name) &&
      !BUILTIN_CLUSTER_ROLES.has(ref.name)
    )
      out.push(`${id(b)}: ClusterRole ${ref.name} does not exist`);
    const ns = b.metadata.namespace;
    if (
      ref.kind === 'Role' &&
      !find(objects, 'Role', ref.name, ns) &&
      !BUILTIN_ROLES.has(`${ns}/${ref.name}`)
    )
      out.push(`${id(b)}: Role ${ns}/${ref.name} does not exist`);
  }
}

/** A Knative event source (PingSource, …) must deliver to an object of the build, in its namespace. */
function checkEventSinks(objects: Obj[], out: string[]): void {
  for (const o of objects.filter((x) => String(x.apiVersion).startsWith('sources.knative.dev/'))) {
    const ref = o.spec?.sink?.ref;
    if (!ref) continue; // a sink given by URI
    const namespace = ref.namespace ?? o.metadata?.namespace ?? 'default';
    const target = objects.find(
      (t) =>
        t.apiVersion === ref.apiVersion &&
        t.kind === ref.kind &&
        t.metadata?.name === ref.name &&
        (t.metadata?.namespace ?? 'default') === namespace,
    );
    if (!target)
      out.push(`${id(o)}: sink ${ref.apiVersion} ${ref.kind} ${namespace}/${ref.name} does not exist`);
  }
}

/** Every cross-check; an empty list means the objects agree with each other and with the programs. */
export function crossCheck(objects: Obj[], options: CrossCheckOptions = {}): string[] {
  const out: string[] = [];
  const pods = podTemplates(objects);
  for (const pod of pods) checkPod(objects, pod, options, out);
  checkServices(objects, pods, out);
  checkSelectors(objects, pods, out);
  checkApiServices(objects, pods, out);
  checkEventSinks(objects, out);
  checkRbac(objects, out);
  return out;
}

/** Whether RBAC among the objects lets a ServiceAccount do `verb` on `resource` (of `group`). */
export function allows(
  objects: Obj[],
  sa: { namespace: string; name: string },
  rule: { group: string; resource: string; verb: string },
): boolean {
  const bound = objects.filter(
    (b) =>
      (b.kind === 'ClusterRoleBinding' || b.kind === 'RoleBinding') &&
      (b.subjects ?? []).some(
        (s: Obj) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace,
      ),
  );
  return bound.some((b) => {
    const role = find(
      objects,
      b.roleRef.kind,
      b.roleRef.name,
      b.roleRef.kind === 'Role' ? b.metadata.namespace : undefined,
    );
    return (role?.rules ?? []).some(
      (r: Obj) =>
        (r.apiGroups ?? []).includes(rule.group) &&
        (r.resources ?? []).includes(rule.resource) &&
        (r.verbs ?? []).includes(rule.verb),
    );
  });
}
