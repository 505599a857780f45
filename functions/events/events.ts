/**
 * The events function's composition root: from its configuration to `pass()` (--once, POST /) and
 * `loop()` (--loop), wired explicitly. One instance reads and delivers at a time (the lease); every
 * other waits: a pass answers that it did not run, a --loop instance stands by and takes over when the
 * lease is free (at once after a clean stop, within the lease duration after a crash).
 */
import type { EventsConfig } from '../../shared/config/index.ts';
import { loadKubeConfig } from '../../shared/kube.ts';
import type { Logger } from '../../shared/log.ts';
import { eventKeys, eventsScope } from '../../shared/store/keys.ts';
import { connect, createRedis, guarded, type RedisClient, redisTarget } from '../../shared/store/redis.ts';
import { SinkPositions } from './cursors.ts';
import { type DrainResult, SinkDelivery, Wake } from './delivery.ts';
import { idTime, Journal } from './journal.ts';
import { KubeEventSource } from './kube-source.ts';
import { Lease } from './lease.ts';
import { isLeaseLost } from './lua.ts';
import { EventsMetrics, type EventsStatus } from './metrics.ts';
import { type EventSource, Reader, type ReadSummary } from './reader.ts';
import type { ConfiguredSink } from './sink-config.ts';
import { sleep } from './sleep.ts';

export interface PassResult {
  /** False when another instance holds the lease (it reads and delivers; nothing was done here). */
  ran: boolean;
  /** Who holds the lease, when not this instance. */
  holder?: string;
  read: ReadSummary | null;
  /** Why reading stopped short (the API server or Redis failed); what was journaled is still delivered. */
  readError?: string;
  sinks: DrainResult[];
  /** Why the pass stopped short because this instance lost the lease (the next holder carries on). */
  leaseLost?: string;
  durationMs: number;
}

/** --once exits 0 and POST / answers 200 for this: read, and every sink has everything journaled. */
export const passSucceeded = (r: PassResult): boolean =>
  r.ran && r.readError === undefined && r.leaseLost === undefined && r.sinks.every((s) => s.caughtUp);

export interface EventsFunction {
  /** One pass: read until caught up, deliver every sink until caught up (or failing), trim. */
  pass(o?: { waitForLease?: boolean }): Promise<PassResult>;
  /** --loop until `signal` aborts: standby, or holding the lease, reading and delivering as events come. */
  loop(signal: AbortSignal): Promise<void>;
  status(): Promise<EventsStatus>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** null when Redis answers, else why not. */
  ready(): Promise<string | null>;
  /** null while the loop turns (always outside --loop), else what has stopped. */
  live(): string | null;
  close(): Promise<void>;
}

export interface EventsOptions {
  /** The API server; default: client-node with --kubeconfig. */
  source?: EventSource;
  /** Instead of a client of its own (tests). */
  redis?: RedisClient;
  lease?: { durationMs: number; renewEveryMs: number };
}

/** Failures in a row after which a pass reports a sink as behind (the next pass tries again). */
const PASS_ATTEMPTS = 3;
/** How often the holder under --loop trims the journal and forgets removed sinks. */
const MAINTAIN_EVERY_MS = 30_000;
/** A --loop turn older than this makes /livez fail: a watch lasts at most 10 min (plus client slack). */
const READER_STALL_MS = 12 * 60_000;
const LOOP_STALL_MS = 2 * 60_000;

