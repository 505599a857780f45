/**
 * The promise under the worst a platform does: `npm run events -- --loop` killed with SIGKILL at random
 * moments while events stream in (new ones and count bumps), and started again each time. Afterwards
 * the journal holds every event version once; the redis sink's stream holds every record once, in
 * journal order; the stdout sink (which cannot deduplicate) printed every record at least once, and a
 * record printed twice was the same record both times. Real Redis, the real program, the Events
 * endpoint of test/helpers/events-api.ts over HTTPS.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EventRecord } from '../../../functions/events/record.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { waitFor } from '../../../sim/processes.ts';
import { EventStore, type EventsApi, type Obj, serveEventsApi } from '../../helpers/events-api.ts';
import { type EventsProgram, startEvents } from '../../helpers/events-program.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let store: EventStore;
let api: EventsApi;
let db: TestDb;
let dir: string;
before(async () => {
  store = new EventStore();
  api = await serveEventsApi(store);
  db = await leaseTestDb();
  dir = mkdtempSync(join(tmpdir(), 'events-sigkill-'));
  writeFileSync(join(dir, 'kubeconfig'), api.kubeconfigYaml);
});
after(async () => {
  await api.close();
  await db.release();
  rmSync(dir, { recursive: true, force: true });
});

const KILLS = 6;
const idOf = (e: Obj) => `${e.metadata.uid}/${e.metadata.resourceVersion}`;

test('SIGKILL at random moments during a steady stream loses nothing and doubles nothing', {
  timeout: 180_000,
}, async () => {
  const args = [
    '--kubeconfig',
    join(dir, 'kubeconfig'),
    '--redis-url',
    db.url,
    '--loop',
    '--sink',
    'stdout',
    '--sink',
    'redis:?stream=delivered',
    '--flush-interval',
    '50ms',
    '--leader-elect-lease-duration',
    '2s',
    '--port',
    '0',
    '--bind-address',
    '127.0.0.1',
  ];
  const runs: { program: EventsProgram; killed: boolean }[] = [];
  const start = () => {
    const program = startEvents(args);
    runs.push({ program, killed: false });
    return program;
  };

  // Every version the API server ever had, in resourceVersion order: what must reach every sink.
  const versions: string[] = [];
  const live: string[] = [];
  let current = start();
  // A first LIST only has each event's latest version: the stream starts once the first run has a checkpoint.
  const keys = eventKeys(eventsScope(''));
  await waitFor(
    'the first checkpoint',
    30_000,
    async () => (await db.redis.hget(keys.checkpoint, 'rv')) !== null,
  );
  const stream = setInterval(() => {
    if (live.length > 0 && Math.random() < 0.3) {
      const uid = live[Math.floor(Math.random() * live.length)]!;
      versions.push(idOf(store.bump(uid)));
    } else {
      const e = store.add({
        reason: Math.random() < 0.5 ? 'BackOff' : 'Pulled',
        newStyle: Math.random() < 0.3,
      });
      live.push(e.metadata.uid);
      versions.push(idOf(e));
    }
  }, 15);

  const delays: number[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const delay = 300 + Math.floor(Math.random() * 2500);
      delays.push(delay);
      await new Promise((r) => setTimeout(r, delay));
      current.child.kill('SIGKILL');
      runs.at(-1)!.killed = true;
      await current.exited;
      current = start();
    }
  } finally {
    clearInterval(stream);
  }

  const delivered = async () =>
    ((await db.redis.xrange('delivered', '-', '+')) as [string, string[]][]).map(
      ([, f]) => f[f.indexOf('id') + 1]!,
    );
  try {
    await waitFor(
      `every version in the redis sink (kills after ${delays.join(', ')} ms)`,
      60_000,
      async () => {
        const got = await delivered();
        return got.length >= versions.length && new Set(got).size >= versions.length;
      },
      200,
    );
    // Let the stdout sink finish its last batch too.
    await waitFor('stdout to catch up', 30_000, async () => {
      const seen = new Set(runs.flatMap((r) => r.program.stdout));
      return [...seen].some((l) => l.includes(versions.at(-1)!));
    });
  } catch (err) {
    const got = await delivered();
    const missing = versions.filter((v) => !got.includes(v));
    process.stderr.write(
      `missing ${missing.length} of ${versions.length}: ${missing.slice(0, 5).join(' ')}\n`,
    );
    process.stderr.write(`${runs.at(-1)!.program.stderr.slice(-40).join('\n')}\n`);
    throw err;
  } finally {
    await current.stop();
  }

  const context = `kills after ${delays.join(', ')} ms; ${versions.length} versions`;
  const journal = ((await db.redis.xrange(keys.journal, '-', '+')) as [string, string[]][]).map(
    ([, f]) => (JSON.parse(f[f.indexOf('r') + 1]!) as { id: string }).id,
  );
  // The journal may be trimmed to what both sinks acknowledged; what it holds, it holds once.
  assert.equal(new Set(journal).size, journal.length, `the journal doubled nothing (${context})`);

  const inRedis = await delivered();
  assert.deepEqual(inRedis, versions, `the redis sink got every version once, in order (${context})`);

  const printed = new Map<string, string>();
  for (const run of runs) {
    run.program.stdout.forEach((line, i) => {
      let id: string;
      try {
        id = EventRecord.parse(JSON.parse(line)).id;
      } catch (err) {
        // Only the very last line of a killed process may be cut off mid-write.
        assert.ok(
          run.killed && i === run.program.stdout.length - 1,
          `a broken stdout line ${line}: ${String(err)}`,
        );
        return;
      }
      const before = printed.get(id);
      if (before !== undefined)
        assert.equal(line, before, `a record printed again is the same record (${id})`);
      printed.set(id, line);
    });
  }
  for (const v of versions) assert.ok(printed.has(v), `stdout printed ${v} (${context})`);
  const updated = [...printed.values()]
    .map((l) => JSON.parse(l) as EventRecord)
    .filter((r) => r.verb === 'UPDATED');
  assert.ok(
    updated.length > 0 && updated.every((r) => r.old_event !== null),
    'count bumps came as UPDATED with old_event',
  );
});
