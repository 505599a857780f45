/**
 * The body of a 1.32 kubelet's `GET /stats/summary`, shaped like fixture summary-02 (key order, blocks,
 * RFC 3339 times with whole seconds), full or reduced (`?only_cpu_and_memory=true`). CPU and memory
 * come from the same housekeeping samples as /metrics/resource, as on a real kubelet (both endpoints
 * read one provider call); the other blocks (fs, network, volumes) are plausible constants.
 */
import type { ContainerSample, CpuMemorySample, KubeletView, SimContainer, SimPod } from './model.ts';
import type { ServedSample } from './resource-metrics.ts';
import { formatGoFloat } from './resource-metrics.ts';

export const SUMMARY_CONTENT_TYPE = 'application/json';

/** `metav1.Time` on the wire: RFC 3339, UTC, whole seconds. */
export function summaryTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

const PAGE = 4096;
const pages = (bytes: number) => Math.floor(bytes / PAGE) * PAGE;
const DISK_CAPACITY = 1_081_100_128_256;
const DISK_AVAILABLE = 990_640_930_816;
const INODES = 67_108_864;

function memoryLimitBytes(c: SimContainer): number | undefined {
  const q = c.limits.memory;
  if (q === undefined) return undefined;
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) return undefined;
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 } as Record<string, number>)[m[2] ?? '']!;
}

function cpuBlock(s: CpuMemorySample) {
  return { time: summaryTime(s.timestampMs), usageNanoCores: s.cpuNanoCores, usageCoreNanoSeconds: s.cpuNs };
}

function memoryBlock(s: CpuMemorySample, limit: number | undefined, full: boolean) {
  const ws = s.memoryBytes;
  const block: Record<string, string | number> = { time: summaryTime(s.timestampMs) };
  if (limit !== undefined) block.availableBytes = Math.max(0, limit - ws);
  block.usageBytes = ws === 0 ? 0 : pages(ws * 1.04);
  block.workingSetBytes = ws;
  block.rssBytes = pages(ws * 0.93);
  block.pageFaults = Math.floor(s.cpuNs / 2e6) + Math.floor(ws / PAGE);
  block.majorPageFaults = full ? Math.floor(ws / (512 * 1024 * 1024)) : 0;
  return block;
}

function swapBlock(s: CpuMemorySample, withAvailable: boolean) {
  return withAvailable
    ? { time: summaryTime(s.timestampMs), swapAvailableBytes: 0, swapUsageBytes: 0 }
    : { time: summaryTime(s.timestampMs), swapUsageBytes: 0 };
}

function fsBlock(time: string, usedBytes: number, inodesUsed: number) {
  return {
    time,
    availableBytes: DISK_AVAILABLE,
    capacityBytes: DISK_CAPACITY,
    usedBytes,
    inodesFree: INODES - 319_779,
    inodes: INODES,
    inodesUsed,
  };
}

function network(time: string, seed: number) {
  const rx = 589_939_854 + seed * 7919;
  const tx = 6_354_362 + seed * 104_729;
  return {
    time,
    name: 'eth0',
    rxBytes: rx,
    rxErrors: 0,
    txBytes: tx,
    txErrors: 0,
    interfaces: [{ name: 'eth0', rxBytes: rx, rxErrors: 0, txBytes: tx, txErrors: 0 }],
  };
}

function containerStats(c: SimContainer, s: ContainerSample, full: boolean) {
  const base = {
    name: c.name,
    startTime: summaryTime(s.startTimeMs),
    cpu: cpuBlock(s),
    memory: memoryBlock(s, memoryLimitBytes(c), full),
  };
  if (!full) return { ...base, swap: swapBlock(s, true) };
  const time = summaryTime(s.timestampMs + 1000);
  return {
    ...base,
    rootfs: fsBlock(time, 45_056 + c.name.length * 4096, 14),
    logs: fsBlock(time, 4096 * (1 + c.restartCount), 1),
    swap: swapBlock(s, true),
  };
}

function podStats(
  pod: SimPod,
  sample: CpuMemorySample | undefined,
  containers: KubeletView['pods'][number]['containers'],
  full: boolean,
) {
  const stats: Record<string, unknown> = {
    podRef: { name: pod.name, namespace: pod.namespace, uid: pod.staticConfigHash ?? pod.uid },
    startTime: summaryTime(pod.startTimeMs ?? pod.createdAtMs),
    containers: containers.map(({ container, sample: s }) => containerStats(container, s, full)),
  };
  if (sample) {
    stats.cpu = cpuBlock(sample);
    stats.memory = memoryBlock(sample, undefined, full);
  }
  if (full && sample) {
    const time = summaryTime(sample.timestampMs + 1000);
    stats.network = network(time, pod.name.length);
    stats.volume = [
      {
        ...fsBlock(time, 12_288, 9),
        availableBytes: 16_485_212_160,
        capacityBytes: 16_485_224_448,
        inodesFree: 2_012_347,
        inodes: 2_012_356,
        name: `kube-api-access-${pod.uid.slice(0, 5)}`,
      },
    ];
    stats['ephemeral-storage'] = fsBlock(time, 53_248 * containers.length, 16);
    stats.process_stats = { process_count: containers.length * 2 };
  }
  if (sample) stats.swap = swapBlock(sample, false);
  return stats;
}

