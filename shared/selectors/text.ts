/** Small string helpers that make messages and orderings come out as they do in Go. */

/**
 * Orders strings as Go compares them (by UTF-8 bytes, i.e. by code point). JavaScript's `<` compares UTF-16
 * code units, which differs only between astral characters (surrogate pairs) and U+E000–U+FFFF.
 */
export function compareAsGo(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Length in UTF-8 bytes, which is what Go's `len` and apimachinery's length limits count. */
export function utf8Length(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    // 2 bytes below U+0800; a surrogate pair is 2 units and 4 bytes; the rest of the BMP is 3 bytes.
    if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) bytes += 1;
    else bytes += 2;
  }
  return bytes;
}

const GO_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

/** A string quoted as Go's `%q` prints it (ASCII control characters escaped, printable text kept). */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const escaped = GO_ESCAPES[c];
    if (escaped !== undefined) out += escaped;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}
