/**
 * A sink URI's query (`?stream=k8s-events&maxlen=1000`) as options validated by the kind's zod schema:
 * unknown options are refused (a typo must not be silently ignored), and every problem is one
 * InvalidSink line naming the option.
 */
import { z } from 'zod';
import { InvalidSink } from './sink.ts';

export function queryOptions<S extends z.ZodType>(
  kind: string,
  query: URLSearchParams,
  schema: S,
): z.infer<S> {
  const raw: Record<string, string> = {};
  for (const [k, v] of query) {
    if (k in raw) throw new InvalidSink(`${kind}: option ${k} is given twice`);
    raw[k] = v;
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys')
    throw new InvalidSink(`${kind}: unknown option ${issue.keys.join(', ')}`);
  const at = issue.path.length > 0 ? `option ${issue.path.join('.')}` : 'options';
  throw new InvalidSink(`${kind}: ${at}: ${issue.message}`);
}

/** A non-negative integer option given as text. */
export const count = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `must be a non-negative integer (${what})`)
    .transform(Number)
    .refine(Number.isSafeInteger, 'is too large');
