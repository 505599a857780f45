/**
 * Decodes the kubelet's `/stats/summary` (JSON, `k8s.io/kubelet/pkg/apis/stats/v1alpha1`) into a
 * MetricsBatch, the way metrics-server v0.5 did: cumulative `usageCoreNanoSeconds` and
 * `workingSetBytes`, timestamps from `cpu.time`. `usageNanoCores` is never read: kubelets and
 * runtimes leave it absent or 0 on live containers (kubernetes#72803, #138402).
 *
 * Precision: `JSON.parse` reads integers above 2^53 (node `usageCoreNanoSeconds` after about 104
 * core-days) to the nearest double, a few nanoseconds off. That is accepted: it is far below what a
 * rate over seconds can show.
 */
import { z } from 'zod';
import { DecodeError, type MetricsBatch } from './batch.ts';
import { applyRules, type RawContainer, type RawNode, type RawPod } from './rules.ts';

/** RFC 3339, as Go's `metav1.Time` writes it (second precision, though fractions are accepted). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : month === 4 || month === 6 || month === 9 || month === 11
      ? 30
      : 31;

/** The number written by `length` decimal digits at `at`, or -1 when one is not a digit. */
function digitsAt(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ`, the form every kubelet writes (`metav1.Time` in UTC), by arithmetic, or
 * `undefined` for any other form or a field out of its calendar range (which `Date.parse` reads on
 * its own terms: it rolls 30 February over, takes 24:00). Two or three times per container: a
 * tenth of the decoder's time when it went through the regular expression and `Date.parse`.
 */
function plainUtcTime(text: string): number | undefined {
  if (
    text.length !== 20 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 90 // Z
  ) {
    return undefined;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000;
}

/** An RFC 3339 time in milliseconds since the epoch, `NaN` when it is not one. */
export function timeMs(text: string): number {
  return plainUtcTime(text) ?? (RFC3339.test(text) ? Date.parse(text) : Number.NaN);
}

/** A `metav1.Time` in milliseconds since the epoch; Go's zero time is written as `null`. */
const Time = z
  .string()
  .transform((text, ctx) => {
    const ms = timeMs(text);
    if (Number.isNaN(ms)) {
      ctx.issues.push({
        code: 'custom',
        message: `expected an RFC 3339 time, received ${JSON.stringify(text)}`,
        input: text,
      });
      return z.NEVER;
    }
    return ms;
  })
  .nullish();

/** Every block and number is optional upstream (pointers with `omitempty`); unknown keys are stripped. */
/**
 * The kubelet writes these as Go uint64s, and metrics-server v0.5 could only read them as such: a
 * negative, fractional or overflowing number is a malformed payload, not a reading.
 */
const isCount = (v: number): boolean => Number.isInteger(v) && v >= 0;
const Count = z.number().refine(isCount, 'expected a non-negative integer (a uint64)').nullish();
const Cpu = z.object({ time: Time, usageCoreNanoSeconds: Count }).nullish();
// memory.time is not read: the CPU sample dates the container (metrics-server v0.5).
const Memory = z.object({ workingSetBytes: Count }).nullish();

const Container = z.object({ name: z.string(), startTime: Time, cpu: Cpu, memory: Memory });

const Pod = z.object({
  podRef: z.object({ name: z.string(), namespace: z.string() }),
  // A nil slice is written as null; `containers` is not omitempty but old kubelets left it null.
  containers: z.array(Container).nullish(),
});

const NodeBlock = z.object({ cpu: Cpu, memory: Memory }).nullish();

export const SummarySchema = z.object({ node: NodeBlock, pods: z.array(Pod).nullish() });

/**
 * What is checked first: the pods are then checked one by one, stopping at the first bad one. zod
 * reports every bad element of an array, which for a hostile 16 MiB `[1,1,1,…]` means millions of
 * issues and seconds of CPU; one is enough to reject the payload.
 */
const Envelope = z.object({ node: NodeBlock, pods: z.array(z.unknown()).nullish() });

export type Summary = z.output<typeof SummarySchema>;

/**
 * @param body the response body as text, or already parsed JSON
 * @param _requestTime unused: every time comes from the payload, and a missing one is missing data
 *   (v0.5 rule), not "now". Kept so both decoders share one signature.
 * @throws DecodeError when the body is not JSON or a field has the wrong type (naming its path)
 */
export function decodeSummary(body: unknown, _requestTime: number): MetricsBatch {
  let json = body;
  if (typeof body === 'string') {
    try {
      json = JSON.parse(body);
    } catch (error) {
      throw new DecodeError(`the summary is not JSON: ${(error as Error).message}`);
    }
  }
  const read = readPlainly(json) ?? readBySchema(json);
  return applyRules(read.node, read.pods, { requireStartTime: true });
}

/** What a summary reads as, before the rules. */
export interface Readings {
  node: RawNode;
  pods: RawPod[];
}

/** Reads a summary through the schemas: for what `readPlainly` leaves, and to name what is wrong. */
export function readBySchema(json: unknown): Readings {
  const parsed = Envelope.safeParse(json);
  if (!parsed.success) throw new DecodeError(describeIssues(parsed.error.issues));
  const summary: Summary = { node: parsed.data.node, pods: parsed.data.pods?.map(checkedPod) };

  const node: RawNode = {
    timestamp: summary.node?.cpu?.time ?? undefined,
    cpu: summary.node?.cpu?.usageCoreNanoSeconds ?? undefined,
    memory: summary.node?.memory?.workingSetBytes ?? undefined,
  };
  const pods: RawPod[] = [];
  for (const pod of summary.pods ?? []) {
    const containers: RawContainer[] = [];
    for (const c of pod.containers ?? []) {
      containers.push({
        name: c.name,
        timestamp: c.cpu?.time ?? undefined, // metrics-server v0.5: the CPU sample's time
        cpu: c.cpu?.usageCoreNanoSeconds ?? undefined,
        memory: c.memory?.workingSetBytes ?? undefined,
        startTime: c.startTime == null ? undefined : startNanos(c.startTime),
      });
    }
    pods.push({ namespace: pod.podRef.namespace, name: pod.podRef.name, containers });
  }
  return { node, pods };
}

/**
 * seconds × 1e9 in double arithmetic: the same number the /metrics/resource decoder gets from the
 * kubelet's float seconds, so both endpoints agree on restarts.
 */
const startNanos = (ms: number): number => Math.trunc((ms / 1000) * 1e9);

// The plain reading: what the schemas accept, read by hand, without building their output. zod's
// generic walk over every container was a third of the decoder's time beside `JSON.parse`. It gives up
// (`undefined`) at the first thing that is not plainly what the schemas want; the schemas then read
// the whole summary, and name what is wrong if anything is. So it never decides what is an error,
// only what is plainly right (test/fuzz/decoders.test.ts checks both readings agree).

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Gave up: not plainly what the schemas want. */
const UNCLEAR = null;

/** A `Time` as the schema reads it: `undefined` for null or absent, `UNCLEAR` for anything else not a time. */
function plainTime(v: unknown): number | undefined | typeof UNCLEAR {
  if (v == null) return undefined;
  if (typeof v !== 'string') return UNCLEAR;
  const ms = timeMs(v);
  return Number.isNaN(ms) ? UNCLEAR : ms;
}

function plainCount(v: unknown): number | undefined | typeof UNCLEAR {
  if (v == null) return undefined;
  return typeof v === 'number' && isCount(v) ? v : UNCLEAR;
}

/** Reads a `cpu` and a `memory` block into `into`; false when either is unclear. */
function plainUsage(cpu: unknown, memory: unknown, into: RawNode): boolean {
  if (cpu != null) {
    if (!isObject(cpu)) return false;
    const time = plainTime(cpu.time);
    const usage = plainCount(cpu.usageCoreNanoSeconds);
    if (time === UNCLEAR || usage === UNCLEAR) return false;
    into.timestamp = time;
    into.cpu = usage;
  }
  if (memory != null) {
    if (!isObject(memory)) return false;
    const workingSet = plainCount(memory.workingSetBytes);
    if (workingSet === UNCLEAR) return false;
    into.memory = workingSet;
  }
  return true;
}

function plainPod(raw: unknown): RawPod | undefined {
  if (!isObject(raw)) return undefined;
  const ref = raw.podRef;
  if (!isObject(ref) || typeof ref.name !== 'string' || typeof ref.namespace !== 'string') return undefined;
  const list = raw.containers;
  const containers: RawContainer[] = [];
  if (list != null) {
    if (!Array.isArray(list)) return undefined;
    for (const c of list) {
      if (!isObject(c) || typeof c.name !== 'string') return undefined;
      const start = plainTime(c.startTime);
      if (start === UNCLEAR) return undefined;
      const container: RawContainer = {
        name: c.name,
        timestamp: undefined,
        cpu: undefined,
        memory: undefined,
        startTime: start === undefined ? undefined : startNanos(start),
      };
      if (!plainUsage(c.cpu, c.memory, container)) return undefined;
      containers.push(container);
    }
  }
  return { namespace: ref.namespace, name: ref.name, containers };
}

/** The whole summary read plainly, or `undefined` when any part of it is not plain. */
export function readPlainly(json: unknown): Readings | undefined {
  if (!isObject(json)) return undefined;
  const node: RawNode = { timestamp: undefined, cpu: undefined, memory: undefined };
  const block = json.node;
  if (block != null && (!isObject(block) || !plainUsage(block.cpu, block.memory, node))) return undefined;
  const pods: RawPod[] = [];
  const list = json.pods;
  if (list != null) {
    if (!Array.isArray(list)) return undefined;
    for (const raw of list) {
      const pod = plainPod(raw);
      if (!pod) return undefined;
      pods.push(pod);
    }
  }
  return { node, pods };
}

function checkedPod(raw: unknown, i: number): z.output<typeof Pod> {
  const pod = Pod.safeParse(raw);
  if (pod.success) return pod.data;
  throw new DecodeError(
    describeIssues(pod.error.issues.map((x) => ({ ...x, path: ['pods', i, ...x.path] }))),
  );
}

/** `pods[3].containers[0].cpu.usageCoreNanoSeconds: expected number, received string` */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'the summary does not match the expected shape';
  let path = '';
  for (const key of first.path) {
    if (typeof key === 'number') path += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) path += path ? `.${key}` : key;
    else path += `[${JSON.stringify(String(key))}]`;
  }
  const message = first.message.replace(/^Invalid input: /, '');
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${path || 'summary'}: ${message}${more}`;
}
