/**
 * The metrics.k8s.io objects: their schema (for anything that reads them, tests included) and the fast
 * renderers the scraper uses to pre-render each served item once per cycle. A stored item carries no
 * `apiVersion`: the same item is served under every version (v1 and v1beta1 are the same objects).
 */

import { z } from 'zod';
import { formatDuration } from './duration.ts';
import { flat, memoize } from './memo.ts';
import { formatCpu, formatMemory } from './quantity.ts';

export const GROUP = 'metrics.k8s.io';
/**
 * The served versions, the preferred first. Kubernetes 1.37 graduated the API to v1 unchanged (KEP-5207);
 * kubectl and the HPA of earlier releases ask for v1beta1.
 */
export const VERSIONS = ['v1', 'v1beta1'] as const;
export type MetricsVersion = (typeof VERSIONS)[number];
export const PREFERRED_VERSION: MetricsVersion = VERSIONS[0];
export const groupVersion = (version: MetricsVersion) => `${GROUP}/${version}` as const;
const API_VERSIONS = VERSIONS.map(groupVersion) as [string, ...string[]];

const Usage = z.object({ cpu: z.string(), memory: z.string() });
const ObjectMeta = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  creationTimestamp: z.string().nullable().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

export const NodeMetrics = z.object({
  kind: z.literal('NodeMetrics').optional(),
  apiVersion: z.enum(API_VERSIONS).optional(),
  metadata: ObjectMeta,
  timestamp: z.string(),
  window: z.string(),
  usage: Usage,
});
export type NodeMetrics = z.infer<typeof NodeMetrics>;

export const PodMetrics = z.object({
  kind: z.literal('PodMetrics').optional(),
  apiVersion: z.enum(API_VERSIONS).optional(),
  metadata: ObjectMeta,
  timestamp: z.string(),
  window: z.string(),
  containers: z.array(z.object({ name: z.string(), usage: Usage })),
});
export type PodMetrics = z.infer<typeof PodMetrics>;

export const NodeMetricsList = z.object({
  kind: z.literal('NodeMetricsList'),
  apiVersion: z.enum(API_VERSIONS),
  metadata: z.object({}),
  items: z.array(NodeMetrics),
});
export const PodMetricsList = z.object({
  kind: z.literal('PodMetricsList'),
  apiVersion: z.enum(API_VERSIONS),
  metadata: z.object({}),
  items: z.array(PodMetrics),
});

/** A usage computed from two samples: CPU in nanocores (truncated when formatted), memory in bytes. */
export interface Usage {
  cpuNanocores: number;
  memoryBytes: number;
}

export interface NodeMetricsPoint {
  name: string;
  labels: Record<string, string>;
  /** The newer kubelet sample's time, ms. */
  timestamp: number;
  /** The real time between the two samples, ns. */
  windowNs: number;
  usage: Usage;
}

export interface PodMetricsPoint {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** The earliest of its containers' timestamps (metrics-server's rule), ms. */
  timestamp: number;
  /** The window of that container, ns. */
  windowNs: number;
  /** Sorted by name. */
  containers: { name: string; usage: Usage }[];
}

/** A whole second as metav1.Time, kept: a cycle formats the same few kubelet timestamps over and over. */
const formatSecond = memoize(4096, (seconds: number) =>
  flat(`${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`),
);

/** metav1.Time: RFC 3339 in UTC at second precision (truncated), as Kubernetes serialises it. */
export function formatTime(ms: number): string {
  return formatSecond(Math.floor(ms / 1000));
}

export function labelsJson(labels: Record<string, string>): string {
  return JSON.stringify(labels);
}

function usageJson(u: Usage): string {
  return usageText(u.cpuNanocores, u.memoryBytes);
}

function usageText(cpuNanocores: number, memoryBytes: number): string {
  return `{"cpu":"${formatCpu(cpuNanocores)}","memory":"${formatMemory(memoryBytes)}"}`;
}

function metaJson(name: string, namespace: string | null, labels: string, createdAt: number): string {
  const ns = namespace === null ? '' : `,"namespace":${JSON.stringify(namespace)}`;
  const lab = labels === '{}' ? '' : `,"labels":${labels}`;
  return `{"name":${JSON.stringify(name)}${ns},"creationTimestamp":"${formatTime(createdAt)}"${lab}}`;
}

/**
 * A NodeMetrics list item. `createdAt` becomes metadata.creationTimestamp: the time the scraper built
 * the object (metrics-server uses the response time, which changes on every request).
 */
export function renderNodeItem(
  p: NodeMetricsPoint,
  createdAt: number,
  labels = labelsJson(p.labels),
): string {
  return (
    `{"metadata":${metaJson(p.name, null, labels, createdAt)},"timestamp":"${formatTime(p.timestamp)}",` +
    `"window":"${formatDuration(p.windowNs)}","usage":${usageJson(p.usage)}}`
  );
}

/**
 * What a pod's item says that does not change from cycle to cycle while the pod keeps its name and
 * labels: the text around its creation time and timestamp. The scraper keeps one per pod across cycles
 * (functions/scrape/render.ts), so a cycle only formats times and usage.
 */
export interface PodItemTemplate {
  /** The labels as JSON text (the entry's labels, and the label index's key). */
  labels: string;
  /** Up to creationTimestamp's value. */
  head: string;
  /** From the end of creationTimestamp's value to timestamp's. */
  tail: string;
}

export function podItemTemplate(name: string, namespace: string, labels: string): PodItemTemplate {
  const lab = labels === '{}' ? '' : `,"labels":${labels}`;
  // Kept as long as the pod: flat, one string each (memo.ts: flat).
  return {
    labels,
    head: flat(
      `{"metadata":{"name":${JSON.stringify(name)},"namespace":${JSON.stringify(namespace)},"creationTimestamp":"`,
    ),
    tail: flat(`"${lab}},"timestamp":"`),
  };
}

/** A container's item up to its usage, kept by name: most containers share a few names. */
const containerHead = memoize(16_384, (name: string) => flat(`{"name":${JSON.stringify(name)},"usage":`));

export function renderPodItem(
  p: PodMetricsPoint,
  createdAt: number,
  labels = labelsJson(p.labels),
  template = podItemTemplate(p.name, p.namespace, labels),
): string {
  let containers = '';
  for (const c of p.containers) {
    const item = containerItem(c.name, c.usage.cpuNanocores, c.usage.memoryBytes);
    containers += containers === '' ? item : `,${item}`;
  }
  return podItem(template, formatTime(createdAt), p.timestamp, p.windowNs, containers);
}

/** One container of a pod's item (renderPodItem), from its usage. */
export function containerItem(name: string, cpuNanocores: number, memoryBytes: number): string {
  return `${containerHead(name)}${usageText(cpuNanocores, memoryBytes)}}`;
}

/**
 * A pod's item (renderPodItem) from its parts: the creation time already formatted (the scraper formats
 * it once per node) and its containers' items joined by commas.
 */
export function podItem(
  template: PodItemTemplate,
  createdAt: string,
  timestamp: number,
  windowNs: number,
  containers: string,
): string {
  return (
    `${template.head}${createdAt}${template.tail}${formatTime(timestamp)}",` +
    `"window":"${formatDuration(windowNs)}","containers":[${containers}]}`
  );
}

/** Turns a stored list item into the single object served by a GET of that version. */
export function asObject(kind: 'NodeMetrics' | 'PodMetrics', item: string, version: MetricsVersion): string {
  return `{"kind":"${kind}","apiVersion":"${groupVersion(version)}",${item.slice(1)}`;
}
