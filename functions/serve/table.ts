/**
 * The meta.k8s.io transformations of a metrics object, for `kubectl get nodes.metrics.k8s.io` /
 * `kubectl get podmetrics` (Table) and metadata-only clients (PartialObjectMetadata). Rows follow
 * metrics-server's pkg/api/table.go: cells Name, cpu, memory, Window, a pod's usage summed over its
 * containers; `object` per `includeObject` as the generic handler's asTable fills it.
 *
 * These paths parse the stored item (the JSON list paths never do): they serve humans, not the HPA.
 */
import { asObject, type MetricsVersion } from '../../shared/metrics-api.ts';
import { formatCpu, formatMemory, parseBytes, parseCpuNanocores } from '../../shared/quantity.ts';
import type { MetaVersion } from './negotiate.ts';
import type { IncludeObject } from './query.ts';

export type MetricsKind = 'NodeMetrics' | 'PodMetrics';

/** The stored item as far as a row needs it (written by the scraper's renderer, so trusted). */
interface Item {
  metadata: { name: string };
  window: string;
  usage?: { cpu: string; memory: string };
  containers?: { usage: { cpu: string; memory: string } }[];
}

/**
 * Fixed columns. metrics-server takes the resource columns from the first item, so an empty list has no
 * columnDefinitions at all; every item here has exactly cpu and memory, so the columns are known up front,
 * which also lets a Table stream (the header is written before the first row is read) and gives an empty
 * list the same header as a full one (kubectl prints "No resources found" either way).
 */
const COLUMNS =
  '[{"name":"Name","type":"string","format":"name","description":"Name of the resource","priority":0},' +
  '{"name":"cpu","type":"string","format":"quantity","description":"","priority":0},' +
  '{"name":"memory","type":"string","format":"quantity","description":"","priority":0},' +
  '{"name":"Window","type":"string","format":"duration","description":"","priority":0}]';

/** The Table's text up to its first row; `rows` is closed by `TABLE_TAIL`. */
export function tableHead(version: MetaVersion): string {
  return `{"kind":"Table","apiVersion":"meta.k8s.io/${version}","metadata":{},"columnDefinitions":${COLUMNS},"rows":[`;
}

export const TABLE_TAIL = ']}';

function usageCells(item: Item): [string, string] {
  if (item.usage) return [item.usage.cpu, item.usage.memory];
  let cpu = 0;
  let memory = 0;
  for (const c of item.containers ?? []) {
    cpu += parseCpuNanocores(c.usage.cpu);
    memory += parseBytes(c.usage.memory);
  }
  return [formatCpu(cpu), formatMemory(memory)];
}

function partialObject(item: Item, version: MetaVersion): string {
  return `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/${version}","metadata":${JSON.stringify(item.metadata)}}`;
}

/** One Table row (meta.k8s.io `version`) for a stored list item served as metrics.k8s.io `objectVersion`. */
export function tableRow(
  kind: MetricsKind,
  text: string,
  include: IncludeObject,
  version: MetaVersion,
  objectVersion: MetricsVersion,
): string {
  const item = JSON.parse(text) as Item;
  const cells = [item.metadata.name, ...usageCells(item), item.window];
  // Go encodes a row without an object as `"object":null` (RawExtension has no omitempty effect).
  const object =
    include === 'None'
      ? 'null'
      : include === 'Object'
        ? asObject(kind, text, objectVersion)
        : partialObject(item, version);
  return `{"cells":${JSON.stringify(cells)},"object":${object}}`;
}

/** A stored list item as PartialObjectMetadata. */
export function partialObjectMetadata(text: string, version: MetaVersion): string {
  return partialObject(JSON.parse(text) as Item, version);
}
