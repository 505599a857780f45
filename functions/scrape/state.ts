/**
 * The scraper's memory of one node between cycles (ms:state:{node}), in binary (version 3): the names
 * once, as one short JSON array, and every number as a little-endian float64, so that neither direction
 * converts numbers to or from decimal text (about 100 µs per node of 30 pods, and most of its garbage,
 * in the JSON formats), and the state is written into the Redis pipeline as the bytes it is:
 *
 *   byte 0: 3 (a JSON state starts with '[')   byte 1: the node's points (0, 1 or 2)   bytes 2–3: 0
 *   bytes 4–7: the names' byte length N (u32 LE)
 *   bytes 8…8+N: UTF-8 JSON [namespace, pod, containerCount, container…, namespace, …], padded to 8
 *   then float64 LE: scrapedAt, expiresAt, the node's points (last, then prev), then per container its
 *   last point and its prev (a NaN timestamp: none); a point is timestamp, cpu, memory, startTime
 *
 * The previous formats (JSON, versions 2 and 1) are still read, so an upgrade keeps every node's history:
 *
 *   [2, scrapedAt, expiresAt, node | null, [namespace, pod, containerCount, container…, namespace, …]]
 *   node = [t, cpu, memory, startTime] or [t, cpu, memory, startTime, prevT, prevCpu, prevMemory, prevStart]
 *   container = name, t, cpu, memory, startTime, then null (no prev) or prevT, prevCpu, prevMemory, prevStart
 *
 *   [1, scrapedAt, expiresAt, nodeSeries | null, [[namespace, pod, [[container, last, prev | null], …]], …]]
 *   series = [last, prev | null];  point = [timestamp, cpu, memory, startTime]
 *
 * (A scraper of an earlier version reads a binary state as no history: after a downgrade, each node is
 * served again after two scrapes.) A value that does not parse (another format, a corrupted write) is
 * treated as no history: the node is served again after two scrapes, exactly as after a scraper restart
 * in metrics-server. Every direction is a hand-written single pass: a schema library's generic parsing
 * cost more than the rest of the cycle.
 */
import { decimalDigits } from '../../shared/store/ascii.ts';
import type { MetricsBatch, PodSamples } from './decode/batch.ts';
import {
  advanceFrom,
  advanceNode,
  type ContainerState,
  type NodeState,
  type PodState,
  type Point,
  type Prior,
  type Series,
} from './storage.ts';

/** a-z, 0-9, '-', '.', A-Z, '_': nothing JSON escapes, one UTF-8 byte each. */
function plain(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || (c >= 65 && c <= 90) || c === 95
  );
}

/**
 * A name as a JSON string. Kubernetes names (DNS labels and subdomains) need no escaping, so the common
 * case is only quoted; anything else goes through JSON.stringify.
 */
function quoted(name: string): string {
  for (let i = 0; i < name.length; i++) if (!plain(name.charCodeAt(i))) return JSON.stringify(name);
  return `"${name}"`;
}

/** The binary format's version byte, and where its names start. */
const BINARY = 3;
const HEADER_BYTES = 8;
/** Bytes per chunk that states are encoded into (one allocation per chunk, not per state). */
const CHUNK_BYTES = 1 << 20;

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * Where states are encoded: large chunks outside the heap the garbage collector traces, each state a
 * view of its bytes, handed as it is to the Redis pipeline (and kept by a long-lived scraper's state
 * memory until its next cycle). A state starts 8-aligned in its chunk.
 */
let chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
let view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
let offset = 0;

function reserve(bytes: number): void {
  if (chunk.length - offset >= bytes) return;
  chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
  view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
  offset = 0;
}

function setPoint(at: number, p: Point): number {
  view.setFloat64(at, p.timestamp, true);
  view.setFloat64(at + 8, p.cpu, true);
  view.setFloat64(at + 16, p.memory, true);
  view.setFloat64(at + 24, p.startTime, true);
  return at + 32;
}

function setNoPoint(at: number): number {
  view.setFloat64(at, Number.NaN, true);
  view.setFloat64(at + 8, 0, true);
  view.setFloat64(at + 16, 0, true);
  view.setFloat64(at + 24, 0, true);
  return at + 32;
}

