import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerSample, MetricsBatch } from '../../../functions/scrape/decode/batch.ts';
import {
  advanceContainer,
  advanceNode,
  advanceSeries,
  type Point,
  podRate,
  rate,
} from '../../../functions/scrape/storage.ts';

const T0 = Date.UTC(2025, 5, 23, 19, 0, 0);
const p = (timestamp: number, cpu: number, memory = 4096, startTime = 0): Point => ({
  timestamp,
  cpu,
  memory,
  startTime,
});
const c = (
  name: string,
  timestamp: number,
  cpu: number,
  startTimeMs: number,
  memory = 8192,
): ContainerSample => ({
  name,
  timestamp,
  cpu,
  memory,
  startTime: startTimeMs * 1e6,
});
const RESOLUTION = 15_000;

describe('the node rule (two points per series)', () => {
  test('a first sample has no prev, so no rate', () => {
    const s = advanceSeries(null, p(T0, 1e9));
    assert.equal(s.prev, null);
    assert.equal(rate(s), null);
  });

  test('a newer sample moves the last one into prev, and the rate is Δcpu / Δt', () => {
    const s = advanceSeries(
      advanceSeries(null, p(T0, 1_000_000_000)),
      p(T0 + 15_000, 2_000_000_000, 123 * 4096),
    );
    assert.deepEqual(s.prev, p(T0, 1_000_000_000));
    // 1e9 core-ns over 15 s = 66,666,666.67 nanocores, truncated.
    assert.deepEqual(rate(s), {
      usage: { cpuNanocores: 66_666_666, memoryBytes: 123 * 4096 },
      timestamp: T0 + 15_000,
      windowNs: 15_000_000_000,
    });
  });

  test('a repeated (cached) kubelet sample keeps the older prev, so the window spans two samples', () => {
    let s = advanceSeries(null, p(T0, 1e9));
    s = advanceSeries(s, p(T0 + 10_114, 2e9));
    s = advanceSeries(s, p(T0 + 10_114, 2e9));
    assert.deepEqual(s.prev, p(T0, 1e9));
    assert.equal(rate(s)?.windowNs, 10_114_000_000);
  });

  test('storing the same first sample twice leaves no prev (metrics-server: nothing served)', () => {
    const s = advanceSeries(advanceSeries(null, p(T0, 1e9)), p(T0, 1e9));
    assert.equal(s.prev, null);
  });

  test('a sample older than the stored ones starts over', () => {
    let s = advanceSeries(null, p(T0, 1e9));
    s = advanceSeries(s, p(T0 + 15_000, 2e9));
    s = advanceSeries(s, p(T0 - 5_000, 5e8));
    assert.equal(s.prev, null);
  });

  test('a counter that went backwards gives no rate, never a negative one', () => {
    const s = advanceSeries(advanceSeries(null, p(T0, 5e9)), p(T0 + 15_000, 1e9));
    assert.notEqual(s.prev, null);
    assert.equal(rate(s), null);
  });

  test('the rate divides by the window in seconds as Go computes it, truncating to whole nanocores', () => {
    // 20.114 s window, 3,000,000,007 core-ns: 149,149,846.2… → 149149846
    const s = { last: p(T0 + 20_114, 3_000_000_007), prev: p(T0, 0) };
    assert.equal(rate(s)?.usage.cpuNanocores, 149_149_846);
  });
});

describe('the container rule', () => {
  test('a container between 10 s and one resolution old is served after one scrape, window = its age', () => {
    // Started 12.5 s before the sample; 0.25 core-seconds since then = 20,000,000 nanocores.
    const s = advanceContainer(undefined, c('app', T0 + 12_500, 250_000_000, T0), RESOLUTION);
    assert.deepEqual(s.prev, { timestamp: T0, cpu: 0, memory: 8192, startTime: T0 * 1e6 });
    assert.deepEqual(rate(s), {
      usage: { cpuNanocores: 20_000_000, memoryBytes: 8192 },
      timestamp: T0 + 12_500,
      windowNs: 12_500_000_000,
    });
  });

  test('a container younger than 10 s has no rate yet', () => {
    const s = advanceContainer(undefined, c('app', T0 + 9_999, 1e6, T0), RESOLUTION);
    assert.equal(s.prev, null);
  });

  test('a container older than one resolution needs two scrapes', () => {
    const first = advanceContainer(undefined, c('app', T0 + 60_000, 1e9, T0), RESOLUTION);
    assert.equal(first.prev, null);
    const second = advanceContainer(first, c('app', T0 + 75_000, 2e9, T0), RESOLUTION);
    assert.equal(second.prev?.timestamp, T0 + 60_000);
  });

  test('a restart (start time after the last sample) drops the history: no spike from the reset counter', () => {
    const before = advanceContainer(
      advanceContainer(undefined, c('app', T0 + 60_000, 9e9, T0), RESOLUTION),
      c('app', T0 + 75_000, 10e9, T0),
      RESOLUTION,
    );
    // Restarted at T0+80 s; 30 s old at the sample (older than the resolution, so no fresh shortcut).
    const after = advanceContainer(before, c('app', T0 + 110_000, 1e8, T0 + 80_000), RESOLUTION);
    assert.equal(after.prev, null);
  });

  test('a start time that went backwards gives no rate', () => {
    const s = { last: p(T0 + 15_000, 2e9, 1, 100), prev: p(T0, 1e9, 1, 200) };
    assert.equal(rate(s), null);
  });
});

