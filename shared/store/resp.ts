/**
 * HSETs written as RESP while a cycle renders them. A cycle streams tens of thousands of HSET fields; as
 * ioredis arguments each would be converted again when its pipeline is sent (a length and a string per
 * argument, the command joined into a Buffer, the arguments flattened and copied on the way). Here each
 * field is appended as its RESP bytes the moment it is rendered, into a buffer of its command's own,
 * and the pipeline sends those bytes as they are (toWritable, as ioredis' own Script commands override
 * it), copied once more when the pipeline joins its commands.
 */

import type { ChainableCommander } from 'ioredis';
import { Command, type Pipeline } from 'ioredis';

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

/** Queues a pre-encoded command on a pipeline (ChainableCommander's type leaves sendCommand out). */
function queue(p: ChainableCommander, c: Command): void {
  (p as unknown as Pipeline).sendCommand(c);
}

const DOLLAR = 0x24;
const CR = 13;
const LF = 10;
/** A bulk string's bytes beyond its own: `$`, at most 16 digits, CRLF twice. */
const BULK_OVERHEAD = 1 + 16 + 4;
/** A header's bytes beyond its key: `*<count>\r\n$4\r\nhset\r\n$<length>\r\n` … `\r\n`. */
const HEAD_OVERHEAD = 1 + 16 + 2 + 10 + 1 + 16 + 2 + 2;

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * One HSET being built: fields appended as RESP bulk strings behind room kept for the header, which
 * `command` writes once the count is known. Each builder is sent once.
 */
export class HsetBuilder {
  readonly key: string;
  #buf: Buffer;
  /** Where the fields start (the header's room before it) and end. */
  readonly #start: number;
  #end: number;
  #fields = 0;

  constructor(key: string, capacity = 16 << 10) {
    this.key = key;
    this.#start = HEAD_OVERHEAD + Buffer.byteLength(key);
    this.#buf = Buffer.allocUnsafeSlow(this.#start + capacity);
    this.#end = this.#start;
  }

  /** Fields appended so far. */
  get fields(): number {
    return this.#fields;
  }

  /** Appends a field (a later one for the same name replaces it, as in one HSET). */
  add(name: string, value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.#reserve(3 * (name.length + value.length) + 2 * BULK_OVERHEAD);
    this.#end = this.#bulk(this.#bulk(this.#end, name), value);
    this.#fields++;
  }

  /** The HSET of every field appended, for a pipeline (`queue`). */
  send(p: ChainableCommander): void {
    const head = `*${2 + 2 * this.#fields}\r\n$4\r\nhset\r\n$${Buffer.byteLength(this.key)}\r\n${this.key}\r\n`;
    const at = this.#start - Buffer.byteLength(head);
    this.#buf.write(head, at, 'utf8');
    queue(p, new PreEncoded('hset', this.key, this.#buf.subarray(at, this.#end)));
  }

  #reserve(bytes: number): void {
    if (this.#buf.length - this.#end >= bytes) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.#buf.length, this.#end + bytes));
    this.#buf.copy(grown, 0, 0, this.#end);
    this.#buf = grown;
  }

  /** Writes `s` as a bulk string at `at`; where it ends. */
  #bulk(at: number, s: string): number {
    const buf = this.#buf;
    // Most strings are ASCII (a byte per code unit): the length's digits are written for that guess, the
    // string after them, and moved only when its bytes need more digits.
    const guess = digits(s.length);
    let text = at + 1 + guess + 2;
    const n = buf.write(s, text, 'utf8');
    const d = n === s.length ? guess : digits(n);
    if (d !== guess) {
      buf.copyWithin(at + 1 + d + 2, text, text + n);
      text = at + 1 + d + 2;
    }
    buf[at] = DOLLAR;
    for (let i = at + d, v = n; i > at; i--, v = Math.floor(v / 10)) buf[i] = 48 + (v % 10);
    buf[text - 2] = CR;
    buf[text - 1] = LF;
    buf[text + n] = CR;
    buf[text + n + 1] = LF;
    return text + n + 2;
  }
}
