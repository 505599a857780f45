/**
 * The scraper's memory of a node between cycles (state.ts): what is encoded decodes to the same state,
 * and anything that is not a state of this format is no history (null), never an error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeState, encodeState } from '../../../functions/scrape/state.ts';
import { advanceNode, type NodeState, podRate, rate } from '../../../functions/scrape/storage.ts';

const STATE: NodeState = {
  scrapedAt: 1_700_000_000_000,
  expiresAt: 1_700_000_090_000,
  node: {
    last: { timestamp: 1_699_999_995_000, cpu: 123_456_789_000, memory: 4_294_967_296, startTime: 0 },
    prev: { timestamp: 1_699_999_980_000, cpu: 120_000_000_000, memory: 4_200_000_000, startTime: 0 },
  },
  pods: [
    {
      namespace: 'default',
      name: 'web-1',
      containers: [
        {
          name: 'app',
          series: {
            last: { timestamp: 1_699_999_994_000, cpu: 5_000_000, memory: 10_485_760, startTime: 1.6e18 },
            prev: null,
          },
        },
        {
          name: 'sidecar',
          series: {
            last: { timestamp: 1_699_999_994_000, cpu: 7_000, memory: 1_234_567, startTime: 1.6e18 },
            // A synthetic prev at a fractional start time (fresh container rule).
            prev: { timestamp: 1_699_999_980_000.25, cpu: 0, memory: 1_234_567, startTime: 1.6e18 },
          },
        },
      ],
    },
  ],
};

describe('node state', () => {
  test('decodes to exactly what was encoded', () => {
    assert.deepEqual(decodeState(encodeState(STATE)), STATE);
  });

  test('a node without its own series and without pods round-trips too', () => {
    const s: NodeState = { scrapedAt: 1, expiresAt: 2, node: null, pods: [] };
    assert.deepEqual(decodeState(encodeState(s)), s);
  });

  test('the stored form is the documented binary layout', () => {
    const b = encodeState(STATE);
    assert.equal(b[0], 3, 'version 3');
    assert.equal(b[1], 2, 'the node has two points');
    const namesBytes = b.readUInt32LE(4);
    assert.equal(
      b.toString('utf8', 8, 8 + namesBytes),
      '["default","web-1",2,"app","sidecar"]',
      'the names once, as JSON',
    );
    const at = 8 + Math.ceil(namesBytes / 8) * 8;
    const numbers = Array.from({ length: (b.length - at) / 8 }, (_, i) => b.readDoubleLE(at + 8 * i));
    assert.deepEqual(numbers, [
      1700000000000,
      1700000090000,
      ...[1699999995000, 123456789000, 4294967296, 0, 1699999980000, 120000000000, 4200000000, 0],
      ...[1699999994000, 5000000, 10485760, 1.6e18, Number.NaN, 0, 0, 0],
      ...[1699999994000, 7000, 1234567, 1.6e18, 1699999980000.25, 0, 1234567, 1.6e18],
    ]);
    assert.deepEqual(
      [...encodeState({ ...STATE, node: null, pods: [] }).subarray(0, 10)],
      [3, 0, 0, 0, 2, 0, 0, 0, 91, 93],
    );
  });

  test('a state read back at any offset of a reply (as Redis returns it) decodes the same', () => {
    const b = encodeState(STATE);
    for (const shift of [1, 3, 5]) {
      const reply = Buffer.concat([Buffer.alloc(shift), b, Buffer.alloc(2)]);
      assert.deepEqual(decodeState(reply.subarray(shift, shift + b.length)), STATE);
    }
  });

  test('states encoded one after another stay what each was (no bytes shared or reused)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ ...STATE, scrapedAt: i }));
    const bytes = many.map((s) => encodeState(s));
    for (const [i, b] of bytes.entries()) assert.equal(decodeState(b)?.scrapedAt, i);
  });

  test('names that need escaping round-trip', () => {
    const s: NodeState = {
      ...STATE,
      pods: [
        {
          namespace: 'n"s\\',
          name: 'p,\n]',
          containers: [{ ...STATE.pods[0]!.containers[0]!, name: '",[' }],
        },
      ],
    };
    assert.deepEqual(decodeState(encodeState(s)), s);
  });

  test('a state written by the previous version (JSON, version 2) is still read, as bytes or text', () => {
    const v2 =
      '[2,1700000000000,1700000090000,[1699999995000,123456789000,4294967296,0,1699999980000,120000000000,4200000000,0],' +
      '["default","web-1",2,"app",1699999994000,5000000,10485760,1600000000000000000,null,' +
      '"sidecar",1699999994000,7000,1234567,1600000000000000000,1699999980000.25,0,1234567,1600000000000000000]]';
    assert.deepEqual(decodeState(Buffer.from(v2)), STATE);
    assert.deepEqual(decodeState(v2), STATE);
  });

  test('the next cycle advances a state read from either format to the same state and the same rates', () => {
    const v2 =
      '[2,1700000000000,1700000090000,[1699999995000,123456789000,4294967296,0,1699999980000,120000000000,4200000000,0],' +
      '["default","web-1",2,"app",1699999994000,5000000,10485760,1600000000000000000,null,' +
      '"sidecar",1699999994000,7000,1234567,1600000000000000000,1699999980000.25,0,1234567,1600000000000000000]]';
    const batch = {
      node: { timestamp: 1_700_000_010_000, cpu: 125_000_000_000, memory: 4_300_000_000 },
      pods: [
        {
          namespace: 'default',
          name: 'web-1',
          containers: [
            {
              name: 'app',
              timestamp: 1_700_000_009_000,
              cpu: 9_000_000,
              memory: 10_485_761,
              startTime: 1.6e18,
            },
            {
              name: 'sidecar',
              timestamp: 1_700_000_009_000,
              cpu: 9_000,
              memory: 1_234_568,
              startTime: 1.6e18,
            },
          ],
        },
      ],
      dropped: [],
    };
    const cycle = { startedAt: 1_700_000_015_000, expiresAt: 1_700_000_105_000, resolutionMs: 15_000 };
    const fromJson = advanceNode(decodeState(Buffer.from(v2)), batch, cycle);
    const fromBinary = advanceNode(decodeState(encodeState(STATE)), batch, cycle);
    assert.deepEqual(fromBinary, fromJson);
    assert.ok(rate(fromBinary.node!), 'the node has a rate');
    assert.ok(podRate(fromBinary.pods[0]!), 'the pod has a rate');
    assert.deepEqual(rate(fromBinary.node!), rate(fromJson.node!));
    assert.deepEqual(podRate(fromBinary.pods[0]!), podRate(fromJson.pods[0]!));
    // And once more through the binary form, as the cycle after writes and reads it.
    assert.deepEqual(decodeState(encodeState(fromBinary)), fromJson);
  });

  test('a state written in the previous format (version 1) is still read, so an upgrade keeps the history', () => {
    const v1 =
      '[1,1700000000000,1700000090000,[[1699999995000,123456789000,4294967296,0],[1699999980000,120000000000,4200000000,0]],' +
      '[["default","web-1",[["app",[1699999994000,5000000,10485760,1600000000000000000],null],' +
      '["sidecar",[1699999994000,7000,1234567,1600000000000000000],[1699999980000.25,0,1234567,1600000000000000000]]]]]]';
    assert.deepEqual(decodeState(v1), STATE);
    assert.deepEqual(decodeState(Buffer.from(v1)), STATE);
  });

  const good = () => Buffer.from(encodeState(STATE));
  const namesEnd = () => 8 + Math.ceil(good().readUInt32LE(4) / 8) * 8;
  for (const [what, value] of [
    ['an unknown version byte', () => Buffer.from([4, 0, 0, 0, 0, 0, 0, 0, ...new Array(16).fill(0)])],
    ['a truncated header', () => good().subarray(0, 6)],
    ['three node points', () => Object.assign(good(), { 1: 3 })],
    [
      'a names length past the end',
      () => {
        const b = good();
        b.writeUInt32LE(b.length, 4);
        return b;
      },
    ],
    [
      'names that are not JSON',
      () => {
        const b = good();
        b[8] = 0x7b;
        return b;
      },
    ],
    ['a truncated number section', () => good().subarray(0, good().length - 8)],
    ['bytes past the last container', () => Buffer.concat([good(), Buffer.alloc(64)])],
    [
      'a non-finite point',
      () => {
        const b = good();
        b.writeDoubleLE(Number.POSITIVE_INFINITY, namesEnd() + 16);
        return b;
      },
    ],
    ['an empty value', () => Buffer.alloc(0)],
  ] as const) {
    test(`a binary state with ${what} is no history`, () => {
      assert.equal(decodeState(value()), null);
    });
  }

  for (const [what, value] of [
    ['nothing stored', null],
    ['not JSON', '{oops'],
    ['another format version', '[3,1,2,null,[]]'],
    ['a node series of five numbers', '[2,1,2,[1,2,3,4,5],[]]'],
    ['a pod whose container count runs past the end', '[2,1,2,null,["ns","pod",2,"c",1,2,3,4,null]]'],
    ['a negative container count', '[2,1,2,null,["ns","pod",-1]]'],
    ['a fractional container count', '[2,1,2,null,["ns","pod",0.5]]'],
    ['a container whose prev has three numbers', '[2,1,2,null,["ns","pod",1,"c",1,2,3,4,5,6,7]]'],
    ['a container named by a number (flat)', '[2,1,2,null,["ns","pod",1,7,1,2,3,4,null]]'],
    ['a truncated pod', '[2,1,2,null,["ns"]]'],
    ['a missing field', '[1,1,2,null]'],
    ['an extra field', '[1,1,2,null,[],0]'],
    ['a string where a number belongs', '[1,"1",2,null,[]]'],
    ['a point with three numbers', '[1,1,2,[[1,2,3],null],[]]'],
    ['a pod without containers array', '[1,1,2,null,[["ns","pod",{}]]]'],
    ['a container named by a number', '[1,1,2,null,[["ns","pod",[[7,[1,2,3,4],null]]]]]'],
    ['an object instead of the tuple', '{"scrapedAt":1}'],
  ] as const) {
    test(`${what} is no history`, () => {
      assert.equal(decodeState(value), null);
    });
  }
});
