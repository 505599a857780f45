/**
 * The scraper's memory of one node between cycles (ms:state:{node}), as compact JSON tuples:
 *
 *   [1, scrapedAt, expiresAt, nodeSeries | null, [[namespace, pod, [[container, last, prev | null], …]], …]]
 *   series = [last, prev | null];  point = [timestamp, cpu, memory, startTime]
 *
 * A value that does not parse (an older format, a corrupted write) is treated as no history: the node is
 * served again after two scrapes, exactly as after a scraper restart in metrics-server.
 *
 * Every node's state is decoded and encoded every cycle (5,000 at 5,000 nodes), so both are hand-written
 * single passes: a schema library's generic tuple parsing cost more than the rest of the cycle's work.
 */
import type { ContainerState, NodeState, PodState, Point, Series } from './storage.ts';

type PointTuple = [timestamp: number, cpu: number, memory: number, startTime: number];

const toTuple = (p: Point): PointTuple => [p.timestamp, p.cpu, p.memory, p.startTime];

export function encodeState(s: NodeState): string {
  return JSON.stringify([
    1,
    s.scrapedAt,
    s.expiresAt,
    s.node ? [toTuple(s.node.last), s.node.prev ? toTuple(s.node.prev) : null] : null,
    s.pods.map((p) => [
      p.namespace,
      p.name,
      p.containers.map((c) => [
        c.name,
        toTuple(c.series.last),
        c.series.prev ? toTuple(c.series.prev) : null,
      ]),
    ]),
  ]);
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

export function decodeState(value: string | null): NodeState | null {
  if (value === null) return null;
  try {
    const raw = tuple(JSON.parse(value), 5);
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
