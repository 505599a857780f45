/**
 * Buffers used again instead of allocated anew, for the bytes a scrape cycle builds its Redis commands
 * in (resp.ts). V8 starts a full collection whenever the memory held by ArrayBuffers grows by about
 * 64 MiB past what the last full collection left, and frees a Buffer's memory only once a collection
 * finds it dead. A cycle's commands live a send or two (longer than a young collection's window), so
 * they are promoted and freed only by a full collection: at 5,000 nodes a few hundred MB of them a
 * cycle started several full collections, each marking the scraper's whole live heap. Taken from here
 * and given back once their commands are answered, the same memory serves cycle after cycle.
 *
 * Sizes are powers of two (4 KiB and up); what is kept is bounded, and a buffer beyond the largest
 * size is allocated and dropped as before.
 */

/** The smallest size handed out (a smaller request gets this), and the largest kept. */
const MIN_SHIFT = 12;
const MAX_SHIFT = 24;

export class BufferPool {
  /** Free buffers by size: index `shift - MIN_SHIFT` holds buffers of `1 << shift` bytes. */
  readonly #free: Buffer[][] = Array.from({ length: MAX_SHIFT - MIN_SHIFT + 1 }, () => []);
  #kept = 0;
  #taken = 0;
  #allocated = 0;
  readonly #maxKept: number;

  /** @param maxKeptBytes how many bytes of free buffers are kept at most (beyond: dropped). */
  constructor(maxKeptBytes: number) {
    this.#maxKept = maxKeptBytes;
  }

  /** Bytes of free buffers kept now. */
  get keptBytes(): number {
    return this.#kept;
  }

  /** Bytes of buffers handed out so far, reused or new. */
  get takenBytes(): number {
    return this.#taken;
  }

  /** Bytes of buffers allocated so far: what `takenBytes` holds beyond the reused. */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  /** A buffer of at least `bytes` bytes (its contents whatever they were): a free one, or a new one. */
  take(bytes: number): Buffer {
    const shift = Math.max(MIN_SHIFT, 32 - Math.clz32(Math.max(1, bytes) - 1));
    if (shift > MAX_SHIFT) {
      this.#taken += bytes;
      this.#allocated += bytes;
      return Buffer.allocUnsafeSlow(bytes);
    }
    this.#taken += 1 << shift;
    const reused = this.#free[shift - MIN_SHIFT]!.pop();
    if (reused !== undefined) {
      this.#kept -= reused.length;
      return reused;
    }
    this.#allocated += 1 << shift;
    return Buffer.allocUnsafeSlow(1 << shift);
  }

  /**
   * Gives back a buffer `take` returned, once nothing reads or writes it any more (a buffer of another
   * origin is ignored, as is one past the bound).
   */
  give(buf: Buffer): void {
    const shift = 31 - Math.clz32(buf.length);
    if (shift < MIN_SHIFT || shift > MAX_SHIFT || buf.length !== 1 << shift) return;
    if (buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.length) return;
    if (this.#kept + buf.length > this.#maxKept) return;
    this.#free[shift - MIN_SHIFT]!.push(buf);
    this.#kept += buf.length;
  }
}
