/**
 * What a list or watch request's `resourceVersion`, `resourceVersionMatch`, `continue`, `limit`,
 * `sendInitialEvents`, `allowWatchBookmarks` and `timeoutSeconds` ask for, as kube-apiserver 1.32 (watch
 * cache on) reads them: validated with apimachinery's rules and words, then turned into a plan — which
 * revision to read, from which key, whether to page. Pure; the Status errors are the server's.
 *
 * | request                                  | read                                                     |
 * |------------------------------------------|----------------------------------------------------------|
 * | no resourceVersion                       | the latest revision (a consistent read)                  |
 * | `resourceVersion=0`                      | any revision: the latest, `limit` ignored (the cache)    |
 * | `resourceVersion=N`                      | not older than N; with `limit`, exactly N (legacy rule)  |
 * | `resourceVersion=N&…Match=NotOlderThan`  | not older than N                                         |
 * | `resourceVersion=N&…Match=Exact`         | exactly N (410 when compacted)                           |
 * | `continue=TOKEN`                         | the token's revision from its key (410 when compacted)   |
 */
import * as S from './status.ts';

export interface ListPlan {
  /** The revision to read: a number (exactly that one) or 'latest'. */
  at: number | 'latest';
  /** Not older than this (wait for it, then read the latest). */
  notOlderThan: number | undefined;
  /** 0: no paging. */
  limit: number;
  /** Resume after this key (a continue token's `start`); '' from the beginning. */
  start: string;
  /** Set when the plan comes from a continue token (its 410 carries a token to go on inconsistently). */
  fromContinue: boolean;
}

export interface WatchPlan {
  /** Changes after this revision; 'latest' starts now. */
  from: number | 'latest';
  /** Synthetic ADDED events for the current objects first (a watch from 0 or from nothing). */
  initialEvents: boolean;
  /** `sendInitialEvents=true`: a BOOKMARK marked `k8s.io/initial-events-end` after them. */
  initialEventsEnd: boolean;
  /** Not older than this (sendInitialEvents with a resourceVersion). */
  notOlderThan: number | undefined;
  bookmarks: boolean;
  /** 0: the server's default (`--min-request-timeout` 1800 s, times 1–2). */
  timeoutSeconds: number;
}

const EXACT = 'Exact';
const NOT_OLDER_THAN = 'NotOlderThan';

