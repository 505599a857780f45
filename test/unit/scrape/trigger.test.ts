/**
 * The scraper's triggers (trigger.ts) beside a fake cycle: what a trigger answers and logs when it runs
 * or is skipped, and what it does next (a standby's look when another instance's lease ends; under
 * --loop, the next due time).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CycleResult, CycleSkip } from '../../../functions/scrape/cycle.ts';
import { createTrigger, createTriggerApp, triggerAnswer } from '../../../functions/scrape/trigger.ts';
import { createLogger } from '../../../shared/log.ts';
import { waitFor } from '../../../sim/processes.ts';

const T = Date.UTC(2026, 10, 25, 14, 0, 0);
const RESOLUTION = 60_000;

const ran: CycleResult = {
  ran: true,
  skipped: null,
  start: T,
  nextDue: T + RESOLUTION,
  nextDueInMs: RESOLUTION - 1200,
  wakeInMs: RESOLUTION - 1200,
  nodes: 3,
  scraped: 3,
  failed: [],
  points: { nodes: 3, pods: 12, containers: 20 },
  durationMs: 1200.4,
};

function skipped(reason: CycleSkip['reason'], wakeInMs = 42_000): CycleResult {
  return {
    ...ran,
    ran: false,
    start: 0,
    nodes: 0,
    scraped: 0,
    points: { nodes: 0, pods: 0, containers: 0 },
    durationMs: 3,
    nextDueInMs: 42_000,
    wakeInMs,
    skipped: {
      reason,
      by: 'scraper-7d9f/1',
      started: T,
      until: reason === 'done' ? T + 1200 : T + 5000,
      state: reason === 'done' ? 'done' : 'running',
    },
  };
}

describe('what a trigger answers', () => {
  test('a cycle that ran: `ran`, its start, figures and next due time', () => {
    assert.deepEqual(triggerAnswer(ran), {
      result: 'ran',
      started: '2026-11-25T14:00:00.000Z',
      nodes: 3,
      scraped: 3,
      failed: [],
      points: { nodes: 3, pods: 12, containers: 20 },
      durationMs: 1200,
      nextDue: '2026-11-25T14:01:00.000Z',
    });
  });

  test('a skipped trigger: `skipped`, who ran the cycle due and when, and when the next is due', () => {
    assert.deepEqual(triggerAnswer(skipped('done')), {
      result: 'skipped',
      reason: 'already-run',
      holder: 'scraper-7d9f/1',
      started: '2026-11-25T14:00:00.000Z',
      ended: '2026-11-25T14:00:01.200Z',
      state: 'done',
      nextDue: '2026-11-25T14:01:00.000Z',
      nextDueInSeconds: 42,
    });
    assert.deepEqual(triggerAnswer(skipped('running')), {
      result: 'skipped',
      reason: 'in-progress',
      holder: 'scraper-7d9f/1',
      started: '2026-11-25T14:00:00.000Z',
      leaseUntil: '2026-11-25T14:00:05.000Z',
      nextDue: '2026-11-25T14:01:00.000Z',
      nextDueInSeconds: 42,
    });
  });

  test('POST / answers the JSON with 200 when skipped, and one info line says so', async () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    const trigger = createTrigger(async () => skipped('done'), log, {
      loop: false,
      resolutionMs: RESOLUTION,
    });
    const app = createTriggerApp(trigger, log, null);
    const res = await app.request('/', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), triggerAnswer(skipped('done')));
    assert.deepEqual(
      lines.map((l) => l.replace(/^I\d{4} [\d:.]+\] /, '')),
      [
        '"Scrape cycle skipped: the cycle due has already run" holder="scraper-7d9f/1" started="2026-11-25T14:00:00.000Z" ' +
          'ended="2026-11-25T14:00:01.200Z" state="done" nextDue="2026-11-25T14:01:00.000Z" nextDueInSeconds=42',
      ],
    );
  });
});

describe('what a trigger does next', () => {
  test('told another instance’s cycle is in progress, it looks again when that lease ends (a standby’s look, logged at --v=1)', async () => {
    const lines: string[] = [];
    const answers = [skipped('running', 30), skipped('running', 30), ran];
    let calls = 0;
    const trigger = createTrigger(
      async () => {
        calls++;
        return answers.shift() ?? skipped('done');
      },
      createLogger({ write: (l) => lines.push(l) }),
      { loop: false, resolutionMs: RESOLUTION },
    );
    try {
      assert.equal((await trigger.run('http')).ran, false);
      await waitFor('the standby to run the cycle', 5000, async () => answers.length === 0);
      // After a cycle that ran, a trigger-only server waits for the next trigger: nothing more.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(calls, 3);
      assert.equal(lines.filter((l) => l.includes('another instance is running the cycle')).length, 1);
    } finally {
      trigger.stop();
    }
  });

  test('under --loop it ticks again at the next due time; stop() ends the ticking', async () => {
    let calls = 0;
    const trigger = createTrigger(
      async () => {
        calls++;
        return { ...ran, wakeInMs: 20 };
      },
      createLogger({ write: () => {} }),
      { loop: true, resolutionMs: RESOLUTION },
    );
    trigger.start();
    await waitFor('three ticks', 5000, async () => calls >= 3);
    trigger.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(calls <= after + 1, 'at most the tick in flight');
  });

  test('concurrent triggers in one process share the cycle in flight', async () => {
    let calls = 0;
    const trigger = createTrigger(
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 20));
        return ran;
      },
      createLogger({ write: () => {} }),
      { loop: false, resolutionMs: RESOLUTION },
    );
    const [a, b] = await Promise.all([trigger.run('http'), trigger.run('http')]);
    assert.equal(a, b);
    assert.equal(calls, 1);
  });
});
