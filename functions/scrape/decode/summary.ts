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

/** A `metav1.Time` in milliseconds since the epoch; Go's zero time is written as `null`. */
const Time = z
  .string()
  .transform((text, ctx) => {
    const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
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
const Count = z
  .number()
  .refine((v) => Number.isInteger(v) && v >= 0, 'expected a non-negative integer (a uint64)')
  .nullish();
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
        // seconds × 1e9 in double arithmetic: the same number the /metrics/resource decoder gets
        // from the kubelet's float seconds, so both endpoints agree on restarts.
        startTime: c.startTime == null ? undefined : Math.trunc((c.startTime / 1000) * 1e9),
      });
    }
    pods.push({ namespace: pod.podRef.namespace, name: pod.podRef.name, containers });
  }
  return applyRules(node, pods, { requireStartTime: true });
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
