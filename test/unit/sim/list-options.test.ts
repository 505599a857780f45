import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  continueAfter,
  decodeContinue,
  encodeContinue,
  parseListPlan,
  parseWatchPlan,
} from '../../../sim/list-options.ts';

const q = (s: string) => new URLSearchParams(s);

describe('which revision a list reads (kube-apiserver 1.32 with the watch cache)', () => {
  test('no resourceVersion: the latest, paged by limit', () => {
    assert.deepEqual(parseListPlan(q('limit=500')), {
      at: 'latest',
      notOlderThan: undefined,
      limit: 500,
      start: '',
      fromContinue: false,
    });
  });

  test('resourceVersion=0: any (the latest), and the cache ignores limit', () => {
    const p = parseListPlan(q('resourceVersion=0&limit=500'));
    assert.ok(!('code' in p));
    assert.equal(p.at, 'latest');
    assert.equal(p.limit, 0);
  });

  test('resourceVersion=N: not older than N; with limit, exactly N (the legacy rule); Exact: exactly N', () => {
    const notOlder = parseListPlan(q('resourceVersion=1200'));
    assert.ok(!('code' in notOlder));
    assert.deepEqual([notOlder.at, notOlder.notOlderThan], ['latest', 1200]);
    const legacy = parseListPlan(q('resourceVersion=1200&limit=10'));
    assert.ok(!('code' in legacy));
    assert.deepEqual([legacy.at, legacy.notOlderThan], [1200, undefined]);
    const exact = parseListPlan(q('resourceVersion=1200&resourceVersionMatch=Exact'));
    assert.ok(!('code' in exact));
    assert.equal(exact.at, 1200);
    const notOlderWithLimit = parseListPlan(
      q('resourceVersion=1200&resourceVersionMatch=NotOlderThan&limit=10'),
    );
    assert.ok(!('code' in notOlderWithLimit));
    assert.deepEqual([notOlderWithLimit.at, notOlderWithLimit.notOlderThan], ['latest', 1200]);
  });

  test("a continue token reads its revision from its key; -1 (etcd3's 'latest') reads the latest", () => {
    const p = parseListPlan(q(`continue=${continueAfter(1234, 'shop/web-7')}&limit=5`));
    assert.deepEqual(p, {
      at: 1234,
      notOlderThan: undefined,
      limit: 5,
      start: 'shop/web-7\u0000',
      fromContinue: true,
    });
    const latest = parseListPlan(q(`continue=${encodeContinue(-1, 'shop/web-8')}`));
    assert.ok(!('code' in latest));
    assert.equal(latest.at, 'latest');
  });

  test('invalid combinations are 422 Invalid ListOptions, in apimachinery words', () => {
    const noRv = parseListPlan(q('resourceVersionMatch=Exact'));
    assert.ok('code' in noRv);
    assert.equal(noRv.code, 422);
    assert.equal(noRv.reason, 'Invalid');
    assert.equal(
      noRv.message,
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    );
    assert.deepEqual(noRv.details?.causes, [
      {
        reason: 'FieldValueForbidden',
        message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
        field: 'resourceVersionMatch',
      },
    ]);
    const exactZero = parseListPlan(q('resourceVersion=0&resourceVersionMatch=Exact'));
    assert.ok('code' in exactZero);
    assert.match(exactZero.message, /resourceVersionMatch "exact" is forbidden for resourceVersion "0"$/);
    const bogus = parseListPlan(q('resourceVersion=5&resourceVersionMatch=bogus'));
    assert.ok('code' in bogus);
    assert.match(bogus.message, /Unsupported value: "bogus": supported values: "Exact", "NotOlderThan", ""$/);
    const initial = parseListPlan(q('sendInitialEvents=true'));
    assert.ok('code' in initial);
    assert.match(initial.message, /sendInitialEvents is forbidden for list$/);
  });

  test('a resourceVersion beside a continue token is a 400; so are bad numbers and bad tokens', () => {
    const both = parseListPlan(q(`continue=${continueAfter(5, 'a')}&resourceVersion=5`));
    assert.ok('code' in both);
    assert.deepEqual(
      [both.code, both.message],
      [400, 'specifying resource version is not allowed when using continue'],
    );
    const rv = parseListPlan(q('resourceVersion=abc'));
    assert.ok('code' in rv && rv.code === 400);
    assert.match(rv.message, /strconv\.ParseUint: parsing "abc": invalid syntax/);
    const limit = parseListPlan(q('limit=ten'));
    assert.ok('code' in limit && limit.code === 400);
    const token = parseListPlan(q('continue=garbage'));
    assert.ok('code' in token);
    assert.match(token.message, /^continue key is not valid/);
  });
});

