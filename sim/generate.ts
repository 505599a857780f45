/**
 * Builds the initial simulated cluster from a seed: nodes like a small real fleet (one control-plane
 * node with the static control-plane pods, zone labels, kubelet ports) and pods spread the way a real
 * cluster's are (daemonset pods on every node, Deployment replicas with pod-template-hash names across
 * the application namespaces, some with sidecars), plus the special pods metrics-server must handle.
 * Every draw comes from one PRNG in a fixed order, so the same options give the same cluster.
 */
import type {
  ContainerSpec,
  OwnerKind,
  PodPhase,
  ResourceList,
  SimContainer,
  SimNamespace,
  SimNode,
  SimPod,
  SpecialPods,
} from './model.ts';
import { createRng, type Rng, randomHex, randomSuffix, randomUid } from './random.ts';
import type { UsageProfile, Wave } from './usage.ts';

export interface GenerateOptions {
  nodes: number;
  podsPerNode: number;
  seed: string | number;
  namespaces: string[] | undefined;
  housekeepingMs: number;
  startMs: number;
  specialPods: boolean;
}

export interface GeneratedCluster {
  namespaces: SimNamespace[];
  nodes: SimNode[];
  pods: SimPod[];
  specials: SpecialPods;
}

const DAY = 86_400_000;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
export const DEFAULT_APP_NAMESPACES = ['default', 'shop', 'payments', 'analytics', 'monitoring'];
const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'];
const APP_NAMES = [
  'frontend',
  'cart',
  'checkout',
  'catalog',
  'search',
  'recommendations',
  'auth',
  'gateway',
  'orders',
  'inventory',
  'notifications',
  'ingest',
  'reporting',
  'worker',
  'billing',
  'shipping',
  'ledger',
  'profile',
  'media',
  'pricing',
];
const KUBE_VERSION = 'v1.32.0';
const NO_ANNOTATIONS: Record<string, string> = Object.freeze({}) as Record<string, string>;

interface PodTemplate {
  namespace: string;
  base: string;
  labels: Record<string, string>;
  owner: { kind: OwnerKind; name: string; uid: string } | undefined;
  containers: ContainerSpec[];
  hostNetwork?: boolean;
  priorityClassName?: string;
  serviceAccountName?: string;
}

