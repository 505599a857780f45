/**
 * Numbers and short text written into Buffers a byte at a time, for the cycle's RESP and entry bytes
 * (resp.ts, entry.ts) and the scraper's state names (functions/scrape/state.ts): for a few dozen bytes a
 * JavaScript loop costs less than a call into Buffer's native write, and a number written as digits
 * makes no string.
 */

/** How many decimal digits a non-negative integer has. */
export function decimalDigits(n: number): number {
  let d = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) d++;
  return d;
}

/** A non-negative safe integer's `d` decimal digits (decimalDigits) at `at`; where they end. */
export function writeDecimal(buf: Buffer, at: number, n: number, d = decimalDigits(n)): number {
  for (let i = at + d - 1, v = n; i >= at; i--, v = Math.floor(v / 10)) buf[i] = 48 + (v % 10);
  return at + d;
}

/**
 * `s` as UTF-8 at `at`; where it ends. Short ASCII text is copied character by character; anything
 * longer or not ASCII is written by Buffer.
 */
export function writeText(buf: Buffer, at: number, s: string): number {
  if (s.length <= 64) {
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    if (i === s.length) return at + i;
  }
  return at + buf.write(s, at, 'utf8');
}
