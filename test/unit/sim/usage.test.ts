import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cpuNanosecondsSince,
  cpuRateCores,
  cpuSecondsSince,
  lastTickMs,
  memoryBytesAt,
  type UsageProfile,
} from '../../../sim/usage.ts';

const steady: UsageProfile = {
  cpuBaseCores: 0.25,
  cpuWaves: [],
  memoryBaseBytes: 10 * 4096 + 123,
  memoryWaves: [],
};

const waving: UsageProfile = {
  cpuBaseCores: 0.5,
  cpuWaves: [
    { amplitude: 0.2, periodMs: 60_000, phase: 0 },
    { amplitude: 0.05, periodMs: 7_000, phase: 1.3 },
  ],
  memoryBaseBytes: 64 * 1024 * 1024,
  memoryWaves: [{ amplitude: 8 * 1024 * 1024, periodMs: 600_000, phase: 0.4 }],
};

describe('the usage model', () => {
  test('a constant rate integrates to rate × time: 0.25 cores for 10 s is 2.5 core-seconds', () => {
    assert.equal(cpuSecondsSince(steady, 10_000), 2.5);
    assert.equal(cpuNanosecondsSince(steady, 10_000), 2_500_000_000);
  });

  test('before the start nothing has been used', () => {
    assert.equal(cpuNanosecondsSince(waving, 0), 0);
    assert.equal(cpuNanosecondsSince(waving, -5_000), 0);
  });

  test('over whole periods of every wave the waves integrate to nothing: only the base remains', () => {
    // lcm(60 s, 7 s) = 420 s; by hand: 0.5 cores × 420 s = 210 core-seconds.
    assert.ok(Math.abs(cpuSecondsSince(waving, 420_000) - 210) < 1e-9);
  });

  test('the counter is the integral of the rate (checked against a numeric integration)', () => {
    const from = 12_345;
    const to = 97_531;
    const steps = 20_000;
    const h = (to - from) / steps;
    let simpson = 0;
    for (let i = 0; i <= steps; i++) {
      const w = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2;
      simpson += w * cpuRateCores(waving, from + i * h);
    }
    simpson *= h / 3 / 1000;
    assert.ok(Math.abs(cpuSecondsSince(waving, to) - cpuSecondsSince(waving, from) - simpson) < 1e-9);
  });

  test('the counter is a whole number of nanoseconds and never decreases', () => {
    let previous = -1;
    for (let t = 0; t <= 3_600_000; t += 997) {
      const ns = cpuNanosecondsSince(waving, t);
      assert.ok(Number.isInteger(ns));
      assert.ok(ns >= previous, `counter went back at ${t} ms`);
      previous = ns;
    }
  });

  test('the rate stays positive when the amplitudes sum to less than the base', () => {
    for (let t = 0; t <= 600_000; t += 50) assert.ok(cpuRateCores(waving, t) >= 0.5 - 0.25 - 1e-12);
  });

  test('the working set is a whole number of 4 KiB pages', () => {
    assert.equal(memoryBytesAt(steady, 0), 10 * 4096);
    for (let t = 0; t <= 3_600_000; t += 60_000) assert.equal(memoryBytesAt(waving, t) % 4096, 0);
  });
});

describe('housekeeping ticks', () => {
  test('before the first sample there is none', () => {
    assert.equal(lastTickMs(1_000, 10_000, 999), undefined);
  });

  test('between ticks the last tick is seen, at a tick the tick itself', () => {
    assert.equal(lastTickMs(1_000, 10_000, 1_000), 1_000);
    assert.equal(lastTickMs(1_000, 10_000, 10_999), 1_000);
    assert.equal(lastTickMs(1_000, 10_000, 11_000), 11_000);
    assert.equal(lastTickMs(1_000, 10_000, 25_432), 21_000);
  });
});
