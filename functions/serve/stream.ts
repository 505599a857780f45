/**
 * The all-namespaces pod list as a byte stream: the store yields namespaces in batches and each chunk
 * is written as the socket asks for it, so memory stays at about two batches (the one being written and
 * the one read ahead) however many pods there are: 150,000 pods are ~50 MB of JSON, never held at once.
 *
 * The first batch is read before the response starts, so a store that is down at the start is still a
 * 503 Status. A failure after that cannot change the status line any more: the stream is aborted (the
 * client sees a truncated body, never a complete-looking partial list).
 *
 * A protobuf list cannot be streamed that way: its length comes before its items on the wire (as Go
 * writes it too, unless it streams collections). It is built from every item encoded, which holds about
 * a third of the JSON's size (for 150,000 pods about 20 MB) until it is written.
 */
import type { StoredEntry } from '../../shared/store/entry.ts';
import type { NamespaceItems, NamespacePods } from '../../shared/store/reader.ts';
import { encodeItem, listMessage } from './protobuf.ts';
import type { ListShape, ProtobufListShape } from './render.ts';

/** Text (or bytes) gathered per chunk: enough to amortise socket writes (a namespace batch may add more). */
const CHUNK_CHARS = 64 * 1024;

export type Select = (entry: StoredEntry, namespace: string) => boolean;

async function protobufList(
  shape: ProtobufListShape,
  batches: AsyncIterable<NamespacePods>,
  select: Select,
): Promise<Uint8Array> {
  const items: Uint8Array[] = [];
  for await (const batch of batches) {
    for (const e of batch.entries) {
      if (e.item !== '' && select(e, batch.namespace)) items.push(encodeItem(shape.kind, e.item));
    }
  }
  return listMessage(shape.kind, shape.version, items);
}

/**
 * What a list's byte stream is made of: batches are added until the chunk is `full`, then `chunk` takes
 * what was added (`done` after the last batch, when the list's tail goes in too).
 */
interface Chunker<B> {
  add(batch: B): void;
  full(): boolean;
  chunk(done: boolean): Uint8Array;
}

/**
 * The store's batches as a byte stream: the first is read before the response starts (a store that is
 * down is still a 503), each next one is asked for ahead so the store's round trip overlaps rendering
 * and the socket, and a chunk is produced only when the consumer asks for one.
 */
async function pulledStream<B>(
  batches: AsyncIterable<B>,
  c: Chunker<B>,
  onError: (err: unknown) => void,
): Promise<ReadableStream<Uint8Array>> {
  const it = batches[Symbol.asyncIterator]();
  const first = await it.next();
  let next: Promise<IteratorResult<B>> | null = Promise.resolve(first);
  const ahead = (): Promise<IteratorResult<B>> => {
    if (next === null) {
      next = it.next();
      // Awaited by the next pull; until then a failure must not count as an unhandled rejection.
      next.catch(() => {});
    }
    return next;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let done = false;
          while (!c.full()) {
            const r = await ahead();
            next = null;
            if (r.done) {
              done = true;
              break;
            }
            ahead();
            c.add(r.value);
          }
          controller.enqueue(c.chunk(done));
          if (done) controller.close();
        } catch (err) {
          onError(err);
          controller.error(err);
        }
      },
      async cancel() {
        await it.return?.();
      },
    },
    // Produce a chunk only when the consumer asks for one: backpressure from the socket bounds memory to
    // about the chunk being written plus one batch read ahead.
    { highWaterMark: 0 },
  );
}

export async function streamList(
  shape: ListShape,
  batches: AsyncIterable<NamespacePods>,
  select: Select,
  onError: (err: unknown) => void,
): Promise<ReadableStream<Uint8Array> | Uint8Array> {
  if (shape.format === 'protobuf') return protobufList(shape, batches, select);
  const encoder = new TextEncoder();
  const render = shape.item;
  let text = shape.head;
  let empty = true;
  return pulledStream(
    batches,
    {
      add(batch) {
        for (const e of batch.entries) {
          if (e.item === '' || !select(e, batch.namespace)) continue;
          const element = render === null ? e.item : render(e.item);
          text += empty ? element : `,${element}`;
          empty = false;
        }
      },
      full: () => text.length >= CHUNK_CHARS,
      chunk(done) {
        const out = encoder.encode(done ? text + shape.tail : text);
        text = '';
        return out;
      },
    },
    onError,
  );
}

const COMMA = new Uint8Array([44]);

/**
 * A plain JSON list of every item the store yields as bytes: each item written as Redis sent it (no text
 * decoded and encoded again), gathered into chunks of about CHUNK_CHARS bytes with one copy each.
 * `each` sees every item's timestamp as it goes in.
 */
export function streamItems(
  head: string,
  tail: string,
  batches: AsyncIterable<NamespaceItems>,
  each: (timestamp: number) => void,
  onError: (err: unknown) => void,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [encoder.encode(head)];
  let bytes = 0;
  let empty = true;
  return pulledStream(
    batches,
    {
      add(batch) {
        for (const { item, timestamp } of batch.items) {
          if (!empty) parts.push(COMMA);
          parts.push(item);
          bytes += item.length + 1;
          empty = false;
          each(timestamp);
        }
      },
      full: () => bytes >= CHUNK_CHARS,
      chunk(done) {
        if (done) parts.push(encoder.encode(tail));
        const out = Buffer.concat(parts);
        parts = [];
        bytes = 0;
        return out;
      },
    },
    onError,
  );
}
