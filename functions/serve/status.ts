/**
 * Every error the serve function answers is a `metav1.Status`, built the way k8s.io/apimachinery's
 * `api/errors` constructors build them, so clients (kubectl's `Error from server (NotFound): …`,
 * client-go's retry logic, @kubernetes/client-node) read them as they read kube-apiserver's.
 */
import { goQuote } from '../../shared/selectors/text.ts';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { message: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  message: string;
  /** '' is metav1.StatusReasonUnknown: the field is then omitted, as Go's omitempty does. */
  reason: string;
  code: number;
  /** Present (possibly `{}`) when apimachinery sets a details pointer. */
  details?: StatusDetails;
}

/** A Status to answer with; handlers throw it and the app's error handler writes it. */
export class StatusError extends Error {
  override name = 'StatusError';
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.status = status;
  }
}

/** `schema.GroupResource.String()`: `pods` for the core group, `podmetrics.metrics.k8s.io` otherwise. */
const qualified = (group: string, resource: string) => (group === '' ? resource : `${resource}.${group}`);

/** `errors.NewNotFound`. */
export function notFound(group: string, resource: string, name: string): Status {
  return {
    message: `${qualified(group, resource)} ${goQuote(name)} not found`,
    reason: 'NotFound',
    code: 404,
    details: { name, ...(group === '' ? {} : { group }), kind: resource },
  };
}

/** `errors.NewBadRequest`: selector errors, bad table options. */
export function badRequest(message: string): Status {
  return { message, reason: 'BadRequest', code: 400 };
}

/** `errors.NewMethodNotSupported`: `watch is not supported on resources of kind "pods.metrics.k8s.io"`. */
export function methodNotSupported(group: string, resource: string, action: string): Status {
  return {
    message: `${action} is not supported on resources of kind ${goQuote(qualified(group, resource))}`,
    reason: 'MethodNotAllowed',
    code: 405,
    details: { group, kind: resource },
  };
}

/** What go-restful's 405 becomes in the generic apiserver (`NewGenericServerResponse(405, …)`). */
export const METHOD_NOT_ALLOWED: Status = {
  message: 'the server does not allow this method on the requested resource',
  reason: 'MethodNotAllowed',
  code: 405,
  details: {},
};

/** What go-restful's 404 becomes in the generic apiserver: a path that names nothing served here. */
export const PATH_NOT_FOUND: Status = {
  message: 'the server could not find the requested resource',
  reason: 'NotFound',
  code: 404,
  details: {},
};

/** `negotiation.NewNotAcceptableError`: nothing in the Accept header is a type this server writes. */
export function notAcceptable(accepted: readonly string[]): Status {
  return {
    message: `only the following media types are accepted: ${accepted.join(', ')}`,
    reason: 'NotAcceptable',
    code: 406,
  };
}

/** The handlers' own 406 (`errNotAcceptable` in handlers/response.go), e.g. PartialObjectMetadata of a list. */
export function notAcceptableConversion(message: string): Status {
  return { message, reason: 'NotAcceptable', code: 406 };
}

/**
 * Redis did not answer. `errors.NewServiceUnavailable` with a retry hint: client-go honours Retry-After
 * on a 5xx and retries a GET (up to 10 times), which bridges a Sentinel failover for the HPA. The cause
 * (host, port, ioredis text) goes to the log, not to the caller.
 */
export const STORE_UNAVAILABLE: Status = {
  message: 'the metrics store (Redis) is unavailable, try again later',
  reason: 'ServiceUnavailable',
  code: 503,
  details: { retryAfterSeconds: 1 },
};

/** An error that is not a Status (a bug): `ErrorToAPIStatus` gives 500 with its text and no reason. */
export function internalError(err: unknown): Status {
  return { message: err instanceof Error ? err.message : String(err), reason: '', code: 500 };
}

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-cache, private' } as const;

/**
 * The Status as JSON, in metav1.Status' field order. `indent`: kube-apiserver writes an error as indented
 * JSON when the request's Accept header admits no JSON at all (WriteObjectNegotiated's fallback).
 */
export function statusJson(s: Status, indent = false): string {
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: s.message,
    reason: s.reason === '' ? undefined : s.reason,
    details: s.details === undefined ? undefined : orderedDetails(s.details),
    code: s.code,
  };
  return indent ? JSON.stringify(body, null, 2) : JSON.stringify(body);
}

function orderedDetails(d: StatusDetails): StatusDetails {
  return {
    name: d.name || undefined,
    group: d.group || undefined,
    kind: d.kind || undefined,
    causes: d.causes,
    retryAfterSeconds: d.retryAfterSeconds || undefined,
  };
}

export function statusResponse(s: Status, indent = false): Response {
  const retry = s.details?.retryAfterSeconds;
  const headers: Record<string, string> = retry
    ? { ...HEADERS, 'retry-after': String(retry) }
    : { ...HEADERS };
  return new Response(statusJson(s, indent), { status: s.code, headers });
}
