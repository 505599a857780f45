/**
 * What a request asks to do, as k8s.io/apiserver's RequestInfoFactory reads it (the expectations are
 * its documented rules, written out by hand), the always-allow path matcher, and the 401/403 texts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  RequestInfoError,
  requestAttributes,
  requestAttributesOf,
} from '../../../functions/serve/auth/attributes.ts';
import { AlwaysAllowPathError, alwaysAllowPaths } from '../../../functions/serve/auth/paths.ts';
import { forbidden, UNAUTHORIZED } from '../../../functions/serve/auth/status.ts';
import { ANONYMOUS, user, withAuthenticatedGroup } from '../../../functions/serve/auth/user.ts';

const M = '/apis/metrics.k8s.io/v1beta1';
const at = (path: string, method = 'GET') => requestAttributes(method, new URL(`https://serve${path}`));
const resource = (o: Partial<Record<string, string>>) => ({
  kind: 'resource',
  verb: '',
  group: 'metrics.k8s.io',
  version: 'v1beta1',
  resource: '',
  subresource: '',
  namespace: '',
  name: '',
  ...o,
});

describe('request attributes of metrics.k8s.io requests', () => {
  const cases: [string, string, ReturnType<typeof resource>][] = [
    ['list of nodes', `${M}/nodes`, resource({ verb: 'list', resource: 'nodes', path: `${M}/nodes` })],
    [
      'one node',
      `${M}/nodes/n1`,
      resource({ verb: 'get', resource: 'nodes', name: 'n1', path: `${M}/nodes/n1` }),
    ],
    ['all pods', `${M}/pods`, resource({ verb: 'list', resource: 'pods', path: `${M}/pods` })],
    [
      "a namespace's pods",
      `${M}/namespaces/default/pods`,
      resource({
        verb: 'list',
        resource: 'pods',
        namespace: 'default',
        path: `${M}/namespaces/default/pods`,
      }),
    ],
    [
      'one pod',
      `${M}/namespaces/default/pods/web-1`,
      resource({
        verb: 'get',
        resource: 'pods',
        namespace: 'default',
        name: 'web-1',
        path: `${M}/namespaces/default/pods/web-1`,
      }),
    ],
    [
      'a watch (query)',
      `${M}/namespaces/default/pods?watch=true`,
      resource({
        verb: 'watch',
        resource: 'pods',
        namespace: 'default',
        path: `${M}/namespaces/default/pods`,
      }),
    ],
    [
      'a watch (deprecated path prefix)',
      `${M}/watch/namespaces/default/pods`,
      resource({
        verb: 'watch',
        resource: 'pods',
        namespace: 'default',
        path: `${M}/watch/namespaces/default/pods`,
      }),
    ],
    [
      'a list narrowed to one name by field selector',
      `${M}/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1`,
      resource({
        verb: 'list',
        resource: 'pods',
        namespace: 'default',
        name: 'web-1',
        path: `${M}/namespaces/default/pods`,
      }),
    ],
    [
      'the namespace object itself (which is also its own namespace)',
      `${M}/namespaces/default`,
      resource({
        verb: 'get',
        resource: 'namespaces',
        namespace: 'default',
        name: 'default',
        path: `${M}/namespaces/default`,
      }),
    ],
    [
      'a subresource',
      `${M}/namespaces/default/pods/web-1/log`,
      resource({
        verb: 'get',
        resource: 'pods',
        namespace: 'default',
        name: 'web-1',
        subresource: 'log',
        path: `${M}/namespaces/default/pods/web-1/log`,
      }),
    ],
    [
      'a percent-encoded slash stays inside its segment',
      `${M}/namespaces/a%2Fb/pods`,
      resource({ verb: 'list', resource: 'pods', namespace: 'a/b', path: `${M}/namespaces/a/b/pods` }),
    ],
    [
      'the core group',
      '/api/v1/namespaces/default/pods',
      resource({
        verb: 'list',
        group: '',
        version: 'v1',
        resource: 'pods',
        namespace: 'default',
        path: '/api/v1/namespaces/default/pods',
      }),
    ],
  ];
  for (const [what, path, want] of cases) {
    test(`${what}: ${path}`, () => assert.deepEqual(at(path), want));
  }

  test('watch is any value but 0 and false, as apimachinery converts a query bool', () => {
    assert.equal(at(`${M}/pods?watch=1`).verb, 'watch');
    assert.equal(at(`${M}/pods?watch=`).verb, 'watch');
    assert.equal(at(`${M}/pods?watch=0`).verb, 'list');
    assert.equal(at(`${M}/pods?watch=False`).verb, 'list');
  });

  test('a field selector that pins no valid name, or cannot be parsed, leaves the name empty', () => {
    const nameOf = (path: string) => {
      const a = at(path);
      assert.equal(a.kind, 'resource');
      return a.kind === 'resource' ? a.name : undefined;
    };
    assert.equal(nameOf(`${M}/pods?fieldSelector=metadata.name!%3Dx`), '');
    assert.equal(nameOf(`${M}/pods?fieldSelector=metadata.name%3D..`), '');
    assert.equal(nameOf(`${M}/pods?fieldSelector=%3D%3D%3D`), '');
  });

  test('other methods map to their verbs; DELETE without a name is deletecollection', () => {
    assert.equal(at(`${M}/nodes`, 'POST').verb, 'create');
    assert.equal(at(`${M}/nodes/n1`, 'PUT').verb, 'update');
    assert.equal(at(`${M}/nodes/n1`, 'DELETE').verb, 'delete');
    assert.equal(at(`${M}/nodes`, 'DELETE').verb, 'deletecollection');
    assert.equal(at(`${M}/nodes`, 'HEAD').verb, 'list');
  });

  test('a special verb with nothing after it cannot be read', () => {
    assert.throws(() => at(`${M}/watch`), RequestInfoError);
  });
});

describe('non-resource requests', () => {
  for (const path of [
    '/',
    '/apis',
    '/apis/metrics.k8s.io',
    M,
    '/openapi/v2',
    '/version',
    '/metrics',
    '/healthz/ping',
  ]) {
    test(`${path} is a non-resource request with verb get`, () => {
      assert.deepEqual(at(path), { kind: 'non-resource', verb: 'get', path });
    });
  }
  test('the verb is the lower-cased method', () => {
    assert.equal(at('/metrics', 'HEAD').verb, 'head');
    assert.equal(at('/metrics', 'POST').verb, 'post');
  });
  test('a trailing slash is part of the path', () => {
    assert.equal(at('/healthz/').path, '/healthz/');
  });
});

describe('--authorization-always-allow-paths', () => {
  const allowed = alwaysAllowPaths(['/healthz', '/readyz', '/livez']);
  test('the defaults match only the exact paths', () => {
    assert.ok(allowed('/healthz') && allowed('/readyz') && allowed('/livez'));
    assert.ok(!allowed('/healthz/ping'));
    assert.ok(!allowed('/healthz/'));
    assert.ok(!allowed('/healthzz'));
    assert.ok(!allowed('/metrics'));
  });
  test('a trailing * matches a prefix', () => {
    const m = alwaysAllowPaths(['/healthz/*', '/metrics']);
    assert.ok(m('/healthz/ping') && m('/healthz/') && m('/metrics'));
    assert.ok(!m('/healthz'));
  });
  test('"/" matches only the root', () => {
    const m = alwaysAllowPaths(['/']);
    assert.ok(m('/'));
    assert.ok(!m('/apis'));
  });
  test('a * anywhere else is refused, naming the pattern', () => {
    assert.throws(
      () => alwaysAllowPaths(['/he*lthz']),
      (e: Error) => {
        assert.ok(e instanceof AlwaysAllowPathError);
        assert.equal(e.message, 'only trailing * allowed in "he*lthz"');
        return true;
      },
    );
  });
});

describe('401 and 403 Status bodies in Kubernetes’ wording', () => {
  test('401 is the bare Unauthorized Status', () => {
    assert.deepEqual(UNAUTHORIZED, { message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });
  test('a namespaced resource request', () => {
    assert.deepEqual(forbidden(user('alice'), at(`${M}/namespaces/default/pods`), ''), {
      message:
        'pods.metrics.k8s.io is forbidden: User "alice" cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "default"',
      reason: 'Forbidden',
      code: 403,
      details: { name: '', group: 'metrics.k8s.io', kind: 'pods' },
    });
  });
  test('a named cluster-scoped resource, with the authorizer’s reason', () => {
    assert.equal(
      forbidden(user('bob'), at(`${M}/nodes/n1`), 'no RBAC policy matched').message,
      'nodes.metrics.k8s.io "n1" is forbidden: User "bob" cannot get resource "nodes" in API group "metrics.k8s.io" at the cluster scope: no RBAC policy matched',
    );
  });
  test('a subresource is named resource/subresource', () => {
    assert.match(
      forbidden(user('bob'), at(`${M}/namespaces/x/pods/p/log`), '').message,
      /cannot get resource "pods\/log" in API group "metrics\.k8s\.io" in the namespace "x"$/,
    );
  });
  test('a non-resource path', () => {
    assert.deepEqual(forbidden(ANONYMOUS, at('/metrics'), ''), {
      message: 'forbidden: User "system:anonymous" cannot get path "/metrics"',
      reason: 'Forbidden',
      code: 403,
      details: {},
    });
  });
  test('names are quoted as Go’s %q does', () => {
    assert.match(forbidden(user('a"b\n'), at('/metrics'), '').message, /User "a\\"b\\n" cannot/);
  });
});

describe('request attributes kept by method and URL', () => {
  test('the same attributes as reading the URL, one frozen object per method and URL', () => {
    const url = `https://serve${M}/namespaces/team-a/pods?labelSelector=app%3Dweb`;
    const kept = requestAttributesOf('GET', url);
    assert.deepEqual(kept, requestAttributes('GET', new URL(url)));
    assert.ok(Object.isFrozen(kept));
    assert.equal(requestAttributesOf('GET', url), kept, 'read once');
    assert.notEqual(requestAttributesOf('HEAD', url), kept, 'another method is another entry');
    assert.equal(requestAttributesOf('DELETE', url).verb, 'deletecollection');
  });

  test('a URL longer than what is kept is read every time, to the same attributes', () => {
    const url = `https://serve${M}/namespaces/team-a/pods?labelSelector=app%3D${'x'.repeat(2000)}`;
    const a = requestAttributesOf('GET', url);
    assert.deepEqual(a, requestAttributes('GET', new URL(url)));
    assert.notEqual(requestAttributesOf('GET', url), a);
  });

  test('a URL that cannot be read throws every time, and nothing is kept for it', () => {
    const url = `https://serve${M}/watch`;
    assert.throws(() => requestAttributesOf('GET', url), RequestInfoError);
    assert.throws(() => requestAttributesOf('GET', url), RequestInfoError);
  });
});

describe('one user per identity', () => {
  test('an authenticated user made from a frozen user is kept with it; any other is made anew', () => {
    const frozen = Object.freeze({ name: 'hpa', uid: '', groups: Object.freeze(['a']), extra: {} });
    const first = withAuthenticatedGroup(frozen);
    assert.deepEqual(first.groups, ['a', 'system:authenticated']);
    assert.equal(withAuthenticatedGroup(frozen), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.groups));
    const plain = user('hpa', ['a']);
    assert.deepEqual(withAuthenticatedGroup(plain), first);
    assert.notEqual(withAuthenticatedGroup(plain), withAuthenticatedGroup(plain));
    assert.equal(withAuthenticatedGroup(ANONYMOUS), ANONYMOUS);
  });
});
