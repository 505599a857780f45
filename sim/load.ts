/**
 * Events at a sustained rate, for the events benchmark (issue 10.9: 1,000 events/s): the mix a busy
 * cluster's event stream has, on the cluster's own pods and nodes — new old-style kubelet events
 * (Pulled, Created, Started, Killing), old-style repeats folded into a few events' `count` (BackOff,
 * Unhealthy), new-style scheduler events (Scheduled) and new-style series bumps (FailedScheduling). The
 * pods are not changed (only events are written), the sequence is the seed's, the pace the clock's: a
 * 10 ms tick writes what is due, catching up at most one second behind.
 */
import type { EventSpec, EventStore } from './events.ts';
import type { SimCluster, SimPod } from './model.ts';
import { createRng } from './random.ts';

export interface EventLoad {
  /** Events written (new ones and repeats) so far. */
  readonly written: number;
  /** Events that fell due but were not written because the process was more than a second behind. */
  readonly skipped: number;
  stop(): void;
}

const TICK_MS = 10;
/** Pods whose events repeat (BackOff, Unhealthy, FailedScheduling): a small set, as in real clusters. */
const FLAPPING = 64;

export function startEventLoad(opts: {
  cluster: SimCluster;
  events: EventStore;
  perSecond: number;
}): EventLoad {
  const { cluster, events, perSecond } = opts;
  if (!(perSecond > 0)) throw new Error(`startEventLoad: perSecond must be > 0, got ${perSecond}`);
  const rng = createRng(`${cluster.seed}/load`);
  const pods = cluster.pods().filter((p) => p.nodeName !== undefined);
  if (pods.length === 0) throw new Error('startEventLoad: the cluster has no scheduled pods to report on');
  const flapping = pods.slice(0, FLAPPING);
  const controlPlane = cluster.nodes()[0]?.name ?? 'control-plane';
  const started = Date.now();
  let written = 0;
  let skipped = 0;

  const ref = (p: SimPod, container?: string) => ({
    kind: 'Pod',
    namespace: p.namespace,
    name: p.name,
    uid: p.uid,
    apiVersion: 'v1',
    resourceVersion: String(p.resourceVersion),
    ...(container === undefined ? {} : { fieldPath: `spec.containers{${container}}` }),
  });
  const kubelet = (p: SimPod, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal') => {
    const c = p.containers[0]!;
    return {
      involvedObject: ref(p, c.name),
      source: { component: 'kubelet', host: p.nodeName! },
      reason,
      message: message.replaceAll('$c', c.name).replaceAll('$i', c.image),
      type,
    } satisfies EventSpec;
  };
  const scheduler = (
    p: SimPod,
    reason: string,
    action: string,
    message: string,
    type: 'Normal' | 'Warning',
  ) =>
    ({
      style: 'new',
      involvedObject: ref(p),
      reportingController: 'default-scheduler',
      reportingInstance: `default-scheduler-${controlPlane}`,
      reason,
      action,
      message,
      type,
    }) satisfies EventSpec;

  const one = () => {
    const r = rng.next();
    if (r < 0.5) {
      const p = rng.pick(pods);
      const [reason, message] = rng.pick([
        ['Pulled', 'Container image "$i" already present on machine'],
        ['Created', 'Created container: $c'],
        ['Started', 'Started container $c'],
        ['Killing', 'Stopping container $c'],
      ] as const);
      events.emit(kubelet(p, reason, message));
    } else if (r < 0.7) {
      const p = rng.pick(flapping);
      if (rng.chance(0.5)) {
        events.record(
          kubelet(
            p,
            'BackOff',
            `Back-off restarting failed container $c in pod ${p.name}_${p.namespace}(${p.uid})`,
            'Warning',
          ),
        );
      } else {
        events.record(
          kubelet(
            p,
            'Unhealthy',
            `Readiness probe failed: Get "http://${p.podIP ?? '10.64.0.1'}:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
            'Warning',
          ),
        );
      }
    } else if (r < 0.85) {
      const p = rng.pick(pods);
      events.emit(
        scheduler(
          p,
          'Scheduled',
          'Binding',
          `Successfully assigned ${p.namespace}/${p.name} to ${p.nodeName}`,
          'Normal',
        ),
      );
    } else {
      const p = rng.pick(flapping);
      const n = cluster.nodes().length;
      events.record(
        scheduler(
          p,
          'FailedScheduling',
          'Scheduling',
          `0/${n} nodes are available: ${n} Insufficient memory. preemption: 0/${n} nodes are available: ${n} No preemption victims found for incoming pod.`,
          'Warning',
        ),
      );
    }
    written++;
  };

  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * perSecond) / 1000);
    let owed = due - written - skipped;
    // Never more than a second's worth at once: a stalled process does not burst forever after.
    const most = Math.ceil(perSecond);
    if (owed > most) {
      skipped += owed - most;
      owed = most;
    }
    for (let i = 0; i < owed; i++) one();
  }, TICK_MS);
  timer.unref();

  return {
    get written() {
      return written;
    },
    get skipped() {
      return skipped;
    },
    stop: () => clearInterval(timer),
  };
}
