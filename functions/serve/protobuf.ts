/**
 * Kubernetes' protobuf encoding of the metrics objects (`application/vnd.kubernetes.protobuf`), as
 * metrics-server writes it through k8s.io/apimachinery's protobuf serializer: the four bytes `k8s\0`,
 * then a `runtime.Unknown` whose `typeMeta` names the object's apiVersion and kind and whose `raw` is the
 * object's own message (k8s.io/metrics `generated.proto`: NodeMetrics, PodMetrics, ContainerMetrics and
 * their lists; k8s.io/apimachinery's ObjectMeta, ListMeta, Time, Duration and Quantity).
 *
 * Fields are written as Go's generated marshallers write them: in field order, scalar and string fields
 * of embedded (non-pointer) messages always present, maps sorted by key, `Time` as whole seconds (its
 * nanos always 0, as metav1.Time keeps JSON's precision) and empty when zero, `Duration` in nanoseconds.
 *
 * The source is the stored JSON item (what the scraper pre-rendered): parsed, then encoded. Lists are
 * built from already encoded items, so a kept list (list-cache.ts) pays the encoding once per cycle.
 */
import { parseDuration } from '../../shared/duration.ts';
import { groupVersion, type MetricsVersion } from '../../shared/metrics-api.ts';
import type { MetricsKind } from './table.ts';

/** The prefix of every message of k8s.io/apimachinery's protobuf serializer. */
export const PROTOBUF_MAGIC = new Uint8Array([0x6b, 0x38, 0x73, 0x00]);

const utf8 = new TextEncoder();

/** Appends protobuf wire data to a growing buffer. */
class Writer {
  #buf = new Uint8Array(256);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** An unsigned varint; a negative int64 as its 10-byte two's complement, as Go writes it. */
  varint(value: number): this {
    if (value < 0) {
      let v = BigInt.asUintN(64, BigInt(value));
      this.#room(10);
      while (v >= 0x80n) {
        this.#buf[this.#len++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.#buf[this.#len++] = Number(v);
      return this;
    }
    this.#room(10);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
    return this;
  }

  /** A field of wire type 0 (varint). */
  int(field: number, value: number): this {
    return this.varint(field << 3).varint(value);
  }

  /** Bytes as they are (an already encoded message's fields). */
  append(data: Uint8Array): this {
    this.#room(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    return this;
  }

  /** A field of wire type 2 (length-delimited) holding these bytes. */
  bytes(field: number, data: Uint8Array): this {
    return this.varint((field << 3) | 2)
      .varint(data.length)
      .append(data);
  }

  string(field: number, text: string): this {
    return this.bytes(field, utf8.encode(text));
  }

  /** A nested message, written by `write` into its own buffer first (its length comes first on the wire). */
  message(field: number, write: (w: Writer) => void): this {
    const inner = new Writer();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/** The stored item, as far as the messages need it (written by the scraper's renderer, so trusted). */
interface Item {
  metadata: {
    name: string;
    namespace?: string;
    creationTimestamp?: string | null;
    labels?: Record<string, string>;
  };
  timestamp: string;
  window: string;
  usage?: Record<string, string>;
  containers?: { name: string; usage: Record<string, string> }[];
}

/** metav1.Time: whole seconds and nanos 0; the zero time (or none) is an empty message. */
function time(w: Writer, field: number, text: string | null | undefined): void {
  const ms = text ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    w.bytes(field, new Uint8Array(0));
    return;
  }
  w.message(field, (t) => t.int(1, Math.floor(ms / 1000)).int(2, 0));
}

/** map<string, string>, its entries in key order (Go sorts them). */
function stringMap(w: Writer, field: number, map: Record<string, string> | undefined): void {
  if (!map) return;
  for (const key of Object.keys(map).sort()) {
    w.message(field, (e) => e.string(1, key).string(2, map[key]!));
  }
}

/** map<string, Quantity>: a ResourceList. */
function resourceList(w: Writer, field: number, usage: Record<string, string> | undefined): void {
  if (!usage) return;
  for (const key of Object.keys(usage).sort()) {
    w.message(field, (e) => e.string(1, key).message(2, (q) => q.string(1, usage[key]!)));
  }
}

function objectMeta(w: Writer, meta: Item['metadata']): void {
  w.string(1, meta.name)
    .string(2, '') // generateName
    .string(3, meta.namespace ?? '')
    .string(4, '') // selfLink
    .string(5, '') // uid
    .string(6, '') // resourceVersion
    .int(7, 0); // generation
  time(w, 8, meta.creationTimestamp);
  stringMap(w, 11, meta.labels);
}

/** NodeMetrics or PodMetrics, from its stored JSON item. */
export function encodeItem(kind: MetricsKind, text: string): Uint8Array {
  const item = JSON.parse(text) as Item;
  const w = new Writer();
  w.message(1, (m) => objectMeta(m, item.metadata));
  time(w, 2, item.timestamp);
  w.message(3, (d) => d.int(1, parseDuration(item.window)));
  if (kind === 'NodeMetrics') resourceList(w, 4, item.usage);
  else {
    for (const c of item.containers ?? []) {
      w.message(4, (m) => {
        m.string(1, c.name);
        resourceList(m, 2, c.usage);
      });
    }
  }
  return w.finish();
}

/** `k8s\0` + runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding "", contentType ""}. */
function envelope(kind: string, version: MetricsVersion, raw: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  w.message(1, (t) => t.string(1, groupVersion(version)).string(2, kind));
  w.message(2, raw);
  w.string(3, '').string(4, '');
  const body = w.finish();
  const out = new Uint8Array(PROTOBUF_MAGIC.length + body.length);
  out.set(PROTOBUF_MAGIC);
  out.set(body, PROTOBUF_MAGIC.length);
  return out;
}

/** One object (a GET). */
export function objectMessage(kind: MetricsKind, version: MetricsVersion, text: string): Uint8Array {
  const item = encodeItem(kind, text);
  return envelope(kind, version, (w) => w.append(item));
}

/** A list of already encoded items (encodeItem): ListMeta empty, as metrics-server's lists are. */
export function listMessage(
  kind: MetricsKind,
  version: MetricsVersion,
  items: readonly Uint8Array[],
): Uint8Array {
  return envelope(`${kind}List`, version, (w) => {
    w.message(1, (m) => m.string(1, '').string(2, '').string(3, ''));
    for (const item of items) w.bytes(2, item);
  });
}
