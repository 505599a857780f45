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
