import { endianness } from 'node:os';
import { writeDecimal, writeText } from './ascii.ts';

/**
 * One served object as stored in a hash field (ms:nodes, ms:pods:{ns}):
 *
 *   <expiresAt ms>\t<timestamp ms>\t<labels JSON>\t<item JSON>
 *
 * `item` is the object exactly as served inside a list (metrics-api.ts renders it), so the serve function
 * answers by concatenation; `labels` is repeated in front so a label selector is checked without parsing
 * the item. An empty item means the object exists (a Running pod, a listed node) but has no servable
 * metrics, which is how the serve function tells metrics-server's two 404s apart. JSON never contains a
 * raw tab, so the tab is an unambiguous separator.
 *
 * A pod's item is stored once, in a part of its namespace's items (keys.podItems), and its entry holds a
 * reference instead (`@<part>:<offset>:<length>`, itemRef; no JSON item starts with `@`); the reader
 * resolves it, so a StoredEntry it returns always holds the item's text.
 */
export interface StoredEntry {
  /** The hash field: a pod or node name. */
  name: string;
  /** Milliseconds since the epoch, Redis clock; after it the entry is not served. */
  expiresAt: number;
  /** The metric timestamp in milliseconds (0 without metrics). */
  timestamp: number;
  /** The object's labels as a JSON object text. */
  labels: string;
  /** The pre-rendered list item, or '' when the object exists without servable metrics. */
  item: string;
}

export function encodeEntry(e: Omit<StoredEntry, 'name'>): string {
  return `${e.expiresAt}\t${e.timestamp}\t${e.labels}\t${e.item}`;
}

/** Returns null for a value that is not an entry (written by something else); the caller skips it. */
export function decodeEntry(name: string, value: string): StoredEntry | null {
  const a = value.indexOf('\t');
  const b = a < 0 ? -1 : value.indexOf('\t', a + 1);
  const c = b < 0 ? -1 : value.indexOf('\t', b + 1);
  if (c < 0) return null;
  const expiresAt = Number(value.slice(0, a));
  const timestamp = Number(value.slice(a + 1, b));
  if (!Number.isFinite(expiresAt) || !Number.isFinite(timestamp)) return null;
  return { name, expiresAt, timestamp, labels: value.slice(b + 1, c), item: value.slice(c + 1) };
}

