/**
 * Commands written as RESP while a cycle renders them: its HSETs of entries and its SETRANGEs of pod
 * items. A cycle streams tens of thousands of fields and items; as ioredis arguments each would be
 * converted again when its pipeline is sent (a length and a string per argument, each command joined
 * into a Buffer, the arguments flattened and copied on the way), and the items would wait as a Buffer
 * each, joined at the send. Here each field or item is appended as its bytes the moment it is rendered,
 * into a buffer of its command's own, and the pipeline sends those bytes as they are (toWritable, as
 * ioredis' own Script commands override it), copied once more when the pipeline joins its commands.
 */
import { type ChainableCommander, Command, type Pipeline } from 'ioredis';
import { decimalDigits, writeDecimal } from './ascii.ts';
import { type EntryHead, maxEntryRefBytes, writeEntryRef } from './entry.ts';

/** A command whose RESP bytes are already written; its key is still named, for Cluster slots. */
class PreEncoded extends Command {
  readonly #bytes: Buffer;

  constructor(name: string, key: string, bytes: Buffer) {
    super(name, [key]);
    this.#bytes = bytes;
  }

  override toWritable(): Buffer {
    return this.#bytes;
  }
}

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
    this.#buf = Buffer.allocUnsafe(this.#start + capacity + 2);
    this.#end = this.#start;
  }

  /** The body's bytes so far. */
  get bytes(): number {
    return this.#end - this.#start;
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
    this.#buf.write(head, at, 'utf8');
    const end = this.#end + this.#buf.write(tail, this.#end, 'latin1');
    // ChainableCommander's type leaves sendCommand out; every pipeline has it.
    (p as unknown as Pipeline).sendCommand(new PreEncoded(name, this.key, this.#buf.subarray(at, end)));
  }

  #reserve(bytes: number): void {
    if (this.#buf.length - 2 - this.#end >= bytes) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.#buf.length, this.#end + bytes + 2));
    this.#buf.copy(grown, 0, 0, this.#end);
    this.#buf = grown;
  }
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
