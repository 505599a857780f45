/**
 * A line parser for the Prometheus text exposition format 0.0.4, as the kubelet writes it on
 * `/metrics/resource`. It runs once per node per cycle, so it scans characters in place: no
 * regular expressions, no splitting into lines, and strings are cut only for what the caller keeps
 * (the metric name, the values of the labels it asked for, and long number tokens) and to compare
 * a line's name and label set with those already read (`textAt`).
 *
 * Grammar accepted (the text format's own, which the kubelet follows):
 *   - blank lines; `#` comments; `# HELP name text` and `# TYPE name type` (checked, then ignored);
 *   - `name{label="value",...} value [timestamp]`, blanks and tabs between tokens, an optional
 *     trailing comma in the label set, `\r\n` line ends;
 *   - label values escape `\\`, `\"` and `\n` (any other escape is an error);
 *   - values are Go floats: `1`, `-0.5`, `1.633252712e+9`, `NaN`, `+Inf`, `-Inf`;
 *   - timestamps are integer milliseconds.
 * A line that breaks it throws a DecodeError naming the line number and what is wrong.
 */
import { DecodeError } from './batch.ts';

/**
 * The values of one label set, as the parser read them. A series' lines in successive families carry
 * the same label set (the kubelet writes every family's series in one order), so one object stands
 * for every line whose label text is the same as the line it was read from: the caller may keep it,
 * and cache on it what it derives from the values (`cache`), but never change `values`.
 */
export interface LabelSet<C> {
  /** Values of the labels the caller asked for, in its order; `undefined` when absent. */
  readonly values: readonly (string | undefined)[];
  /** The caller's own: whatever it derived from `values`, so that it derives it once. */
  cache: C | undefined;
}

/** One sample. The parser reuses this object from line to line: copy what you keep. */
export interface ExpositionSample<C = never> {
  /** Values of the labels the caller asked for (`labelSet.values`). */
  readonly labels: readonly (string | undefined)[];
  readonly labelSet: LabelSet<C>;
  value: number;
  /** Milliseconds since the epoch, or `undefined` when the sample has none. */
  timestamp: number | undefined;
  /** 1-based line number, for error messages. */
  line: number;
}

const CR = 13;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const EQUALS = 61;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

// Character classes of the code units below 128, as bit flags.
const METRIC_START = 1; // [a-zA-Z_:]
const METRIC = 2; // [a-zA-Z0-9_:]
const LABEL_START = 4; // [a-zA-Z_]
const LABEL = 8; // [a-zA-Z0-9_]
const BLANK = 16; // space, tab
const LETTER = 32; // [a-zA-Z]
const CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  const digit = c >= 48 && c <= 57;
  const underscore = c === 95;
  CLASSES[c] =
    (letter || underscore || c === 58 ? METRIC_START : 0) |
    (letter || underscore || digit || c === 58 ? METRIC : 0) |
    (letter || underscore ? LABEL_START : 0) |
    (letter || underscore || digit ? LABEL : 0) |
    (c === 32 || c === 9 ? BLANK : 0) |
    (letter ? LETTER : 0);
}
/** Whether code unit `c` is in `classes`; false past the end of the text (`NaN`). */
const is = (c: number, classes: number): boolean => c < 128 && (CLASSES[c]! & classes) !== 0;

const METRIC_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** A label set as read from the text, with the text it was read from. */
interface ReadLabelSet<C> extends LabelSet<C> {
  /** The label set's text, from `{` to `}`. */
  readonly source: string;
  /** A label of the caller's that appears twice: an error, but only in a family the caller reads. */
  readonly duplicate: string | undefined;
}

/** What the scan of one text carries from line to line. */
interface Scan {
  readonly text: string;
  /** The current line's number (1-based) and end (exclusive, before any `\r`). */
  line: number;
  end: number;
  /** Where the next backslash is at or after the last search, or -1: found once, not per value. */
  backslash: number;
  /** The number `readValue` read last. */
  value: number;
  /** The label of the caller's that `parseLabels` found twice in the label set it read last. */
  duplicate: string | undefined;
}