/** What the names part of the format names: pods with their containers (a state's, or a batch's). */
interface Named {
  namespace: string;
  name: string;
  containers: readonly { name: string }[];
}

/** The names part of the binary format (the module comment) as text, and how many containers it names. */
function namesOf(pods: readonly Named[]): { text: string; containers: number } {
  let names = '';
  let containers = 0;
  for (const p of pods) {
    names += `${names === '' ? '' : ','}${quoted(p.namespace)},${quoted(p.name)},${p.containers.length}`;
    for (const c of p.containers) names += `,${quoted(c.name)}`;
    containers += p.containers.length;
  }
  return { text: `[${names}]`, containers };
}

const QUOTE = 0x22;
const COMMA = 0x2c;

/** Where `"s"` ends if it is at `at` in `b` (before `end`) and `s` needs no escaping; else -1. */
function quotedAt(b: Buffer, at: number, end: number, s: string): number {
  if (at + s.length + 2 > end || b[at] !== QUOTE) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!plain(c) || b[at + 1 + i] !== c) return -1;
  }
  return b[at + 1 + s.length] === QUOTE ? at + s.length + 2 : -1;
}

/** Where the decimal digits of `n` (a count) end if they are at `at` in `b` (before `end`); else -1. */
function countAt(b: Buffer, at: number, end: number, n: number): number {
  const d = decimalDigits(n);
  if (at + d > end) return -1;
  for (let i = at + d - 1, v = n; i >= at; i--, v = Math.floor(v / 10)) if (b[i] !== 48 + (v % 10)) return -1;
  return at + d;
}

/**
 * Whether the names part of the binary state `b` (`namesBytes` long) is what namesOf(pods) writes,
 * compared where it is, without writing the text: true only when, too, every name needs no escaping
 * (false says nothing: advanceState then writes the text and compares the bytes).
 */
function sameNames(b: Buffer, namesBytes: number, pods: readonly Named[]): boolean {
  const end = HEADER_BYTES + namesBytes;
  if (end > b.length || b[HEADER_BYTES] !== 0x5b) return false;
  let at = HEADER_BYTES + 1;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    if (i > 0 && (at >= end || b[at++] !== COMMA)) return false;
    at = quotedAt(b, at, end, p.namespace);
    if (at < 0 || at >= end || b[at++] !== COMMA) return false;
    at = quotedAt(b, at, end, p.name);
    if (at < 0 || at >= end || b[at++] !== COMMA) return false;
    at = countAt(b, at, end, p.containers.length);
    if (at < 0) return false;
    for (const c of p.containers) {
      if (at >= end || b[at++] !== COMMA) return false;
      at = quotedAt(b, at, end, c.name);
      if (at < 0) return false;
    }
  }
  return at === end - 1 && b[at] === 0x5d;
}

/**
 * Starts a state in the chunk: room for these names and the most numbers their containers may have,
 * the names written. Where it starts, and the names' byte length; finishState writes the rest.
 */
function beginState(names: { text: string; containers: number }): { start: number; namesBytes: number } {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit; a node has at most two points.
  reserve(HEADER_BYTES + pad8(names.text.length * 3) + 8 * (2 + 8 + 8 * names.containers));
  const start = offset;
  return { start, namesBytes: chunk.write(names.text, start + HEADER_BYTES, 'utf8') };
}

/** Writes the header and the numbers of `s`, whose names beginState wrote; the state's bytes. */
function finishState({ start, namesBytes }: { start: number; namesBytes: number }, s: NodeState): Buffer {
  const nodePoints = s.node === null ? 0 : s.node.prev === null ? 1 : 2;
  view.setUint32(start, BINARY | (nodePoints << 8), true);
  view.setUint32(start + 4, namesBytes, true);
  let at = start + HEADER_BYTES + pad8(namesBytes);
  // The padding is zeroed: a chunk's bytes are whatever its memory held.
  for (let i = start + HEADER_BYTES + namesBytes; i < at; i++) chunk[i] = 0;
  view.setFloat64(at, s.scrapedAt, true);
  view.setFloat64(at + 8, s.expiresAt, true);
  at += 16;
  if (s.node !== null) {
    at = setPoint(at, s.node.last);
    if (s.node.prev !== null) at = setPoint(at, s.node.prev);
  }
  for (const p of s.pods) {
    for (const c of p.containers) {
      at = setPoint(at, c.series.last);
      at = c.series.prev === null ? setNoPoint(at) : setPoint(at, c.series.prev);
    }
  }
  offset = at;
  return chunk.subarray(start, at);
}

