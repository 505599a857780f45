/**
 * The reader's EventSource through @kubernetes/client-node (kube-source.ts), over real HTTPS with the
 * events-only user's bearer token and the kubeconfig's CA, against the simulated API server: paged
 * LISTs, a WATCH with its bookmark before the timeout, and 410 Gone as the API server sends it (an ERROR
 * event after 200, or a 410 status).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { Journal } from '../../../functions/events/journal.ts';
import { KubeEventSource } from '../../../functions/events/kube-source.ts';
import { Reader, ResourceExpired, type WatchEvent } from '../../../functions/events/reader.ts';
import { createLogger } from '../../../shared/log.ts';
import { eventKeys, eventsScope } from '../../../shared/store/keys.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { elsewhere, idOf, kubeletEvent } from '../../helpers/sim-events.ts';

let sim: Sim;
let kc: KubeConfig;
let db: TestDb;
before(async () => {
  sim = await startSim({ nodes: 1, podsPerNode: 6, nodeStartupEvents: false });
  kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml('events'));
  db = await leaseTestDb();
});
after(async () => {
  await sim.stop();
  await db.release();
});

const never = new AbortController().signal;
const rvNow = () => String(sim.history.resourceVersion);
const uidOf = (o: unknown) => (o as { metadata: { uid: string } }).metadata.uid;

async function collect(it: AsyncIterable<WatchEvent[]>): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  for await (const chunk of it) out.push(...chunk);
  return out;
}

describe('the client-node event source', () => {
  test('lists Events in pages, as the API server sends them', async () => {
    const made = [
      sim.events.emit(kubeletEvent(sim, 'Pulled', 'Normal', 'shop')),
      sim.events.emit(kubeletEvent(sim, 'Created', 'Normal', 'monitoring')),
      sim.events.emit(kubeletEvent(sim, 'Started', 'Normal', 'monitoring')),
    ];
    const source = new KubeEventSource(kc, '');
    const first = await source.list({ limit: 2 });
    assert.equal(first.items.length, 2);
    assert.notEqual(first.continue, '');
    assert.equal(first.resourceVersion, rvNow());
    const second = await source.list({ limit: 2, continue: first.continue });
    assert.equal(second.continue, '');
    const uids = [...first.items, ...second.items].map(uidOf);
    assert.deepEqual(new Set(uids), new Set(made.map((e) => e.uid)));
    source.close();
  });

  test('lists one namespace with --namespace', async () => {
    const source = new KubeEventSource(kc, 'shop');
    const page = await source.list({ limit: 500 });
    assert.ok(page.items.length >= 1);
    assert.ok(
      page.items.every((i) => (i as { metadata: { namespace: string } }).metadata.namespace === 'shop'),
    );
    source.close();
  });

  test('watches from a resourceVersion: what came after it, new events as they happen, a bookmark, then the end', async () => {
    const from = rvNow();
    const before = sim.events.emit(kubeletEvent(sim, 'Scheduled'));
    const source = new KubeEventSource(kc, '');
    const watching = collect(source.watch({ resourceVersion: from, timeoutSeconds: 3, signal: never }));
    await new Promise((r) => setTimeout(r, 300));
    const during = sim.events.emit(kubeletEvent(sim, 'Started'));
    const events = await watching;
    assert.deepEqual(
      events.map((e) =>
        e.type === 'BOOKMARK' ? 'BOOKMARK' : `${e.type} ${(e.object as { reason: string }).reason}`,
      ),
      ['ADDED Scheduled', 'ADDED Started', 'BOOKMARK'],
    );
    const [a, b] = events as { object: { metadata: { uid: string }; kind: string } }[];
    assert.equal(a!.object.metadata.uid, before.uid);
    assert.equal(b!.object.metadata.uid, during.uid);
    assert.equal(a!.object.kind, 'Event');
    assert.equal((events[2] as { resourceVersion: string }).resourceVersion, rvNow());
    source.close();
  });

  test('ends a watch early when asked', async () => {
    const source = new KubeEventSource(kc, '');
    const stop = new AbortController();
    const watching = collect(
      source.watch({ resourceVersion: rvNow(), timeoutSeconds: 60, signal: stop.signal }),
    );
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    assert.deepEqual(await watching, []);
    source.close();
  });

  test('throws ResourceExpired for a watch from before the compaction (the ERROR event with 410)', async () => {
    const old = rvNow();
    sim.events.emit(kubeletEvent(sim, 'Killing'));
    sim.history.compact();
    const source = new KubeEventSource(kc, '');
    await assert.rejects(
      collect(source.watch({ resourceVersion: old, timeoutSeconds: 5, signal: never })),
      ResourceExpired,
    );
    source.close();
  });

  test('throws ResourceExpired for an expired continue token (a 410 status)', async () => {
    const source = new KubeEventSource(kc, '');
    const first = await source.list({ limit: 1 });
    assert.notEqual(first.continue, '');
    elsewhere(sim);
    sim.history.compact();
    await assert.rejects(source.list({ limit: 1, continue: first.continue }), ResourceExpired);
    source.close();
  });

  test('fails with the API server status for anything else (a wrong token)', async () => {
    const bad = new KubeConfig();
    bad.loadFromString(sim.kubeconfigYaml('events').replace(sim.tokens.events, 'wrong'));
    const source = new KubeEventSource(bad, '');
    await assert.rejects(source.list({ limit: 1 }), /HTTP 401: Unauthorized/);
    await assert.rejects(
      collect(source.watch({ resourceVersion: '1', timeoutSeconds: 2, signal: never })),
      (err) => {
        assert.ok(!(err instanceof ResourceExpired));
        return true;
      },
    );
    source.close();
  });

  test('serves a whole pass of the reader: list, then a watch that ends at its bookmark', async () => {
    const keys = eventKeys(eventsScope(''));
    await db.redis.set(keys.lease, 't');
    const journal = new Journal(db.redis, keys, { eventTtlMs: 3600_000 });
    const source = new KubeEventSource(kc, '');
    const reader = new Reader(source, journal, createLogger({ write: () => {} }));
    const first = await reader.catchUp('t', never, performance.now() + 60_000);
    assert.equal(first.journaled, sim.events.size);
    const killing = sim.events.emit(kubeletEvent(sim, 'Killing'));
    const second = await reader.catchUp('t', never, performance.now() + 60_000);
    assert.deepEqual([second.journaled, second.relists, second.caughtUp], [1, 0, true]);
    assert.equal((await journal.after('0-0', 1000)).at(-1)?.record?.id, idOf(killing));
    assert.equal((await journal.checkpoint()).rv, rvNow());
    source.close();
  });
});