function fail(scan: Scan, what: string): never {
  throw new DecodeError(`line ${scan.line}: ${what}`);
}

/** The token at `pos` (up to the next blank), quoted and shortened, for error messages. */
function token(scan: Scan, pos: number): string {
  let stop = pos;
  while (stop < scan.end && !is(scan.text.charCodeAt(stop), BLANK)) stop++;
  const t = scan.text.slice(pos, stop);
  return JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t);
}

/**
 * Whether `text` holds `s` at `pos`. Cutting and comparing beats `startsWith` by about three times on
 * the 30–80 characters of a metric name or label set: V8 compares two flat strings as memory, and
 * `startsWith` one character at a time.
 */
const textAt = (text: string, pos: number, s: string): boolean => text.slice(pos, pos + s.length) === s;

function skip(scan: Scan, pos: number, classes: number): number {
  const { text, end } = scan;
  while (pos < end && is(text.charCodeAt(pos), classes)) pos++;
  return pos;
}

/** The end of the name starting at `pos` (`pos` itself when there is none). */
function skipName(scan: Scan, pos: number, start: number, rest: number): number {
  return pos < scan.end && is(scan.text.charCodeAt(pos), start) ? skip(scan, pos + 1, rest) : pos;
}

/**
 * Parses `text` and calls `onSample` for every sample whose metric name `classify` maps to a
 * family (anything but `undefined`). Every line is checked, including those of families the caller
 * ignores, so a corrupt payload is rejected as a whole rather than half-read.
 */
export function parseExposition<F, C = never>(
  text: string,
  labelNames: readonly string[],
  classify: (metricName: string) => F | undefined,
  onSample: (family: F, sample: ExpositionSample<C>) => void,
): void {
  const none: LabelSet<C> = { values: labelNames.map(() => undefined), cache: undefined };
  const sample: ExpositionSample<C> = {
    labels: none.values,
    labelSet: none,
    value: 0,
    timestamp: undefined,
    line: 0,
  };
  const scan: Scan = {
    text,
    line: 0,
    end: 0,
    backslash: text.indexOf('\\'),
    value: 0,
    duplicate: undefined,
  };
  // The kubelet writes each family's series together, so a line's name is nearly always the last
  // line's: comparing it with that one saves scanning and classifying it again.
  let lastName = '';
  let lastFamily: F | undefined;
  // And it writes every family's series in the same order: the n-th label set of a family is nearly
  // always the n-th of the family before. A label set whose text is the same as one read before is
  // the same label set (the grammar of a label set does not depend on the line around it), so it
  // is compared and taken as read, rather than read again: three lines of four, for the kubelet's.
  const earlier: ReadLabelSet<C>[] = [];
  let ordinal = 0;

  const length = text.length;
  let pos = 0;
  while (pos < length) {
    scan.line++;
    let next = text.indexOf('\n', pos);
    if (next === -1) next = length;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    scan.end = end;
    pos = skip(scan, pos, BLANK);
    if (pos < end) {
      if (text.charCodeAt(pos) === HASH) {
        checkComment(scan, pos + 1);
      } else {
        let nameEnd = pos + lastName.length;
        if (!textAt(text, pos, lastName) || nameEnd === pos || is(text.charCodeAt(nameEnd), METRIC)) {
          nameEnd = skipName(scan, pos, METRIC_START, METRIC);
          if (nameEnd === pos) fail(scan, `expected a metric name, found ${token(scan, pos)}`);
          lastName = text.slice(pos, nameEnd);
          lastFamily = classify(lastName);
          ordinal = 0;
        }
        const family = lastFamily;
        pos = nameEnd;
        const c = text.charCodeAt(pos);
        let labelSet: ReadLabelSet<C> | LabelSet<C> = none;
        if (c === OPEN_BRACE && pos < end) {
          let read = earlier[ordinal];
          if (read !== undefined && textAt(text, pos, read.source)) {
            pos += read.source.length;
          } else {
            const values: (string | undefined)[] = labelNames.map(() => undefined);
            const start = pos;
            scan.duplicate = undefined;
            pos = parseLabels(scan, pos + 1, labelNames, values, family !== undefined);
            read = { values, cache: undefined, source: text.slice(start, pos), duplicate: scan.duplicate };
            earlier[ordinal] = read;
          }
          ordinal++;
          if (read.duplicate !== undefined && family !== undefined)
            fail(scan, `label ${read.duplicate} appears twice`);
          labelSet = read;
        } else if (pos < end && !is(c, BLANK)) {
          fail(scan, `unexpected ${token(scan, pos)} after metric name ${lastName}`);
        }
        pos = skip(scan, pos, BLANK);
        if (pos >= end) fail(scan, `no value for ${lastName}`);
        const valueEnd = readValue(scan, pos);
        if (valueEnd === pos) fail(scan, `bad sample value ${token(scan, pos)}`);
        const value = scan.value;
        pos = skip(scan, valueEnd, BLANK);
        let timestamp: number | undefined;
        if (pos < end) {
          const stop = readInteger(scan, pos);
          if (stop === pos) fail(scan, `bad timestamp ${token(scan, pos)}: expected integer milliseconds`);
          timestamp = scan.value;
          pos = skip(scan, stop, BLANK);
          if (pos < end) fail(scan, `unexpected ${token(scan, pos)} after the timestamp`);
        }
        if (family !== undefined) {
          (sample as { labels: LabelSet<C>['values'] }).labels = labelSet.values;
          (sample as { labelSet: LabelSet<C> }).labelSet = labelSet;
          sample.value = value;
          sample.timestamp = timestamp;
          sample.line = scan.line;
          onSample(family, sample);
        }
      }
    }
    pos = next + 1;
  }
}