export function generateCluster(o: GenerateOptions): GeneratedCluster {
  const rng = createRng(o.seed);
  const appNamespaces = o.namespaces && o.namespaces.length > 0 ? o.namespaces : DEFAULT_APP_NAMESPACES;
  const monitoringNs = appNamespaces.includes('monitoring') ? 'monitoring' : 'kube-system';
  const nodeCreatedMin = o.startMs - 40 * DAY;

  const namespaces: SimNamespace[] = [...new Set([...SYSTEM_NAMESPACES, ...appNamespaces])].map((name) => ({
    name,
    uid: randomUid(rng),
    createdAtMs: nodeCreatedMin - 600_000 + rng.int(0, 300_000),
    labels: { 'kubernetes.io/metadata.name': name },
    resourceVersion: 0,
  }));

  const width = Math.max(4, String(o.nodes).length);
  const nodes: SimNode[] = [];
  for (let i = 0; i < o.nodes; i++)
    nodes.push(makeNode(rng, i, `sim-node-${String(i + 1).padStart(width, '0')}`, o));

  const pods: SimPod[] = [];
  const podsOnNode = new Map<string, number>();
  const usedNames = new Set<string>();
  const place = (
    t: PodTemplate,
    name: string,
    node: SimNode | undefined,
    phase: PodPhase,
    createdAtMs: number,
  ) => {
    // A name ending in '-' is a generateName: add a suffix no other pod of the namespace has.
    while (name.endsWith('-') || usedNames.has(`${t.namespace}/${name}`)) {
      name = `${name.endsWith('-') ? name : name.replace(/[^-]*$/, '')}${randomSuffix(rng, 5)}`;
    }
    usedNames.add(`${t.namespace}/${name}`);
    const slot = node ? (podsOnNode.get(node.name) ?? 0) : 0;
    if (node) podsOnNode.set(node.name, slot + 1);
    const pod = makePod(rng, t, name, node, slot, phase, createdAtMs, o);
    pods.push(pod);
    return pod;
  };

  const daemonSets: PodTemplate[] = [
    template(rng, 'kube-system', 'kube-proxy', 'DaemonSet', { 'k8s-app': 'kube-proxy' }, [
      sys('kube-proxy', `registry.k8s.io/kube-proxy:${KUBE_VERSION}`, {}, {}),
    ]),
    template(rng, 'kube-system', 'kindnet', 'DaemonSet', { app: 'kindnet', 'k8s-app': 'kindnet' }, [
      sys(
        'kindnet-cni',
        'docker.io/kindest/kindnetd:v20241212-9f82dd49',
        { cpu: '100m', memory: '50Mi' },
        {
          cpu: '100m',
          memory: '50Mi',
        },
      ),
    ]),
    template(rng, monitoringNs, 'node-exporter', 'DaemonSet', { 'app.kubernetes.io/name': 'node-exporter' }, [
      sys(
        'node-exporter',
        'quay.io/prometheus/node-exporter:v1.8.2',
        { cpu: '102m', memory: '180Mi' },
        {
          cpu: '250m',
          memory: '180Mi',
        },
      ),
      sys(
        'kube-rbac-proxy',
        'quay.io/brancz/kube-rbac-proxy:v0.18.1',
        { cpu: '10m', memory: '20Mi' },
        {
          cpu: '20m',
          memory: '40Mi',
        },
      ),
    ]),
  ];
  for (const ds of daemonSets) ds.hostNetwork = true;

  // Slots per node: daemonset pods first, then (control-plane node) static pods and CoreDNS.
  const appSlots: SimNode[] = [];
  for (const node of nodes) {
    let free = o.podsPerNode;
    for (const ds of daemonSets) {
      if (free === 0) break;
      place(ds, `${ds.base}-`, node, 'Running', node.createdAtMs + rng.int(20_000, 90_000));
      free--;
    }
    if (node.index === 0) {
      for (const component of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        if (free === 0) break;
        const t = staticPodTemplate(component, node);
        const pod = place(
          t,
          `${component}-${node.name}`,
          node,
          'Running',
          node.createdAtMs + rng.int(5_000, 15_000),
        );
        pod.staticConfigHash = randomHex(rng, 32);
        pod.annotations = {
          'kubernetes.io/config.hash': pod.staticConfigHash,
          'kubernetes.io/config.mirror': pod.staticConfigHash,
          'kubernetes.io/config.seen': new Date(pod.createdAtMs).toISOString(),
          'kubernetes.io/config.source': 'file',
        };
        free--;
      }
      const coredns = deploymentTemplate(rng, 'kube-system', 'coredns', [
        sys(
          'coredns',
          'registry.k8s.io/coredns/coredns:v1.11.3',
          { cpu: '100m', memory: '70Mi' },
          { memory: '170Mi' },
        ),
      ]);
      coredns.labels = { 'k8s-app': 'kube-dns', 'pod-template-hash': coredns.labels['pod-template-hash']! };
      coredns.priorityClassName = 'system-cluster-critical';
      for (let r = 0; r < 2 && free > 0; r++, free--) {
        place(
          coredns,
          `${coredns.base}-${coredns.labels['pod-template-hash']}-`,
          node,
          'Running',
          node.createdAtMs + rng.int(30_000, 60_000),
        );
      }
    }
    for (; free > 0; free--) appSlots.push(node);
  }

  // Application Deployments: about six replicas each, spread round-robin over the free slots.
  const deployments: PodTemplate[] = [];
  const deploymentCount = Math.max(1, Math.ceil(appSlots.length / 6));
  for (let j = 0; j < deploymentCount && appSlots.length > 0; j++) {
    const base =
      APP_NAMES[j % APP_NAMES.length]! + (j < APP_NAMES.length ? '' : `-${Math.floor(j / APP_NAMES.length)}`);
    deployments.push(
      deploymentTemplate(rng, appNamespaces[j % appNamespaces.length]!, base, appContainers(rng, base)),
    );
  }
  const appPodsByNode = new Map<string, SimPod[]>();
  appSlots.forEach((node, s) => {
    const d = deployments[s % deployments.length]!;
    const age = rng.logBetween(10 * 60_000, 20 * DAY);
    const created = Math.floor(Math.max(node.createdAtMs + 120_000, o.startMs - age));
    const pod = place(d, `${d.base}-${d.labels['pod-template-hash']}-`, node, 'Running', created);
    const list = appPodsByNode.get(node.name) ?? [];
    list.push(pod);
    appPodsByNode.set(node.name, list);
  });

  const specials: SpecialPods = {
    pending: undefined,
    succeeded: undefined,
    zeroWorkingSet: undefined,
    young: [],
  };
  if (o.specialPods && nodes.length > 0) {
    const first = nodes[0]!;
    const last = nodes[nodes.length - 1]!;
    const ns0 = appNamespaces[0]!;
    const ns1 = appNamespaces[Math.min(1, appNamespaces.length - 1)]!;

    // Very young pods: created seconds ago, so their kubelet has one sample or none yet.
    const withApps = nodes.filter((n) => (appPodsByNode.get(n.name)?.length ?? 0) > 0).slice(0, 3);
    withApps.forEach((n, i) => {
      const pod = appPodsByNode.get(n.name)!.at(-1)!;
      rebase(pod, o.startMs - [4_000, 9_000, 14_000][i]!, rng, o.startMs);
      specials.young.push(`${pod.namespace}/${pod.name}`);
    });

    const zero = deploymentTemplate(rng, ns0, 'legacy-reporter', [
      app('reporter', 'registry.sim.local/legacy-reporter:2.3.1', rng),
      {
        ...sys('log-tailer', 'docker.io/library/busybox:1.36', { cpu: '5m', memory: '8Mi' }, {}),
        zeroWorkingSet: true,
      },
    ]);
    const zp = place(
      zero,
      `${zero.base}-${zero.labels['pod-template-hash']}-`,
      first,
      'Running',
      o.startMs - 3 * 3_600_000,
    );
    specials.zeroWorkingSet = `${zp.namespace}/${zp.name}`;

    const pending = deploymentTemplate(rng, ns0, 'image-resizer', [
      app('image-resizer', 'registry.sim.local/image-resizer:0.9.0', rng),
    ]);
    const pp = place(
      pending,
      `${pending.base}-${pending.labels['pod-template-hash']}-`,
      last,
      'Pending',
      o.startMs - 90_000,
    );
    specials.pending = `${pp.namespace}/${pp.name}`;

    const scheduled = Math.floor((o.startMs - 20 * 60_000) / 60_000);
    const jobName = `nightly-report-${scheduled}`;
    const job: PodTemplate = {
      namespace: ns1,
      base: jobName,
      labels: {
        'batch.kubernetes.io/job-name': jobName,
        'job-name': jobName,
        'batch.kubernetes.io/controller-uid': randomUid(rng),
      },
      owner: { kind: 'Job', name: jobName, uid: randomUid(rng) },
      containers: [app('report', 'registry.sim.local/nightly-report:1.2.0', rng)],
    };
    job.labels['controller-uid'] = job.labels['batch.kubernetes.io/controller-uid']!;
    const sp = place(job, `${jobName}-`, first, 'Running', o.startMs - 20 * 60_000);
    sp.restartPolicy = 'Never';
    sp.phase = 'Succeeded';
    for (const c of sp.containers)
      c.finishedAtMs = (c.startedAtMs ?? sp.createdAtMs) + rng.int(60_000, 240_000);
    sp.readyAtMs = undefined;
    specials.succeeded = `${sp.namespace}/${sp.name}`;
  }
  return { namespaces, nodes, pods, specials };
}

