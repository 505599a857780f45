/**
 * Decodes the kubelet's `/metrics/resource` (Prometheus text 0.0.4) into a MetricsBatch, reading
 * the five families metrics-server reads (plus the 1.18-era CPU names without `_total`). Pods are
 * assembled from their containers' series; the `pod_*` series are sampled at other times and are
 * ignored, as metrics-server does.
 */
import { DecodeError, type MetricsBatch } from './batch.ts';
import { parseExposition } from './exposition.ts';
import { applyRules, type RawContainer, type RawNode, type RawPod } from './rules.ts';

const NODE_CPU = 1;
const NODE_MEMORY = 2;
const CONTAINER_CPU = 3;
const CONTAINER_MEMORY = 4;
const CONTAINER_START = 5;
const SCRAPE_ERROR = 6;
type Family = 1 | 2 | 3 | 4 | 5 | 6;

function classify(name: string): Family | undefined {
  switch (name) {
    case 'node_cpu_usage_seconds_total':
    case 'node_cpu_usage_seconds': // Kubernetes 1.18 before PR #89540
      return NODE_CPU;
    case 'node_memory_working_set_bytes':
      return NODE_MEMORY;
    case 'container_cpu_usage_seconds_total':
    case 'container_cpu_usage_seconds':
      return CONTAINER_CPU;
    case 'container_memory_working_set_bytes':
      return CONTAINER_MEMORY;
    case 'container_start_time_seconds':
      return CONTAINER_START;
    case 'resource_scrape_error': // 1.29+
    case 'scrape_error': // before 1.29 (and alongside resource_scrape_error until 1.30)
      return SCRAPE_ERROR;
    default:
      return undefined;
  }
}

const LABELS = ['namespace', 'pod', 'container'] as const;

/**
 * One container's series. A name can have several series (leaked cgroups, kubernetes#137724): the
 * n-th sample of each family is paired with the n-th twin, since the kubelet writes each family's
 * series in the same order; `applyRules` then keeps the newest twin.
 */
interface ContainerSeries {
  name: string;
  twins: RawContainer[];
  cpu: number;
  memory: number;
  start: number;
}

/** One pod's containers, in the order first seen; looked up by name through `byName` once there are many. */
interface PodSeries {
  namespace: string;
  name: string;
  containers: ContainerSeries[];
  byName: Map<string, ContainerSeries> | undefined;
}

type Namespaces = Map<string, Map<string, PodSeries>>;

/** Pods have a few containers: up to this many, a scan finds one faster than a Map would. */
const SCAN_LIMIT = 8;

/** The series of one container, created on first use. */
function seriesOf(
  namespaces: Namespaces,
  namespace: string,
  pod: string,
  container: string,
): ContainerSeries {
  let pods = namespaces.get(namespace);
  if (!pods) {
    pods = new Map();
    namespaces.set(namespace, pods);
  }
  let p = pods.get(pod);
  if (!p) {
    p = { namespace, name: pod, containers: [], byName: undefined };
    pods.set(pod, p);
  }
  let series: ContainerSeries | undefined;
  if (p.byName) {
    series = p.byName.get(container);
  } else {
    for (const s of p.containers) {
      if (s.name === container) {
        series = s;
        break;
      }
    }
  }
  if (!series) {
    series = { name: container, twins: [], cpu: 0, memory: 0, start: 0 };
    p.containers.push(series);
    if (p.byName) p.byName.set(container, series);
    else if (p.containers.length > SCAN_LIMIT) p.byName = new Map(p.containers.map((s) => [s.name, s]));
  }
  return series;
}

/** The `index`-th twin of a container, created on first use. */
function twin(series: ContainerSeries, index: number, name: string): RawContainer {
  let t = series.twins[index];
  if (!t) {
    t = { name, timestamp: undefined, cpu: undefined, memory: undefined, startTime: undefined };
    series.twins.push(t);
  }
  return t;
}

/** Go's `uint64(seconds * 1e9)`, which IEEE double arithmetic plus truncation reproduces exactly. */
const nanos = (seconds: number): number => Math.trunc(seconds * 1e9);

/**
 * @param text the response body
 * @param requestTime when the request started, milliseconds since the epoch: the timestamp of any
 *   sample that carries none (metrics-server does the same)
 * @throws DecodeError on a malformed line (naming it) or when the kubelet reports a scrape error
 */
export function decodeResource(text: string, requestTime: number): MetricsBatch {
  const node: RawNode = { timestamp: undefined, cpu: undefined, memory: undefined };
  const namespaces: Namespaces = new Map();

  parseExposition<Family, ContainerSeries>(text, LABELS, classify, (family, s) => {
    const timestamp = s.timestamp ?? requestTime;
    switch (family) {
      case NODE_CPU:
        // A repeated node series overwrites the earlier one, as in metrics-server.
        node.cpu = nanos(s.value);
        node.timestamp = timestamp;
        return;
      case NODE_MEMORY:
        node.memory = Math.trunc(s.value);
        return;
      case SCRAPE_ERROR:
        if (s.value !== 0) {
          throw new DecodeError(
            `line ${s.line}: the kubelet reports a failed stats collection (scrape error ${s.value}): it has no usage to give this cycle`,
          );
        }
        return;
    }
    const [namespace, pod, container] = s.labels;
    if (!namespace || !pod || !container) {
      const missing = LABELS.filter((_, i) => !s.labels[i]).join(', ');
      throw new DecodeError(`line ${s.line}: a container series without a value for label ${missing}`);
    }
    // A container's lines in each family share one label set: its series is looked up once.
    let series = s.labelSet.cache;
    if (series === undefined) {
      series = seriesOf(namespaces, namespace, pod, container);
      s.labelSet.cache = series;
    }
    switch (family) {
      case CONTAINER_CPU: {
        // DECIDED: the container's timestamp is the CPU sample's, the one that dates the counter
        // the rate is computed from. metrics-server lets whichever of CPU and memory comes later
        // win, and older kubelets stamp start-time samples too: neither must date the CPU counter.
        const t = twin(series, series.cpu++, container);
        t.cpu = nanos(s.value);
        t.timestamp = timestamp;
        return;
      }
      case CONTAINER_MEMORY:
        twin(series, series.memory++, container).memory = Math.trunc(s.value);
        return;
      case CONTAINER_START: {
        // The kubelet writes no start time it does not know; a non-finite or negative one is as good
        // as none. 0 (unknown) is then allowed: this endpoint does not require start times.
        const ns = nanos(s.value);
        twin(series, series.start++, container).startTime = Number.isFinite(ns) && ns > 0 ? ns : undefined;
        return;
      }
    }
  });

  return applyRules(node, pods(namespaces), { requireStartTime: false });
}

function pods(namespaces: Namespaces): RawPod[] {
  const raw: RawPod[] = [];
  for (const byName of namespaces.values()) {
    for (const p of byName.values()) {
      // The usual pod has one container, whose twins array is handed over as it is.
      let containers = p.containers.length === 1 ? p.containers[0]!.twins : undefined;
      if (!containers) {
        containers = [];
        for (const series of p.containers) containers.push(...series.twins);
      }
      raw.push({ namespace: p.namespace, name: p.name, containers });
    }
  }
  return raw;
}
