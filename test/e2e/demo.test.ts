/**
 * `npm start` as a newcomer runs it: the demo prints the kubectl line, that line works, the events
 * function prints every Event kubectl lists as one `[events]` record line, Ctrl-C stops everything;
 * without a Redis at --redis-url it starts a private one, and without redis-server it says how to get one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EventRecord } from '../../functions/events/record.ts';
import { freePort, redisAnswers, waitFor } from '../../sim/processes.ts';
import { leaseTestDb } from '../helpers/redis.ts';
import { run } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function startDemo(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['sim/demo.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  for (const s of [child.stdout, child.stderr]) s.on('data', (d: Buffer) => out.push(d.toString()));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return { child, text: () => out.join(''), exited };
}

/** The events function's records among the demo's lines (`[events] {…}`), in the order printed. */
function eventRecords(text: string): EventRecord[] {
  return [...text.matchAll(/^\[events\] (\{.*\})$/gm)].map((m) => EventRecord.parse(JSON.parse(m[1]!)));
}

/**
 * Every Event the demo's API server holds (as `kubectl get events -A` lists them) reaches the events
 * function's stdout sink, each version once; the nodes' start-up is among them.
 */
async function everyEventPrinted(text: () => string): Promise<void> {
  const eventsLine = /^\s+(kubectl --kubeconfig \S+ get events -A)$/m.exec(text())?.[1];
  assert.ok(eventsLine, text());
  const listed = await run('kubectl', [...eventsLine.split(' ').slice(1), '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  const versions = (
    JSON.parse(listed.stdout) as { items: { metadata: { uid: string; resourceVersion: string } }[] }
  ).items.map((e) => `${e.metadata.uid}/${e.metadata.resourceVersion}`);
  assert.ok(versions.length > 0);
  await waitFor('every listed Event among the [events] lines', 30_000, async () => {
    const printed = new Set(eventRecords(text()).map((r) => r.id));
    return versions.every((v) => printed.has(v));
  });
  const records = eventRecords(text());
  assert.equal(new Set(records.map((r) => r.id)).size, records.length, 'no record printed twice');
  const shown = records.map((r) => r.event as { reason?: string; involvedObject?: { name?: string } });
  assert.ok(shown.some((e) => e.reason === 'Starting' && e.involvedObject?.name === 'sim-node-0001'));
}

test('npm start: the printed kubectl line works; the events function prints each Event once; without Redis it brings its own; Ctrl-C stops everything', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ms-demo-'));
  const nobody = `redis://127.0.0.1:${await freePort()}`;
  const demo = startDemo([
    '--nodes=2',
    '--pods-per-node=3',
    '--metric-resolution=10s',
    `--dir=${dir}`,
    `--redis-url=${nobody}`,
  ]);
  try {
    await waitFor(
      'metrics to be served',
      60_000,
      async () => /Metrics for 2 nodes are served/.test(demo.text()),
      200,
    ).catch((err: Error) => {
      // What the demo printed says why (its Redis, the simulator, a function that exited).
      throw new Error(`${err.message}; the demo printed:\n${demo.text().slice(-4000)}`);
    });
    const text = demo.text();
    const line = /^\s+(kubectl --kubeconfig \S+ top nodes)$/m.exec(text)?.[1];
    assert.ok(line, text);
    const using = /using="(redis:\/\/127\.0\.0\.1:\d+)"/.exec(text)?.[1];
    assert.ok(using && using !== nobody, `a private redis-server was started: ${text}`);
    const top = await run('kubectl', line.split(' ').slice(1));
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /^NAME\s+CPU\(cores\)/);
    assert.match(top.stdout, /sim-node-0001\s+\d+m\s+\d+%/);
    assert.match(top.stdout, /sim-node-0002\s+\d+m\s+\d+%/);
    const eventsLine = /^\s+(kubectl --kubeconfig \S+ get events -A)$/m.exec(text)?.[1];
    assert.ok(eventsLine, text);
    const events = await run('kubectl', eventsLine.split(' ').slice(1));
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
    assert.match(events.stdout, /\sNormal\s+Starting\s+node\/sim-node-0001\s+Starting kubelet\./);
    assert.match(events.stdout, /\sWarning\s+FailedScheduling\s+pod\/batch-import-/, 'the cluster lives');

    await everyEventPrinted(demo.text);
    assert.match(text, /^\[events\] .*"Holding the events lease/m, 'its logs are prefixed too');

    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 0);
    assert.equal(await redisAnswers(using), false, 'the private redis-server is stopped');
    const after = await run('kubectl', line.split(' ').slice(1));
    assert.notEqual(after.code, 0, 'the simulated API server is gone');
  } finally {
    demo.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test("npm start again with the same Redis: the events function shows the new cluster's Events, not the last one's", async () => {
  const db = await leaseTestDb();
  const dirs: string[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'ms-demo-'));
      dirs.push(dir);
      const demo = startDemo(['--nodes=2', '--pods-per-node=3', `--dir=${dir}`, `--redis-url=${db.url}`]);
      try {
        await waitFor('the demo', 60_000, async () => /The demo cluster is up/.test(demo.text()), 200);
        await everyEventPrinted(demo.text);
        demo.child.kill('SIGINT');
        assert.equal(await demo.exited, 0, demo.text());
      } finally {
        demo.child.kill('SIGKILL');
      }
    }
  } finally {
    await db.release();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});

test('npm start without any Redis and without redis-server installed: one line says how to get one', async () => {
  const nobody = `redis://127.0.0.1:${await freePort()}`;
  const dir = join(await mkdtemp(join(tmpdir(), 'ms-demo-')), 'not-created');
  const demo = startDemo([`--redis-url=${nobody}`, `--dir=${dir}`], { PATH: '/nonexistent' });
  assert.equal(await demo.exited, 1);
  assert.equal(existsSync(dir), false, 'nothing was written');
  const lines = demo.text().trim().split('\n');
  assert.equal(lines.length, 1, demo.text());
  assert.match(
    lines[0]!,
    /^error: no Redis answers at redis:\/\/127\.0\.0\.1:\d+ and redis-server is not installed: install it/,
  );
});