function makeNode(rng: Rng, index: number, name: string, o: GenerateOptions): SimNode {
  const cores = rng.pick([4, 8, 16]);
  const memGib = cores * rng.pick([2, 4]);
  const capacityKi = memGib * 1024 * 1024;
  const createdAtMs = Math.floor(o.startMs - rng.between(3, 40) * DAY);
  const zone = `sim-zone-${'abc'[index % 3]}`;
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': `sim.${cores}xlarge`,
    'topology.kubernetes.io/region': 'sim-region-1',
    'topology.kubernetes.io/zone': zone,
  };
  if (index === 0) {
    labels['node-role.kubernetes.io/control-plane'] = '';
    labels['node.kubernetes.io/exclude-from-external-load-balancers'] = '';
  }
  const overheadCores = rng.between(0.05, 0.2);
  return {
    name,
    index,
    uid: randomUid(rng),
    labels,
    annotations: {
      'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
      'node.alpha.kubernetes.io/ttl': '0',
      'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
    },
    createdAtMs,
    bootTimeMs: createdAtMs - rng.int(30_000, 300_000),
    cpuCores: cores,
    memoryBytes: memGib * GIB,
    capacity: {
      cpu: String(cores),
      'ephemeral-storage': '101430960Ki',
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      memory: `${capacityKi}Ki`,
      pods: '110',
    },
    allocatable: {
      cpu: `${cores * 1000 - 80}m`,
      'ephemeral-storage': '93478772582',
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      memory: `${capacityKi - 409_600}Ki`,
      pods: '110',
    },
    internalIP: '127.0.0.1',
    podCIDR: `10.${64 + (index >> 8)}.${index & 255}.0/24`,
    kubeletPort: 10250,
    housekeepingPhaseMs: rng.int(0, o.housekeepingMs - 1),
    overhead: {
      cpuBaseCores: overheadCores,
      cpuWaves: waves(rng, overheadCores, [0.25, 0.1]),
      memoryBaseBytes: rng.between(400, 1200) * MIB,
      memoryWaves: [
        { amplitude: 40 * MIB, periodMs: rng.between(600_000, 3_600_000), phase: rng.next() * 6 },
      ],
    },
    retiredCpuNs: 0,
    machineID: randomHex(rng, 32),
    bootID: randomUid(rng),
    kernelVersion: '6.8.0-1015-sim',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    containerRuntimeVersion: 'containerd://1.7.24',
    kubeletVersion: KUBE_VERSION,
    fault: { kind: 'none' },
    resourceVersion: 0,
  };
}