/** Checks `# HELP name …` and `# TYPE name type`; any other comment is free text. */
function checkComment(scan: Scan, pos: number): void {
  const { text, end } = scan;
  pos = skip(scan, pos, BLANK);
  const keywordEnd = skip(scan, pos, LETTER);
  const keyword = text.slice(pos, keywordEnd);
  if (
    (keyword !== 'HELP' && keyword !== 'TYPE') ||
    (keywordEnd < end && !is(text.charCodeAt(keywordEnd), BLANK))
  ) {
    return;
  }
  pos = skip(scan, keywordEnd, BLANK);
  const nameEnd = skipName(scan, pos, METRIC_START, METRIC);
  if (nameEnd === pos) fail(scan, `# ${keyword} needs a metric name, found ${token(scan, pos)}`);
  if (keyword === 'HELP') return;
  if (nameEnd < end && !is(text.charCodeAt(nameEnd), BLANK))
    fail(scan, `bad metric name in # TYPE: ${token(scan, pos)}`);
  pos = skip(scan, nameEnd, BLANK);
  let typeEnd = pos;
  while (typeEnd < end && !is(text.charCodeAt(typeEnd), BLANK)) typeEnd++;
  const type = text.slice(pos, typeEnd);
  if (!METRIC_TYPES.has(type) || skip(scan, typeEnd, BLANK) < end) {
    fail(scan, `# TYPE must end in counter, gauge, histogram, summary or untyped; found ${token(scan, pos)}`);
  }
}

/**
 * Reads a label set from just after its `{` to just after its `}`, storing the values of the
 * labels named in `names` into `values`. Returns the position after the `}`. One of those labels
 * given twice is an error at once when `strict` (the caller reads the family); otherwise it is
 * noted in `scan.duplicate`, and the label set read on.
 */
