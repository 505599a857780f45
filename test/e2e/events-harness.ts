/**
 * The events function end to end: the simulated cluster's API server (sim/, over HTTPS, the events-only
 * user), a private Redis database, `npm run events` as child processes, and what every sink received.
 * The truth is the simulator's own: every event version it wrote (ADDED or MODIFIED, uid and
 * resourceVersion), in resourceVersion order, read from the history behind its watches.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventRecord } from '../../functions/events/record.ts';
import { eventKeys, eventsScope } from '../../shared/store/keys.ts';
import { EVENTS, type SimEvent } from '../../sim/events.ts';
import { type Sim, startSim } from '../../sim/index.ts';
import { waitFor } from '../../sim/processes.ts';
import { type EventsProgram, startEvents } from '../helpers/events-program.ts';
import { leaseTestDb, type TestDb } from '../helpers/redis.ts';

/** One event version the API server wrote. */
export interface Version {
  /** `<uid>/<resourceVersion>`: the record id it must reach the sinks as. */
  id: string;
  uid: string;
  rv: string;
  /** The previous version's id (null for the event's first): the record's old_event. */
  previous: string | null;
}

export interface EventsCluster {
  sim: Sim;
  db: TestDb;
  /** Every event version written since the start, in resourceVersion order (deletions are not versions). */
  versions: Version[];
  /** The flags every run gets (kubeconfig of the events user, Redis, a free port, a 4 s lease: short for quick take-overs, long enough for a loaded machine), then `extra`. */
  args(...extra: string[]): string[];
  /** `npm run events -- args(...extra)`, stopped (SIGTERM) at the end unless already ended. */
  start(...extra: string[]): EventsProgram;
  /** `npm run events -- --once …` to its end. */
  once(...extra: string[]): Promise<EventsProgram & { code: number | NodeJS.Signals }>;
  /** The record ids in a redis sink's stream, in stream order. */
  streamIds(stream: string): Promise<string[]>;
  /** The record ids of the journal, in order. */
  journalIds(): Promise<string[]>;
  /** The resourceVersion checkpoint in Redis, or null before the first read. */
  checkpoint(): Promise<string | null>;
  stop(): Promise<void>;
}

export async function startEventsCluster(): Promise<EventsCluster> {
  // No events before the function first reads: everything it must deliver is in `versions`.
  const sim = await startSim({ nodes: 2, podsPerNode: 6, nodeStartupEvents: false });
  const db = await leaseTestDb();
  const dir = await mkdtemp(join(tmpdir(), 'ms-events-e2e-'));
  const kubeconfig = join(dir, 'events.kubeconfig');
  await sim.writeKubeconfig(kubeconfig, 'events');
  const versions: Version[] = [];
  const lastOf = new Map<string, string>();
  const unsubscribe = sim.history.subscribe(EVENTS, (c) => {
    if (c.type === 'DELETED') return;
    const e = c.object as SimEvent;
    const id = `${e.uid}/${e.resourceVersion}`;
    versions.push({ id, uid: e.uid, rv: String(e.resourceVersion), previous: lastOf.get(e.uid) ?? null });
    lastOf.set(e.uid, id);
  });
  const keys = eventKeys(eventsScope(''));
  const programs: EventsProgram[] = [];
  const args = (...extra: string[]) => [
    '--kubeconfig',
    kubeconfig,
    '--redis-url',
    db.url,
    '--port',
    '0',
    '--bind-address',
    '127.0.0.1',
    '--leader-elect-lease-duration',
    '4s',
    ...extra,
  ];
  const start = (...extra: string[]) => {
    const p = startEvents(args(...extra));
    programs.push(p);
    return p;
  };
  return {
    sim,
    db,
    versions,
    args,
    start,
    async once(...extra) {
      const p = start('--once', ...extra);
      return { ...p, code: await p.exited };
    },
    async streamIds(stream) {
      return ((await db.redis.xrange(stream, '-', '+')) as [string, string[]][]).map(
        ([, f]) => f[f.indexOf('id') + 1]!,
      );
    },
    async journalIds() {
      return ((await db.redis.xrange(keys.journal, '-', '+')) as [string, string[]][]).map(
        ([, f]) => (JSON.parse(f[f.indexOf('r') + 1]!) as { id: string }).id,
      );
    },
    async checkpoint() {
      return db.redis.hget(keys.checkpoint, 'rv');
    },
    async stop() {
      unsubscribe();
      await Promise.all(programs.map((p) => p.stop()));
      await sim.stop();
      await db.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The records a program printed (the stdout sink), in order. Only the very last line of a process that
 * was killed may be cut off mid-write; any other line that is not a record throws.
 */
export function printed(p: EventsProgram, killed = false): EventRecord[] {
  const out: EventRecord[] = [];
  p.stdout.forEach((line, i) => {
    try {
      out.push(EventRecord.parse(JSON.parse(line)));
    } catch (err) {
      if (!(killed && i === p.stdout.length - 1))
        throw new Error(`stdout line ${i + 1} is not a record: ${line.slice(0, 200)}: ${String(err)}`);
    }
  });
  return out;
}

/** The address of a program's HTTP server (probes, /metrics), from its log line. */
export function serverAddress(p: EventsProgram): Promise<string> {
  return waitFor('the events server', 20_000, async () => {
    for (const l of p.stderr) {
      const m = /"Events server listening" address="([^"]+)"/.exec(l);
      if (m) return m[1]!;
    }
    return undefined;
  });
}

/** One sample of a program's /metrics, e.g. `events_relists_total` or `events_skipped_versions_total{reason="duplicate"}`. */
export async function metric(address: string, name: string): Promise<number> {
  const body = await (await fetch(`${address}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** Waits until every id of `want` is in what `got()` returns. */
export function waitForAll(
  what: string,
  want: () => readonly string[],
  got: () => Promise<Iterable<string>> | Iterable<string>,
  timeoutMs = 60_000,
): Promise<true> {
  return waitFor(
    what,
    timeoutMs,
    async () => {
      const have = new Set(await got());
      return want().every((id) => have.has(id));
    },
    100,
  );
}

/** The log lines of a program that mention `text`. */
export const logged = (p: EventsProgram, text: string): string[] => p.stderr.filter((l) => l.includes(text));