/** Parses a stored labels text; a corrupt one counts as no labels rather than failing a request. */
export function parseLabels(text: string): Record<string, string> {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** A pod item's place in a part of its namespace's items (keys.podItems): bytes from `offset`. */
export interface ItemRef {
  part: string;
  offset: number;
  length: number;
}

export const itemRef = (part: string, offset: number, length: number): string =>
  `@${part}:${offset}:${length}`;

/** What a pod's entry says beside its item. */
export interface EntryHead {
  expiresAt: number;
  timestamp: number;
  labels: string;
}

/** The most bytes writeEntryRef writes for this head and part. */
export function maxEntryRefBytes(head: EntryHead, part: string): number {
  // Each number at most 24 characters as text; UTF-8 at most 3 bytes per UTF-16 code unit.
  return 4 * 24 + 3 * (head.labels.length + part.length) + 5;
}

/** `n` as `${n}` writes it, at `at`; where it ends. */
function writeNumber(buf: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + buf.write(String(n), at, 'latin1');
  return writeDecimal(buf, at, n);
}

const TAB = 9;
const COLON = 0x3a;

/**
 * The bytes of `encodeEntry({ ...head, item: itemRef(part, offset, length) })`, written at `at` (room for
 * maxEntryRefBytes); where they end. The numbers are written as their digits, no text made: a cycle
 * writes one entry per pod.
 */
export function writeEntryRef(
  buf: Buffer,
  at: number,
  head: EntryHead,
  part: string,
  offset: number,
  length: number,
): number {
  at = writeNumber(buf, at, head.expiresAt);
  buf[at++] = TAB;
  at = writeNumber(buf, at, head.timestamp);
  buf[at++] = TAB;
  at = writeText(buf, at, head.labels);
  buf[at++] = TAB;
  buf[at++] = 64; // @
  at = writeText(buf, at, part);
  buf[at++] = COLON;
  at = writeNumber(buf, at, offset);
  buf[at++] = COLON;
  return writeNumber(buf, at, length);
}

/** A decimal number of at most 10 digits in `s` from `at` to `end`, below 2³²; -1 when it is not one. */
function decimalAt(s: string, at: number, end: number): number {
  if (end <= at || end - at > 10) return -1;
  let n = 0;
  for (let i = at; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= 0xffff_ffff ? n : -1;
}

/**
 * Where the reference an entry's item holds (itemRef: `@part:offset:length`) puts its bytes, without
 * cutting the part's name out: it is `item.slice(1, partEnd)`. Null when the item is inline (JSON text,
 * or '') or not a reference as itemRef writes it.
 */
export function itemRefSpan(item: string): { partEnd: number; offset: number; length: number } | null {
  if (item.charCodeAt(0) !== 64 /* @ */) return null;
  const a = item.indexOf(':');
  const b = a < 0 ? -1 : item.indexOf(':', a + 1);
  if (b < 0) return null;
  const offset = decimalAt(item, a + 1, b);
  const length = decimalAt(item, b + 1, item.length);
  return offset < 0 || length < 0 ? null : { partEnd: a, offset, length };
}

/** The reference an entry's item holds, or null when the item is inline (JSON text, or ''). */
export function parseItemRef(item: string): ItemRef | null {
  const r = itemRefSpan(item);
  return r === null ? null : { part: item.slice(1, r.partEnd), offset: r.offset, length: r.length };
}

/**
 * A namespace's items in name order, all in one part (keys.ORDER_FIELD): what the unselected list needs
 * to write them as bytes, in order, without reading any entry. The text head `<part>\t<earliest
 * expiry>\t<count>\n`, then every item's offset and length (uint32 pairs), then every item's metric
 * timestamp (float64), little-endian: read with one copy, as typed arrays.
 */
export interface ItemOrder {
  part: string;
  /** The earliest expiry among the items (Redis clock, ms): from then on, the entries must be read. */
  expiresAt: number;
  /** Per item: offset, length. */
  spans: Uint32Array;
  /** Per item: its metric timestamp (ms). */
  timestamps: Float64Array;
}

const LITTLE_ENDIAN = endianness() === 'LE';

export function encodeOrder(o: ItemOrder): Buffer {
  const count = o.timestamps.length;
  const head = Buffer.from(`${o.part}\t${o.expiresAt}\t${count}\n`, 'latin1');
  const out = Buffer.allocUnsafe(head.length + count * 16);
  head.copy(out);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < 2 * count; i++) view.setUint32(head.length + 4 * i, o.spans[i]!, true);
  for (let i = 0; i < count; i++) view.setFloat64(head.length + 8 * count + 8 * i, o.timestamps[i]!, true);
  return out;
}

/** Null for a value that is not an order (the caller reads the entries instead). */
export function decodeOrder(value: Buffer): ItemOrder | null {
  const nl = value.indexOf(10);
  if (nl < 0) return null;
  const [part, expiresAt, count] = value.toString('latin1', 0, nl).split('\t');
  const n = Number(count);
  const expiry = Number(expiresAt);
  if (part === undefined || !Number.isSafeInteger(n) || n < 0 || !Number.isFinite(expiry)) return null;
  if (value.length !== nl + 1 + n * 16) return null;
  // One copy to an aligned buffer of its own, viewed as the two arrays.
  const bytes = new Uint8Array(n * 16);
  bytes.set(value.subarray(nl + 1));
  const spans = new Uint32Array(bytes.buffer, 0, 2 * n);
  const timestamps = new Float64Array(bytes.buffer, 8 * n, n);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 2 * n; i++) spans[i] = view.getUint32(4 * i, true);
    for (let i = 0; i < n; i++) timestamps[i] = view.getFloat64(8 * n + 8 * i, true);
  }
  return { part, expiresAt: expiry, spans, timestamps };
}

const COMMA = 0x2c;

/**
 * Whether `bytes` is exactly the items of `spans`, in that order, each after a comma (`,item,item…`), as
 * an unsharded cycle writes a namespace's part (writer.ts: OrderedItems): the unselected list then writes
 * the parts one after another, the first one's comma left out, with nothing copied or decoded.
 */
export function isJoined(bytes: Uint8Array, spans: Uint32Array): boolean {
  let at = 0;
  for (let i = 0; i < spans.length; i += 2) {
    if (spans[i] !== at + 1 || bytes[at] !== COMMA) return false;
    at = spans[i]! + spans[i + 1]!;
  }
  return spans.length > 0 && at === bytes.length;
}
