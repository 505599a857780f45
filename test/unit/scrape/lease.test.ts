/**
 * The runner's side of a cycle's lease (lease.ts) beside a fake store: renewed every fifth of the lease
 * while the cycle works; lost (aborting the cycle) only when Redis says another instance holds it;
 * confirmed before publishing; ended once, and never after it was lost.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CycleLease, LeaseLostError, type LeaseStore } from '../../../functions/scrape/lease.ts';
import { createLogger } from '../../../shared/log.ts';
import type { CycleRenewal } from '../../../shared/store/writer.ts';
import { waitFor } from '../../../sim/processes.ts';

const LEASE = 150;

function fakeStore(answer: () => Promise<CycleRenewal>) {
  const renewals: number[] = [];
  const ends: string[] = [];
  const store: LeaseStore = {
    renewCycle: async (start, holder, leaseMs) => {
      assert.deepEqual([start, holder, leaseMs], [1000, 'me', LEASE]);
      renewals.push(performance.now());
      return answer();
    },
    endCycle: async (_start, _holder, state) => {
      ends.push(state);
      return true;
    },
  };
  return { store, renewals, ends };
}

const lease = (store: LeaseStore) =>
  new CycleLease(
    store,
    { start: 1000, holder: 'me', leaseMs: LEASE, resolutionMs: 60_000 },
    createLogger({ write: () => {} }),
  );

describe('a cycle lease', () => {
  test('is renewed about every fifth of its length while held, and ended once as the cycle ended', async () => {
    const f = fakeStore(async () => ({ held: true, until: 0 }));
    const l = lease(f.store);
    await waitFor('three renewals', 5000, async () => f.renewals.length >= 3);
    l.check();
    await l.confirm();
    await l.end('done');
    const count = f.renewals.length;
    await new Promise((r) => setTimeout(r, LEASE));
    assert.equal(f.renewals.length, count, 'no renewal after the end');
    assert.deepEqual(f.ends, ['done']);
  });

  test('is lost once Redis says another instance holds the cycle: the signal aborts, confirm throws, end records nothing', async () => {
    const f = fakeStore(async () => ({ held: false, holder: 'other/2', state: 'running' }));
    const l = lease(f.store);
    await waitFor('the lease to be lost', 5000, async () => l.signal.aborted);
    assert.ok(l.signal.reason instanceof LeaseLostError);
    assert.match(String(l.signal.reason.message), /another instance holds it \(other\/2\)/);
    await assert.rejects(l.confirm(), LeaseLostError);
    await l.end('failed');
    assert.deepEqual(f.ends, []);
  });

  test('while Redis does not answer, renewals go on and the lease is kept; confirming it before publishing fails', async () => {
    let fail = true;
    const f = fakeStore(async () => {
      if (fail) throw new Error('connection lost');
      return { held: true, until: 0 };
    });
    const l = lease(f.store);
    await waitFor('renewals for longer than a lease', 5000, async () => f.renewals.length >= 2 * 5);
    assert.equal(l.signal.aborted, false, 'only Redis’ word ends a lease');
    await assert.rejects(l.confirm(), /connection lost/);
    fail = false;
    await l.confirm();
    await l.end('done');
    assert.deepEqual(f.ends, ['done']);
  });
});