describe('where a watch starts', () => {
  test('from a resourceVersion: the changes after it, nothing first', () => {
    assert.deepEqual(parseWatchPlan(q('resourceVersion=1500&allowWatchBookmarks=true&timeoutSeconds=290')), {
      from: 1500,
      initialEvents: false,
      initialEventsEnd: false,
      notOlderThan: undefined,
      bookmarks: true,
      timeoutSeconds: 290,
    });
  });

  test('from nothing or 0: the current objects as ADDED first', () => {
    for (const query of ['', 'resourceVersion=0']) {
      const p = parseWatchPlan(q(query));
      assert.ok(!('code' in p));
      assert.deepEqual(
        [p.from, p.initialEvents, p.initialEventsEnd, p.bookmarks],
        ['latest', true, false, false],
      );
    }
  });

  test('sendInitialEvents=true with NotOlderThan: the current objects, then the initial-events-end bookmark', () => {
    const p = parseWatchPlan(
      q(
        'sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=700',
      ),
    );
    assert.ok(!('code' in p));
    assert.deepEqual(
      [p.from, p.initialEvents, p.initialEventsEnd, p.notOlderThan],
      ['latest', true, true, 700],
    );
    const off = parseWatchPlan(q('sendInitialEvents=false&resourceVersionMatch=NotOlderThan'));
    assert.ok(!('code' in off));
    assert.deepEqual([off.from, off.initialEvents], ['latest', false]);
  });

  test('resourceVersionMatch needs sendInitialEvents and vice versa (422)', () => {
    const match = parseWatchPlan(q('resourceVersionMatch=NotOlderThan'));
    assert.ok('code' in match && match.code === 422);
    assert.match(
      match.message,
      /resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided$/,
    );
    const send = parseWatchPlan(q('sendInitialEvents=true'));
    assert.ok('code' in send && send.code === 422);
    assert.match(send.message, /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan$/);
    const exact = parseWatchPlan(q('sendInitialEvents=true&resourceVersionMatch=Exact'));
    assert.ok('code' in exact);
    assert.match(
      exact.message,
      /^ListOptions\.meta\.k8s\.io "" is invalid: \[.*, .*Unsupported value: "Exact"/,
    );
    assert.equal(exact.details?.causes?.length, 2);
  });

  test('a bad number is 400; a bool is false only when absent, "false" or "0" (apimachinery)', () => {
    const t = parseWatchPlan(q('timeoutSeconds=soon'));
    assert.ok('code' in t && t.code === 400);
    for (const [text, want] of [
      ['', false],
      ['&allowWatchBookmarks', true],
      ['&allowWatchBookmarks=yes', true],
      ['&allowWatchBookmarks=1', true],
      ['&allowWatchBookmarks=0', false],
      ['&allowWatchBookmarks=False', false],
    ] as const) {
      const p = parseWatchPlan(q(`resourceVersion=5${text}`));
      assert.ok(!('code' in p));
      assert.equal(p.bookmarks, want, text);
    }
  });
});

describe('continue tokens', () => {
  test('etcd3 shape: base64url JSON with v, rv and start; rv 0 is not a token', () => {
    const token = continueAfter(42, 'ns/a');
    assert.deepEqual(JSON.parse(Buffer.from(token, 'base64url').toString()), {
      v: 'meta.k8s.io/v1',
      rv: 42,
      start: 'ns/a\u0000',
    });
    assert.equal(typeof decodeContinue(encodeContinue(0, 'x')), 'string');
  });
});
