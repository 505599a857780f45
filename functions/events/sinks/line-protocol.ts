/**
 * InfluxDB line protocol, the few parts a sink of events needs (reference/events.md §7.1):
 *
 *   <measurement>[,<tag>=<value>…] <field>=<value>[,…] <timestamp ns>
 *
 * Tags are sorted by key (byte order, what InfluxDB recommends) and empty ones left out (an empty tag
 * value is invalid). No line ever holds a raw line break, so one line is one point (InfluxDB 3 names
 * refused lines by number): a line break in a value is written as the two characters `\n`, as Telegraf
 * does.
 */

/** A field value: a string, a float (number), an integer (bigint, written `7i`) or a boolean. */
export type FieldValue = string | number | bigint | boolean;

export interface Point {
  measurement: string;
  tags: Readonly<Record<string, string | undefined>>;
  fields: Readonly<Record<string, FieldValue>>;
  /** Unix nanoseconds. */
  time: bigint;
}

const LINE_BREAKS = /\r\n|\r|\n/g;
const breaksAsText = (s: string) => s.replace(LINE_BREAKS, (b) => (b === '\r' ? '\\r' : '\\n'));

/**
 * Tag keys and values and field keys: `,`, `=` and space escaped with `\`. There a backslash is itself
 * no escape, so one that would turn the next separator into text (at the end, or before `,`, `=`, space)
 * cannot be written at all and is dropped.
 */
export function escapeKey(s: string): string {
  return breaksAsText(s)
    .replace(/\\+(?=[,= ]|$)/g, '')
    .replace(/[,= ]/g, '\\$&');
}

/** A measurement: `,` and space escaped (`=` is allowed there), with the same rule for backslashes. */
export function escapeMeasurement(s: string): string {
  return breaksAsText(s)
    .replace(/\\+(?=[, ]|$)/g, '')
    .replace(/[, ]/g, '\\$&');
}

/** A string field value: quoted, with `"` and `\` escaped. */
export function quoteString(s: string): string {
  return `"${breaksAsText(s.replace(/["\\]/g, '\\$&'))}"`;
}

function fieldValue(v: FieldValue): string {
  switch (typeof v) {
    case 'string':
      return quoteString(v);
    case 'bigint':
      return `${v}i`;
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      if (!Number.isFinite(v)) throw new RangeError(`a float field must be finite, got ${v}`);
      return String(v);
  }
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function encodePoint(p: Point): string {
  let line = escapeMeasurement(p.measurement);
  for (const key of Object.keys(p.tags).sort(byteOrder)) {
    const value = p.tags[key];
    if (value === undefined || value === '') continue;
    const k = escapeKey(key);
    const v = escapeKey(value);
    if (k !== '' && v !== '') line += `,${k}=${v}`;
  }
  const fields = Object.keys(p.fields)
    .sort(byteOrder)
    .map((key) => `${escapeKey(key)}=${fieldValue(p.fields[key]!)}`);
  if (fields.length === 0) throw new RangeError('a point needs at least one field');
  return `${line} ${fields.join(',')} ${p.time}`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time (`2024-05-01T10:00:00Z`, a MicroTime's `.123456Z`) as Unix nanoseconds, exactly. */
export function unixNanos(time: string): bigint {
  const m = RFC3339.exec(time);
  const ms = m ? Date.parse(`${m[1]!.replace(/[t ]/, 'T')}${m[3]!.toUpperCase()}`) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new RangeError(`not an RFC 3339 time: ${JSON.stringify(time)}`);
  const ns = BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  if (ns < MIN_NS || ns > MAX_NS) {
    throw new RangeError(`${time} is outside the times InfluxDB stores (1677-09-21 to 2262-04-11)`);
  }
  return ns;
}

/** InfluxDB's range: int64 nanoseconds less the two values it reserves. */
const MAX_NS = 9223372036854775806n;
const MIN_NS = -9223372036854775806n;
