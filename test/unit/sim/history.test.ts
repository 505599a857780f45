import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { History } from '../../../sim/history.ts';

/** A history over a counter and a clock the test moves. */
function setup(opts: { windowMs?: number; maxPerResource?: number } = {}) {
  let rv = 100;
  let now = 1_000_000;
  const history = new History({ currentRv: () => rv, now: () => now, ...opts });
  const change = (
    resource: string,
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    key: string,
    object: string,
    prev?: string,
  ) => {
    rv++;
    history.record(resource, { type, rv, key, object, prev });
    return rv;
  };
  return {
    history,
    change,
    tick: (ms: number) => {
      now += ms;
    },
    get rv() {
      return rv;
    },
  };
}

describe('the history behind watches and continue tokens', () => {
  test('since(rv) is every later change of that resource, in order; other resources are apart', () => {
    const h = setup();
    const a = h.change('pods', 'ADDED', 'ns/a', 'a1');
    h.change('events', 'ADDED', 'ns/e', 'e1');
    h.change('pods', 'MODIFIED', 'ns/a', 'a2', 'a1');
    h.change('pods', 'DELETED', 'ns/a', 'a2@del', 'a2');
    const since = h.history.since('pods', a);
    assert.ok(Array.isArray(since));
    assert.deepEqual(
      since.map((c) => [c.type, c.object]),
      [
        ['MODIFIED', 'a2'],
        ['DELETED', 'a2@del'],
      ],
    );
    assert.deepEqual(h.history.since('pods', h.rv), []);
    const all = h.history.since('pods', 100);
    assert.ok(Array.isArray(all) && all.length === 3);
  });

  test('a change not newer than the last one is refused (revisions only grow)', () => {
    const h = setup();
    h.change('pods', 'ADDED', 'ns/a', 'a1');
    assert.throws(
      () => h.history.record('pods', { type: 'ADDED', rv: h.rv, key: 'ns/b', object: 'b', prev: undefined }),
      /not newer than/,
    );
  });

  test('overlay(rv) undoes the later changes: modified keys as they were, added ones absent, deleted ones back', () => {
    const h = setup();
    h.change('pods', 'ADDED', 'ns/old', 'old1');
    const at = h.change('pods', 'ADDED', 'ns/kept', 'k1');
    h.change('pods', 'MODIFIED', 'ns/kept', 'k2', 'k1');
    h.change('pods', 'MODIFIED', 'ns/kept', 'k3', 'k2');
    h.change('pods', 'ADDED', 'ns/new', 'n1');
    h.change('pods', 'DELETED', 'ns/old', 'old1@del', 'old1');
    const o = h.history.overlay<string>('pods', at);
    assert.ok(o instanceof Map);
    assert.deepEqual(
      [...o.entries()],
      [
        ['ns/kept', 'k1'],
        ['ns/new', null],
        ['ns/old', 'old1'],
      ],
    );
    // Asked again after another change, the same map has grown with it.
    h.change('pods', 'ADDED', 'ns/later', 'l1');
    const again = h.history.overlay<string>('pods', at);
    assert.ok(again instanceof Map && again.get('ns/later') === null);
  });

  test('compact() makes every older resourceVersion too old; the current one still answers', () => {
    const h = setup();
    const first = h.change('pods', 'ADDED', 'ns/a', 'a1');
    h.change('pods', 'MODIFIED', 'ns/a', 'a2', 'a1');
    h.history.compact();
    assert.deepEqual(h.history.since('pods', first), { expired: true, oldest: h.rv });
    assert.deepEqual(h.history.overlay('pods', first), { expired: true, oldest: h.rv });
    assert.deepEqual(h.history.since('pods', h.rv), []);
    // A resource never changed is compacted as well.
    assert.deepEqual(h.history.since('nodes', first), { expired: true, oldest: h.rv });
    assert.equal(h.history.oldest('nodes'), h.rv);
  });

  test('a resource changed for the first time late is still answered from the start', () => {
    const h = setup();
    const start = h.rv;
    h.change('pods', 'ADDED', 'ns/a', 'a1');
    h.change('events', 'ADDED', 'ns/e', 'e1');
    const since = h.history.since('events', start);
    assert.ok(Array.isArray(since) && since.length === 1);
  });

  test('changes older than the window are forgotten as new ones arrive, and make reads there too old', () => {
    const h = setup({ windowMs: 60_000 });
    const first = h.change('events', 'ADDED', 'ns/e1', 'e1');
    const second = h.change('events', 'ADDED', 'ns/e2', 'e2');
    h.tick(61_000);
    h.change('events', 'ADDED', 'ns/e3', 'e3');
    assert.deepEqual(h.history.since('events', first), { expired: true, oldest: second });
    const fromSecond = h.history.since('events', second);
    assert.ok(Array.isArray(fromSecond) && fromSecond.length === 1);
  });

  test('at most maxPerResource changes are kept per resource', () => {
    const h = setup({ maxPerResource: 3 });
    const start = h.rv;
    for (let i = 0; i < 5; i++) h.change('events', 'ADDED', `ns/e${i}`, `e${i}`);
    const since = h.history.since('events', start);
    assert.ok('expired' in since);
    const kept = h.history.since('events', since.oldest);
    assert.ok(Array.isArray(kept));
    assert.deepEqual(
      kept.map((c) => c.object),
      ['e2', 'e3', 'e4'],
    );
  });

  test('subscribers get each change as it is recorded, until they unsubscribe', () => {
    const h = setup();
    const seen: string[] = [];
    const off = h.history.subscribe('pods', (c) => seen.push(`${c.type} ${c.key}`));
    h.change('pods', 'ADDED', 'ns/a', 'a1');
    h.change('events', 'ADDED', 'ns/e', 'e1');
    off();
    h.change('pods', 'DELETED', 'ns/a', 'a1', 'a1');
    assert.deepEqual(seen, ['ADDED ns/a']);
  });
});
