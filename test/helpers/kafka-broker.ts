/**
 * A minimal Kafka broker for the kafka sink's tests (no broker can be installed here): one node on a
 * loopback port that speaks the Kafka wire protocol for the three requests a producer makes, ApiVersions
 * (v0–v2), Metadata (v0) and Produce (v3, record batches of magic 2), so the client's real bytes are
 * decoded (gzip included) and their CRC-32C checked. Written from the protocol's specification
 * (kafka.apache.org/protocol, "Record Batch"); nothing of a client's encoder is used.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface StoredRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  /** CreateTime, ms. */
  timestamp: number;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  acks: number;
}

export interface ProduceCall {
  acks: number;
  timeoutMs: number;
  clientId: string | null;
  partitions: { topic: string; partition: number; records: number }[];
}

/** A partition's answer to a produce: 0 (stored) or a Kafka error code (10 MESSAGE_TOO_LARGE, …). */
export type ProduceHook = (topic: string, partition: number, records: StoredRecord[]) => number;

export interface Broker {
  /** 127.0.0.1:PORT */
  address: string;
  port: number;
  records: StoredRecord[];
  produces: ProduceCall[];
  /** Topics and their partition counts; anything else is UNKNOWN_TOPIC_OR_PARTITION. */
  topics: Map<string, number>;
  onProduce: ProduceHook;
  /** Connections get no answer at all (a broker that hangs). */
  silent: boolean;
  /** Client connections open now. */
  connections(): number;
  /** Requests this broker could not read (a bad CRC, a truncated batch): a test expects none. */
  errors: string[];
  close(): Promise<void>;
}

const API = { Produce: 0, Metadata: 3, ApiVersions: 18 } as const;
const COMPRESSION = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

// ---- CRC-32C (Castagnoli), as record batches carry it ------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- reading and writing the protocol's types -------------------------------------------------------

class Reader {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  int8 = () => this.buf.readInt8(this.pos++);
  int16 = () => this.step(2, this.buf.readInt16BE(this.pos));
  int32 = () => this.step(4, this.buf.readInt32BE(this.pos));
  uint32 = () => this.step(4, this.buf.readUInt32BE(this.pos));
  int64 = () => this.step(8, this.buf.readBigInt64BE(this.pos));
  private step<T>(n: number, v: T): T {
    this.pos += n;
    return v;
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    if (b.length !== n) throw new Error(`truncated: wanted ${n} bytes at ${this.pos}`);
    this.pos += n;
    return b;
  }
  nullableString(): string | null {
    const n = this.int16();
    return n < 0 ? null : this.bytes(n).toString('utf8');
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new Error('null where a STRING is required');
    return s;
  }
  array<T>(item: () => T): T[] {
    const n = this.int32();
    return n < 0 ? [] : Array.from({ length: n }, item);
  }
  /** Zigzag varint (records use signed varints throughout). */
  varint(): number {
    let shift = 0;
    let raw = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      raw |= BigInt(b & 0x7f) << BigInt(shift);
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    return Number((raw >> 1n) ^ -(raw & 1n));
  }
  varBytes(): Buffer | null {
    const n = this.varint();
    return n < 0 ? null : this.bytes(n);
  }
  get done() {
    return this.pos >= this.buf.length;
  }
}

