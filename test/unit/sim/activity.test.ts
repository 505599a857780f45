/**
 * The living cluster of the demo and the benchmark's event load: what they change, what Events come of
 * it, and that the seed decides which pods and which events.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startActivity } from '../../../sim/activity.ts';
import type { SimEvent } from '../../../sim/events.ts';
import { startEventLoad } from '../../../sim/load.ts';
import { createSimCluster } from '../../../sim/model.ts';
import { waitFor } from '../../../sim/processes.ts';
import { createApiState } from '../../../sim/state.ts';

function setup(seed = 'activity-unit', startMs = Date.now()) {
  const cluster = createSimCluster({ nodes: 3, podsPerNode: 8, seed, startMs });
  const state = createApiState(cluster, {
    clientCaPem: 'a',
    requestHeaderCaPem: 'b',
    configMapUid: 'c',
    nodeStartupEvents: false,
  });
  return { cluster, state };
}
const about = (events: SimEvent[], key: string | undefined) =>
  events.filter((e) => `${e.involvedObject.namespace}/${e.involvedObject.name}` === key);

describe('the activity driver', () => {
  test('a crash-looping pod restarts with back-off and its BackOff count grows; an unschedulable pod is retried as a series', async () => {
    const { cluster, state } = setup();
    const a = startActivity({
      cluster,
      recorder: state.recorder,
      replaceEveryMs: 0,
      backOffMs: 40,
      maxBackOffMs: 80,
      backOffReportMs: 20,
      retrySchedulingMs: 30,
    });
    try {
      assert.ok(a.crashLooping && a.unschedulable);
      const [ns, name] = a.crashLooping.split('/') as [string, string];
      await waitFor(
        'three restarts',
        10_000,
        async () => cluster.pod(ns, name)!.containers[0]!.restartCount >= 3,
      );
      // Its BackOff event is one Event whose count grows with every report (timers: on a loaded
      // machine they fire late, so the count is waited for, not read at the third restart).
      const backOff = () => about(state.events.list(), a.crashLooping).filter((e) => e.reason === 'BackOff');
      await waitFor('BackOff repeated', 10_000, async () => (backOff()[0]?.count ?? 0) > 3);
      assert.equal(backOff().length, 1, 'one Event, its count bumped');
      assert.equal(backOff()[0]!.type, 'Warning');
      await waitFor('scheduling retries', 10_000, async () => {
        const f = about(state.events.list(), a.unschedulable).find((e) => e.reason === 'FailedScheduling');
        return (f?.series?.count ?? 0) >= 3;
      });
      const pending = cluster.pod(...(a.unschedulable.split('/') as [string, string]))!;
      assert.equal(pending.nodeName, undefined);
      assert.equal(pending.phase, 'Pending');
    } finally {
      a.stop();
      state.close();
    }
  });

  test("a Deployment's pod is replaced: Killing, the ReplicaSet's new pod scheduled, pulled and started; the special pods stay", async () => {
    const { cluster, state } = setup();
    const specials = [cluster.specials.zeroWorkingSet, ...cluster.specials.young];
    const a = startActivity({
      cluster,
      recorder: state.recorder,
      replaceEveryMs: 20,
      crashLoop: false,
      unschedulable: false,
    });
    try {
      const runningReplacement = () =>
        state.events
          .list()
          .find(
            (e) =>
              e.reason === 'SuccessfulCreate' &&
              cluster.pod(e.involvedObject.namespace!, e.message.slice('Created pod: '.length))?.phase ===
                'Running',
          );
      await waitFor('a replacement pod running', 10_000, async () => runningReplacement() !== undefined);
      assert.ok(
        state.events.list().some((e) => e.reason === 'Killing' && e.message.startsWith('Stopping container')),
      );
      const created = runningReplacement()!;
      const pod = created.message.slice('Created pod: '.length);
      const reasons = about(state.events.list(), `${created.involvedObject.namespace}/${pod}`).map(
        (e) => e.reason,
      );
      assert.deepEqual(reasons.slice(0, 2), ['Scheduled', 'Pulling']);
      assert.ok(reasons.includes('Pulled') && reasons.includes('Started'));
      const newPod = cluster.pod(created.involvedObject.namespace!, pod)!;
      assert.deepEqual(newPod.owner, {
        kind: 'ReplicaSet',
        name: created.involvedObject.name,
        uid: created.involvedObject.uid,
      });
      for (const key of specials) assert.ok(cluster.podByKey(key!), `${key} is still there`);
    } finally {
      a.stop();
      state.close();
    }
  });

  test('the seed picks the same pods', () => {
    const startMs = Date.now(); // the same start for both: a Job's pods are named by their scheduled minute
    const pick = () => {
      const { cluster, state } = setup('same', startMs);
      const a = startActivity({ cluster, recorder: state.recorder, replaceEveryMs: 0 });
      a.stop();
      state.close();
      return [a.crashLooping, a.unschedulable];
    };
    assert.deepEqual(pick(), pick());
  });
});

describe('the event load', () => {
  test('sustained events of every kind: new old-style, count bumps, new-style, series bumps; the seed fixes the sequence', async () => {
    // Some names come from the cluster's start (a Job's pods are named by their scheduled minute): both
    // runs start at the same instant, or a minute turning between them would rename them.
    const startMs = Date.now();
    const run = async () => {
      const { cluster, state } = setup('load', startMs);
      const writes: string[] = [];
      state.history.subscribe('events', (c) => {
        const e = c.object as SimEvent;
        writes.push(`${c.type} ${e.reason} ${e.involvedObject.name} ${e.count ?? e.series?.count ?? 1}`);
      });
      const load = startEventLoad({ cluster, events: state.events, perSecond: 2000 });
      await waitFor('600 events', 20_000, async () => load.written >= 600);
      load.stop();
      const events = state.events.list();
      state.close();
      return { writes: writes.slice(0, 600), events, written: load.written };
    };
    const a = await run();
    assert.equal(a.writes.length, 600, 'every write is one change');
    assert.ok(
      a.events.some((e) => (e.count ?? 0) > 1),
      'old-style count bumps',
    );
    assert.ok(
      a.events.some((e) => (e.series?.count ?? 0) > 1),
      'new-style series bumps',
    );
    assert.ok(
      a.events.some((e) => e.eventTimeMs !== undefined && e.series === undefined),
      'new-style singletons',
    );
    assert.ok(
      a.events.some((e) => e.firstTimestampMs !== undefined && e.count === 1),
      'old-style singletons',
    );
    assert.ok(a.writes.some((w) => w.startsWith('MODIFIED')));
    const b = await run();
    assert.deepEqual(b.writes, a.writes);
  });

  test('a rate that is not positive is refused', () => {
    const { cluster, state } = setup();
    assert.throws(
      () => startEventLoad({ cluster, events: state.events, perSecond: 0 }),
      /perSecond must be > 0/,
    );
    state.close();
  });
});
