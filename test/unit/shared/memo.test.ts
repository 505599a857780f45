import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoize } from '../../../shared/memo.ts';

test('memoize computes once per argument, stays bounded, and keeps nothing from a throw', () => {
  const calls: number[] = [];
  const square = memoize(2, (n: number) => {
    calls.push(n);
    if (n < 0) throw new Error('negative');
    return n * n;
  });
  assert.equal(square(3), 9);
  assert.equal(square(3), 9);
  assert.deepEqual(calls, [3]);
  assert.throws(() => square(-1), /negative/);
  assert.throws(() => square(-1), /negative/);
  assert.deepEqual(calls, [3, -1, -1], 'a throw is not kept');
  square(4);
  square(5); // full at 2: dropped whole, then 5 kept
  square(3);
  assert.deepEqual(calls, [3, -1, -1, 4, 5, 3]);
});
