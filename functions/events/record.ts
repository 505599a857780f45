/**
 * What every sink receives: one record per journaled event version, eventrouter's shape extended
 * (DESIGN.md, *Events*). The journal stores these; sinks never see anything else.
 *
 *   id         `<uid>/<resourceVersion>`: stable across redeliveries, what sinks deduplicate on
 *   verb       ADDED for an event's first journaled version, UPDATED for a later one (a count bump)
 *   time       RFC 3339: lastTimestamp ?? series.lastObservedTime ?? eventTime ?? metadata.creationTimestamp,
 *              never before 1970
 *   event      the core/v1 Event as the API server sent it (managedFields removed)
 *   old_event  the previous journaled version of the same event, or null
 *
 * `buildRecord` (below) is the one function that makes a record from an event and its previous version.
 */
import { z } from 'zod';

/** A core/v1 Event as JSON: the fields the function reads are checked, everything else passes through. */
export const KubeEvent = z.looseObject({
  metadata: z.looseObject({
    uid: z.string().min(1),
    resourceVersion: z.string().min(1),
    name: z.string(),
    namespace: z.string().optional(),
    creationTimestamp: z.string().nullish(),
  }),
});
export type KubeEvent = z.infer<typeof KubeEvent>;

export const EventRecord = z.object({
  id: z.string().min(1),
  verb: z.enum(['ADDED', 'UPDATED']),
  time: z.string(),
  event: KubeEvent,
  old_event: KubeEvent.nullable(),
});
export type EventRecord = z.infer<typeof EventRecord>;

/**
 * The record of one event version, given the previous journaled version of the same event (null for its
 * first). Pure: the same inputs give the same record, so a redelivery carries the same id and time.
 */
export function buildRecord(event: KubeEvent, previous: KubeEvent | null): EventRecord {
  const e = withoutManagedFields(event);
  return {
    id: recordId(e),
    verb: previous === null ? 'ADDED' : 'UPDATED',
    time: eventTime(e),
    event: e,
    old_event: previous === null ? null : withoutManagedFields(previous),
  };
}

/** `<uid>/<resourceVersion>`: one event version. */
export const recordId = (e: KubeEvent): string => `${e.metadata.uid}/${e.metadata.resourceVersion}`;

/** RFC 3339 with an optional fraction (MicroTime has six digits) and a zone. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** The text when it is an RFC 3339 time at or after 1970 (Go's zero time and year-1754 wraps are not). */
function validTime(v: unknown): string | undefined {
  if (typeof v !== 'string' || !RFC3339.test(v)) return undefined;
  const ms = Date.parse(v);
  if (!(ms >= 0)) return undefined;
  // Kept as sent (MicroTime's microseconds survive) when already in UTC; other zones are normalised.
  return /z$/i.test(v) ? `${v.slice(0, -1)}Z` : new Date(ms).toISOString();
}

const field = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined;

/**
 * When the event (last) happened: `lastTimestamp ?? series.lastObservedTime ?? eventTime ??
 * metadata.creationTimestamp`, each skipped when null, malformed or before 1970 (new-style events have a
 * null lastTimestamp; a zero time must never become year 1 or 1754). The API server always sets
 * creationTimestamp; an object without any valid time gets the epoch rather than a made-up clock reading.
 */
export function eventTime(e: KubeEvent): string {
  return (
    validTime(e.lastTimestamp) ??
    validTime(field(e.series, 'lastObservedTime')) ??
    validTime(e.eventTime) ??
    validTime(e.metadata.creationTimestamp) ??
    '1970-01-01T00:00:00Z'
  );
}

/** managedFields say which client set which field: noise in every sink, and most of an event's bytes. */
export function withoutManagedFields(e: KubeEvent): KubeEvent {
  if (!('managedFields' in e.metadata)) return e;
  const { managedFields: _, ...metadata } = e.metadata;
  return { ...e, metadata };
}

/**
 * Whether two versions of an event say the same thing: equal but for resourceVersion and managedFields
 * (key order aside). A new resourceVersion with nothing else changed (a storage migration rewrite) is
 * not a genuine update; a count or series.count bump is.
 */
export function sameContent(a: KubeEvent, b: KubeEvent): boolean {
  return canonical(content(a)) === canonical(content(b));
}

function content(e: KubeEvent): unknown {
  const { resourceVersion: _rv, managedFields: _mf, ...metadata } = e.metadata;
  return { ...e, metadata };
}

/** JSON with object keys sorted, so that key order never makes two equal values differ. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const ks = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${ks.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
