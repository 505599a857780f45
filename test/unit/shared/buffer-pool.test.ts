import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../../shared/store/buffer-pool.ts';

test('a buffer given back is the next one taken of its size; sizes are powers of two from 4 KiB', () => {
  const pool = new BufferPool(1 << 20);
  const small = pool.take(10);
  assert.equal(small.length, 4096);
  const a = pool.take(5000);
  assert.equal(a.length, 8192);
  assert.equal(pool.take(8192).length, 8192, 'an exact power of two is that size');
  assert.equal(pool.keptBytes, 0);
  pool.give(a);
  assert.equal(pool.keptBytes, 8192);
  const allocated = pool.allocatedBytes;
  assert.equal(allocated, 4096 + 8192 + 8192);
  assert.equal(pool.take(4097), a, 'the same buffer again');
  assert.equal(pool.allocatedBytes, allocated, 'nothing allocated for it');
  assert.equal(pool.takenBytes, allocated + 8192, 'but taken');
  assert.notEqual(pool.take(4097), a, 'taken once only');
  assert.equal(pool.keptBytes, 0);
  // Each size on its own: a 4 KiB request never gets the 8 KiB buffer.
  pool.give(a);
  assert.notEqual(pool.take(100), a);
  assert.equal(pool.take(6000), a);
});

test('what is kept is bounded, and buffers of another origin are not kept', () => {
  const pool = new BufferPool(16384);
  const [a, b, c] = [pool.take(8192), pool.take(8192), pool.take(8192)];
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.keptBytes, 16384, 'the third is dropped');
  assert.equal(pool.take(8192), b);
  assert.equal(pool.take(8192), a);
  assert.notEqual(pool.take(8192), c);

  const other = new BufferPool(1 << 20);
  other.give(Buffer.alloc(8192).subarray(0, 4096)); // a view, not a whole buffer
  other.give(Buffer.allocUnsafe(4096)); // a slice of Node's shared pool
  other.give(Buffer.allocUnsafeSlow(3000)); // not a size it hands out
  assert.equal(other.keptBytes, 0);
});

test('a request past the largest size is allocated as asked and never kept', () => {
  const pool = new BufferPool(1 << 30);
  const big = pool.take((16 << 20) + 1);
  assert.equal(big.length, (16 << 20) + 1);
  pool.give(big);
  assert.equal(pool.keptBytes, 0);
});