/** The state in the binary format (the module comment), as a view of a shared chunk. */
export function encodeState(s: NodeState): Buffer {
  return finishState(beginState(namesOf(s.pods)), s);
}

/**
 * The previous series read where they are stored: a binary state whose names are, byte for byte, the
 * ones the new state will have, so its k-th container is the batch's k-th (what StatePrior would find by
 * name, without decoding the names or building the old state).
 */
class BytesPrior implements Prior {
  readonly node: Series | null;
  readonly #v: DataView;
  /** Where the containers' points start. */
  readonly #at: number;

  constructor(v: DataView, at: number, nodePoints: number) {
    this.#v = v;
    this.node =
      nodePoints === 0
        ? null
        : { last: binaryPoint(v, at), prev: nodePoints === 2 ? binaryPoint(v, at + 32) : null };
    this.#at = at + 32 * nodePoints;
  }

  container(_pod: number, _p: PodSamples, _at: number, flat: number): Series {
    const at = this.#at + 64 * flat;
    const v = this.#v;
    return {
      last: binaryPoint(v, at),
      prev: Number.isNaN(v.getFloat64(at + 32, true)) ? null : binaryPoint(v, at + 32),
    };
  }
}

/**
 * The stored state `b` read in place, when it is a binary state of `namesBytes` of names for this many
 * containers and every number is one decodeBinary accepts; else null (and it is decoded, or found to be
 * no history, as before). The caller has checked that its names are the new state's.
 */
function inPlace(b: Buffer, namesBytes: number, containers: number): BytesPrior | null {
  const nodePoints = b[1]!;
  const numbersAt = HEADER_BYTES + pad8(namesBytes);
  if (b.length !== numbersAt + 16 + 32 * nodePoints + 64 * containers) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  // As decodeBinary: every number finite, but a container's prev, whose NaN timestamp says it has none.
  for (let at = numbersAt; at < numbersAt + 16 + 32 * nodePoints; at += 8) {
    if (!Number.isFinite(v.getFloat64(at, true))) return null;
  }
  for (let at = numbersAt + 16 + 32 * nodePoints; at < b.length; at += 64) {
    for (let i = 0; i < 32; i += 8) if (!Number.isFinite(v.getFloat64(at + i, true))) return null;
    if (Number.isNaN(v.getFloat64(at + 32, true))) continue;
    for (let i = 32; i < 64; i += 8) if (!Number.isFinite(v.getFloat64(at + i, true))) return null;
  }
  return new BytesPrior(v, numbersAt + 16, nodePoints);
}

/** A binary state's names' byte length, or -1 when `b` is not one (by its header; its node's points at most 2). */
function binaryNames(b: Buffer | string | null): number {
  if (b === null || typeof b === 'string' || b.length < HEADER_BYTES + 16) return -1;
  if (b[0] !== BINARY || b[1]! > 2 || b[2] !== 0 || b[3] !== 0) return -1;
  return b.readUInt32LE(4);
}

/**
 * The next cycle's state of a node from its stored one (`old`, as decodeState takes it) and its batch:
 * what `advanceNode(decodeState(old), batch, cycle)` gives, and its bytes, as encodeState writes them.
 * In a warm cycle a node's pods and containers are mostly the ones it had: then the stored names are
 * compared with the batch's where they are and copied, and the stored series read in place
 * (BytesPrior), so that neither the names nor the old state are decoded, nor the names' text built.
 */
