/**
 * Bearer tokens through TokenReview and requests through SubjectAccessReview, against a fake API
 * server: what is sent, what is believed, how long answers are kept (10 s allowed, 10 s denied, as
 * k8s.io/apiserver's delegating defaults), and that a failed review fails closed without a token ever
 * reaching the log.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requestAttributes } from '../../../functions/serve/auth/attributes.ts';
import {
  ALLOW_CACHE_TTL_MS,
  AuthorizationUnavailableError,
  DENY_CACHE_TTL_MS,
  delegatingAuthorizer,
} from '../../../functions/serve/auth/authorizer.ts';
import { TtlCache } from '../../../functions/serve/auth/cache.ts';
import type { RequestCredentials } from '../../../functions/serve/auth/credentials.ts';
import {
  bearerToken,
  TOKEN_CACHE_TTL_MS,
  tokenReviewAuthenticator,
} from '../../../functions/serve/auth/token.ts';
import { ANONYMOUS, user } from '../../../functions/serve/auth/user.ts';
import { createLogger } from '../../../shared/log.ts';
import { Clock, FakeApi, SARS, sarAnswer, TOKEN_REVIEWS, unreachable } from './auth-fakes.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-token-value';
/** Lets background work (a refresh ahead of expiry) finish. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

const withAuthorization = (value: string | undefined): RequestCredentials => ({
  peer: null,
  header: (name) => (name.toLowerCase() === 'authorization' && value !== undefined ? [value] : []),
  headerNames: () => (value === undefined ? [] : ['authorization']),
});

const reviewed = (username: string) => () => ({
  kind: 'TokenReview',
  status: { authenticated: true, user: { username, uid: 'u-1', groups: ['team'], extra: { scope: ['x'] } } },
});

describe('the Authorization header, as the bearer-token authenticator reads it', () => {
  const cases: [string | undefined, string][] = [
    [undefined, ''],
    ['', ''],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    ['Bearer abc def', 'abc'],
    ['Bearer  abc', ''], // a space before the token: ignored, as apiserver does
    ['Basic YWxpY2U6cHc=', ''],
    ['Bearer', ''],
  ];
  for (const [header, token] of cases) {
    test(`${JSON.stringify(header)} → ${JSON.stringify(token)}`, () =>
      assert.equal(bearerToken(header), token));
  }
});

describe('TokenReview', () => {
  test('sends the token in a TokenReview and believes the user the API server names', async () => {
    const api = new FakeApi(reviewed('jane'));
    const authn = tokenReviewAuthenticator({ api, log: createLogger({ write: () => {} }) });
    const r = await authn.authenticate(withAuthorization(`Bearer ${TOKEN}`));
    assert.deepEqual(r, { user: { name: 'jane', uid: 'u-1', groups: ['team'], extra: { scope: ['x'] } } });
    assert.deepEqual(api.posts(TOKEN_REVIEWS)[0]?.body, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: TOKEN },
    });
  });

  test('no bearer token: nothing to say (and nothing asked)', async () => {
    const api = new FakeApi(reviewed('jane'));
    const authn = tokenReviewAuthenticator({ api, log: createLogger({ write: () => {} }) });
    assert.equal(await authn.authenticate(withAuthorization(undefined)), null);
    assert.equal(api.calls.length, 0);
  });

  test('an answer is served at most 10 s old, authenticated or not; one in use is refreshed without waiting', async () => {
    assert.equal(TOKEN_CACHE_TTL_MS, 10_000);
    const clock = new Clock();
    let valid = true;
    const api = new FakeApi(() =>
      valid ? reviewed('jane')() : { status: { authenticated: false, error: 'token expired' } },
    );
    const authn = tokenReviewAuthenticator({ api, log: createLogger({ write: () => {} }), now: clock.now });
    const ask = () => authn.authenticate(withAuthorization(`Bearer ${TOKEN}`));
    await ask();
    valid = false;
    clock.advance(7_499);
    assert.ok('user' in ((await ask()) ?? {}));
    assert.equal(api.calls.length, 1, 'before the last quarter of its TTL: the cache alone');
    clock.advance(2_500);
    assert.ok('user' in ((await ask()) ?? {}), 'at 9,999 ms: the cached answer, at once');
    await settled();
    assert.equal(api.calls.length, 2, 'and one review behind it');
    assert.deepEqual(await ask(), { error: 'token expired' }, 'the refreshed answer');
    assert.equal(api.calls.length, 2);
    clock.advance(9_999);
    assert.deepEqual(await ask(), { error: 'token expired' });
    await settled();
    assert.equal(api.calls.length, 3, 'the refusal is cached and refreshed the same way');
    clock.advance(10_001);
    valid = true;
    assert.ok('user' in ((await ask()) ?? {}), 'unused past its TTL: asked again before answering');
    assert.equal(api.calls.length, 4);
  });

  test('concurrent requests with one token cost one review', async () => {
    const api = new FakeApi(reviewed('jane'));
    const authn = tokenReviewAuthenticator({ api, log: createLogger({ write: () => {} }) });
    await Promise.all(
      Array.from({ length: 20 }, () => authn.authenticate(withAuthorization(`Bearer ${TOKEN}`))),
    );
    assert.equal(api.calls.length, 1);
  });

  test('an unknown token is an error (401), worded without the token', async () => {
    const api = new FakeApi(() => ({ status: { authenticated: false, error: `token ${TOKEN} not found` } }));
    const authn = tokenReviewAuthenticator({ api, log: createLogger({ write: () => {} }) });
    const r = await authn.authenticate(withAuthorization(`Bearer ${TOKEN}`));
    assert.deepEqual(r, { error: 'token [redacted] not found' });
  });

  test('an unreachable API server fails closed, is not cached, and is logged once, never with the token', async () => {
    const lines: string[] = [];
    let down = true;
    const api = new FakeApi(() => (down ? unreachable() : reviewed('jane')()));
    const authn = tokenReviewAuthenticator({
      api,
      log: createLogger({ write: (l) => lines.push(l), verbosity: 10 }),
    });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await authn.authenticate(withAuthorization(`Bearer ${TOKEN}`)), {
        error: 'the token could not be reviewed',
      });
    }
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /bearer tokens cannot be reviewed.*ECONNREFUSED/);
    down = false;
    assert.ok('user' in ((await authn.authenticate(withAuthorization(`Bearer ${TOKEN}`))) ?? {}));
    for (const l of lines) assert.ok(!l.includes(TOKEN) && !l.includes('secret-token-value'), l);
  });

  test('an error text that echoes the token is redacted before it is logged', async () => {
    const lines: string[] = [];
    const api = new FakeApi(() => {
      throw new Error(`bad request body {"spec":{"token":"${TOKEN}"}}`);
    });
    const authn = tokenReviewAuthenticator({
      api,
      log: createLogger({ write: (l) => lines.push(l), verbosity: 10 }),
    });
    await authn.authenticate(withAuthorization(`Bearer ${TOKEN}`));
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes(TOKEN), lines[0]);
    assert.match(lines[0]!, /\[redacted\]/);
  });
});

describe('SubjectAccessReview', () => {
  const pods = requestAttributes(
    'GET',
    new URL('https://s/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web?x=1'),
  );
  const metrics = requestAttributes('GET', new URL('https://s/metrics'));
  const health = requestAttributes('GET', new URL('https://s/healthz'));
  const noPaths = () => false;

  test('asks with the user, groups, uid, extra and the resource attributes, empty fields left out', async () => {
    const api = new FakeApi(sarAnswer(() => true));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    const decision = await authz.authorize(user('alice', ['dev'], 'uid-7', { scopes: ['a'] }), pods);
    assert.deepEqual(decision, { allowed: true, reason: '' });
    assert.deepEqual(api.posts(SARS)[0]?.body, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'alice',
        uid: 'uid-7',
        groups: ['dev'],
        extra: { scopes: ['a'] },
        resourceAttributes: {
          namespace: 'shop',
          verb: 'get',
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          resource: 'pods',
          name: 'web',
        },
      },
    });
  });

  test('non-resource requests (/metrics) carry the path and verb', async () => {
    const api = new FakeApi(sarAnswer(() => false, 'ignored'));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    assert.deepEqual(await authz.authorize(ANONYMOUS, metrics), { allowed: false, reason: '' });
    assert.deepEqual((api.posts(SARS)[0]?.body as { spec: unknown } | undefined)?.spec, {
      user: 'system:anonymous',
      groups: ['system:unauthenticated'],
      nonResourceAttributes: { path: '/metrics', verb: 'get' },
    });
  });

  test('an allowed answer carries the authorizer’s reason', async () => {
    const api = new FakeApi(sarAnswer(() => true, 'RBAC: allowed by ClusterRoleBinding "x"'));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    assert.deepEqual(await authz.authorize(user('a'), pods), {
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "x"',
    });
  });

  test('system:masters and always-allowed paths need no review; a resource request never matches a path', async () => {
    const api = new FakeApi(sarAnswer(() => false));
    const authz = delegatingAuthorizer({
      api,
      alwaysAllowed: (p) => p === '/healthz' || p.startsWith('/apis/'),
    });
    assert.equal((await authz.authorize(user('root', ['system:masters']), pods)).allowed, true);
    assert.equal((await authz.authorize(ANONYMOUS, health)).allowed, true);
    assert.equal(api.calls.length, 0);
    assert.equal((await authz.authorize(ANONYMOUS, pods)).allowed, false);
    assert.equal(api.calls.length, 1);
  });

  test('allowed and denied answers are served at most 10 s old; unused ones expire, used ones are refreshed', async () => {
    assert.equal(ALLOW_CACHE_TTL_MS, 10_000);
    assert.equal(DENY_CACHE_TTL_MS, 10_000);
    const clock = new Clock();
    let allow = true;
    const api = new FakeApi(sarAnswer(() => allow));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths, now: clock.now });
    const allowed = async () => (await authz.authorize(user('a'), pods)).allowed;
    assert.equal(await allowed(), true);
    allow = false;
    clock.advance(7_000);
    assert.equal(await allowed(), true, 'still the cached allow');
    assert.equal(api.calls.length, 1);
    clock.advance(3_001);
    assert.equal(await allowed(), false, 'expired at 10 s: asked again before answering');
    assert.equal(api.calls.length, 2);
    allow = true;
    clock.advance(9_000);
    assert.equal(await allowed(), false, 'the cached deny, at once');
    await settled();
    assert.equal(api.calls.length, 3, 'refreshed behind it');
    assert.equal(await allowed(), true);
  });

  test('answers are kept per user and per request: another user or object is asked again', async () => {
    const api = new FakeApi(sarAnswer((spec) => spec.user === 'a'));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    assert.equal((await authz.authorize(user('a'), pods)).allowed, true);
    assert.equal((await authz.authorize(user('b'), pods)).allowed, false);
    assert.equal((await authz.authorize(user('a'), metrics)).allowed, true);
    assert.equal(api.calls.length, 3);
  });

  test('`denied: true` wins over a stray `allowed: true`', async () => {
    const api = new FakeApi(() => ({ status: { allowed: true, denied: true } }));
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    assert.equal((await authz.authorize(user('a'), pods)).allowed, false);
  });

  test('an unreachable API server or a malformed answer is an error, never an allow, and not cached', async () => {
    let answer: () => unknown = unreachable;
    const api = new FakeApi(() => answer());
    const authz = delegatingAuthorizer({ api, alwaysAllowed: noPaths });
    await assert.rejects(authz.authorize(user('a'), pods), AuthorizationUnavailableError);
    answer = () => 'not a review';
    await assert.rejects(authz.authorize(user('a'), pods), AuthorizationUnavailableError);
    answer = () => ({ status: { allowed: true } });
    assert.equal((await authz.authorize(user('a'), pods)).allowed, true);
  });

  test('without an API server only masters and always-allowed paths get through', async () => {
    const authz = delegatingAuthorizer({ api: null, alwaysAllowed: (p) => p === '/healthz' });
    assert.equal((await authz.authorize(user('a'), pods)).allowed, false);
    assert.equal((await authz.authorize(ANONYMOUS, health)).allowed, true);
    assert.equal((await authz.authorize(user('r', ['system:masters']), pods)).allowed, true);
  });
});

describe('the review cache', () => {
  test('a failed refresh leaves the entry to serve until it expires; then the caller sees the failure', async () => {
    const clock = new Clock();
    const cache = new TtlCache<number>({ ttlMs: () => 1000, now: clock.now });
    let lookups = 0;
    const failing = async () => {
      lookups++;
      throw new Error('down');
    };
    assert.equal(await cache.get('k', async () => 1), 1);
    clock.advance(800);
    assert.deepEqual(
      await Promise.all([cache.get('k', failing), cache.get('k', failing)]),
      [1, 1],
      'one refresh in flight at a time',
    );
    await settled();
    assert.equal(lookups, 1);
    assert.equal(await cache.get('k', failing), 1, 'refreshed again on the next hit');
    await settled();
    assert.equal(lookups, 2);
    clock.advance(200);
    await assert.rejects(cache.get('k', failing), /down/);
  });

  test('holds at most maxEntries, dropping expired entries first, then the oldest', async () => {
    const clock = new Clock();
    const cache = new TtlCache<number>({ ttlMs: (v) => (v < 0 ? 1 : 1000), maxEntries: 4, now: clock.now });
    await cache.get('expiring', async () => -1);
    for (const k of ['a', 'b', 'c']) await cache.get(k, async () => 1);
    clock.advance(5);
    await cache.get('d', async () => 1);
    assert.equal(cache.size, 4);
    let asked = 0;
    await cache.get('a', async () => {
      asked++;
      return 1;
    });
    assert.equal(asked, 0, 'a survived: the expired entry made room');
    await cache.get('e', async () => 1);
    assert.ok(cache.size <= 4);
  });

  test('a failed lookup is not kept; the next caller asks again', async () => {
    const cache = new TtlCache<number>({ ttlMs: () => 1000 });
    await assert.rejects(cache.get('k', () => Promise.reject(new Error('down'))));
    assert.equal(await cache.get('k', async () => 7), 7);
  });
});
