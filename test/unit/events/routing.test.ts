/**
 * Routing (routing.ts): kubernetes-event-exporter's match and drop rules, anchored, so that `Pod`
 * never matches PodDisruptionBudget, and compiled up front so an invalid pattern fails loudly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildRecord, type KubeEvent } from '../../../functions/events/record.ts';
import { ALL, type Route, Rule, routed, ruleValues } from '../../../functions/events/routing.ts';

const record = (o: Record<string, unknown> = {}, namespace: string | null = 'shop') =>
  buildRecord(
    {
      metadata: { uid: 'u', resourceVersion: '1', name: 'x', ...(namespace ? { namespace } : {}) },
      involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web-1' },
      reason: 'BackOff',
      type: 'Warning',
      source: { component: 'kubelet', host: 'n1' },
      ...o,
    } as KubeEvent,
    null,
  );

const rules = (...r: unknown[]) => r.map((x) => Rule.parse(x));
const route = (match: unknown[], drop: unknown[] = []): Route => ({
  match: rules(...match),
  drop: rules(...drop),
});

describe('a route', () => {
  test('with no rules takes every record', () => {
    assert.equal(routed(ALL, record()), true);
  });

  test('matches whole values only: Pod is not PodDisruptionBudget', () => {
    const r = route([{ kind: 'Pod' }]);
    assert.equal(routed(r, record()), true);
    assert.equal(routed(r, record({ involvedObject: { kind: 'PodDisruptionBudget' } })), false);
    assert.equal(
      routed(route([{ kind: 'Pod.*' }]), record({ involvedObject: { kind: 'PodDisruptionBudget' } })),
      true,
    );
  });

  test('takes a record when any match rule matches, and a rule matches when all its fields do', () => {
    const r = route([{ namespace: 'prod-.*', type: 'Warning' }, { reason: 'OOMKilling' }]);
    assert.equal(routed(r, record({}, 'prod-eu')), true);
    assert.equal(routed(r, record({ type: 'Normal' }, 'prod-eu')), false);
    assert.equal(routed(r, record({ reason: 'OOMKilling', type: 'Normal' }, 'dev')), true);
    assert.equal(routed(r, record({}, 'dev')), false);
  });

  test('drops what a drop rule matches, even when a match rule matches too', () => {
    const r = route([{ type: 'Warning' }], [{ namespace: 'kube-system|kube-public' }]);
    assert.equal(routed(r, record({}, 'kube-system')), false);
    assert.equal(routed(r, record({}, 'shop')), true);
    assert.equal(
      routed(route([], [{ reason: 'Pulled|Created|Started' }]), record({ reason: 'Pulled' })),
      false,
    );
    assert.equal(routed(route([], [{ reason: 'Pulled|Created|Started' }]), record()), true);
  });

  test('reads component from source.component, or reportingComponent for events.k8s.io events', () => {
    assert.equal(ruleValues(record()).component, 'kubelet');
    assert.equal(
      ruleValues(record({ source: {}, reportingComponent: 'default-scheduler' })).component,
      'default-scheduler',
    );
  });

  test("reads namespace from the event, else from the involved object; a missing value is ''", () => {
    assert.equal(ruleValues(record({}, null)).namespace, 'shop');
    const v = ruleValues(record({ involvedObject: {}, reason: undefined, type: undefined }, null));
    assert.deepEqual([v.namespace, v.kind, v.reason, v.type], ['', '', '', '']);
    assert.equal(routed(route([{ reason: '' }]), record({ reason: undefined })), true);
  });
});

describe('a rule', () => {
  test('with an invalid pattern is refused, naming it (never a rule that silently never matches)', () => {
    const r = Rule.safeParse({ namespace: '*test*' });
    assert.equal(r.success, false);
    assert.match(r.error?.issues[0]?.message ?? '', /invalid regular expression "\*test\*": /);
  });

  test('without a field, or with an unknown one, is refused', () => {
    assert.match(
      Rule.safeParse({}).error?.issues[0]?.message ?? '',
      /at least one of namespace, kind, reason, type, component/,
    );
    assert.equal(Rule.safeParse({ labels: { app: 'x' } }).success, false);
  });
});
