/**
 * A kubelet's answer read as UTF-8 text while its chunks arrive, as the kubelet client and the bench's
 * floor read it. Each chunk becomes text at once, and its Buffer dies young, in the next scavenge.
 * Collecting Buffers until the end keeps them alive for as long as the request is in flight (about
 * 300 ms at 256 in flight, several scavenges), so they are promoted, and their backing stores count
 * as V8's external memory, which starts a full collection every 64 MiB or so whatever the heap's own
 * limit. At 5,000 nodes that was 3 of a warm cycle's 7 full collections, and each one marks the
 * scraper's whole long-lived heap (docs/performance.md#external-memory-2026-12-04).
 */
import { StringDecoder } from 'node:string_decoder';

export class BodyText {
  readonly #utf8 = new StringDecoder('utf8');
  #parts: string[] = [];
  /** Bytes received so far. */
  size = 0;

  add(chunk: Buffer): void {
    this.size += chunk.length;
    this.#parts.push(this.#utf8.write(chunk));
  }

  /** The whole body (a character split between chunks comes out whole). */
  text(): string {
    this.#parts.push(this.#utf8.end());
    const parts = this.#parts;
    this.#parts = [];
    return parts.join('');
  }
}
