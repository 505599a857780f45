/**
 * A cluster that lives, for the demo: a Deployment's pod replaced now and then (Killing, then the
 * ReplicaSet's new pod: SuccessfulCreate, Scheduled, Pulling, Pulled, Created, Started), one pod whose
 * container crashes over and over with the kubelet's back-off (10 s doubling to 5 min; BackOff repeated
 * while it waits), and one pod no node can take (FailedScheduling, retried as a series). Every change
 * goes through the model, so watchers see the pods change and the recorder writes the events.
 * Which pods, names and nodes are the seed's; when is the clock's.
 */
import type { SimCluster, SimPod } from './model.ts';
import { createRng, randomSuffix } from './random.ts';
import type { EventRecorder } from './recorder.ts';

export interface ActivityOptions {
  /** How often a Deployment's pod is replaced; default 20 s; 0 never. */
  replaceEveryMs?: number;
  /** A crash-looping pod (default true). */
  crashLoop?: boolean;
  /** The kubelet's first crash back-off (default 10 s; it doubles up to `maxBackOffMs`, 5 min). */
  backOffMs?: number;
  maxBackOffMs?: number;
  /** How often the kubelet reports BackOff again while it waits (its pod sync; default 10 s). */
  backOffReportMs?: number;
  /** A pod that fits on no node (default true), retried by the scheduler every `retrySchedulingMs` (30 s). */
  unschedulable?: boolean;
  retrySchedulingMs?: number;
}

export interface Activity {
  /** `namespace/name` of the crash-looping pod, if any. */
  readonly crashLooping: string | undefined;
  /** `namespace/name` of the unschedulable pod, if any. */
  readonly unschedulable: string | undefined;
  stop(): void;
}

const SYSTEM = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

export function startActivity(
  opts: ActivityOptions & { cluster: SimCluster; recorder: EventRecorder },
): Activity {
  const { cluster, recorder } = opts;
  const rng = createRng(`${cluster.seed}/activity`);
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    t.unref();
    timers.add(t);
  };
  // The special pods (zero working set, very young) stay as they are: they are what they are for.
  const { pending, succeeded, zeroWorkingSet, young } = cluster.specials;
  const special = new Set([pending, succeeded, zeroWorkingSet, ...young]);
  const replicaPods = () =>
    cluster
      .pods()
      .filter(
        (p) =>
          p.phase === 'Running' &&
          p.owner?.kind === 'ReplicaSet' &&
          !SYSTEM.has(p.namespace) &&
          !special.has(`${p.namespace}/${p.name}`),
      );

  let crashLooping: string | undefined;
  if (opts.crashLoop !== false) {
    const candidates = replicaPods();
    if (candidates.length > 0) {
      const pod = rng.pick(candidates);
      crashLooping = `${pod.namespace}/${pod.name}`;
      crashLoop(pod.namespace, pod.name, opts.backOffMs ?? 10_000);
    }
  }

  function crashLoop(namespace: string, name: string, delayMs: number): void {
    const report = opts.backOffReportMs ?? 10_000;
    const max = opts.maxBackOffMs ?? 300_000;
    const restartAt = Date.now() + delayMs;
    const tick = () => {
      const pod = cluster.pod(namespace, name);
      if (pod?.phase !== 'Running') return;
      const container = pod.containers[0]!;
      if (Date.now() >= restartAt) {
        cluster.restartContainer(namespace, name, container.name);
        crashLoop(namespace, name, Math.min(max, delayMs * 2));
        return;
      }
      recorder.backOff(pod, container);
      later(Math.min(report, restartAt - Date.now()), tick);
    };
    later(Math.min(report, delayMs), tick);
  }

  let unschedulable: string | undefined;
  if (opts.unschedulable !== false && cluster.nodes().length > 0) {
    const namespace =
      cluster
        .namespaces()
        .map((n) => n.name)
        .find((n) => !SYSTEM.has(n)) ?? 'default';
    const name = `batch-import-${randomSuffix(rng, 10)}-${randomSuffix(rng, 5)}`;
    const pod = cluster.addPod({
      namespace,
      name,
      phase: 'Pending',
      labels: { app: 'batch-import' },
      containers: [
        {
          name: 'import',
          image: 'registry.sim.local/batch-import:3.1.0',
          requests: { cpu: '64', memory: '256Gi' },
        },
      ],
    });
    unschedulable = `${pod.namespace}/${pod.name}`;
    const retry = () => {
      const p = cluster.pod(namespace, name);
      if (!p || p.nodeName !== undefined) return;
      recorder.schedulingFailed(p);
      later(opts.retrySchedulingMs ?? 30_000, retry);
    };
    later(opts.retrySchedulingMs ?? 30_000, retry);
  }

  const every = opts.replaceEveryMs ?? 20_000;
  if (every > 0) {
    const replace = () => {
      const pods = replicaPods().filter((p) => `${p.namespace}/${p.name}` !== crashLooping);
      if (pods.length > 0) replacePod(rng.pick(pods));
      later(every, replace);
    };
    later(every, replace);
  }

  /** What a rollout step or an eviction does: the pod goes, its ReplicaSet makes another. */
  function replacePod(old: SimPod): void {
    cluster.deletePod(old.namespace, old.name);
    const generateName = old.name.slice(0, old.name.lastIndexOf('-') + 1);
    let name = `${generateName}${randomSuffix(rng, 5)}`;
    while (cluster.pod(old.namespace, name)) name = `${generateName}${randomSuffix(rng, 5)}`;
    const node = rng.pick(cluster.nodes());
    cluster.addPod({
      namespace: old.namespace,
      name,
      nodeName: node.name,
      labels: old.labels,
      owner: old.owner,
      phase: 'Pending',
      containers: old.containers.map((c) => ({
        name: c.name,
        image: c.image,
        requests: c.requests,
        limits: c.limits,
      })),
    });
    // The image pull and container start take a moment.
    later(rng.int(1_000, 4_000), () => {
      if (cluster.pod(old.namespace, name)?.phase === 'Pending')
        cluster.setPodPhase(old.namespace, name, 'Running');
    });
  }

  return {
    crashLooping,
    unschedulable,
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
