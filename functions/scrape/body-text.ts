/**
 * A kubelet's answer read as UTF-8 text while its chunks arrive, as the kubelet client and the bench's
 * floor read it (`res.setEncoding` would do the same, but hide the bytes the size cap counts). Each
 * chunk's Buffer then dies young; Buffers kept until the last chunk live as long as the request is in
 * flight, are promoted, and as V8 external memory start full collections of their own
 * (docs/performance.md#external-memory-2026-12-04).
 */
import { StringDecoder } from 'node:string_decoder';

export class BodyText {
  readonly #utf8 = new StringDecoder('utf8');
  readonly #parts: string[] = [];
  /** Bytes received so far. */
  size = 0;

  add(chunk: Buffer): void {
    this.size += chunk.length;
    this.#parts.push(this.#utf8.write(chunk));
  }

  /** The whole body, once every chunk was added (a character split between chunks comes out whole). */
  text(): string {
    this.#parts.push(this.#utf8.end());
    return this.#parts.join('');
  }
}