export function advanceState(
  old: Buffer | string | null,
  batch: MetricsBatch,
  cycle: { startedAt: number; expiresAt: number; resolutionMs: number },
): { state: NodeState; bytes: Buffer } {
  const oldNames = binaryNames(old);
  let begun: { start: number; namesBytes: number };
  let prior: BytesPrior | null = null;
  if (oldNames >= 0 && sameNames(old as Buffer, oldNames, batch.pods)) {
    let containers = 0;
    for (const p of batch.pods) containers += p.containers.length;
    reserve(HEADER_BYTES + pad8(oldNames) + 8 * (2 + 8 + 8 * containers));
    begun = { start: offset, namesBytes: oldNames };
    (old as Buffer).copy(chunk, offset + HEADER_BYTES, HEADER_BYTES, HEADER_BYTES + oldNames);
    prior = inPlace(old as Buffer, oldNames, containers);
  } else {
    const names = namesOf(batch.pods);
    begun = beginState(names);
    const { start, namesBytes } = begun;
    const end = HEADER_BYTES + namesBytes;
    if (
      oldNames === namesBytes &&
      end <= (old as Buffer).length &&
      chunk.compare(old as Buffer, HEADER_BYTES, end, start + HEADER_BYTES, start + end) === 0
    ) {
      prior = inPlace(old as Buffer, namesBytes, names.containers);
    }
  }
  const state = prior ? advanceFrom(prior, batch, cycle) : advanceNode(decodeState(old), batch, cycle);
  return { state, bytes: finishState(begun, state) };
}

/** Thrown inside decodeState when the value is not a state; never escapes it. */
class NotAState extends Error {}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function tuple(v: unknown, length: number): unknown[] {
  if (!Array.isArray(v) || v.length !== length) throw new NotAState();
  return v;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new NotAState();
  return v;
}

function num(v: unknown): number {
  if (!isNumber(v)) throw new NotAState();
  return v;
}

function point(v: unknown): Point {
  const t = tuple(v, 4);
  return { timestamp: num(t[0]), cpu: num(t[1]), memory: num(t[2]), startTime: num(t[3]) };
}

const series = (last: unknown, prev: unknown): Series => ({
  last: point(last),
  prev: prev === null ? null : point(prev),
});

/** Four numbers of a flat array from `i` as a point. */
function flatPoint(a: unknown[], i: number): Point {
  return { timestamp: num(a[i]), cpu: num(a[i + 1]), memory: num(a[i + 2]), startTime: num(a[i + 3]) };
}

/** A pod's namespace, name and container count (at most `most`) from a flat array at `i`. */
function podHead(a: unknown[], i: number, most: number) {
  const count = num(a[i + 2]);
  if (!Number.isInteger(count) || count < 0 || count > most) throw new NotAState();
  return { namespace: str(a[i]), name: str(a[i + 1]), count };
}

function decodeV2(raw: unknown[]): NodeState {
  const nodeRaw = raw[3];
  let node: Series | null = null;
  if (nodeRaw !== null) {
    if (!Array.isArray(nodeRaw) || (nodeRaw.length !== 4 && nodeRaw.length !== 8)) throw new NotAState();
    node = { last: flatPoint(nodeRaw, 0), prev: nodeRaw.length === 8 ? flatPoint(nodeRaw, 4) : null };
  }
  const a = raw[4];
  if (!Array.isArray(a)) throw new NotAState();
  const pods: PodState[] = [];
  let i = 0;
  while (i < a.length) {
    const { namespace, name, count } = podHead(a, i, a.length);
    i += 3;
    const containers: ContainerState[] = new Array(count);
    for (let j = 0; j < count; j++) {
      if (i + 6 > a.length) throw new NotAState();
      const cname = str(a[i]);
      const last = flatPoint(a, i + 1);
      i += 5;
      let prev: Point | null = null;
      if (a[i] === null) i++;
      else {
        if (i + 4 > a.length) throw new NotAState();
        prev = flatPoint(a, i);
        i += 4;
      }
      containers[j] = { name: cname, series: { last, prev } };
    }
    pods.push({ namespace, name, containers });
  }
  return { scrapedAt: num(raw[1]), expiresAt: num(raw[2]), node, pods };
}