/** Waves whose amplitudes are the given fractions of the base (their sum stays below 1). */
function waves(rng: Rng, base: number, fractions: number[]): Wave[] {
  const periods = [
    [300_000, 1_200_000],
    [20_000, 90_000],
    [5_000, 15_000],
  ];
  return fractions.map((f, i) => ({
    amplitude: base * f,
    periodMs: rng.between(periods[i]![0]!, periods[i]![1]!),
    phase: rng.between(0, 2 * Math.PI),
  }));
}

function template(
  rng: Rng,
  namespace: string,
  base: string,
  kind: OwnerKind,
  labels: Record<string, string>,
  containers: ContainerSpec[],
): PodTemplate {
  const t: PodTemplate = {
    namespace,
    base,
    labels: { ...labels },
    owner: { kind, name: base, uid: randomUid(rng) },
    containers,
  };
  if (kind === 'DaemonSet') {
    t.labels['controller-revision-hash'] = randomSuffix(rng, 10);
    t.labels['pod-template-generation'] = '1';
    t.priorityClassName = 'system-node-critical';
    t.serviceAccountName = base;
  }
  return t;
}

function deploymentTemplate(
  rng: Rng,
  namespace: string,
  base: string,
  containers: ContainerSpec[],
): PodTemplate {
  const hash = randomSuffix(rng, 10);
  return {
    namespace,
    base,
    labels: { app: base, 'pod-template-hash': hash },
    owner: { kind: 'ReplicaSet', name: `${base}-${hash}`, uid: randomUid(rng) },
    containers,
  };
}