function parseLabels(
  scan: Scan,
  pos: number,
  names: readonly string[],
  values: (string | undefined)[],
  strict: boolean,
): number {
  const { text, end } = scan;
  for (;;) {
    pos = skip(scan, pos, BLANK);
    if (pos >= end) fail(scan, 'unterminated label set: missing "}"');
    if (text.charCodeAt(pos) === CLOSE_BRACE) return pos + 1;
    const nameStart = pos;
    // Most label names are the caller's: find the "=" natively and compare, rather than scan.
    let known = -1;
    const equals = text.indexOf('=', pos);
    if (equals !== -1 && equals < end) {
      const length = equals - pos;
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        if (name.length === length && text.startsWith(name, pos)) {
          known = i;
          pos = equals;
          break;
        }
      }
    }
    if (known === -1) {
      pos = skipName(scan, pos, LABEL_START, LABEL);
      if (pos === nameStart) fail(scan, `expected a label name, found ${token(scan, pos)}`);
      // Blanks before the "=" are allowed: compare the name as scanned.
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        if (name.length === pos - nameStart && text.startsWith(name, nameStart)) known = i;
      }
    }
    const nameEnd = pos;
    pos = skip(scan, pos, BLANK);
    if (text.charCodeAt(pos) !== EQUALS || pos >= end) {
      fail(scan, `expected "=" after label name ${text.slice(nameStart, nameEnd)}`);
    }
    pos = skip(scan, pos + 1, BLANK);
    if (text.charCodeAt(pos) !== QUOTE || pos >= end) {
      fail(scan, `the value of label ${text.slice(nameStart, nameEnd)} must be quoted`);
    }
    const valueStart = pos + 1;
    let quote = text.indexOf('"', valueStart);
    if (scan.backslash !== -1 && scan.backslash < valueStart) scan.backslash = text.indexOf('\\', valueStart);
    const escaped = scan.backslash !== -1 && (quote === -1 || scan.backslash < quote);
    if (escaped) quote = closingQuote(text, valueStart, end);
    if (quote === -1 || quote >= end)
      fail(scan, `unterminated value of label ${text.slice(nameStart, nameEnd)}`);
    // Escapes are decoded (and so checked) even in labels the caller does not keep.
    const value = escaped ? unescapeLabelValue(scan, valueStart, quote) : undefined;
    if (known !== -1) {
      if (values[known] === undefined) values[known] = value ?? text.slice(valueStart, quote);
      else if (strict) fail(scan, `label ${names[known]} appears twice`);
      else scan.duplicate ??= names[known];
    }
    pos = skip(scan, quote + 1, BLANK);
    const c = text.charCodeAt(pos);
    if (pos < end && c === COMMA) {
      pos++;
    } else if (pos >= end || c !== CLOSE_BRACE) {
      fail(
        scan,
        pos >= end
          ? 'unterminated label set: missing "}"'
          : `expected "," or "}" after a label value, found ${token(scan, pos)}`,
      );
    }
  }
}

/** The closing quote of a label value that holds escapes, or -1 before `end`. */
function closingQuote(text: string, pos: number, end: number): number {
  while (pos < end) {
    const c = text.charCodeAt(pos);
    if (c === QUOTE) return pos;
    pos += c === BACKSLASH ? 2 : 1;
  }
  return -1;
}

/** Decodes a label value with `\\`, `\"` or `\n` escapes between `start` and `stop`. */
function unescapeLabelValue(scan: Scan, start: number, stop: number): string {
  const { text } = scan;
  let out = '';
  let chunk = start;
  for (let i = start; i < stop; i++) {
    if (text.charCodeAt(i) !== BACKSLASH) continue;
    out += text.slice(chunk, i);
    const next = text[i + 1];
    if (next === '\\' || next === '"') out += next;
    else if (next === 'n') out += '\n';
    else fail(scan, `invalid escape \\${next ?? ''} in a label value: only \\\\, \\" and \\n are allowed`);
    i++;
    chunk = i + 1;
  }
  return out + text.slice(chunk, stop);
}

