/**
 * The scraper's memory of a node between cycles (state.ts): what is encoded decodes to the same state,
 * and anything that is not a state of this format is no history (null), never an error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeState, encodeState } from '../../../functions/scrape/state.ts';
import type { NodeState } from '../../../functions/scrape/storage.ts';

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

  test('the stored form is the documented flat layout', () => {
    assert.equal(
      encodeState(STATE),
      '[2,1700000000000,1700000090000,[1699999995000,123456789000,4294967296,0,1699999980000,120000000000,4200000000,0],' +
        '["default","web-1",2,"app",1699999994000,5000000,10485760,1600000000000000000,null,' +
        '"sidecar",1699999994000,7000,1234567,1600000000000000000,1699999980000.25,0,1234567,1600000000000000000]]',
    );
    assert.equal(encodeState({ ...STATE, node: null, pods: [] }), '[2,1700000000000,1700000090000,null,[]]');
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

  test('a state written in the previous format (version 1) is still read, so an upgrade keeps the history', () => {
    const v1 =
      '[1,1700000000000,1700000090000,[[1699999995000,123456789000,4294967296,0],[1699999980000,120000000000,4200000000,0]],' +
      '[["default","web-1",[["app",[1699999994000,5000000,10485760,1600000000000000000],null],' +
      '["sidecar",[1699999994000,7000,1234567,1600000000000000000],[1699999980000.25,0,1234567,1600000000000000000]]]]]]';
    assert.deepEqual(decodeState(v1), STATE);
  });

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
