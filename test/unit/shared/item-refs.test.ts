/**
 * What a pod's entry and a namespace's order say about its items' bytes (shared/store/entry.ts): a
 * reference reads back as written and anything else as none; an order reads back as written, whatever
 * the reply Buffer’s alignment, and a truncated or foreign value reads as none (the entries are read);
 * a part is joined (written as it is) only when it is exactly its order’s items, a comma before each.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeOrder,
  encodeEntry,
  encodeOrder,
  isJoined,
  itemRef,
  maxEntryRefBytes,
  parseItemRef,
  writeEntryRef,
} from '../../../shared/store/entry.ts';

describe('item references', () => {
  test('read back as written; JSON items, empty items and malformed references are none', () => {
    assert.deepEqual(parseItemRef(itemRef('1796175916471.3.ab12cd34', 1234567, 345)), {
      part: '1796175916471.3.ab12cd34',
      offset: 1234567,
      length: 345,
    });
    for (const item of [
      '{"metadata":{}}',
      '',
      '@',
      '@p:1',
      '@p:x:2',
      '@p:-1:2',
      '@p:1:2.5',
      '@p::2',
      '@p:1:',
      '@p:1:1e3',
    ])
      assert.equal(parseItemRef(item), null, item);
  });

  test('an entry with a reference, written as bytes, is the bytes of encodeEntry with itemRef', () => {
    const numbers = [0, 7, 9, 10, 99, 100, 1_796_175_916_471, 2 ** 53 - 1, 2 ** 53, 1.5, -1, -0, 1e21, 1e-7];
    const labels = ['{}', '{"app":"web"}', '{"team":"équipe","emoji":"🚀"}', '{"odd":"\ud800"}'];
    const parts = ['1796175916471', '1796175916471.3.ab12cd34'];
    let cases = 0;
    for (const expiresAt of numbers)
      for (const timestamp of [numbers[6]!, ...numbers.slice(0, 3), 1.25])
        for (const head of labels.map((l) => ({ expiresAt, timestamp, labels: l })))
          for (const part of parts)
            for (const [offset, length] of [
              [0, 0],
              [9, 10],
              [123_456_789, 345],
            ] as const) {
              const want = Buffer.from(encodeEntry({ ...head, item: itemRef(part, offset, length) }));
              const most = maxEntryRefBytes(head, part);
              const buf = Buffer.alloc(most + 8, 0xee);
              const end = writeEntryRef(buf, 3, head, part, offset, length);
              assert.ok(end - 3 <= most, 'within the room it asks for');
              assert.ok(
                buf.subarray(3, end).equals(want),
                `${JSON.stringify(head)} ${part} ${offset} ${length}`,
              );
              cases++;
            }
    assert.ok(cases > 1000);
  });
});

describe('item orders', () => {
  const order = {
    part: '1796175916471',
    expiresAt: 1796175976471,
    spans: Uint32Array.from([0, 300, 300, 4294967295, 17, 0]),
    timestamps: Float64Array.from([1796175910000, 1796175911234.5, 0]),
  };

  test('read back as written, from a Buffer at any offset (as a reply slices it)', () => {
    const bytes = encodeOrder(order);
    for (const shift of [0, 1, 3, 5]) {
      const reply = Buffer.alloc(bytes.length + shift);
      bytes.copy(reply, shift);
      const back = decodeOrder(reply.subarray(shift));
      assert.ok(back !== null);
      assert.equal(back.part, order.part);
      assert.equal(back.expiresAt, order.expiresAt);
      assert.deepEqual([...back.spans], [...order.spans]);
      assert.deepEqual([...back.timestamps], [...order.timestamps]);
    }
  });

  test('an order with no items, and values that are not orders', () => {
    const none = decodeOrder(
      encodeOrder({ ...order, spans: new Uint32Array(), timestamps: new Float64Array() }),
    );
    assert.equal(none?.timestamps.length, 0);
    const bytes = encodeOrder(order);
    assert.equal(decodeOrder(bytes.subarray(0, bytes.length - 1)), null, 'truncated');
    assert.equal(decodeOrder(Buffer.concat([bytes, Buffer.from([0])])), null, 'longer');
    assert.equal(decodeOrder(Buffer.from('1796175916471')), null, 'a #cycle value');
    assert.equal(decodeOrder(Buffer.from('p\tsoon\t1\n0123456789abcdef')), null, 'no expiry');
  });

  test('a part is joined only when it is exactly the order’s items, a comma before each', () => {
    const bytes = Buffer.from(',{"a":1},{"bb":2},{}');
    const spans = Uint32Array.from([1, 7, 9, 8, 18, 2]);
    assert.equal(isJoined(bytes, spans), true);
    assert.equal(isJoined(bytes.subarray(1), Uint32Array.from([0, 7, 8, 8, 17, 2])), false, 'no first comma');
    assert.equal(isJoined(Buffer.from(';{"a":1},{"bb":2},{}'), spans), false, 'another byte');
    assert.equal(isJoined(Buffer.concat([bytes, Buffer.from(' ')]), spans), false, 'bytes after the items');
    assert.equal(isJoined(bytes, Uint32Array.from([1, 7, 18, 2])), false, 'an item left out');
    assert.equal(isJoined(bytes, Uint32Array.from([9, 8, 1, 7, 18, 2])), false, 'another order');
    assert.equal(
      isJoined(Buffer.from('{"a":1}{}'), Uint32Array.from([0, 7, 7, 2])),
      false,
      'as an earlier build wrote it',
    );
    assert.equal(isJoined(Buffer.alloc(0), new Uint32Array()), false, 'no items');
  });
});
