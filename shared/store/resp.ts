/**
 * Commands written as RESP while a cycle renders them: its HSETs of entries, its SETRANGEs of pod
 * items and its SETs of node states. A cycle streams tens of thousands of fields and items; as ioredis
 * arguments each would be converted again when its pipeline is sent (a length and a string per
 * argument, each command joined into a Buffer, the arguments flattened and copied on the way), and the
 * items would wait as a Buffer each, joined at the send. Here each field or item is appended as its bytes the moment it is rendered,
 * into a buffer of its command's own, and the pipeline sends those bytes as they are (toWritable, as
 * ioredis' own Script commands override it), copied once more when the pipeline joins its commands.
 * The buffers are used again, cycle after cycle, once their pipelines have settled.
 */
import { type ChainableCommander, Command, type Pipeline } from 'ioredis';
import { decimalDigits, writeDecimal } from './ascii.ts';
import { BufferPool } from './buffer-pool.ts';
import { type EntryHead, maxEntryRefBytes, writeEntryRef } from './entry.ts';

/**
 * The buffers commands are built in, used again once their pipelines have settled (buffer-pool.ts).
 * Kept: about what a 5,000-node cycle holds at once (a send being built, those in flight, and the
 * end's ordered entries).
 */
export const commandBuffers = new BufferPool(64 << 20);

/** `PING`, written in place of a command that has settled (its bytes may belong to another by now). */
const PING = Buffer.from('*1\r\n$4\r\nPING\r\n', 'latin1');

/** A command whose RESP bytes are already written; its key is still named, for Cluster slots. */
class PreEncoded extends Command {
  readonly #bytes: Buffer;

  constructor(name: string, key: string, bytes: Buffer) {
    // Replies as ioredis' own commands give them (text, not bytes).
    super(name, [key], { replyEncoding: 'utf8' });
    this.#bytes = bytes;
  }

  override toWritable(): Buffer {
    // Written again after it settled: ioredis resends a command that timed out, once it reconnects. Its
    // buffer went back to the pool when its pipeline settled, and may hold another command's bytes now.
    return this.isSettled ? PING : this.#bytes;
  }
}

/** A released builder's buffer: building on it, or sending it, throws. */
const EMPTY = Buffer.alloc(0);

const DOLLAR = 0x24;
const CR = 13;
const LF = 10;
/** A bulk string's bytes beyond its own: `$`, at most 16 digits, CRLF twice. */
const BULK_OVERHEAD = 1 + 16 + 4;
/** A header's bytes beyond its key: `*<count>`, the command's name and the key's length, each a line. */
const HEAD_OVERHEAD = 1 + 16 + 2 + 1 + 16 + 2 + 16 + 1 + 16 + 2 + 2;

/**
 * One command's bytes being built: a body appended to, behind room kept for its header (and, in
 * `extraHead`, whatever else goes before the body), written by `send` once what it says is known. Each
 * builder is sent once.
 */
abstract class Framed {
  readonly key: string;
  #buf: Buffer;
  /** Where the body starts (the header's room before it) and ends. */
  readonly #start: number;
  #end: number;
  /** The digits an open bulk string's length was given room for (openBulk). */
  #guess = 0;

  /**
   * `lastBytes`: what the same key's builder took in its last send (0: none), which sizes the first
   * buffer (the buffer grows past it, by doubling).
   */
  constructor(key: string, lastBytes: number, extraHead: number) {
    this.key = key;
    this.#start = HEAD_OVERHEAD + Buffer.byteLength(key) + extraHead;
    const capacity = lastBytes > 0 ? lastBytes + (lastBytes >> 2) : 1024;
    // Past the body, room for a closing CRLF.
    this.#buf = commandBuffers.take(this.#start + capacity + 2);
    this.#end = this.#start;
  }

  /** The body's bytes so far. */
  get bytes(): number {
    return this.#end - this.#start;
  }

  /** Where the body ends in `buffer`. */
  protected get end(): number {
    return this.#end;
  }

  /** Appends `s` as UTF-8 (as a bulk string with `bulk`); how many bytes it took. */
  protected append(s: string, bulk: boolean): number {
    if (!bulk) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      this.#reserve(3 * s.length);
      const n = this.#buf.write(s, this.#end, 'utf8');
      this.#end += n;
      return n;
    }
    // Most strings are ASCII (a byte per code unit): the length's digits are written for that guess.
    const text = this.openBulk(3 * s.length, decimalDigits(s.length));
    return this.closeBulk(text + this.#buf.write(s, text, 'utf8'));
  }

  /** The buffer an open bulk string is written into (read after openBulk, which may replace it). */
  protected get buffer(): Buffer {
    return this.#live();
  }

  /** The builder's buffer; throws once it was released (its bytes may be another builder's by then). */
  #live(): Buffer {
    if (this.#buf === EMPTY)
      throw new Error(`a command for ${this.key} was used after its buffer was released`);
    return this.#buf;
  }

  /**
   * Opens a bulk string of at most `most` bytes, room kept for `guess` digits of its length: where its
   * bytes go in `buffer`. closeBulk ends it.
   */
  protected openBulk(most: number, guess = decimalDigits(most)): number {
    this.#reserve(most + BULK_OVERHEAD);
    this.#guess = guess;
    return this.#end + 1 + guess + 2;
  }