/** Powers of ten that doubles hold exactly. */
const EXACT_POWERS = Array.from({ length: 23 }, (_, k) => 10 ** k);
/**
 * The largest mantissa read exactly: while `mantissa * 10 + digit` stays at or below 2^53 every step
 * is exact, and once above it the mantissa only grows, so a final one at or below it is exact.
 */
const MAX_EXACT = 2 ** 53;

/**
 * Reads the value token at `start` into `scan.value` and returns its end, or returns `start` when
 * it is not a Go float: `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`, or `NaN`, `Inf`,
 * `+Inf`, `-Inf` (any case, `Infinity` too, as `strconv.ParseFloat` takes them). No hex floats or
 * digit separators. With a mantissa up to 2^53 (all 15-digit ones, most of 16; Go's shortest
 * form of a double has up to 17) and a power of ten up to 22, the result is one exact integer times
 * or divided by one exact power, which IEEE rounds correctly (Clinger's fast path); anything else
 * goes to `Number`.
 */
function readValue(scan: Scan, start: number): number {
  const { text, end } = scan;
  let i = start;
  let c = text.charCodeAt(i);
  const negative = c === MINUS;
  if (c === PLUS || c === MINUS) c = text.charCodeAt(++i);
  if (is(c, LETTER)) {
    const wordEnd = skip(scan, i, LETTER);
    const word = text.slice(i, wordEnd).toLowerCase();
    if (wordEnd < end && !is(text.charCodeAt(wordEnd), BLANK)) return start;
    if (word === 'nan' && i === start) scan.value = Number.NaN;
    else if (word === 'inf' || word === 'infinity') scan.value = negative ? -Infinity : Infinity;
    else return start;
    return wordEnd;
  }
  let mantissa = 0;
  let digits = 0; // all digits read
  let scale = 0; // power of ten to apply to the mantissa
  for (; i < end; i++) {
    c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    mantissa = mantissa * 10 + c;
    digits++;
  }
  if (i < end && text.charCodeAt(i) === DOT) {
    for (i++; i < end; i++) {
      c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      mantissa = mantissa * 10 + c;
      digits++;
      scale--;
    }
  }
  if (digits === 0) return start;
  if (i < end && (text.charCodeAt(i) | 0x20) === 101 /* e or E */) {
    i++;
    c = text.charCodeAt(i);
    const negativeExponent = c === MINUS;
    if (i < end && (c === PLUS || c === MINUS)) i++;
    let exponent = 0;
    const exponentStart = i;
    for (; i < end; i++) {
      c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      exponent = exponent * 10 + c;
    }
    if (i === exponentStart) return start;
    scale += negativeExponent ? -exponent : exponent;
  }
  if (i < end && !is(text.charCodeAt(i), BLANK)) return start;
  let value: number;
  if (mantissa <= MAX_EXACT && scale >= -22 && scale <= 22) {
    value = scale < 0 ? mantissa / EXACT_POWERS[-scale]! : mantissa * EXACT_POWERS[scale]!;
  } else {
    value = Number(text.slice(negative || text.charCodeAt(start) === PLUS ? start + 1 : start, i));
  }
  scan.value = negative ? -value : value;
  return i;
}

/**
 * Reads an optionally signed run of digits at `start`, up to a blank or the line's end, into
 * `scan.value` and returns its end, or returns `start` when there is none. Exact up to 2^53, as a
 * millisecond timestamp always is; longer runs go to `Number`.
 */
function readInteger(scan: Scan, start: number): number {
  const { text, end } = scan;
  const c = text.charCodeAt(start);
  const first = c === PLUS || c === MINUS ? start + 1 : start;
  let i = first;
  let n = 0;
  for (; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  if (i === first || (i < end && !is(text.charCodeAt(i), BLANK))) return start;
  scan.value = i - first > 15 ? Number(text.slice(start, i)) : c === MINUS ? -n : n;
  return i;
}
