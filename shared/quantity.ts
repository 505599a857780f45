/**
 * Kubernetes resource quantities (k8s.io/apimachinery `resource.Quantity`), for the two forms the metrics
 * API serves and for reading any quantity a user or an API object writes.
 *
 * Formatting is on the scrape and serve hot paths: it is integer arithmetic on the value, no regex and no
 * allocation beyond the result string. Parsing is exact (BigInt) because it is rare: configuration, node
 * allocatable, tests.
 */

/** DecimalSI suffixes by power of 1000, starting at 10^-9 (`n`). */
const DECIMAL_SUFFIXES = ['n', 'u', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E'] as const;
/** BinarySI suffixes by power of 1024. */
const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

/**
 * Canonical DecimalSI text of `value × 1000^(start-3)`, value a non-zero integer: the largest suffix that
 * keeps the mantissa an integer. This is what apimachinery's canonicalisation amounts to for an integer
 * with a scale that is a multiple of 3: strip factors of 10, then round the exponent down to a multiple of 3.
 */
function decimalSI(value: number, start: number): string {
  const negative = value < 0;
  let v = negative ? -value : value;
  let i = start;
  if (v <= Number.MAX_SAFE_INTEGER) {
    while (i < DECIMAL_SUFFIXES.length - 1 && v % 1000 === 0) {
      v /= 1000;
      i++;
    }
    return (negative ? '-' : '') + String(v) + DECIMAL_SUFFIXES[i];
  }
  // Above 2^53 a double is still an exact integer, but String() would print a rounded digit string.
  let b = BigInt(v);
  while (i < DECIMAL_SUFFIXES.length - 1 && b % 1000n === 0n) {
    b /= 1000n;
    i++;
  }
  return (negative ? '-' : '') + b.toString() + DECIMAL_SUFFIXES[i];
}

function integral(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
  return Math.trunc(value);
}

/**
 * CPU usage as metrics-server serves it: nanocores truncated to an integer, as a DecimalSI quantity of
 * scale -9 in canonical form (`123456789n`, `5m`, `1`, `7u`, `1500m`, `0`).
 */
export function formatCpu(nanocores: number): string {
  const v = integral(nanocores, 'CPU nanocores');
  if (v === 0) return '0';
  return decimalSI(v, 0);
}

/**
 * Memory as metrics-server serves it: integer bytes as a BinarySI quantity in canonical form. Exact multiples
 * of 1024 take the largest exact binary suffix (`3136Ki`, `512Mi`, `1Gi`); other values from 1024 up are
 * plain bytes (`1234567`). Below 1024 apimachinery switches to DecimalSI, so 1000 bytes is `1k` (the only
 * value under 1024 that differs from its plain digits). Never a decimal point, which client-node's BigInt
 * parsing could not read.
 */
export function formatMemory(bytes: number): string {
  const v = integral(bytes, 'memory bytes');
  if (v === 0) return '0';
  const negative = v < 0;
  let u = negative ? -v : v;
  if (u < 1024) return decimalSI(v, 3);
  let i = 0;
  // Dividing by 1024 is exact for every double, so the loop is exact even above 2^53.
  while (i < BINARY_SUFFIXES.length - 1 && u % 1024 === 0) {
    u /= 1024;
    i++;
  }
  const digits = u <= Number.MAX_SAFE_INTEGER ? String(u) : BigInt(u).toString();
  return (negative ? '-' : '') + digits + BINARY_SUFFIXES[i];
}

/** A parsed quantity: (-1)^negative × mantissa × 10^exp10 × 2^exp2, exactly. */
interface Exact {
  negative: boolean;
  mantissa: bigint;
  /** Decimal digits in the mantissa, without leading zeros (0 when the mantissa is 0). */
  digits: number;
  exp10: number;
  exp2: number;
}

const SUFFIX_CHARS = 'eEinumkKMGTP';
const EXPECTED =
  'expected a number with an optional suffix: n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3';

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function invalid(s: string, why: string): Error {
  return new Error(`invalid quantity ${JSON.stringify(s)}: ${why}`);
}

/** The suffix's power of ten or of two, or undefined when apimachinery would not accept it. */
function interpretSuffix(suffix: string): { exp10: number; exp2: number } | undefined {
  switch (suffix) {
    case '':
      return { exp10: 0, exp2: 0 };
    case 'n':
      return { exp10: -9, exp2: 0 };
    case 'u':
      return { exp10: -6, exp2: 0 };
    case 'm':
      return { exp10: -3, exp2: 0 };
    case 'k':
      return { exp10: 3, exp2: 0 };
    case 'M':
      return { exp10: 6, exp2: 0 };
    case 'G':
      return { exp10: 9, exp2: 0 };
    case 'T':
      return { exp10: 12, exp2: 0 };
    case 'P':
      return { exp10: 15, exp2: 0 };
    case 'E':
      return { exp10: 18, exp2: 0 };
    case 'Ki':
      return { exp10: 0, exp2: 10 };
    case 'Mi':
      return { exp10: 0, exp2: 20 };
    case 'Gi':
      return { exp10: 0, exp2: 30 };
    case 'Ti':
      return { exp10: 0, exp2: 40 };
    case 'Pi':
      return { exp10: 0, exp2: 50 };
    case 'Ei':
      return { exp10: 0, exp2: 60 };
  }
  // A decimal exponent: e or E, then an integer as Go's strconv.ParseInt reads it (optional sign, digits).
  const first = suffix.charCodeAt(0);
  if (suffix.length < 2 || (first !== 101 && first !== 69)) return undefined;
  let i = 1;
  const sign = suffix[1];
  if (sign === '+' || sign === '-') i++;
  if (i === suffix.length) return undefined;
  for (let j = i; j < suffix.length; j++) if (!isDigit(suffix.charCodeAt(j))) return undefined;
  const exponent = Number(suffix.slice(1));
  return Number.isSafeInteger(exponent) ? { exp10: exponent, exp2: 0 } : undefined;
}

/**
 * Reads a quantity with apimachinery's grammar: `[+-]digits[.digits]suffix`, where the number may be `1.`
 * or `.5` and the suffix is DecimalSI, BinarySI or a decimal exponent. Unlike apimachinery, a text without
 * any digit (`-`, `+`) is rejected rather than read as zero.
 */
function scan(s: string): Exact {
  if (s === '') throw invalid(s, `the text is empty; ${EXPECTED}`);
  const end = s.length;
  let pos = 0;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    pos++;
  }
  const intStart = pos;
  while (pos < end && isDigit(s.charCodeAt(pos))) pos++;
  const intPart = s.slice(intStart, pos);
  let fracPart = '';
  if (pos < end && s[pos] === '.') {
    const fracStart = ++pos;
    while (pos < end && isDigit(s.charCodeAt(pos))) pos++;
    fracPart = s.slice(fracStart, pos);
  }
  if (intPart === '' && fracPart === '') throw invalid(s, `no digits; ${EXPECTED}`);

  const suffixStart = pos;
  while (pos < end && SUFFIX_CHARS.includes(s.charAt(pos))) pos++;
  if (pos < end && (s[pos] === '+' || s[pos] === '-')) pos++;
  while (pos < end && isDigit(s.charCodeAt(pos))) pos++;
  if (pos < end) throw invalid(s, `unexpected ${JSON.stringify(s.charAt(pos))}; ${EXPECTED}`);
  const suffix = s.slice(suffixStart);
  const scale = interpretSuffix(suffix);
  if (scale === undefined) throw invalid(s, `unknown suffix ${JSON.stringify(suffix)}; ${EXPECTED}`);

  let all = intPart + fracPart;
  let lead = 0;
  while (lead < all.length - 1 && all.charCodeAt(lead) === 48) lead++;
  all = all.slice(lead);
  const mantissa = BigInt(all);
  return {
    negative,
    mantissa,
    digits: mantissa === 0n ? 0 : all.length,
    exp10: scale.exp10 - fracPart.length,
    exp2: scale.exp2,
  };
}

