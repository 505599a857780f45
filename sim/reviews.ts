/**
 * TokenReview and SubjectAccessReview, the two APIs a delegating (aggregated) API server such as the
 * serve function calls: authentication.k8s.io/v1 and authorization.k8s.io/v1, answered from the
 * simulated cluster's users table and authorizer.
 */
import { z } from 'zod';
import type { Attributes, SimAuth, UserInfo } from './auth.ts';

const TokenReviewRequest = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  spec: z.object({ token: z.string(), audiences: z.array(z.string()).optional() }),
});

const ResourceAttributesSchema = z.object({
  namespace: z.string().optional(),
  verb: z.string().optional(),
  group: z.string().optional(),
  version: z.string().optional(),
  resource: z.string().optional(),
  subresource: z.string().optional(),
  name: z.string().optional(),
});

const NonResourceAttributesSchema = z.object({ path: z.string().optional(), verb: z.string().optional() });

const SubjectAccessReviewRequest = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  spec: z.object({
    user: z.string().optional(),
    groups: z.array(z.string()).optional(),
    uid: z.string().optional(),
    extra: z.record(z.string(), z.array(z.string())).optional(),
    resourceAttributes: ResourceAttributesSchema.optional(),
    nonResourceAttributes: NonResourceAttributesSchema.optional(),
  }),
});

export type ReviewResult = { status: number; body: unknown };

function invalid(kind: string, error: z.ZodError): ReviewResult {
  const issue = error.issues[0];
  const field = issue ? issue.path.join('.') : '';
  return {
    status: 400,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `${kind} in version "v1" cannot be handled as a ${kind}: ${field ? `${field}: ` : ''}${issue?.message ?? 'invalid'}`,
      reason: 'BadRequest',
      code: 400,
    },
  };
}

export function tokenReview(auth: SimAuth, body: unknown): ReviewResult {
  const parsed = TokenReviewRequest.safeParse(body);
  if (!parsed.success) return invalid('TokenReview', parsed.error);
  const user = auth.authenticateToken(parsed.data.spec.token);
  const audiences = parsed.data.spec.audiences;
  return {
    status: 201,
    body: {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: parsed.data.spec,
      status: user
        ? {
            authenticated: true,
            user: { username: user.name, uid: user.uid, groups: user.groups },
            ...(audiences ? { audiences } : {}),
          }
        : { user: {}, error: 'invalid bearer token' },
    },
  };
}

function attributesFromSpec(
  spec: z.infer<typeof SubjectAccessReviewRequest>['spec'],
): Attributes | undefined {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      verb: r.verb ?? '',
      group: r.group ?? '',
      resource: r.resource ?? '',
      ...(r.subresource ? { subresource: r.subresource } : {}),
      ...(r.namespace ? { namespace: r.namespace } : {}),
      ...(r.name ? { name: r.name } : {}),
    };
  }
  const n = spec.nonResourceAttributes;
  return n ? { verb: n.verb ?? '', path: n.path ?? '' } : undefined;
}

/** `self`: a SelfSubjectAccessReview, asked about the caller rather than a named user. */
export function subjectAccessReview(
  auth: SimAuth,
  body: unknown,
  caller: UserInfo,
  self: boolean,
): ReviewResult {
  const parsed = SubjectAccessReviewRequest.safeParse(body);
  const kind = self ? 'SelfSubjectAccessReview' : 'SubjectAccessReview';
  if (!parsed.success) return invalid(kind, parsed.error);
  const spec = parsed.data.spec;
  const attrs = attributesFromSpec(spec);
  if (!attrs) {
    return {
      status: 422,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `${kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`,
        reason: 'Invalid',
        code: 422,
      },
    };
  }
  const subject: UserInfo = self ? caller : { name: spec.user ?? '', groups: spec.groups ?? [] };
  const decision = auth.authorize(subject, attrs);
  return {
    status: 201,
    body: {
      kind,
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false },
    },
  };
}