/** Four float64s of a binary state from byte `at`, as a point (any non-finite number fails decoding). */
function binaryPoint(v: DataView, at: number): Point {
  return {
    timestamp: num(v.getFloat64(at, true)),
    cpu: num(v.getFloat64(at + 8, true)),
    memory: num(v.getFloat64(at + 16, true)),
    startTime: num(v.getFloat64(at + 24, true)),
  };
}

function decodeBinary(b: Buffer): NodeState {
  const namesBytes = binaryNames(b);
  if (namesBytes < 0) throw new NotAState();
  const nodePoints = b[1]!;
  let at = HEADER_BYTES + pad8(namesBytes);
  if (at > b.length || (b.length - at) % 8 !== 0) throw new NotAState();
  const names: unknown = JSON.parse(b.toString('utf8', HEADER_BYTES, HEADER_BYTES + namesBytes));
  if (!Array.isArray(names)) throw new NotAState();
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const scrapedAt = num(v.getFloat64(at, true));
  const expiresAt = num(v.getFloat64(at + 8, true));
  at += 16;
  let node: Series | null = null;
  if (nodePoints > 0) {
    if (at + 32 * nodePoints > b.length) throw new NotAState();
    node = { last: binaryPoint(v, at), prev: nodePoints === 2 ? binaryPoint(v, at + 32) : null };
    at += 32 * nodePoints;
  }
  const pods: PodState[] = [];
  let i = 0;
  while (i < names.length) {
    const { namespace, name, count } = podHead(names, i, names.length - i - 3);
    if (at + 64 * count > b.length) throw new NotAState();
    i += 3;
    const containers: ContainerState[] = new Array(count);
    for (let j = 0; j < count; j++) {
      const last = binaryPoint(v, at);
      const prev = Number.isNaN(v.getFloat64(at + 32, true)) ? null : binaryPoint(v, at + 32);
      containers[j] = { name: str(names[i + j]), series: { last, prev } };
      at += 64;
    }
    i += count;
    pods.push({ namespace, name, containers });
  }
  if (at !== b.length) throw new NotAState();
  return { scrapedAt, expiresAt, node, pods };
}

/**
 * A stored state (as Redis returns it: bytes; text for the JSON formats), or null when the value is not a
 * state of any version this scraper wrote.
 */
export function decodeState(value: Buffer | string | null): NodeState | null {
  if (value === null) return null;
  try {
    if (typeof value !== 'string') {
      if (value[0] === BINARY) return decodeBinary(value);
      // '[': a JSON state, written by a scraper before version 3.
      if (value[0] !== 0x5b) return null;
      return decodeJson(value.toString('utf8'));
    }
    return decodeJson(value);
  } catch {
    // Not a state: no history.
    return null;
  }
}

/** A JSON state (versions 2 and 1); throws NotAState, or a SyntaxError, for anything else. */
function decodeJson(value: string): NodeState | null {
  const raw = tuple(JSON.parse(value), 5);
  if (raw[0] === 2) return decodeV2(raw);
  if (raw[0] !== 1) return null;
  const nodeRaw = raw[3];
  let node: Series | null = null;
  if (nodeRaw !== null) {
    const n = tuple(nodeRaw, 2);
    node = series(n[0], n[1]);
  }
  const podsRaw = raw[4];
  if (!Array.isArray(podsRaw)) return null;
  const pods: PodState[] = new Array(podsRaw.length);
  for (let i = 0; i < podsRaw.length; i++) {
    const p = tuple(podsRaw[i], 3);
    const containersRaw = p[2];
    if (!Array.isArray(containersRaw)) return null;
    const containers: ContainerState[] = new Array(containersRaw.length);
    for (let j = 0; j < containersRaw.length; j++) {
      const c = tuple(containersRaw[j], 3);
      containers[j] = { name: str(c[0]), series: series(c[1], c[2]) };
    }
    pods[i] = { namespace: str(p[0]), name: str(p[1]), containers };
  }
  return { scrapedAt: num(raw[1]), expiresAt: num(raw[2]), node, pods };
}