export function parseListPlan(q: URLSearchParams): ListPlan | S.Status {
  const rvText = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  const token = q.get('continue') ?? '';
  const errs: string[] = [];
  if (match !== '') {
    if (rvText === '')
      errs.push(forbidden('resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (token !== '') errs.push(forbidden('resourceVersionMatch is forbidden when continue is provided'));
    if (match !== EXACT && match !== NOT_OLDER_THAN)
      errs.push(notSupported(match, [EXACT, NOT_OLDER_THAN, '']));
    if (match === EXACT && rvText === '0')
      errs.push(forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (q.has('sendInitialEvents'))
    errs.push('sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list');
  if (errs.length > 0) return invalidListOptions(errs);

  const limit = integerParam(q, 'limit');
  if (typeof limit !== 'number') return limit;

  if (token !== '') {
    const decoded = decodeContinue(token);
    if (typeof decoded === 'string') return S.badRequest(`continue key is not valid: ${decoded}`);
    if (rvText !== '' && rvText !== '0')
      return S.badRequest('specifying resource version is not allowed when using continue');
    return {
      at: decoded.rv < 0 ? 'latest' : decoded.rv,
      notOlderThan: undefined,
      limit: Math.max(0, limit),
      start: decoded.start,
      fromContinue: true,
    };
  }
  const rv = parseResourceVersion(rvText);
  if (typeof rv !== 'number') return rv;
  const plan: ListPlan = {
    at: 'latest',
    notOlderThan: undefined,
    limit: Math.max(0, limit),
    start: '',
    fromContinue: false,
  };
  if (rvText === '') return plan;
  if (rv === 0) return { ...plan, limit: 0 };
  if (match === EXACT || (match === '' && plan.limit > 0)) return { ...plan, at: rv };
  return { ...plan, notOlderThan: rv };
}

export function parseWatchPlan(q: URLSearchParams): WatchPlan | S.Status {
  const rvText = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  const sendText = q.get('sendInitialEvents');
  const errs: string[] = [];
  if (sendText !== null && match !== NOT_OLDER_THAN)
    errs.push(forbidden('sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
  if (match !== '') {
    if (sendText === null)
      errs.push(
        forbidden('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'),
      );
    if (match !== NOT_OLDER_THAN) errs.push(notSupported(match, [NOT_OLDER_THAN]));
    if ((q.get('continue') ?? '') !== '')
      errs.push(forbidden('resourceVersionMatch is forbidden when continue is provided'));
  }
  if (errs.length > 0) return invalidListOptions(errs);
  const timeout = integerParam(q, 'timeoutSeconds');
  if (typeof timeout !== 'number') return timeout;
  const bookmarks = queryBool(q, 'allowWatchBookmarks');
  const rv = parseResourceVersion(rvText);
  if (typeof rv !== 'number') return rv;
  const base = { bookmarks, timeoutSeconds: Math.max(0, timeout), notOlderThan: undefined };
  if (sendText !== null) {
    const send = queryBool(q, 'sendInitialEvents');
    // NotOlderThan: the initial state (or the start) is at least `rv` old; `0`/none: any, the latest.
    return {
      ...base,
      from: 'latest',
      initialEvents: send,
      initialEventsEnd: send,
      notOlderThan: rv > 0 ? rv : undefined,
    };
  }
  if (rv === 0) return { ...base, from: 'latest', initialEvents: true, initialEventsEnd: false };
  return { ...base, from: rv, initialEvents: false, initialEventsEnd: false };
}

/** `""` is 0 here; anything else must be an unsigned integer, as etcd3's versioner parses it. */
function parseResourceVersion(text: string): number | S.Status {
  if (text === '') return 0;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return S.badRequest(
      `resourceVersion: Invalid value: ${JSON.stringify(text)}: strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`,
    );
  }
  return Number(text);
}

function integerParam(q: URLSearchParams, name: string): number | S.Status {
  const text = q.get(name);
  if (text === null || text === '') return 0;
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n))
    return S.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  return n;
}

/**
 * A query bool as apimachinery converts one (Convert_Slice_string_To_bool): absent, `false` (any case)
 * and `0` are false; anything else, the empty string included, is true.
 */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
}

const forbidden = (detail: string) => `resourceVersionMatch: Forbidden: ${detail}`;

function notSupported(value: string, supported: string[]): string {
  return `resourceVersionMatch: Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
}

/** errors.NewInvalid(ListOptions.meta.k8s.io, "", errs): 422 with one cause per field error. */
function invalidListOptions(errs: string[]): S.Status {
  const text = errs.length === 1 ? errs[0]! : `[${errs.join(', ')}]`;
  return S.failure(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${text}`, {
    group: 'meta.k8s.io',
    kind: 'ListOptions',
    causes: errs.map((e) => {
      const [field, ...rest] = e.split(': ');
      const message = rest.join(': ');
      const reason = message.startsWith('Forbidden') ? 'FieldValueForbidden' : 'FieldValueNotSupported';
      return { reason, message, field: field! };
    }),
  });
}

/** The etcd3 store's continue token: base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`. */
export function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

/** The token that resumes after `lastKey` (its `start` is the key with a NUL appended, as etcd3's). */
export const continueAfter = (rv: number, lastKey: string) => encodeContinue(rv, `${lastKey}\u0000`);

export function decodeContinue(token: string): { rv: number; start: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return 'illegal base64 data or JSON in continue token';
  }
  const p = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (p.v !== 'meta.k8s.io/v1') return 'server does not recognize this encoded key';
  if (typeof p.rv !== 'number' || typeof p.start !== 'string' || p.start === '')
    return 'continue key is not valid';
  if (p.rv === 0) return 'incorrect encoded start resourceVersion (version meta.k8s.io/v1)';
  return { rv: p.rv, start: p.start };
}
