/** The events benchmark's figures as a table for people, with the DESIGN.md target, and as JSON. */
import { type EventsFigures, SINKS } from './events-bench.ts';

const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** No backlog growth: over the window, the backlog rose by less than one second's worth of events. */
export const backlogSteady = (e: EventsFigures, sink: (typeof SINKS)[number]): boolean =>
  e.sinks[sink].backlog.slopePerSecond * e.seconds < e.rate;

export const targetMet = (e: EventsFigures): boolean =>
  SINKS.every((k) => e.sinks[k].p99Ms <= 2000 && backlogSteady(e, k) && e.sinks[k].missing === 0);

export function eventsReport(e: EventsFigures): string {
  const out = [
    `Events (${e.rate} events/s from the simulated API server for ${f(e.seconds)} s, after a warm-up; ingest ${f(e.ingestPerSecond)} events/s${e.simulatorSkipped > 0 ? `, ${e.simulatorSkipped} not written on time by the simulator` : ''})`,
  ];
  const head = [
    'sink',
    'events/s',
    'p50',
    'p99',
    'max',
    'backlog start → end (max)',
    'trend',
    'missing',
    'doubled',
  ];
  const rows = SINKS.map((k) => {
    const s = e.sinks[k];
    return [
      k,
      f(s.perSecond),
      `${f(s.p50Ms)} ms`,
      `${f(s.p99Ms)} ms`,
      `${f(s.maxMs)} ms`,
      `${s.backlog.start} → ${s.backlog.end} (${s.backlog.max})`,
      `${f(s.backlog.slopePerSecond, 1)}/s`,
      String(s.missing),
      String(s.duplicates),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  out.push(line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line));
  const c = e.cpu;
  out.push(
    `CPU per 1,000 events: function ${f(c.functionMsPer1000, 1)} ms (${f(100 * c.functionCores)} % of a core); simulated API server ${f(c.simulatorMsPer1000, 1)} ms; receivers ${f(c.receiversMsPer1000, 1)} ms; Redis ${f(c.redisMsPer1000, 1)} ms`,
    `Function RSS: ${f(e.memory.functionIdleRssMiB)} MiB before the load, ${f(e.memory.functionRssMiB)} MiB at the window's end (V8 heap ${f(e.memory.functionHeapUsedMiB)} of ${f(e.memory.functionHeapTotalMiB)} MiB used), peak ${f(e.memory.functionPeakRssMiB)} MiB`,
    `Redis: journal ${f(e.redis.journalBytesPerRecord)} B per record (${e.redis.journalRecords} held, trimmed to what every sink took every 30 s); event memory ${f(e.redis.eventMemoryBytesPerEvent)} B per event (${e.redis.eventMemoryKeys} events, kept --event-ttl + 15 min); at ${f(e.redis.newEventsPerSecond)} new events/s and the default --event-ttl of 1 h that memory holds ${f(e.redis.steadyStateEventMemoryMiBAt1h)} MiB`,
    `Target (DESIGN.md): no backlog growth and p99 ≤ 2 s at ${e.rate} events/s into stdout, webhook and Redis: ${SINKS.map((k) => `${k} p99 ${f(e.sinks[k].p99Ms)} ms, trend ${f(e.sinks[k].backlog.slopePerSecond, 1)}/s`).join('; ')} — ${mark(targetMet(e))}`,
  );
  return out.join('\n');
}

export function eventsJson(e: EventsFigures) {
  return { ...e, targetMet: targetMet(e) };
}
