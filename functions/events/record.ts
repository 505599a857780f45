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
 * The function that builds a record from an event and its previous version lives beside this schema.
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
