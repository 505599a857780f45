/**
 * The events function under the worst a platform does (issue 10.7): `npm run events -- --loop` killed
 * with SIGKILL again and again while the simulated cluster writes a steady stream of events (new ones,
 * count and series.count bumps), and started again each time. Half the kills land while a webhook
 * batch is in flight (the receiver answers slowly and the test kills the process as the request
 * arrives, before the answer); the others at random moments. Afterwards every event version the
 * simulator wrote has reached every sink; the redis sink holds each once, in order; every redelivery to
 * the webhook is the same batch under the same Idempotency-Key, and each batch cut off in flight is the
 * first thing the next process sends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventRecord } from '../../functions/events/record.ts';
import { waitFor } from '../../sim/processes.ts';
import type { EventsProgram } from '../helpers/events-program.ts';
import { type Recorded, startRecorder } from '../helpers/http-recorder.ts';
import { printed, startEventsCluster, waitForAll } from './events-harness.ts';

const KILLS = 8;

interface Request {
  key: string;
  ids: string[];
  /** performance.now() when it arrived. */
  at: number;
}

test('SIGKILL at random moments during a steady stream loses nothing, and every redelivery carries the same ids and key', {
  timeout: 300_000,
}, async (t) => {
  const c = await startEventsCluster();
  const requests: Request[] = [];
  /** When set, the next webhook request kills the process that sent it (before it is answered). */
  let killOnArrival: ((r: Request) => void) | null = null;
  const hook = await startRecorder(async (r: Recorded) => {
    const req: Request = {
      key: String(r.headers['idempotency-key']),
      ids: (JSON.parse(r.body) as EventRecord[]).map((x) => x.id),
      at: performance.now(),
    };
    requests.push(req);
    const kill = killOnArrival;
    killOnArrival = null;
    kill?.(req);
    // A slow receiver: a batch stays in flight long enough for a kill to land in it.
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 300));
    return { status: 200 };
  });
  const args = [
    '--loop',
    '--flush-interval',
    '100ms',
    '--sink',
    'stdout',
    '--sink',
    'redis:?stream=delivered',
    '--sink',
    `webhook:${hook.url}/events?max_batch=25&timeout=5s`,
  ];
  const runs: { program: EventsProgram; startedAt: number; killed: boolean }[] = [];
  const start = () => {
    runs.push({ program: c.start(...args), startedAt: performance.now(), killed: false });
    return runs.at(-1)!;
  };
  /** Batches cut off in flight, and the run that came after each. */
  const cutOff: { batch: Request; next: number }[] = [];
  const kills: string[] = [];
  try {
    let current = start();
    // Streamed only once the first run has a checkpoint: everything after it reaches it by watch.
    await waitFor('the first checkpoint', 30_000, async () => (await c.checkpoint()) !== null);
    const load = c.sim.startEventLoad(40);
    try {
      for (let k = 0; k < KILLS; k++) {
        const run = current;
        if (k % 2 === 0) {
          const cut = await new Promise<Request>((resolve) => {
            killOnArrival = (r) => {
              run.program.child.kill('SIGKILL');
              resolve(r);
            };
          });
          kills.push(`in flight (${cut.ids.length} records)`);
          cutOff.push({ batch: cut, next: runs.length });
        } else {
          const delay = 300 + Math.floor(Math.random() * 2500);
          await new Promise((resolve) => setTimeout(resolve, delay));
          run.program.child.kill('SIGKILL');
          kills.push(`after ${delay} ms`);
        }
        run.killed = true;
        await run.program.exited;
        current = start();
      }
    } finally {
      load.stop();
    }
    const context = `kills: ${kills.join(', ')}; ${c.versions.length} versions`;
    const all = () => c.versions.map((v) => v.id);
    const webhookIds = () => requests.flatMap((r) => r.ids);
    const everything = async (what: string, got: () => Promise<Iterable<string>> | Iterable<string>) => {
      try {
        await waitForAll(`${what} (${context})`, all, got, 120_000);
      } catch (err) {
        // Which versions are missing, and what the last run said, to tell why.
        const have = new Set(await got());
        const missing = all().filter((id) => !have.has(id));
        const { child } = current.program;
        const state =
          child.exitCode === null && child.signalCode === null
            ? 'running'
            : `exited ${child.exitCode ?? child.signalCode}`;
        const log = `(${state})\n${current.program.stderr.slice(-40).join('\n')}`;
        throw new Error(
          `${(err as Error).message}: ${missing.length} missing, first ${missing.slice(0, 3).join(' ')}; the last run's log:\n${log}`,
        );
      }
    };
    await everything('the redis sink', () => c.streamIds('delivered'));
    await everything('the webhook', webhookIds);
    await everything('stdout', () => runs.flatMap((r) => printed(r.program, true).map((x) => x.id)));
    assert.equal(await current.program.stop(), 0);

    // Journaled once, delivered once to the sink that deduplicates, in the order they happened.
    const journal = await c.journalIds();
    assert.equal(new Set(journal).size, journal.length, `the journal doubled nothing (${context})`);
    assert.deepEqual(
      await c.streamIds('delivered'),
      all(),
      `the redis sink: every version once, in order (${context})`,
    );

    // The webhook: a batch is always cut the same way; a key always names the same records.
    const byKey = new Map<string, string>();
    const batchOfId = new Map<string, string>();
    for (const r of requests) {
      const ids = r.ids.join(' ');
      assert.equal(byKey.get(r.key) ?? ids, ids, `Idempotency-Key ${r.key} always carries the same records`);
      byKey.set(r.key, ids);
      for (const id of r.ids) {
        assert.equal(batchOfId.get(id) ?? r.key, r.key, `${id} is always sent in the same batch`);
        batchOfId.set(id, r.key);
      }
    }
    const redelivered = requests.length - byKey.size;
    assert.ok(redelivered >= cutOff.length, `${redelivered} redeliveries (${context})`);
    t.diagnostic(`${context}; ${requests.length} webhook requests, ${redelivered} of them redeliveries`);
    // What a kill cut off in flight is the first thing the next process sends: the same key, the same ids.
    for (const { batch, next } of cutOff) {
      const first = requests.find((r) => r.at > runs[next]!.startedAt);
      assert.deepEqual(
        first && [first.key, first.ids],
        [batch.key, batch.ids],
        `after the kill in flight (${context})`,
      );
    }

    // stdout cannot deduplicate: a record printed again is the same record, with the same id.
    const lines = new Map<string, string>();
    for (const run of runs) {
      for (const r of printed(run.program, run.killed)) {
        const line = JSON.stringify(r);
        assert.equal(lines.get(r.id) ?? line, line, `${r.id} printed again the same`);
        lines.set(r.id, line);
      }
    }
    const updated = [...lines.values()]
      .map((l) => JSON.parse(l) as EventRecord)
      .filter((r) => r.verb === 'UPDATED');
    assert.ok(
      updated.length > 0 && updated.every((r) => r.old_event !== null),
      'bumps came as UPDATED with old_event',
    );
  } finally {
    await hook.close();
    await c.stop();
  }
});