export function renderSummary(view: KubeletView, opts: { onlyCpuAndMemory: boolean }): string {
  const full = !opts.onlyCpuAndMemory;
  const n = view.nodeSample;
  const boot = summaryTime(view.node.bootTimeMs);
  const podsTotal: CpuMemorySample = {
    timestampMs: n.timestampMs,
    cpuNs: 0,
    memoryBytes: 0,
    cpuNanoCores: 0,
  };
  for (const p of view.pods) {
    if (!p.sample) continue;
    podsTotal.cpuNs += p.sample.cpuNs;
    podsTotal.memoryBytes += p.sample.memoryBytes;
    podsTotal.cpuNanoCores += p.sample.cpuNanoCores;
  }
  const kubelet: CpuMemorySample = {
    timestampMs: n.timestampMs - 1000,
    cpuNs: Math.floor(n.cpuNs * 0.04),
    memoryBytes: pages(47_460_352 + view.pods.length * 262_144),
    cpuNanoCores: Math.round(n.cpuNanoCores * 0.04),
  };
  const systemContainers = [
    {
      name: 'pods',
      startTime: summaryTime(view.node.bootTimeMs + 5000),
      cpu: cpuBlock(podsTotal),
      memory: memoryBlock(podsTotal, view.node.memoryBytes, full),
      swap: swapBlock(podsTotal, false),
    },
    {
      name: 'kubelet',
      startTime: summaryTime(view.node.bootTimeMs + 10_000),
      cpu: cpuBlock(kubelet),
      memory: memoryBlock(kubelet, undefined, full),
      swap: swapBlock(kubelet, false),
    },
  ];
  const time = summaryTime(n.timestampMs);
  const node: Record<string, unknown> = {
    nodeName: view.node.name,
    systemContainers,
    startTime: boot,
    cpu: cpuBlock(n),
    memory: memoryBlock(n, view.node.memoryBytes, full),
  };
  if (full) {
    node.network = network(time, view.node.index);
    node.fs = fsBlock(time, 35_466_891_264, 319_779);
    node.runtime = {
      imageFs: fsBlock(time, 2_463_236_096, 77_416),
      containerFs: fsBlock(time, 2_463_236_096, 77_416),
    };
    node.rlimit = {
      time: summaryTime(n.timestampMs + 5000),
      maxpid: 125_722,
      curproc: 300 + view.pods.length * 12,
    };
  }
  node.swap = { time, swapAvailableBytes: 1_073_737_728, swapUsageBytes: 0 };
  const summary = {
    node,
    pods: view.pods.map((p) => podStats(p.pod, p.sample, p.containers, full)),
  };

  return JSON.stringify(summary);
}

/** What a decoder of a summary body reads: whole-second times, exact integer counters. */
export function summarySamples(view: KubeletView): [string, ServedSample][] {
  const n = view.nodeSample;
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const samples: [string, ServedSample][] = [];
  for (const p of view.pods) {
    for (const { container, sample } of p.containers) {
      samples.push([
        `${p.pod.namespace}/${p.pod.name}/${container.name}`,
        {
          timestampMs: second(sample.timestampMs),
          cpuSecondsText: formatGoFloat(sample.cpuNs / 1e9),
          cpuNs: sample.cpuNs,
          memoryBytes: sample.memoryBytes,
          startTimeSeconds: Math.floor(sample.startTimeMs / 1000),
        },
      ]);
    }
  }
  samples.push([
    'node',
    {
      timestampMs: second(n.timestampMs),
      cpuSecondsText: formatGoFloat(n.cpuNs / 1e9),
      cpuNs: n.cpuNs,
      memoryBytes: n.memoryBytes,
      startTimeSeconds: undefined,
    },
  ]);
  return samples;
}

/** Valid JSON of the wrong shape: numbers as strings, `pods` not a list. */
export function renderSummaryWrongShape(nodeName: string, nowMs: number): string {
  return JSON.stringify({
    node: {
      nodeName,
      cpu: { time: summaryTime(nowMs), usageCoreNanoSeconds: '88585917000' },
      memory: 'lots',
    },
    pods: { items: [] },
  });
}

/** The start and end of a huge but well-formed summary, and the pod entry repeated to fill it. */
export function hugeSummaryParts(
  nodeName: string,
  nowMs: number,
): { head: string; item: (i: number) => string; tail: string } {
  const time = summaryTime(nowMs);
  return {
    head: `{"node":{"nodeName":${JSON.stringify(nodeName)},"startTime":"${time}"},"pods":[`,
    item: (i) =>
      `${i === 0 ? '' : ','}{"podRef":{"name":"huge-pod-${i}","namespace":"huge","uid":"${i}"},"startTime":"${time}","containers":[{"name":"filler","startTime":"${time}","cpu":{"time":"${time}","usageCoreNanoSeconds":${i}},"memory":{"time":"${time}","workingSetBytes":4096}}]}`,
    tail: ']}',
  };
}
