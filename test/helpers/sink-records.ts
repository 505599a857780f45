/**
 * Records as the journal hands them to sinks, for the sinks' tests: real-shaped core/v1 Events (a pod's
 * BackOff with a count, a node event, a new-style event with `series`), and batches keyed by their ids.
 */
import { createHash } from 'node:crypto';
import type { EventRecord } from '../../functions/events/record.ts';
import type { Batch } from '../../functions/events/sinks/sink.ts';
import { createLogger, type Logger } from '../../shared/log.ts';

export interface EventSpec {
  uid?: string;
  resourceVersion?: string;
  namespace?: string;
  name?: string;
  kind?: string;
  involvedName?: string;
  involvedUid?: string;
  reason?: string;
  message?: string;
  type?: 'Normal' | 'Warning';
  component?: string;
  host?: string;
  count?: number;
  time?: string;
  verb?: 'ADDED' | 'UPDATED';
}

let serial = 0;

/** A pod event record (a kubelet's BackOff unless told otherwise), unique unless uid is given. */
export function eventRecord(s: EventSpec = {}): EventRecord {
  serial++;
  const uid =
    s.uid ??
    `7d0c6a4e-${String(serial).padStart(4, '0')}-4b7e-9d3a-${process.pid.toString(16).padStart(12, '0')}`;
  const rv = s.resourceVersion ?? String(1000 + serial);
  const time = s.time ?? '2024-05-01T10:00:00Z';
  const involvedName = s.involvedName ?? 'web-6d4cf56db6-x2x7k';
  const event = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${involvedName}.17c9a3f5e1d2b${serial}`,
      namespace: s.namespace ?? 'default',
      uid,
      resourceVersion: rv,
      creationTimestamp: '2024-05-01T09:58:00Z',
    },
    involvedObject: {
      apiVersion: 'v1',
      kind: s.kind ?? 'Pod',
      namespace: s.namespace ?? 'default',
      name: involvedName,
      uid: s.involvedUid ?? '51b4a0e2-3c1d-4f6e-8a7b-9c0d1e2f3a4b',
      fieldPath: 'spec.containers{web}',
    },
    reason: s.reason ?? 'BackOff',
    message: s.message ?? 'Back-off restarting failed container web in pod web-6d4cf56db6-x2x7k_default',
    source: { component: s.component ?? 'kubelet', host: s.host ?? 'node-1' },
    firstTimestamp: '2024-05-01T09:58:00Z',
    lastTimestamp: time,
    count: s.count ?? 1,
    type: s.type ?? 'Warning',
    eventTime: null,
    reportingComponent: s.component ?? 'kubelet',
    reportingInstance: s.host ?? 'node-1',
  };
  return { id: `${uid}/${rv}`, verb: s.verb ?? 'ADDED', time, event, old_event: null };
}

/** A batch as delivery cuts it: the key is a hash of the ids alone. */
export function batchOf(records: readonly EventRecord[]): Batch {
  const key = createHash('sha256')
    .update(records.map((r) => r.id).join('\n'))
    .digest('hex')
    .slice(0, 32);
  return { records, key };
}

/** A logger that keeps its JSON lines, for tests that check what a sink logged. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ format: 'json', verbosity: 4, write: (l) => lines.push(l) }), lines };
}

/** A signal that is never aborted. */
export const never = new AbortController().signal;
