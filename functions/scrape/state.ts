/**
 * The scraper's memory of one node between cycles (ms:state:{node}), as compact JSON: one flat array of
 * the pods' points, so that encoding and decoding allocate little (every node's state is decoded and
 * encoded every cycle, 5,000 at 5,000 nodes) and the stored text is short:
 *
 *   [2, scrapedAt, expiresAt, node | null, [namespace, pod, containerCount, container…, namespace, …]]
 *   node = [t, cpu, memory, startTime] or [t, cpu, memory, startTime, prevT, prevCpu, prevMemory, prevStart]
 *   container = name, t, cpu, memory, startTime, then null (no prev) or prevT, prevCpu, prevMemory, prevStart
 *
 * The previous format (version 1, nested tuples) is still read, so an upgrade keeps every node's history:
 *
 *   [1, scrapedAt, expiresAt, nodeSeries | null, [[namespace, pod, [[container, last, prev | null], …]], …]]
 *   series = [last, prev | null];  point = [timestamp, cpu, memory, startTime]
 *
 * A value that does not parse (another format, a corrupted write) is treated as no history: the node is
 * served again after two scrapes, exactly as after a scraper restart in metrics-server. Both directions
 * are hand-written single passes: a schema library's generic parsing cost more than the rest of the cycle.
 */
import type { ContainerState, NodeState, PodState, Point, Series } from './storage.ts';

/** A point's four numbers as JSON text (a number's JSON is its String form; a non-finite one fails decoding). */
const pointText = (p: Point): string => `${p.timestamp},${p.cpu},${p.memory},${p.startTime}`;

/**
 * A name as a JSON string. Kubernetes names (DNS labels and subdomains) need no escaping, so the common
 * case is only quoted; anything else goes through JSON.stringify.
 */
function quoted(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // a-z, 0-9, '-', '.', A-Z, '_': nothing JSON escapes.
    if (
      !(
        (c >= 97 && c <= 122) ||
        (c >= 48 && c <= 57) ||
        c === 45 ||
        c === 46 ||
        (c >= 65 && c <= 90) ||
        c === 95
      )
    )
      return JSON.stringify(name);
  }
  return `"${name}"`;
}

export function encodeState(s: NodeState): string {
  let node = 'null';
  if (s.node) node = `[${pointText(s.node.last)}${s.node.prev ? `,${pointText(s.node.prev)}` : ''}]`;
  let pods = '';
  for (const p of s.pods) {
    pods += `${pods === '' ? '' : ','}${quoted(p.namespace)},${quoted(p.name)},${p.containers.length}`;
    for (const c of p.containers) {
      const { last, prev } = c.series;
      pods += `,${quoted(c.name)},${pointText(last)},${prev ? pointText(prev) : 'null'}`;
    }
  }
  return `[2,${s.scrapedAt},${s.expiresAt},${node},[${pods}]]`;
}

/** Thrown inside decodeState when the value is not a state; never escapes it. */
class NotAState extends Error {}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function tuple(v: unknown, length: number): unknown[] {
  if (!Array.isArray(v) || v.length !== length) throw new NotAState();
  return v;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new NotAState();
  return v;
}

function num(v: unknown): number {
  if (!isNumber(v)) throw new NotAState();
  return v;
}

function point(v: unknown): Point {
  const t = tuple(v, 4);
  return { timestamp: num(t[0]), cpu: num(t[1]), memory: num(t[2]), startTime: num(t[3]) };
}

const series = (last: unknown, prev: unknown): Series => ({
  last: point(last),
  prev: prev === null ? null : point(prev),
});

/** Four numbers of a flat array from `i` as a point. */
function flatPoint(a: unknown[], i: number): Point {
  return { timestamp: num(a[i]), cpu: num(a[i + 1]), memory: num(a[i + 2]), startTime: num(a[i + 3]) };
}

function decodeV2(raw: unknown[]): NodeState {
  const nodeRaw = raw[3];
  let node: Series | null = null;
  if (nodeRaw !== null) {
    if (!Array.isArray(nodeRaw) || (nodeRaw.length !== 4 && nodeRaw.length !== 8)) throw new NotAState();
    node = { last: flatPoint(nodeRaw, 0), prev: nodeRaw.length === 8 ? flatPoint(nodeRaw, 4) : null };
  }
  const a = raw[4];
  if (!Array.isArray(a)) throw new NotAState();
  const pods: PodState[] = [];
  let i = 0;
  while (i < a.length) {
    const namespace = str(a[i]);
    const name = str(a[i + 1]);
    const count = num(a[i + 2]);
    if (!Number.isInteger(count) || count < 0 || count > a.length) throw new NotAState();
    i += 3;
    const containers: ContainerState[] = new Array(count);
    for (let j = 0; j < count; j++) {
      if (i + 6 > a.length) throw new NotAState();
      const cname = str(a[i]);
      const last = flatPoint(a, i + 1);
      i += 5;
      let prev: Point | null = null;
      if (a[i] === null) i++;
      else {
        if (i + 4 > a.length) throw new NotAState();
        prev = flatPoint(a, i);
        i += 4;
      }
      containers[j] = { name: cname, series: { last, prev } };
    }
    pods.push({ namespace, name, containers });
  }
  return { scrapedAt: num(raw[1]), expiresAt: num(raw[2]), node, pods };
}

export function decodeState(value: string | null): NodeState | null {
  if (value === null) return null;
  try {
    const raw = tuple(JSON.parse(value), 5);
    if (raw[0] === 2) return decodeV2(raw);
    if (raw[0] !== 1) return null;
    const nodeRaw = raw[3];
    let node: Series | null = null;
    if (nodeRaw !== null) {
      const n = tuple(nodeRaw, 2);
      node = series(n[0], n[1]);
    }
    const podsRaw = raw[4];
    if (!Array.isArray(podsRaw)) return null;
    const pods: PodState[] = new Array(podsRaw.length);
    for (let i = 0; i < podsRaw.length; i++) {
      const p = tuple(podsRaw[i], 3);
      const containersRaw = p[2];
      if (!Array.isArray(containersRaw)) return null;
      const containers: ContainerState[] = new Array(containersRaw.length);
      for (let j = 0; j < containersRaw.length; j++) {
        const c = tuple(containersRaw[j], 3);
        containers[j] = { name: str(c[0]), series: series(c[1], c[2]) };
      }
      pods[i] = { namespace: str(p[0]), name: str(p[1]), containers };
    }
    return { scrapedAt: num(raw[1]), expiresAt: num(raw[2]), node, pods };
  } catch {
    // Not JSON, or JSON of another shape: no history.
    return null;
  }
}
