/**
 * Which event versions become journal records (journal.ts planAppend, pure): each version once; a
 * replay, a re-list or a second copy adds nothing; a genuine update (count, series.count) is UPDATED
 * with the last journaled version as old_event; a new resourceVersion with nothing else changed is
 * remembered without a record.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Known, planAppend } from '../../../functions/events/journal.ts';
import type { KubeEvent } from '../../../functions/events/record.ts';

const v = (uid: string, rv: string, count = 1): KubeEvent =>
  ({
    metadata: { uid, resourceVersion: rv, name: `e-${uid}`, namespace: 'ns' },
    reason: 'BackOff',
    count,
  }) as KubeEvent;

const none = new Map<string, Known>();

describe('planning an append', () => {
  test('journals every version of events the journal has not seen, in order, ADDED then UPDATED', () => {
    const p = planAppend([v('a', '1'), v('b', '2'), v('a', '3', 2)], none);
    assert.deepEqual(
      p.versions.map((x) => [
        x.uid,
        x.rv,
        x.expect,
        x.record?.verb,
        x.record?.old_event?.metadata.resourceVersion,
      ]),
      [
        ['a', '1', '', 'ADDED', undefined],
        ['b', '2', '', 'ADDED', undefined],
        ['a', '3', '1', 'UPDATED', '1'],
      ],
    );
    assert.equal(p.duplicates, 0);
  });

  test('skips versions the journal has seen (a watch replayed, a re-list after 410) but still orders the rest', () => {
    const known = new Map<string, Known>([
      ['a', { rv: '3', last: v('a', '3', 2), seen: new Set(['1', '3']) }],
    ]);
    const p = planAppend([v('a', '1'), v('a', '3', 2), v('a', '5', 3)], known);
    assert.equal(p.duplicates, 2);
    assert.deepEqual(
      p.versions.map((x) => [x.rv, x.expect, x.record?.verb, x.record?.old_event?.count]),
      [['5', '3', 'UPDATED', 2]],
    );
  });

  test('skips the same version twice in one batch', () => {
    const p = planAppend([v('a', '1'), v('a', '1')], none);
    assert.equal(p.versions.length, 1);
    assert.equal(p.duplicates, 1);
  });

  test('remembers a new resourceVersion with the same content without a record, and the next update still names the last journaled version', () => {
    const known = new Map<string, Known>([['a', { rv: '1', last: v('a', '1'), seen: new Set(['1']) }]]);
    const p = planAppend([v('a', '2'), v('a', '3', 2)], known);
    assert.equal(p.unchanged, 1);
    assert.deepEqual(
      p.versions.map((x) => [x.rv, x.expect, x.record?.old_event?.metadata.resourceVersion ?? null]),
      [
        ['2', '1', null],
        ['3', '2', '1'],
      ],
    );
    assert.equal(p.versions[0]!.record, null);
  });

  test('after the memory of an event expired, its next version is ADDED again (the API server deleted it by then)', () => {
    const p = planAppend([v('a', '9', 4)], none);
    assert.equal(p.versions[0]!.record?.verb, 'ADDED');
  });
});
