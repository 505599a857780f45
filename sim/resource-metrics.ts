/**
 * The body of a 1.32 kubelet's `GET /metrics/resource`, written exactly as its collector and
 * client_golang's text encoder write it (fixtures resource-02 and resource-03): HELP lines with the
 * stability prefix, families sorted by name, series sorted by their label values, label keys sorted,
 * values in Go's shortest 'g' format, millisecond timestamps, `container_start_time_seconds` without a
 * timestamp, the node swap series stamped with the node memory time, `resource_scrape_error 0` last.
 */
import type { ContainerSample, CpuMemorySample, KubeletView, SimContainer, SimPod } from './model.ts';

export const RESOURCE_METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that round-trip (as JavaScript's
 * own conversions give), in exponent form when the decimal exponent is < -4 or ≥ 6 (with precision -1
 * Go takes that decision as for precision 6), with at least two exponent digits: `1.0510336e+07`.
 * Kubelet values are mostly ≥ 1e6 (bytes, start times), so that case avoids `toExponential`.
 */
export function formatGoFloat(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  const abs = Math.abs(v);
  if (abs >= 1e-4 && abs < 1e6) return String(v);
  if (abs >= 1e6 && abs < 1e21) {
    // String(v) is plain here ("10510336", "1750607841.8297591"): move the point after the first digit.
    const plain = String(abs);
    const dot = plain.indexOf('.');
    const intDigits = dot === -1 ? plain.length : dot;
    let digits = dot === -1 ? plain : plain.slice(0, dot) + plain.slice(dot + 1);
    let end = digits.length;
    while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
    digits = digits.slice(0, end);
    const exponent = intDigits - 1;
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${v < 0 ? '-' : ''}${mantissa}e+${exponent < 10 ? '0' : ''}${exponent}`;
  }
  const e = v.toExponential();
  const at = e.indexOf('e');
  const exponent = Number(e.slice(at + 1));
  const magnitude = Math.abs(exponent);
  return `${e.slice(0, at)}e${exponent < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
}

/** A label value as the text format escapes it. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
}

const F = {
  containerCpu: {
    name: 'container_cpu_usage_seconds_total',
    help: '[STABLE] Cumulative cpu time consumed by the container in core-seconds',
    type: 'counter',
  },
  containerMemory: {
    name: 'container_memory_working_set_bytes',
    help: '[STABLE] Current working set of the container in bytes',
    type: 'gauge',
  },
  containerStart: {
    name: 'container_start_time_seconds',
    help: '[STABLE] Start time of the container since unix epoch in seconds',
    type: 'gauge',
  },
  containerSwap: {
    name: 'container_swap_usage_bytes',
    help: '[ALPHA] Current amount of the container swap usage in bytes. Reported only on non-windows systems',
    type: 'gauge',
  },
  nodeCpu: {
    name: 'node_cpu_usage_seconds_total',
    help: '[STABLE] Cumulative cpu time consumed by the node in core-seconds',
    type: 'counter',
  },
  nodeMemory: {
    name: 'node_memory_working_set_bytes',
    help: '[STABLE] Current working set of the node in bytes',
    type: 'gauge',
  },
  nodeSwap: {
    name: 'node_swap_usage_bytes',
    help: '[ALPHA] Current swap usage of the node in bytes. Reported only on non-windows systems',
    type: 'gauge',
  },
  podCpu: {
    name: 'pod_cpu_usage_seconds_total',
    help: '[STABLE] Cumulative cpu time consumed by the pod in core-seconds',
    type: 'counter',
  },
  podMemory: {
    name: 'pod_memory_working_set_bytes',
    help: '[STABLE] Current working set of the pod in bytes',
    type: 'gauge',
  },
  podSwap: {
    name: 'pod_swap_usage_bytes',
    help: '[ALPHA] Current amount of the pod swap usage in bytes. Reported only on non-windows systems',
    type: 'gauge',
  },
  scrapeError: {
    name: 'resource_scrape_error',
    help: '[STABLE] 1 if there was an error while getting container metrics, 0 otherwise',
    type: 'gauge',
  },
} satisfies Record<string, Family>;

const headers = new Map<Family, string>();
function header(f: Family): string {
  let h = headers.get(f);
  if (h === undefined) {
    h = `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    headers.set(f, h);
  }
  return h;
}

/** What a client decodes from a served series: the text, and the value a Go/JS decoder derives. */
export interface ServedSample {
  timestampMs: number;
  cpuSecondsText: string;
  /** `Math.trunc(parseFloat(cpuSecondsText) * 1e9)`: what metrics-server's decoder computes. */
  cpuNs: number;
  memoryBytes: number;
  startTimeSeconds: number | undefined;
}

interface SeriesRef {
  sortKey: string;
  labels: string;
}

function containerRef(container: SimContainer, pod: SimPod): SeriesRef {
  return {
    // Series sort by label values in label-name order: container, namespace, pod.
    sortKey: `${container.name}\u0000${pod.namespace}\u0000${pod.name}`,
    labels: `{container="${escapeLabelValue(container.name)}",namespace="${escapeLabelValue(pod.namespace)}",pod="${escapeLabelValue(pod.name)}"} `,
  };
}

function podRef(pod: SimPod): SeriesRef {
  return {
    sortKey: `${pod.namespace}\u0000${pod.name}`,
    labels: `{namespace="${escapeLabelValue(pod.namespace)}",pod="${escapeLabelValue(pod.name)}"} `,
  };
}

const bySortKey = (a: { ref: SeriesRef }, b: { ref: SeriesRef }) =>
  a.ref.sortKey < b.ref.sortKey ? -1 : a.ref.sortKey > b.ref.sortKey ? 1 : 0;

export function renderResourceMetrics(view: KubeletView): string {
  const rows: { ref: SeriesRef; sample: ContainerSample; cpu: string; ts: string }[] = [];
  const podRows: { ref: SeriesRef; sample: CpuMemorySample; ts: string }[] = [];
  for (const { pod, sample: podSample, containers } of view.pods) {
    for (const { container, sample } of containers) {
      rows.push({
        ref: containerRef(container, pod),
        sample,
        cpu: formatGoFloat(sample.cpuNs / 1e9),
        ts: String(sample.timestampMs),
      });
    }
    if (podSample) podRows.push({ ref: podRef(pod), sample: podSample, ts: String(podSample.timestampMs) });
  }
  rows.sort(bySortKey);
  podRows.sort(bySortKey);

  const n = view.nodeSample;
  const nodeCpu = formatGoFloat(n.cpuNs / 1e9);
  const nodeTs = String(n.timestampMs);
  const w = writer;
  w.reset();
  if (rows.length > 0) {
    w.put(header(F.containerCpu));
    for (const r of rows) w.series(F.containerCpu.name, r.ref.labels, r.cpu, r.ts);
    w.put(header(F.containerMemory));
    for (const r of rows)
      w.series(F.containerMemory.name, r.ref.labels, formatGoFloat(r.sample.memoryBytes), r.ts);
    // Skipped for start times at or before the epoch, as the kubelet does; never timestamped (≥ 1.29).
    let startHeader = false;
    for (const r of rows) {
      if (r.sample.startTimeMs <= 0) continue;
      if (!startHeader) w.put(header(F.containerStart));
      startHeader = true;
      w.series(F.containerStart.name, r.ref.labels, formatGoFloat(r.sample.startTimeMs / 1000), undefined);
    }
    w.put(header(F.containerSwap));
    for (const r of rows) w.series(F.containerSwap.name, r.ref.labels, '0', r.ts);
  }
  w.put(header(F.nodeCpu));
  w.series(F.nodeCpu.name, ' ', nodeCpu, nodeTs);
  w.put(header(F.nodeMemory));
  w.series(F.nodeMemory.name, ' ', formatGoFloat(n.memoryBytes), nodeTs);
  // The kubelet stamps node swap with the node *memory* time (kubelet-apis.md §2.1).
  w.put(header(F.nodeSwap));
  w.series(F.nodeSwap.name, ' ', '0', nodeTs);
  if (podRows.length > 0) {
    w.put(header(F.podCpu));
    for (const r of podRows) w.series(F.podCpu.name, r.ref.labels, formatGoFloat(r.sample.cpuNs / 1e9), r.ts);
    w.put(header(F.podMemory));
    for (const r of podRows)
      w.series(F.podMemory.name, r.ref.labels, formatGoFloat(r.sample.memoryBytes), r.ts);
    w.put(header(F.podSwap));
    for (const r of podRows) w.series(F.podSwap.name, r.ref.labels, '0', r.ts);
  }
  w.put(header(F.scrapeError));
  w.series(F.scrapeError.name, ' ', '0', undefined);
  return w.text();
}

/**
 * Appends a payload's many small ASCII strings into one reused Buffer and returns it as a flat
 * one-byte string: several times cheaper than `Array#join` and writing the result, which matters
 * when one process serves thousands of kubelets. Kubernetes names are ASCII (DNS-1123), as is the
 * rest of the text format we write.
 */
class AsciiWriter {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #n = 0;

  reset(): void {
    this.#n = 0;
  }

  put(s: string): void {
    if (this.#n + s.length > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#n + s.length));
      this.#buf.copy(bigger, 0, 0, this.#n);
      this.#buf = bigger;
    }
    this.#n += this.#buf.write(s, this.#n, 'latin1');
  }

  /** `name` + `labels` (ending in a space) + value [+ ' ' + timestamp] + newline. */
  series(name: string, labels: string, value: string, timestamp: string | undefined): void {
    this.put(name);
    this.put(labels);
    this.put(value);
    if (timestamp !== undefined) {
      this.put(' ');
      this.put(timestamp);
    }
    this.put('\n');
  }

  text(): string {
    return this.#buf.toString('latin1', 0, this.#n);
  }
}

const writer = new AsciiWriter();

/**
 * What a decoder reads from `renderResourceMetrics(view)`, keyed `namespace/pod/container` and `node`:
 * the CPU text as written and the nanoseconds Go's decoder derives from it (`uint64(v * 1e9)`).
 */
export function resourceSamples(view: KubeletView): [string, ServedSample][] {
  const served = (s: CpuMemorySample, startTimeSeconds: number | undefined): ServedSample => {
    const text = formatGoFloat(s.cpuNs / 1e9);
    return {
      timestampMs: s.timestampMs,
      cpuSecondsText: text,
      cpuNs: Math.trunc(Number.parseFloat(text) * 1e9),
      memoryBytes: s.memoryBytes,
      startTimeSeconds,
    };
  };
  const out: [string, ServedSample][] = [];
  for (const { pod, containers } of view.pods) {
    for (const { container, sample } of containers) {
      out.push([`${pod.namespace}/${pod.name}/${container.name}`, served(sample, sample.startTimeMs / 1000)]);
    }
  }
  out.push(['node', served(view.nodeSample, undefined)]);
  return out;
}

/** What a kubelet writes when its stats provider fails: still 200, only the error gauge. */
export function renderResourceScrapeError(): string {
  return `${header(F.scrapeError)}${F.scrapeError.name} 1\n`;
}

/** Valid text-format exposition of the wrong shape: container series without pod/namespace labels. */
export function renderResourceWrongShape(nowMs: number): string {
  return (
    `${header(F.containerCpu)}${F.containerCpu.name}{container="app"} 12.5 ${nowMs}\n` +
    `${header(F.containerMemory)}${F.containerMemory.name}{container="app"} 1.048576e+06 ${nowMs}\n` +
    `${header(F.nodeCpu)}${F.nodeCpu.name}{node="unknown"} 3.5 ${nowMs}\n` +
    `${header(F.scrapeError)}${F.scrapeError.name} 0\n`
  );
}

/** The start of a huge but well-formed body, and the line repeated to make it huge. */
export function hugeResourceMetricsParts(nowMs: number): { head: string; line: (i: number) => string } {
  return {
    head: header(F.containerCpu),
    line: (i) =>
      `${F.containerCpu.name}{container="filler",namespace="huge",pod="huge-pod-${i}"} ${i}.5 ${nowMs}\n`,
  };
}
