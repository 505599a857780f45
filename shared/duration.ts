/**
 * Go's `time.Duration` text: `String()` for the metrics API's `window` (on the serve hot path, so plain
 * integer arithmetic) and `ParseDuration` for flags such as `--metric-resolution=1m30s`.
 */

const NS_PER_SECOND = 1e9;
const UNIT_NAMES = 'ns, us (or µs), ms, s, m, h';

/** `.` and the `prec` digits of `v` (< 10^prec) without trailing zeros; empty when `v` is 0. */
function fraction(v: number, prec: number): string {
  if (v === 0) return '';
  const digits = String(v).padStart(prec, '0');
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end--;
  return `.${digits.slice(0, end)}`;
}

/**
 * Exactly Go's `time.Duration(ns).String()`: `0s`, `500ns`, `1.5µs` (U+00B5), `999ms`, `1.5s`,
 * `26.279434112s`, `1m0s`, `2h0m0s`, `-1h1m1.001s`. A fractional input is rounded to whole nanoseconds.
 */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns))
    throw new RangeError(`a duration must be a finite number of nanoseconds, got ${ns}`);
  const d = Math.round(ns);
  if (d === 0) return '0s';
  const negative = d < 0;
  const u = negative ? -d : d;
  let text: string;
  if (u < 1e3) {
    text = `${u}ns`;
  } else if (u < 1e6) {
    text = `${Math.floor(u / 1e3)}${fraction(u % 1e3, 3)}µs`;
  } else if (u < NS_PER_SECOND) {
    text = `${Math.floor(u / 1e6)}${fraction(u % 1e6, 6)}ms`;
  } else {
    let seconds: number;
    let nanos: number;
    if (u <= Number.MAX_SAFE_INTEGER) {
      nanos = u % NS_PER_SECOND;
      seconds = (u - nanos) / NS_PER_SECOND;
    } else {
      // Beyond 2^53 the remainder of a double division is exact but the quotient is not; BigInt is.
      const b = BigInt(u);
      nanos = Number(b % 1_000_000_000n);
      seconds = Number(b / 1_000_000_000n);
    }
    const s = `${seconds % 60}${fraction(nanos, 9)}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes === 0) {
      text = s;
    } else {
      const hours = Math.floor(minutes / 60);
      text = hours === 0 ? `${minutes}m${s}` : `${hours}h${minutes % 60}m${s}`;
    }
  }
  return negative ? `-${text}` : text;
}

/** Nanoseconds per unit, as Go's `time.ParseDuration` knows them (a Map, so `constructor` is no unit). */
const UNITS = new Map<string, number>([
  ['ns', 1],
  ['us', 1e3],
  ['µs', 1e3], // U+00B5 MICRO SIGN
  ['μs', 1e3], // U+03BC GREEK SMALL LETTER MU
  ['ms', 1e6],
  ['s', 1e9],
  ['m', 60e9],
  ['h', 3600e9],
]);

const TWO_63 = 1n << 63n;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Go's `time.ParseDuration`, returning nanoseconds: a possibly signed sequence of decimal numbers, each
 * with an optional fraction and a unit (`15s`, `1m30s`, `1.5h`, `300ms`, `10us`, `10µs`, `-1s`, `.5s`),
 * or a bare `0`. Accepts and rejects the same texts as Go and computes the same value (bit for bit up to
 * 2^53 ns, about 104 days); the error says what is wrong and what would be right.
 */
export function parseDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const bad = (why: string) => new Error(`invalid duration ${quoted}: ${why}`);
  const shape = 'expected a number and a unit, such as 15s, 1m30s or 300ms';
  const outOfRange = () =>
    bad('out of range: a duration is at most 2562047h47m16.854775807s (about 292 years)');

  let s = text;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad(`empty; ${shape}`);

  let total = 0n;
  let pos = 0;
  const end = s.length;
  while (pos < end) {
    const c = s.charCodeAt(pos);
    if (!(c === 46 || isDigit(c))) throw bad(`unexpected ${JSON.stringify(s.charAt(pos))}; ${shape}`);

    // Whole part: Go's leadingInt fails beyond 2^63.
    const intStart = pos;
    while (pos < end && isDigit(s.charCodeAt(pos))) pos++;
    const intDigits = s.slice(intStart, pos);
    let whole = intDigits === '' ? 0n : BigInt(intDigits);
    if (whole > TWO_63) throw outOfRange();

    // Fraction: Go keeps the digits while they fit in 63 bits and scales by a float64 power of ten.
    let fracValue = 0n;
    let fracScale = 1;
    let fracDigits = 0;
    if (pos < end && s[pos] === '.') {
      pos++;
      let overflow = false;
      while (pos < end && isDigit(s.charCodeAt(pos))) {
        fracDigits++;
        const digit = BigInt(s.charCodeAt(pos) - 48);
        pos++;
        if (overflow) continue;
        if (fracValue > (TWO_63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const next = fracValue * 10n + digit;
        if (next > TWO_63) {
          overflow = true;
          continue;
        }
        fracValue = next;
        fracScale *= 10;
      }
    }
    if (intDigits === '' && fracDigits === 0) throw bad(`a number has no digits; ${shape}`);

    const unitStart = pos;
    while (pos < end) {
      const u = s.charCodeAt(pos);
      if (u === 46 || isDigit(u)) break;
      pos++;
    }
    const number = s.slice(intStart, unitStart);
    if (unitStart === pos) throw bad(`missing unit after ${number}; use one of ${UNIT_NAMES}`);
    const unitName = s.slice(unitStart, pos);
    const unit = UNITS.get(unitName);
    if (unit === undefined) {
      throw bad(`unknown unit ${JSON.stringify(unitName)} after ${number}; use one of ${UNIT_NAMES}`);
    }

    const unitBig = BigInt(unit);
    if (whole > TWO_63 / unitBig) throw outOfRange();
    whole *= unitBig;
    if (fracValue > 0n) {
      // The same float64 arithmetic as Go, so fractions of hours round to the same nanosecond.
      whole += BigInt(Math.trunc(Number(fracValue) * (unit / fracScale)));
      if (whole > TWO_63) throw outOfRange();
    }
    total += whole;
    if (total > TWO_63) throw outOfRange();
  }
  if (!negative && total > TWO_63 - 1n) throw outOfRange();
  return Number(negative ? -total : total) + 0;
}