/** Beyond this many decimal digits a value is not a finite double anyway. */
const MAX_DECIMAL_MAGNITUDE = 309;

/**
 * The quantity in whole nano-units, rounded away from zero as apimachinery rounds on parse (a non-zero
 * value never becomes 0: `0.1n` is `1n`).
 */
function toNanos(s: string, q: Exact): bigint {
  if (q.mantissa === 0n) return 0n;
  if (q.digits + q.exp10 + q.exp2 * Math.LOG10E * Math.LN2 > MAX_DECIMAL_MAGNITUDE) {
    throw invalid(s, 'out of range');
  }
  const scaled = q.mantissa << BigInt(q.exp2);
  const shift = q.exp10 + 9;
  let nanos: bigint;
  if (shift >= 0) {
    nanos = scaled * 10n ** BigInt(shift);
  } else if (-shift > q.digits + Math.ceil(q.exp2 * Math.LOG10E * Math.LN2) + 1) {
    // Far below one nano-unit: rounds up to exactly one, without building a huge power of ten.
    nanos = 1n;
  } else {
    const divisor = 10n ** BigInt(-shift);
    nanos = (scaled + divisor - 1n) / divisor;
  }
  return q.negative ? -nanos : nanos;
}

/**
 * The value of a quantity in base units (cores, bytes) as a JS number: `"250m"` → 0.25, `"16Mi"` →
 * 16777216, `"1.5Gi"` → 1610612736, `"1e3"` → 1000, `"-2k"` → -2000. Throws an Error naming the text
 * and the cause for anything apimachinery would reject (`12Qi`, `1.2.3`, `1Mi5`, `""`).
 */
export function parseQuantity(s: string): number {
  const nanos = toNanos(s, scan(s));
  // One correctly rounded conversion from the exact decimal; `+ 0` turns -0 into 0.
  return Number.parseFloat(`${nanos}e-9`) + 0;
}

/**
 * CPU as an integer count of nanocores (`"250m"` → 250000000, `"1"` → 1000000000, `"1267873n"` → 1267873),
 * exact up to 2^53 nanocores. Sub-nanocore fractions round away from zero, as apimachinery does.
 */
export function parseCpuNanocores(s: string): number {
  return Number(toNanos(s, scan(s)));
}

/**
 * A quantity as an integer (bytes for memory): `"3136Ki"` → 3211264, `"1G"` → 1e9. Fractions round away
 * from zero, as apimachinery's `Quantity.Value()` does (`"1.5"` → 2, `"100m"` → 1).
 */
export function parseBytes(s: string): number {
  const nanos = toNanos(s, scan(s));
  const negative = nanos < 0n;
  const magnitude = negative ? -nanos : nanos;
  const whole = (magnitude + 999_999_999n) / 1_000_000_000n;
  return Number(negative ? -whole : whole);
}