const NEVER = new AbortController().signal;
/** While Redis is down ioredis retries forever: a pass, a probe or /metrics waits this long for it. */
const CONNECT_TIMEOUT_MS = 3000;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createEvents(
  config: EventsConfig,
  log: Logger,
  configured: readonly ConfiguredSink[],
  o: EventsOptions = {},
): EventsFunction {
  const ownRedis = o.redis === undefined;
  const redis = o.redis ?? createRedis(redisTarget(config), { commandTimeoutMs: 10_000, log });
  const keys = eventKeys(eventsScope(config.namespace));
  const journal = new Journal(redis, keys, { eventTtlMs: config.eventTtlMs });
  const positions = new SinkPositions(redis, keys);
  const leaseTimes = o.lease ?? {
    durationMs: config.leaderElectLeaseDurationMs,
    renewEveryMs: config.leaderElectLeaseDurationMs / 3,
  };
  const lease = new Lease(redis, keys.lease, { ...leaseTimes, log });
  const token = lease.token;
  const source = o.source ?? new KubeEventSource(loadKubeConfig(config.kubeconfig), config.namespace);
  const names = configured.map((c) => c.name);
  const sinks = configured.map((c) => c.create({ log: log.with({ sink: c.name }), redis }));
  const wake = new Wake();

  const status = async (): Promise<EventsStatus> =>
    guarded(async () => {
      await connect(redis, CONNECT_TIMEOUT_MS);
      const [cp, length, [oldest], states, [seconds, micros]] = await Promise.all([
        journal.checkpoint(),
        journal.length(),
        journal.after('0-0', 1),
        positions.load(names),
        redis.time(),
      ]);
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const held = oldest ? oldest.n - 1 : cp.appended;
      const perSink = await Promise.all(
        names.map(async (name) => {
          const cursor = states.get(name)!.cursor;
          const [next] = await journal.after(cursor.id, 1);
          return {
            name,
            backlog: next ? Math.max(0, cp.appended - Math.max(cursor.n, held)) : 0,
            lagSeconds: next ? Math.max(0, (now - idTime(next.id)) / 1000) : 0,
          };
        }),
      );
      return {
        checkpointAgeSeconds: cp.at === null ? null : Math.max(0, (now - cp.at) / 1000),
        journalRecords: length,
        sinks: perSink,
      };
    });

  const metrics = new EventsMetrics({ sinks: names, status });
  const reader = new Reader(source, journal, log, {
    appended: (r) => {
      metrics.journaled(r.journaled, r.duplicates, r.unchanged);
      if (r.journaled > 0) wake.notify();
    },
    relisted: () => metrics.relisted(),
  });
  const deliveries = sinks.map(
    (sink, i) =>
      new SinkDelivery({ sink, route: configured[i]!.route }, { journal, positions, log, metrics }),
  );

  const maintain = async () => {
    try {
      const r = await positions.maintain(names, config.journalMaxAgeMs, token);
      if (r.forgotten.length > 0)
        log.info('Forgot the journal positions of sinks no longer configured', { sinks: r.forgotten });
      if (r.trimmed > 0) log.debug(2, 'Trimmed the journal', { records: r.trimmed });
    } catch (err) {
      if (isLeaseLost(err)) throw err;
      log.warn('Could not trim the journal', { err: errorText(err) });
    }
  };

  // Liveness under --loop: the last turn of each loop that must keep turning (performance.now()).
  const turns = new Map<string, { at: number; stallMs: number }>();
  const turned = (loop: string, stallMs: number) => turns.set(loop, { at: performance.now(), stallMs });
  let looping = false;

  const acquire = async (wait: boolean) => {
    await guarded(() => connect(redis, CONNECT_TIMEOUT_MS));
    let a = await lease.tryAcquire();
    // The holder may be finishing a pass, or dead: its lease runs out within its duration.
    const until =
      performance.now() + (a.acquired ? 0 : Math.min(a.expiresInMs, leaseTimes.durationMs) + 2000);
    while (wait && !a.acquired && performance.now() < until) {
      await sleep(500, NEVER);
      a = await lease.tryAcquire();
    }
    return a;
  };

  /** Everything the lease holder does under --loop, until the lease is lost or `outer` aborts. */
  const lead = async (outer: AbortSignal) => {
    const inner = new AbortController();
    const signal = AbortSignal.any([outer, lease.signal, inner.signal]);
    const stop = (what: string) => (err: unknown) => {
      if (!signal.aborted) {
        if (isLeaseLost(err)) log.warn('The events lease was taken over; standing by', { in: what });
        else log.error('Events loop stopped', { in: what, err: errorText(err) });
      }
      inner.abort();
    };
    for (const d of deliveries) d.reset();
    const tasks = [
      reader
        .follow(token, signal, () => turned('reader', READER_STALL_MS), isLeaseLost)
        .catch(stop('reader')),
      ...deliveries.map((d) =>
        d.run(token, signal, config.flushIntervalMs, wake).catch(stop(`sink ${d.name}`)),
      ),
      (async () => {
        while (!signal.aborted) {
          turned('maintenance', LOOP_STALL_MS);
          await maintain();
          await sleep(MAINTAIN_EVERY_MS, signal);
        }
      })().catch(stop('maintenance')),
    ];
    await Promise.all(tasks);
    turns.delete('reader');
    turns.delete('maintenance');
  };

  /** One pass under the lease just acquired; a lost lease ends it early, said in `leaseLost`. */
  const leadPass = async (started: number): Promise<PassResult> => {
    metrics.leaseHeld(true);
    const signal = lease.signal;
    const result: PassResult = { ran: true, read: null, sinks: [], durationMs: 0 };
    try {
      for (const d of deliveries) d.reset();
      try {
        result.read = await reader.catchUp(token, signal, started + config.passTimeoutMs / 2);
      } catch (err) {
        if (isLeaseLost(err) || signal.aborted) throw err;
        result.readError = errorText(err);
        log.error('Reading events failed; delivering what is journaled', { err: result.readError });
      }
      const deadline = started + config.passTimeoutMs;
      result.sinks = await Promise.all(
        deliveries.map((d) => d.drain(token, signal, deadline, PASS_ATTEMPTS)),
      );
      if (signal.aborted) throw signal.reason;
      await maintain();
    } catch (err) {
      if (!(isLeaseLost(err) || signal.aborted)) throw err;
      result.leaseLost = errorText(signal.aborted ? signal.reason : err);
    } finally {
      await lease.release();
      metrics.leaseHeld(false);
    }
    result.durationMs = performance.now() - started;
    return result;
  };

  return {
    async pass(po = {}) {
      const started = performance.now();
      if (looping) {
        // Under --loop this process reads and delivers continuously (or stands by): a pass beside it
        // would share its lease token and end by releasing the lease the loop holds.
        log.info('Pass skipped: this instance runs --loop', {});
        return { ran: false, holder: 'this instance (--loop)', read: null, sinks: [], durationMs: 0 };
      }
      // --once waits for the lease, and takes it again if it loses it mid-pass (a pause longer than
      // the lease, Redis failing over): the fencing kept what it wrote consistent, and the next holder
      // (or this instance again) carries on from the checkpoint and the cursors.
      for (;;) {
        const a = await acquire(po.waitForLease ?? false);
        if (!a.acquired) {
          log.info('Pass skipped: another instance holds the events lease', { holder: a.holder });
          return {
            ran: false,
            holder: a.holder,
            read: null,
            sinks: [],
            durationMs: performance.now() - started,
          };
        }
        const result = await leadPass(started);
        if (
          result.leaseLost !== undefined &&
          po.waitForLease &&
          performance.now() < started + config.passTimeoutMs
        ) {
          log.warn('Lost the events lease during the pass; waiting to take it again and finish', {
            cause: result.leaseLost,
          });
          continue;
        }
        return result;
      }
    },

    async loop(signal) {
      looping = true;
      let standingBy = '';
      let redisDown = false;
      while (!signal.aborted) {
        turned('loop', LOOP_STALL_MS);
        let a: Awaited<ReturnType<typeof acquire>>;
        try {
          a = await acquire(false);
          if (redisDown) log.info('Redis answers again; trying for the events lease', {});
          redisDown = false;
        } catch (err) {
          if (!redisDown)
            log.warn('Cannot reach Redis for the events lease; retrying', { err: errorText(err) });
          redisDown = true;
          await sleep(2000, signal);
          continue;
        }
        if (!a.acquired) {
          if (standingBy !== a.holder)
            log.info('Standing by: another instance holds the events lease', { holder: a.holder });
          standingBy = a.holder;
          await sleep(Math.max(200, Math.min(2000, a.expiresInMs)), signal);
          continue;
        }
        standingBy = '';
        turns.delete('loop'); // while leading, the reader and maintenance loops are the ones that turn
        log.info('Holding the events lease: reading and delivering', { holder: token });
        metrics.leaseHeld(true);
        try {
          await lead(signal);
        } finally {
          metrics.leaseHeld(false);
          // Lost or stopping: let a standby take over at once (a no-op when it is no longer ours).
          await lease.release();
        }
      }
    },

    status,

    async metrics() {
      const { contentType, body, statusError } = await metrics.render();
      if (statusError)
        log.debug(2, 'Events status unavailable for /metrics', { err: errorText(statusError) });
      return { contentType, body };
    },

    async ready() {
      try {
        await guarded(async () => {
          await connect(redis, CONNECT_TIMEOUT_MS);
          await redis.ping();
        });
        return null;
      } catch (err) {
        return errorText(err);
      }
    },

    live() {
      if (!looping) return null;
      const now = performance.now();
      for (const [loop, t] of turns) {
        if (now - t.at > t.stallMs)
          return `the ${loop} loop has not turned for ${Math.round((now - t.at) / 1000)}s`;
      }
      return null;
    },

    async close() {
      await lease.release();
      await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
      if (source instanceof KubeEventSource) source.close();
      if (ownRedis) redis.disconnect();
    },
  };
}
