import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forbiddenDetail, SimAuth } from '../../../sim/auth.ts';
import { continueAfter, decodeContinue } from '../../../sim/list-options.ts';
import { negotiate } from '../../../sim/negotiation.ts';
import { requestInfo } from '../../../sim/request-info.ts';
import { lowerBound } from '../../../sim/sorted.ts';
import { humanDuration } from '../../../sim/tables.ts';

const KUBECTL_TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const KUBECTL_DISCOVERY =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const CLIENT_GO_METADATA =
  'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

describe('content negotiation as kube-apiserver does it, JSON only', () => {
  test("kubectl get's Accept asks for a meta.k8s.io/v1 Table", () => {
    assert.deepEqual(negotiate(KUBECTL_TABLE, true), {
      representation: { kind: 'table', apiVersion: 'meta.k8s.io/v1' },
      contentType: 'application/json',
    });
  });

  test("client-go's metadata client gets a PartialObjectMetadataList (protobuf passed over)", () => {
    assert.deepEqual(negotiate(CLIENT_GO_METADATA, true), {
      representation: { kind: 'partial', list: true, apiVersion: 'meta.k8s.io/v1' },
      contentType: 'application/json',
    });
  });

  test('discovery documents answer plain JSON to an aggregated-discovery Accept', () => {
    assert.deepEqual(negotiate(KUBECTL_DISCOVERY, false), {
      representation: { kind: 'object' },
      contentType: 'application/json',
    });
  });

  test('protobuf first, then */*: JSON; no header at all: JSON', () => {
    const json = { representation: { kind: 'object' }, contentType: 'application/json' };
    assert.deepEqual(negotiate('application/vnd.kubernetes.protobuf, */*', true), json);
    assert.deepEqual(negotiate(undefined, true), json);
  });

  test('nothing this server can write: 406 wording', () => {
    const n = negotiate('application/yaml', true);
    assert.ok('error' in n);
    assert.match(n.error, /^only the following media types are accepted: application\/json/);
  });
});

describe('request attributes (RequestInfo)', () => {
  test('namespaced list, named get, cluster list, node proxy, watch', () => {
    const info = (method: string, path: string, watch = false) =>
      requestInfo(method, path, path.split('/').filter(Boolean), watch);
    assert.deepEqual(info('GET', '/api/v1/namespaces/shop/pods'), {
      kind: 'resource',
      verb: 'list',
      group: '',
      version: 'v1',
      resource: 'pods',
      subresource: undefined,
      namespace: 'shop',
      name: undefined,
      rest: [],
    });
    assert.equal((info('GET', '/api/v1/namespaces/shop/pods/web-1') as { verb: string }).verb, 'get');
    assert.equal((info('GET', '/api/v1/pods', true) as { verb: string }).verb, 'watch');
    const proxy = info('GET', '/api/v1/nodes/n1/proxy/stats/summary');
    assert.equal(proxy.kind === 'resource' && `${proxy.resource}/${proxy.subresource}`, 'nodes/proxy');
    assert.deepEqual(proxy.kind === 'resource' && proxy.rest, ['stats', 'summary']);
    const metrics = info('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods');
    assert.equal(metrics.kind === 'resource' && metrics.group, 'metrics.k8s.io');
    assert.deepEqual(info('GET', '/apis'), { kind: 'non-resource', verb: 'get', path: '/apis' });
    const ns = info('GET', '/api/v1/namespaces/shop');
    assert.equal(ns.kind === 'resource' && `${ns.resource} ${ns.name}`, 'namespaces shop');
  });
});

describe('continue tokens', () => {
  test('round-trip the resourceVersion and resume after the last key', () => {
    const token = continueAfter(1234, 'shop/web-7');
    assert.deepEqual(decodeContinue(token), { rv: 1234, start: 'shop/web-7\u0000' });
    const keys = ['shop/web-1', 'shop/web-7', 'shop/web-8'];
    assert.equal(lowerBound(keys, 'shop/web-7\u0000'), 2);
  });

  test('anything else is not a continue token', () => {
    assert.equal(typeof decodeContinue('not-base64-json'), 'string');
    assert.equal(typeof decodeContinue(Buffer.from('{"v":"x"}').toString('base64url')), 'string');
  });
});