describe('pods', () => {
  const batch = (containers: ContainerSample[]): MetricsBatch => ({
    node: { timestamp: containers[0]!.timestamp, cpu: 1e12, memory: 1 << 30 },
    pods: [{ namespace: 'default', name: 'web', containers }],
    dropped: [],
  });
  const cycle = (startedAt: number) => ({
    startedAt,
    expiresAt: startedAt + 30_000,
    resolutionMs: RESOLUTION,
  });

  test('a pod is served only when every container has a rate; timestamp and window are the earliest one', () => {
    const long = T0 - 3_600_000;
    let state = advanceNode(
      null,
      batch([c('app', T0, 1e9, long), c('sidecar', T0 + 1_000, 2e9, long)]),
      cycle(T0),
    );
    assert.equal(podRate(state.pods[0]!), null);
    state = advanceNode(
      state,
      batch([c('app', T0 + 15_000, 1.3e9, long), c('sidecar', T0 + 14_000, 2.13e9, long)]),
      cycle(T0 + 15_000),
    );
    assert.deepEqual(podRate(state.pods[0]!), {
      timestamp: T0 + 14_000,
      windowNs: 13_000_000_000,
      containers: [
        { name: 'app', usage: { cpuNanocores: 20_000_000, memoryBytes: 8192 } },
        { name: 'sidecar', usage: { cpuNanocores: 10_000_000, memoryBytes: 8192 } },
      ],
    });
  });

  test('a pod whose new container has no history yet is not served (no partial pods for the HPA)', () => {
    const long = T0 - 3_600_000;
    let state = advanceNode(null, batch([c('app', T0, 1e9, long)]), cycle(T0));
    state = advanceNode(
      state,
      batch([c('app', T0 + 15_000, 1.3e9, long), c('added', T0 + 15_000, 1e8, long)]),
      cycle(T0 + 15_000),
    );
    assert.equal(podRate(state.pods[0]!), null);
  });

  test('each pod and container finds its own history when pods came, went or moved between batches', () => {
    const long = T0 - 3_600_000;
    const pods = (names: string[], t: number, cpu: number, containers = ['app', 'sidecar']) =>
      names.map((name) => {
        const [namespace, pod] = name.split('/') as [string, string];
        return {
          namespace,
          name: pod,
          containers: containers.map((n) => c(n, t, cpu * (n === 'app' ? 1 : 2), long)),
        };
      });
    const many = (names: string[], t: number, cpu: number, containers?: string[]): MetricsBatch => ({
      node: null,
      pods: pods(names, t, cpu, containers),
      dropped: [],
    });
    let state = advanceNode(null, many(['a/one', 'a/two', 'b/three'], T0, 1e9), cycle(T0));
    // two is gone, four is new, three comes first now, and its containers come the other way round.
    const next = many(['a/four', 'a/one'], T0 + 15_000, 1.3e9);
    next.pods.unshift(pods(['b/three'], T0 + 15_000, 1.3e9, ['sidecar', 'app'])[0]!);
    state = advanceNode(state, next, cycle(T0 + 15_000));
    const served = Object.fromEntries(
      state.pods.map((p) => [`${p.namespace}/${p.name}`, podRate(p)?.containers ?? null]),
    );
    const usage = (cpuNanocores: number) => ({ cpuNanocores, memoryBytes: 8192 });
    assert.deepEqual(served, {
      'b/three': [
        { name: 'sidecar', usage: usage(40_000_000) },
        { name: 'app', usage: usage(20_000_000) },
      ],
      'a/four': null,
      'a/one': [
        { name: 'app', usage: usage(20_000_000) },
        { name: 'sidecar', usage: usage(40_000_000) },
      ],
    });
  });

  test('pods and containers absent from the new batch are forgotten (replacement, as metrics-server)', () => {
    const long = T0 - 3_600_000;
    const state = advanceNode(null, batch([c('app', T0, 1e9, long)]), cycle(T0));
    const next = advanceNode(state, { node: null, pods: [], dropped: [] }, cycle(T0 + 15_000));
    assert.deepEqual(next.pods, []);
    assert.equal(next.node, null);
    assert.equal(next.scrapedAt, T0 + 15_000);
  });
});