function staticPodTemplate(component: string, node: SimNode): PodTemplate {
  const sizes: Record<string, [ResourceList, string]> = {
    etcd: [{ cpu: '100m', memory: '100Mi' }, 'registry.k8s.io/etcd:3.5.16-0'],
    'kube-apiserver': [{ cpu: '250m' }, `registry.k8s.io/kube-apiserver:${KUBE_VERSION}`],
    'kube-controller-manager': [{ cpu: '200m' }, `registry.k8s.io/kube-controller-manager:${KUBE_VERSION}`],
    'kube-scheduler': [{ cpu: '100m' }, `registry.k8s.io/kube-scheduler:${KUBE_VERSION}`],
  };
  const [requests, image] = sizes[component]!;
  return {
    namespace: 'kube-system',
    base: component,
    labels: { component, tier: 'control-plane' },
    owner: { kind: 'Node', name: node.name, uid: node.uid },
    containers: [sys(component, image, requests, {})],
    hostNetwork: true,
    priorityClassName: 'system-node-critical',
    serviceAccountName: 'default',
  };
}

function sys(name: string, image: string, requests: ResourceList, limits: ResourceList): ContainerSpec {
  return { name, image, requests, limits };
}

function app(name: string, image: string, rng: Rng): ContainerSpec {
  const cpu = rng.pick(['10m', '25m', '50m', '100m', '200m', '250m', '500m', '1']);
  const memory = rng.pick(['32Mi', '64Mi', '128Mi', '256Mi', '512Mi', '1Gi']);
  const limits: ResourceList = { memory: doubled(memory) };
  if (rng.chance(0.3)) limits.cpu = cpu;
  return { name, image, requests: { cpu, memory }, limits };
}

function doubled(q: string): string {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  return m ? `${Number(m[1]) * 2}${m[2]}` : q;
}

function appContainers(rng: Rng, base: string): ContainerSpec[] {
  const main = app(
    base.replace(/-\d+$/, ''),
    `registry.sim.local/${base.replace(/-\d+$/, '')}:1.${rng.int(0, 20)}.${rng.int(0, 9)}`,
    rng,
  );
  const roll = rng.next();
  if (roll < 0.08) {
    return [
      main,
      sys(
        'istio-proxy',
        'docker.io/istio/proxyv2:1.24.2',
        { cpu: '100m', memory: '128Mi' },
        { cpu: '2', memory: '1Gi' },
      ),
      sys(
        'config-reloader',
        'ghcr.io/sim/config-reloader:0.4.1',
        { cpu: '5m', memory: '16Mi' },
        { memory: '32Mi' },
      ),
    ];
  }
  if (roll < 0.3) {
    const sidecar = rng.chance(0.5)
      ? sys(
          'istio-proxy',
          'docker.io/istio/proxyv2:1.24.2',
          { cpu: '100m', memory: '128Mi' },
          { cpu: '2', memory: '1Gi' },
        )
      : sys(
          'log-shipper',
          'docker.io/fluent/fluent-bit:3.2.4',
          { cpu: '20m', memory: '32Mi' },
          { memory: '64Mi' },
        );
    return [main, sidecar];
  }
  return [main];
}

const CPU_CEILING = 2;

/** Usage drawn around the container's request: mostly small, a few busy ones, 1m to 2 cores. */
function usageFor(rng: Rng, spec: ContainerSpec): UsageProfile {
  const requestCores = parseCpu(spec.requests?.cpu) ?? 0.05;
  const requestBytes = parseMemory(spec.requests?.memory) ?? 64 * MIB;
  const base = Math.min(CPU_CEILING * 0.6, Math.max(0.0025, requestCores * rng.logBetween(0.05, 1.6)));
  const memory = Math.max(4 * MIB, requestBytes * rng.between(0.25, 1.1));
  return {
    cpuBaseCores: base,
    // 0.35 + 0.15 + 0.08 = 0.58: the rate stays within 0.42–1.58 × base, i.e. between 1m and 2 cores.
    cpuWaves: waves(rng, base, [0.35, 0.15, 0.08]),
    memoryBaseBytes: memory,
    memoryWaves: [
      { amplitude: memory * 0.08, periodMs: rng.between(600_000, 2_400_000), phase: rng.next() * 6 },
      { amplitude: memory * 0.01, periodMs: rng.between(15_000, 60_000), phase: rng.next() * 6 },
    ],
  };
}