describe("the simulated cluster's authorizer", () => {
  const auth = new SimAuth();
  const user = (name: string) => auth.user(name)!;
  const scraper = user('system:serviceaccount:kube-system:metrics-scraper');

  test('the scraper may read nodes and pods and the kubelet subresources, nothing else', () => {
    assert.ok(auth.authorize(scraper, { verb: 'list', group: '', resource: 'nodes' }).allowed);
    assert.ok(
      auth.authorize(scraper, { verb: 'get', group: '', resource: 'nodes', subresource: 'metrics' }).allowed,
    );
    assert.ok(
      auth.authorize(scraper, { verb: 'get', group: '', resource: 'nodes', subresource: 'proxy' }).allowed,
    );
    assert.ok(!auth.authorize(scraper, { verb: 'delete', group: '', resource: 'pods' }).allowed);
    assert.ok(
      !auth.authorize(scraper, { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system' })
        .allowed,
    );
  });

  test('a viewer may read pods but not a kubelet; nobody may only see discovery', () => {
    assert.ok(auth.authorize(user('viewer'), { verb: 'list', group: '', resource: 'pods' }).allowed);
    assert.ok(
      !auth.authorize(user('viewer'), { verb: 'get', group: '', resource: 'nodes', subresource: 'stats' })
        .allowed,
    );
    assert.ok(!auth.authorize(user('nobody'), { verb: 'list', group: '', resource: 'pods' }).allowed);
    assert.ok(auth.authorize(user('nobody'), { verb: 'get', path: '/apis' }).allowed);
  });

  test('system:masters may do anything, whoever it is', () => {
    assert.ok(
      auth.authorize(
        { name: 'kube-apiserver-kubelet-client', groups: ['system:masters'] },
        { verb: 'get', group: '', resource: 'nodes', subresource: 'proxy' },
      ).allowed,
    );
  });

  test('tokens identify users; unknown or malformed ones identify nobody', () => {
    assert.equal(auth.authenticateHeader(`Bearer ${scraper.token}`)?.name, scraper.name);
    assert.equal(auth.authenticateHeader('Bearer wrong'), undefined);
    assert.equal(auth.authenticateHeader(scraper.token), undefined);
  });

  test("denials read like kube-apiserver's", () => {
    assert.equal(
      forbiddenDetail(user('nobody'), { verb: 'list', group: '', resource: 'pods', namespace: 'default' }),
      'User "nobody" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    assert.equal(
      forbiddenDetail(user('viewer'), {
        verb: 'get',
        group: '',
        resource: 'nodes',
        subresource: 'proxy',
        name: 'n1',
      }),
      'User "viewer" cannot get resource "nodes/proxy" in API group "" at the cluster scope',
    );
  });
});

describe("ages as kubectl shows them (Go's duration.HumanDuration)", () => {
  test('seconds, minutes, hours, days and years with the same cut-offs', () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    const cases: [number, string][] = [
      [-5 * s, '<invalid>'],
      [-1 * s, '0s'],
      [59 * s, '59s'],
      [119 * s, '119s'],
      [2 * m, '2m'],
      [2 * m + 5 * s, '2m5s'],
      [10 * m, '10m'],
      [179 * m, '179m'],
      [3 * h, '3h'],
      [3 * h + 20 * m, '3h20m'],
      [8 * h, '8h'],
      [47 * h, '47h'],
      [48 * h, '2d'],
      [49 * h, '2d1h'],
      [8 * d, '8d'],
      [729 * d, '729d'],
      [730 * d, '2y'],
      [731 * d, '2y1d'],
      [8 * 365 * d, '8y'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });
});