  /**
   * Frames the bytes written since openBulk, up to `end`, as a bulk string: its length's digits before
   * them (the bytes moved when the length has other than the digits guessed), CRLF after; their count.
   */
  protected closeBulk(end: number): number {
    const buf = this.#buf;
    const at = this.#end;
    let text = at + 1 + this.#guess + 2;
    const n = end - text;
    const d = decimalDigits(n);
    if (d !== this.#guess) {
      buf.copyWithin(at + 1 + d + 2, text, text + n);
      text = at + 1 + d + 2;
    }
    buf[at] = DOLLAR;
    writeDecimal(buf, at + 1, n, d);
    buf[text - 2] = CR;
    buf[text - 1] = LF;
    buf[text + n] = CR;
    buf[text + n + 1] = LF;
    this.#end = text + n + 2;
    return n;
  }

  /** Queues the command on a pipeline: `head` before the body, `tail` (at most CRLF) after it. */
  protected queue(p: ChainableCommander, name: string, head: string, tail: string): void {
    const at = this.#start - Buffer.byteLength(head);
    this.#live().write(head, at, 'utf8');
    const end = this.#end + this.#buf.write(tail, this.#end, 'latin1');
    queueEncoded(p, name, this.key, this.#buf.subarray(at, end));
  }

  #reserve(bytes: number): void {
    if (this.#buf.length - 2 - this.#end >= bytes) return;
    this.#live();
    const grown = commandBuffers.take(Math.max(2 * this.#buf.length, this.#end + bytes + 2));
    this.#buf.copy(grown, 0, 0, this.#end);
    commandBuffers.give(this.#buf);
    this.#buf = grown;
  }

  /**
   * Gives the builder's buffer back to the pool: once the pipeline it was queued on has settled (every
   * command answered or failed), or when it was never sent. The builder is not used after this.
   */
  release(): void {
    commandBuffers.give(this.#buf);
    this.#buf = EMPTY;
  }
}

/** Queues a command whose bytes are written on a pipeline. */
function queueEncoded(p: ChainableCommander, name: string, key: string, bytes: Buffer): void {
  // ChainableCommander's type leaves sendCommand out; every pipeline has it.
  (p as unknown as Pipeline).sendCommand(new PreEncoded(name, key, bytes));
}

/** `*<count>\r\n$<name length>\r\n<name>\r\n$<key length>\r\n<key>\r\n` */
const header = (count: number, name: string, key: string) =>
  `*${count}\r\n$${name.length}\r\n${name}\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`;

/** One HSET being built, field by field (a later field of the same name replaces it, as in one HSET). */
export class HsetBuilder extends Framed {
  #fields = 0;

  constructor(key: string, lastBytes = 0) {
    super(key, lastBytes, 0);
  }

  /** Fields appended so far. */
  get fields(): number {
    return this.#fields;
  }

  add(name: string, value: string): void {
    this.append(name, true);
    this.append(value, true);
    this.#fields++;
  }

  /** A pod's entry whose item is a reference, as entry.ts writes it (writeEntryRef); the field's bytes. */
  addEntryRef(name: string, head: EntryHead, part: string, offset: number, length: number): number {
    const n = this.append(name, true);
    const at = this.openBulk(maxEntryRefBytes(head, part));
    this.#fields++;
    return n + this.closeBulk(writeEntryRef(this.buffer, at, head, part, offset, length));
  }

  /** The HSET of every field appended, queued on a pipeline. */
  send(p: ChainableCommander): void {
    this.queue(p, 'hset', header(2 + 2 * this.#fields, 'hset', this.key), '');
  }
}

/** One SETRANGE being built: texts appended one after another, written at an offset told at the end. */
export class SetrangeBuilder extends Framed {
  constructor(key: string, lastBytes = 0) {
    // The offset's line and the value's length line.
    super(key, lastBytes, 1 + 16 + 2 + 1 + 16 + 2);
  }

  /** Appends `text` as UTF-8; how many bytes it took. */
  add(text: string): number {
    return this.append(text, false);
  }

  /** SETRANGE key offset <everything appended>, queued on a pipeline. */
  send(p: ChainableCommander, offset: number): void {
    const offsetText = String(offset);
    const head = `${header(4, 'setrange', this.key)}$${offsetText.length}\r\n${offsetText}\r\n$${this.bytes}\r\n`;
    this.queue(p, 'setrange', head, '\r\n');
  }
}

/**
 * SETs with an expiry (`SET key value PX ms`: the cycle's node states), one after another in one buffer,
 * each queued as a command of its own (its key names its Cluster slot). As ioredis arguments, each
 * value would be copied into a Buffer of its own when its pipeline is sent.
 */
export class SetsBuilder extends Framed {
  readonly #commands: [key: string, from: number, to: number][] = [];

  constructor(lastBytes = 0) {
    super('', lastBytes, 0);
  }

  /** SETs appended so far. */
  get count(): number {
    return this.#commands.length;
  }

  add(key: string, value: Buffer, ttlMs: number): void {
    const from = this.end;
    this.append('*5\r\n$3\r\nSET\r\n', false);
    this.append(key, true);
    const at = this.openBulk(value.length);
    this.closeBulk(at + value.copy(this.buffer, at));
    this.append('$2\r\nPX\r\n', false);
    this.append(String(ttlMs), true);
    this.#commands.push([key, from, this.end]);
  }

  /** The `index`th SET appended, queued on a pipeline (each on its own: Cluster pipelines are per slot). */
  send(p: ChainableCommander, index: number): void {
    const [key, from, to] = this.#commands[index]!;
    queueEncoded(p, 'set', key, this.buffer.subarray(from, to));
  }
}
