/**
 * The scraper's memory of one node between cycles (ms:state:{node}), as compact JSON tuples:
 *
 *   [1, scrapedAt, expiresAt, nodeSeries | null, [[namespace, pod, [[container, last, prev | null], …]], …]]
 *   series = [last, prev | null];  point = [timestamp, cpu, memory, startTime]
 *
 * A value that does not parse (an older format, a corrupted write) is treated as no history: the node is
 * served again after two scrapes, exactly as after a scraper restart in metrics-server.
 */
import { z } from 'zod';
import type { NodeState, Point, Series } from './storage.ts';

const PointT = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const SeriesT = z.tuple([PointT, PointT.nullable()]);
const StateT = z.tuple([
  z.literal(1),
  z.number(),
  z.number(),
  SeriesT.nullable(),
  z.array(z.tuple([z.string(), z.string(), z.array(z.tuple([z.string(), PointT, PointT.nullable()]))])),
]);

type PointTuple = z.infer<typeof PointT>;

const toTuple = (p: Point): PointTuple => [p.timestamp, p.cpu, p.memory, p.startTime];
const fromTuple = (t: PointTuple): Point => ({ timestamp: t[0], cpu: t[1], memory: t[2], startTime: t[3] });
const seriesOf = (last: PointTuple, prev: PointTuple | null): Series => ({
  last: fromTuple(last),
  prev: prev === null ? null : fromTuple(prev),
});

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

export function decodeState(value: string | null): NodeState | null {
  if (value === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return null;
  }
  const r = StateT.safeParse(raw);
  if (!r.success) return null;
  const [, scrapedAt, expiresAt, node, pods] = r.data;
  return {
    scrapedAt,
    expiresAt,
    node: node ? seriesOf(node[0], node[1]) : null,
    pods: pods.map(([namespace, name, containers]) => ({
      namespace,
      name,
      containers: containers.map(([cname, last, prev]) => ({ name: cname, series: seriesOf(last, prev) })),
    })),
  };
}
