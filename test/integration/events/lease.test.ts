/**
 * One reader at a time (lease.ts), against a real Redis: a second instance is refused and told who
 * holds it; the holder keeps it by renewing; a released lease is free at once, a dead holder's within
 * the lease duration; a holder that loses it (taken over, or unable to renew in time) is told at once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Lease, LeaseLost } from '../../../functions/events/lease.ts';
import { createLogger } from '../../../shared/log.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { waitFor } from '../../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());
beforeEach(() => db.redis.flushdb());

const key = eventKeys(eventsScope('')).lease;
const lines: string[] = [];
const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
const lease = (token: string, durationMs = 3000, renewEveryMs = 500) =>
  new Lease(db.redis, key, { token, durationMs, renewEveryMs, log });

describe('the events lease', () => {
  test('is held by one instance; another is refused with the holder named and how long it has left', async () => {
    const a = lease('a');
    const b = lease('b');
    assert.deepEqual(await a.tryAcquire(), { acquired: true });
    const r = await b.tryAcquire();
    assert.equal(r.acquired, false);
    assert.equal(r.acquired === false && r.holder, 'a');
    assert.ok(r.acquired === false && r.expiresInMs > 0 && r.expiresInMs <= 3000);
    assert.equal(a.held(), true);
    assert.equal(b.held(), false);
    await a.release();
  });

  test('stays with its holder while it renews, beyond its duration', async () => {
    const a = lease('a', 1500, 300);
    await a.tryAcquire();
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(a.held(), true);
    assert.equal(a.signal.aborted, false);
    assert.equal(await db.redis.get(key), 'a');
    assert.equal((await lease('b').tryAcquire()).acquired, false);
    await a.release();
  });

  test('is free at once after a release, and the released holder is told it no longer holds it', async () => {
    const a = lease('a');
    await a.tryAcquire();
    await a.release();
    assert.equal(a.held(), false);
    assert.ok(a.signal.aborted);
    assert.deepEqual(await lease('b').tryAcquire(), { acquired: true });
  });

  test('is taken by another within its duration when the holder dies (stops renewing)', async () => {
    // A holder that died: its key, no renewals.
    await db.redis.set(key, 'dead-holder', 'PX', 1200);
    const b = lease('b');
    const started = Date.now();
    await waitFor('the lease to be free', 5000, async () => (await b.tryAcquire()).acquired);
    assert.ok(Date.now() - started <= 3000);
    await b.release();
  });

  test('tells its holder when another instance holds it now', async () => {
    const a = lease('a', 3000, 200);
    await a.tryAcquire();
    await db.redis.set(key, 'intruder');
    await waitFor('the loss', 3000, async () => a.signal.aborted);
    assert.ok(a.signal.reason instanceof LeaseLost);
    assert.equal(a.held(), false);
    assert.ok(
      lines.some((l) => l.includes('Lost the events lease') && l.includes('another instance holds it now')),
    );
  });

  test('counts as lost locally when it could not be renewed within its duration (Redis unreachable)', async () => {
    const other = db.redis.duplicate();
    const a = new Lease(other, key, { token: 'a', durationMs: 1500, renewEveryMs: 300, log });
    await a.tryAcquire();
    const leftAtLoss = new Promise<number>((resolve) =>
      a.signal.addEventListener('abort', () => void db.redis.pttl(key).then(resolve)),
    );
    other.disconnect(); // no more renewals can reach Redis
    await waitFor('the loss', 4000, async () => a.signal.aborted);
    assert.equal(a.held(), false);
    // It gave up while its key still lived in Redis: nobody else could have held it meanwhile.
    assert.ok((await leftAtLoss) > 0);
  });
});
