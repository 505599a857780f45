/**
 * Which records a sink gets: kubernetes-event-exporter's match and drop rules, anchored. A rule names
 * some of namespace, kind, reason, type and component, each a regular expression that must match the
 * whole value (`Pod` matches Pod, not PodDisruptionBudget; write `Pod.*` for both). A rule matches when
 * all of its fields do. A record goes to the sink when no match rule is given or any matches, and no
 * drop rule matches. Patterns are compiled when the configuration is read: an invalid one stops the
 * program at start instead of never matching.
 *
 * The values: namespace = metadata.namespace (involvedObject.namespace when absent), kind and the
 * others from involvedObject.kind, reason, type, and source.component (reportingComponent for
 * events.k8s.io events, which leave source empty). A missing value is the empty string.
 */
import { z } from 'zod';
import type { EventRecord } from './record.ts';

export const RULE_FIELDS = ['namespace', 'kind', 'reason', 'type', 'component'] as const;
type RuleField = (typeof RULE_FIELDS)[number];

const pattern = z.string().transform((source, ctx) => {
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid regular expression ${JSON.stringify(source)}: ${err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err)}`,
    });
    return z.NEVER;
  }
});

export const Rule = z
  .strictObject({
    namespace: pattern.optional(),
    kind: pattern.optional(),
    reason: pattern.optional(),
    type: pattern.optional(),
    component: pattern.optional(),
  })
  .refine((r) => RULE_FIELDS.some((f) => r[f] !== undefined), {
    message: `a rule needs at least one of ${RULE_FIELDS.join(', ')}`,
  });
export type Rule = z.infer<typeof Rule>;

export interface Route {
  match: readonly Rule[];
  drop: readonly Rule[];
}

/** Everything goes everywhere unless a sink says otherwise. */
export const ALL: Route = { match: [], drop: [] };

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const get = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined;

/** The values rules are matched against. */
export function ruleValues(r: EventRecord): Record<RuleField, string> {
  const e = r.event;
  const involved = get(e, 'involvedObject');
  return {
    namespace: text(e.metadata.namespace) || text(get(involved, 'namespace')),
    kind: text(get(involved, 'kind')),
    reason: text(get(e, 'reason')),
    type: text(get(e, 'type')),
    component: text(get(get(e, 'source'), 'component')) || text(get(e, 'reportingComponent')),
  };
}

function matches(rule: Rule, values: Record<RuleField, string>): boolean {
  for (const f of RULE_FIELDS) {
    const re = rule[f];
    if (re !== undefined && !re.test(values[f])) return false;
  }
  return true;
}

export function routed(route: Route, r: EventRecord): boolean {
  if (route.match.length === 0 && route.drop.length === 0) return true;
  const values = ruleValues(r);
  if (route.drop.some((rule) => matches(rule, values))) return false;
  return route.match.length === 0 || route.match.some((rule) => matches(rule, values));
}