// The few request strings the generator uses, parsed once each.
const parsed = new Map<string, number | undefined>();
const BINARY_SUFFIX: Record<string, number> = { Ki: 1024, Mi: MIB, Gi: GIB };

function parseCpu(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (!parsed.has(`cpu:${q}`))
    parsed.set(`cpu:${q}`, q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
  return parsed.get(`cpu:${q}`);
}

function parseMemory(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (!parsed.has(`mem:${q}`)) {
    const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
    parsed.set(`mem:${q}`, m ? Number(m[1]) * (BINARY_SUFFIX[m[2] ?? ''] ?? 1) : undefined);
  }
  return parsed.get(`mem:${q}`);
}

function makePod(
  rng: Rng,
  t: PodTemplate,
  name: string,
  node: SimNode | undefined,
  slot: number,
  phase: PodPhase,
  createdAtMs: number,
  o: GenerateOptions,
): SimPod {
  const containers: SimContainer[] = t.containers.map((spec) => ({
    name: spec.name,
    image: spec.image ?? `registry.sim.local/${spec.name}:1.0.0`,
    requests: spec.requests ?? {},
    limits: spec.limits ?? {},
    usage: usageFor(rng, spec),
    startedAtMs: undefined,
    finishedAtMs: undefined,
    firstSampleMs: undefined,
    restartCount: 0,
    lastTerminatedAtMs: undefined,
    zeroWorkingSet: spec.zeroWorkingSet ?? false,
  }));
  const pod: SimPod = {
    namespace: t.namespace,
    name,
    uid: randomUid(rng),
    nodeName: node?.name,
    // Replicas share their template's labels: the model replaces a pod's labels, never edits them.
    labels: t.labels,
    annotations: NO_ANNOTATIONS,
    owner: t.owner,
    phase,
    createdAtMs,
    startTimeMs: undefined,
    readyAtMs: undefined,
    podIP: node
      ? t.hostNetwork
        ? node.internalIP
        : `10.${64 + (node.index >> 8)}.${node.index & 255}.${2 + slot}`
      : undefined,
    hostNetwork: t.hostNetwork ?? false,
    restartPolicy: 'Always',
    serviceAccountName: t.serviceAccountName ?? 'default',
    priorityClassName: t.priorityClassName,
    containers,
    staticConfigHash: undefined,
    housekeepingPhaseMs: rng.int(0, o.housekeepingMs - 1),
    overheadCores: rng.between(0.0002, 0.001),
    overheadBytes: rng.int(40, 120) * 4096,
    retiredCpuNs: 0,
    resourceVersion: 0,
  };
  if (phase !== 'Pending' && node) rebase(pod, createdAtMs, rng, o.startMs);
  return pod;
}

/**
 * (Re)sets a scheduled pod's timeline from its creation: containers start a few seconds later, the
 * pod is Ready soon after, and one container in twenty has restarted since.
 */
function rebase(pod: SimPod, createdAtMs: number, rng: Rng, startMs: number): void {
  pod.createdAtMs = createdAtMs;
  pod.startTimeMs = createdAtMs + rng.int(200, 1500);
  let lastStart = pod.startTimeMs;
  for (const c of pod.containers) {
    const started = pod.startTimeMs + rng.int(500, 6000) + rng.int(0, 999_999) / 1e6;
    c.startedAtMs = Math.round(started * 1000) / 1000;
    c.restartCount = 0;
    c.lastTerminatedAtMs = undefined;
    const age = startMs - c.startedAtMs;
    if (age > 30 * 60_000 && rng.chance(0.05)) {
      c.restartCount = rng.int(1, 4);
      const restarted = c.startedAtMs + rng.between(0.3, 0.9) * age;
      c.lastTerminatedAtMs = Math.floor(restarted - 2000);
      c.startedAtMs = Math.round(restarted * 1000) / 1000;
    }
    c.firstSampleMs = Math.ceil(c.startedAtMs + rng.between(100, 1200));
    lastStart = Math.max(lastStart, c.startedAtMs);
  }
  pod.readyAtMs = Math.ceil(lastStart + rng.int(1000, 10_000));
}