class Writer {
  private parts: Buffer[] = [];
  private put(n: number, f: (b: Buffer) => void) {
    const b = Buffer.alloc(n);
    f(b);
    this.parts.push(b);
    return this;
  }
  int16 = (v: number) => this.put(2, (b) => b.writeInt16BE(v));
  int32 = (v: number) => this.put(4, (b) => b.writeInt32BE(v));
  int64 = (v: bigint) => this.put(8, (b) => b.writeBigInt64BE(v));
  string(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  array<T>(items: T[], write: (w: Writer, item: T) => void) {
    this.int32(items.length);
    for (const item of items) write(this, item);
    return this;
  }
  get buffer() {
    return Buffer.concat(this.parts);
  }
}

// ---- record batches --------------------------------------------------------------------------------

/** The records of one record set (one or more batches of magic 2), CRC-checked and decompressed. */
export function decodeRecordSet(
  set: Buffer,
  topic: string,
  partition: number,
  acks: number,
): Omit<StoredRecord, 'offset'>[] {
  const out: Omit<StoredRecord, 'offset'>[] = [];
  const r = new Reader(set);
  while (!r.done) {
    r.int64(); // baseOffset: the producer sends 0
    const length = r.int32();
    const end = r.pos + length;
    r.int32(); // partitionLeaderEpoch
    const magic = r.int8();
    if (magic !== 2) throw new Error(`record batch magic ${magic}, expected 2`);
    const crc = r.uint32();
    const checked = set.subarray(r.pos, end);
    if (crc32c(checked) !== crc) throw new Error('record batch CRC-32C mismatch');
    const attributes = r.int16();
    r.int32(); // lastOffsetDelta
    const firstTimestamp = Number(r.int64());
    r.int64(); // maxTimestamp
    r.int64(); // producerId
    r.int16(); // producerEpoch
    r.int32(); // baseSequence
    const count = r.int32();
    const compression = COMPRESSION[attributes & 0x07];
    if (compression === undefined) throw new Error(`unknown compression ${attributes & 0x07}`);
    let body = r.bytes(end - r.pos);
    if (compression === 'gzip') body = gunzipSync(body);
    else if (compression !== 'none') throw new Error(`${compression} is not decoded by this broker`);
    const rr = new Reader(body);
    for (let i = 0; i < count; i++) {
      const len = rr.varint();
      const recordEnd = rr.pos + len;
      rr.int8(); // attributes
      const timestampDelta = rr.varint();
      rr.varint(); // offsetDelta
      const key = rr.varBytes();
      const value = rr.varBytes();
      const headers: Record<string, string> = {};
      const nh = rr.varint();
      for (let h = 0; h < nh; h++) {
        const hk = rr.varBytes()!.toString('utf8');
        headers[hk] = rr.varBytes()?.toString('utf8') ?? '';
      }
      if (rr.pos !== recordEnd) throw new Error(`record ${i} length ${len} does not match its fields`);
      out.push({
        topic,
        partition,
        key: key?.toString('utf8') ?? null,
        value: value?.toString('utf8') ?? null,
        headers,
        timestamp: firstTimestamp + timestampDelta,
        compression,
        acks,
      });
    }
  }
  return out;
}

// ---- the broker ------------------------------------------------------------------------------------

export async function startBroker(topics: Record<string, number> = {}): Promise<Broker> {
  const sockets = new Set<Socket>();
  const offsets = new Map<string, bigint>();
  const broker: Broker = {
    address: '',
    port: 0,
    records: [],
    produces: [],
    topics: new Map(Object.entries(topics)),
    onProduce: () => 0,
    silent: false,
    errors: [],
    connections: () => sockets.size,
    close: async () => {},
  };

  const apiVersions = (version: number) => {
    const w = new Writer().int16(0).array(
      [
        [API.Produce, 3, 3],
        [API.Metadata, 0, 0],
        [API.ApiVersions, 0, 2],
      ],
      (w, [key, min, max]) => w.int16(key!).int16(min!).int16(max!),
    );
    if (version >= 1) w.int32(0); // throttle_time_ms
    return w.buffer;
  };

  const metadata = (r: Reader) => {
    const asked = r.array(() => r.string());
    const names = asked.length > 0 ? asked : [...broker.topics.keys()];
    return new Writer()
      .array([0], (w) => w.int32(0).string('127.0.0.1').int32(broker.port))
      .array(names, (w, name) => {
        const n = broker.topics.get(name);
        w.int16(n === undefined ? 3 : 0).string(name); // 3: UNKNOWN_TOPIC_OR_PARTITION
        w.array(
          Array.from({ length: n ?? 0 }, (_, i) => i),
          (w, id) => {
            w.int16(0)
              .int32(id)
              .int32(0)
              .array([0], (w) => w.int32(0))
              .array([0], (w) => w.int32(0));
          },
        );
      }).buffer;
  };

  const produce = (r: Reader, clientId: string | null) => {
    r.nullableString(); // transactional_id
    const acks = r.int16();
    const timeoutMs = r.int32();
    const call: ProduceCall = { acks, timeoutMs, clientId, partitions: [] };
    const answers = r.array(() => {
      const topic = r.string();
      const partitions = r.array(() => {
        const partition = r.int32();
        const set = r.bytes(r.int32());
        const key = `${topic}/${partition}`;
        const base = offsets.get(key) ?? 0n;
        const records = decodeRecordSet(set, topic, partition, acks).map((x, i) => ({
          ...x,
          offset: base + BigInt(i),
        }));
        call.partitions.push({ topic, partition, records: records.length });
        const error = broker.topics.has(topic) ? broker.onProduce(topic, partition, records) : 3;
        if (error === 0) {
          broker.records.push(...records);
          offsets.set(key, base + BigInt(records.length));
        }
        return { partition, error, base };
      });
      return { topic, partitions };
    });
    broker.produces.push(call);
    return new Writer()
      .array(answers, (w, t) => {
        w.string(t.topic).array(t.partitions, (w, p) =>
          w.int32(p.partition).int16(p.error).int64(p.base).int64(-1n),
        );
      })
      .int32(0).buffer; // throttle_time_ms
  };

  const answer = (frame: Buffer): Buffer | undefined => {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString();
    let body: Buffer;
    if (apiKey === API.ApiVersions) body = apiVersions(version);
    else if (apiKey === API.Metadata) body = metadata(r);
    else if (apiKey === API.Produce) {
      body = produce(r, clientId);
      if (broker.produces.at(-1)!.acks === 0) return undefined;
    } else throw new Error(`API key ${apiKey} is not spoken by this broker`);
    const size = Buffer.alloc(8);
    size.writeInt32BE(4 + body.length, 0);
    size.writeInt32BE(correlationId, 4);
    return Buffer.concat([size, body]);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (broker.silent) return;
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        try {
          const out = answer(frame);
          if (out) socket.write(out);
        } catch (err) {
          // A request this broker cannot read is the test's failure: keep it, drop the client.
          broker.errors.push((err as Error).message);
          socket.destroy();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  broker.port = (server.address() as { port: number }).port;
  broker.address = `127.0.0.1:${broker.port}`;
  broker.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return broker;
}
