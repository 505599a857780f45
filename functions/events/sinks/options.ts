/**
 * A sink URI's options, as heapster took them (`?db=k8s&withfields=true`): query parameters validated by
 * a zod schema per kind, once, at start. A bad one is an InvalidSink naming the option and what is
 * allowed; a secret is never a URI value but a file named by a `*_file` option (a mounted Secret).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseHostPort } from '../../../shared/config/checks.ts';
import { parseDuration } from '../../../shared/duration.ts';
import { InvalidSink } from './sink.ts';

export function invalid(kind: string, what: string): InvalidSink {
  return new InvalidSink(`${kind} sink: ${what}`);
}

/** heapster's values for booleans (Go's strconv.ParseBool). */
const TRUE = ['1', 't', 'T', 'true', 'True', 'TRUE'];
const FALSE = ['0', 'f', 'F', 'false', 'False', 'FALSE'];

export const bool = z
  .string()
  .refine((v) => TRUE.includes(v) || FALSE.includes(v), { error: 'expected true or false' })
  .transform((v) => TRUE.includes(v));

/** A Go-style duration (`10s`, `1m30s`), as milliseconds, greater than zero. */
export const duration = z.string().transform((v, ctx) => {
  try {
    const ms = parseDuration(v) / 1e6;
    if (ms > 0) return ms;
    ctx.addIssue({ code: 'custom', message: `must be more than 0, got ${JSON.stringify(v)}` });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
  return z.NEVER;
});

export const count = (min: number, max: number) => {
  const error = `expected a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d+$/, { error })
    .transform(Number)
    .pipe(z.number().min(min, { error }).max(max, { error }));
};

/** A comma-separated (or repeated) list of host:port. */
export const hostPorts = z.string().transform((v, ctx) => {
  const items = v.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!parseHostPort(item)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} is not host:port` });
      return z.NEVER;
    }
  }
  return items;
});

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });

export const nonEmpty = z.string().min(1, { error: 'must not be empty' });

/** Options every sink kind of this folder takes. */
export const common = {
  /** Bound on one write (connect, send, answer). */
  timeout: duration.optional(),
  max_batch: count(1, 10_000).optional(),
};

export interface QueryOptions {
  /** Keys that may be given more than once: their values are joined with commas. */
  repeatable?: readonly string[];
  /** Keys whose value is a secret: the message points to the `*_file` option instead. */
  secrets?: Readonly<Record<string, string>>;
}

/**
 * URL query parameters as one string per option. Empty values are kept (a schema says whether they are
 * allowed); an option given twice is an error unless it is a list.
 */
export function queryOptions(
  kind: string,
  params: URLSearchParams,
  o: QueryOptions = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of params) {
    const file = o.secrets?.[key];
    if (file !== undefined) {
      throw invalid(
        kind,
        `option "${key}" would put a secret in the sink URI; write it to a file (a mounted Secret) and name the file with ${file}=PATH`,
      );
    }
    if (Object.hasOwn(out, key)) {
      if (!o.repeatable?.includes(key)) throw invalid(kind, `option "${key}" is given more than once`);
      out[key] = `${out[key]},${value}`;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Validates options against a kind's strict schema; the first problem becomes one InvalidSink line. */
export function parseOptions<S extends z.ZodObject>(kind: string, schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(schema.shape).sort().join(', ');
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    throw invalid(kind, `unknown option ${keys}; allowed: ${allowed}`);
  }
  const key = issue.path[0];
  if (key === undefined) throw invalid(kind, issue.message);
  if ((raw as Record<string, unknown>)[String(key)] === undefined) {
    // A missing option, or one another option needs (a refinement says which).
    throw invalid(kind, `option "${String(key)}" ${issue.code === 'custom' ? issue.message : 'is required'}`);
  }
  throw invalid(kind, `option "${String(key)}": ${issue.message}`);
}

/**
 * A secret from a file (a mounted Secret), without the trailing newline editors and `kubectl create
 * secret --from-file` leave. Read when the sink is created, so a missing file stops the program at start.
 */
export function readSecret(kind: string, option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw invalid(
      kind,
      `option "${option}": cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

/** A PEM file (a CA bundle, a client certificate or key), read at start like a secret. */
export function readPem(kind: string, option: string, path: string): string {
  const text = readSecret(kind, option, path);
  if (!text.includes('-----BEGIN ')) throw invalid(kind, `option "${option}": ${path} holds no PEM block`);
  return text;
}
