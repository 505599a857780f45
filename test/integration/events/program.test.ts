/**
 * `npm run events` as a user runs it, against the simulated API server (its events-only user) and a
 * real Redis: --help, the one-line refusals of bad sinks, --once and its exit codes, and the trigger
 * server's POST / and probes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { EventRecord } from '../../../functions/events/record.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';
import { startEvents } from '../../helpers/events-program.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { idOf, kubeletEvent, schedulerEvent } from '../../helpers/sim-events.ts';

let sim: Sim;
let db: TestDb;
let dir: string;
let kubeconfig: string;
before(async () => {
  sim = await startSim({ nodes: 1, podsPerNode: 4, nodeStartupEvents: false });
  db = await leaseTestDb();
  dir = mkdtempSync(join(tmpdir(), 'events-program-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfigYaml('events'));
});
after(async () => {
  await sim.stop();
  await db.release();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => db.redis.flushdb());

const common = () => ['--kubeconfig', kubeconfig, '--redis-url', db.url];

async function run(args: string[]) {
  const p = startEvents(args);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

describe('npm run events', () => {
  test('--help prints the flags and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout[0] ?? '', /^events: /);
    assert.ok(r.stdout.some((l) => l.includes('--sink stringArray')));
  });

  const refusals: [string, string[], RegExp][] = [
    ['no sink', [], /^error: no sink: give at least one --sink/],
    [
      'an unknown sink kind',
      ['--sink', 'elastic:http://es'],
      /^error: invalid value "elastic:http:\/\/es" for --sink: unknown sink kind "elastic"/,
    ],
    [
      'a bad sink option',
      ['--sink', 'redis:?strem=x'],
      /^error: invalid value "redis:\?strem=x" for --sink: redis sink: unknown option "strem"; allowed: maxlen, password_file, stream$/,
    ],
    [
      'a missing --sink-config',
      ['--sink-config', '/no/such.yaml'],
      /^error: cannot read --sink-config \/no\/such\.yaml: /,
    ],
    [
      'a missing --kubeconfig',
      ['--sink', 'stdout', '--kubeconfig', '/no/such.kubeconfig'],
      /^error: cannot load --kubeconfig \/no\/such\.kubeconfig: ENOENT/,
    ],
  ];
  for (const [what, args, message] of refusals) {
    test(`stops at start with one line and exit 2 for ${what}`, async () => {
      const r = await run([...common(), ...args]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.length, 1, r.stderr.join('\n'));
      assert.match(r.stderr[0]!, message);
    });
  }

  test('--once writes each new event to stdout once, exits 0, and a second run replays nothing', async () => {
    const made = [sim.events.emit(schedulerEvent(sim)), sim.events.emit(kubeletEvent(sim, 'Pulled'))];
    const first = await run([...common(), '--once', '--sink', 'stdout']);
    assert.equal(first.code, 0, first.stderr.join('\n'));
    const records = first.stdout.map((l) => EventRecord.parse(JSON.parse(l)));
    assert.deepEqual(new Set(records.map((r) => r.id)), new Set(made.map(idOf)));
    assert.ok(
      first.stderr.some((l) => l.includes('Events pass finished')),
      'logs go to stderr',
    );

    const again = await run([...common(), '--once', '--sink', 'stdout']);
    assert.equal(again.code, 0);
    assert.deepEqual(again.stdout, []);

    sim.events.bump(made[1]!);
    const bump = await run([...common(), '--once', '--sink', 'stdout']);
    const [updated] = bump.stdout.map((l) => EventRecord.parse(JSON.parse(l)));
    assert.equal(updated?.verb, 'UPDATED');
    assert.equal(updated?.old_event?.metadata.resourceVersion, String(made[1]!.resourceVersion));
  });

  test('--once exits 1 when a sink is still behind, after delivering the others', async () => {
    sim.events.emit(kubeletEvent(sim, 'Created'));
    const r = await run([
      ...common(),
      '--once',
      '--sink',
      'stdout',
      '--sink',
      'redis:redis://127.0.0.1:1/0?stream=x',
    ]);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.length >= 1);
    assert.ok(
      r.stderr.some((l) => l.includes('Sink did not take the batch') && l.includes('sink="redis"')),
      r.stderr.join('\n'),
    );
  });

  test('--once exits 1 when Redis is unreachable', async () => {
    const r = await run([
      '--kubeconfig',
      kubeconfig,
      '--redis-url',
      'redis://127.0.0.1:1',
      '--once',
      '--sink',
      'stdout',
    ]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.some((l) => l.includes('Events pass failed') && l.includes('redis unavailable')));
  });

  test('without --once serves POST / (a pass, answered as JSON), the probes and /metrics', async () => {
    sim.events.emit(kubeletEvent(sim, 'Started'));
    const p = startEvents([
      ...common(),
      '--port',
      '0',
      '--bind-address',
      '127.0.0.1',
      '--sink',
      'stdout',
      '--log-format',
      'json',
    ]);
    try {
      const address = await waitFor('the server', 15_000, async () => {
        for (const l of p.stderr)
          if (l.includes('Events server listening')) return JSON.parse(l).address as string;
        return undefined;
      });
      const pass = await fetch(`${address}/`, { method: 'POST' });
      assert.equal(pass.status, 200);
      const body = (await pass.json()) as {
        ran: boolean;
        sinks: Record<string, { caughtUp: boolean; delivered: number }>;
      };
      assert.equal(body.ran, true);
      assert.equal(body.sinks.stdout?.caughtUp, true);
      assert.ok((body.sinks.stdout?.delivered ?? 0) >= 1);
      assert.ok(p.stdout.length >= 1);
      assert.equal((await fetch(`${address}/readyz`)).status, 200);
      assert.equal((await fetch(`${address}/livez`)).status, 200);
      const metrics = await (await fetch(`${address}/metrics`)).text();
      assert.match(metrics, /^events_sink_delivered_records_total\{sink="stdout"\} [1-9]/m);
      assert.match(metrics, /^events_journal_records \d+$/m);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });
});
