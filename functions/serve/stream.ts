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
import type { NamespacePods } from '../../shared/store/reader.ts';
import { encodeItem, listMessage } from './protobuf.ts';
import type { ListShape, ProtobufListShape } from './render.ts';

/** Text gathered per chunk: enough to amortise socket writes (a namespace batch may add more). */
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

export async function streamList(
  shape: ListShape,
  batches: AsyncIterable<NamespacePods>,
  select: Select,
  onError: (err: unknown) => void,
): Promise<ReadableStream<Uint8Array> | Uint8Array> {
  if (shape.format === 'protobuf') return protobufList(shape, batches, select);
  const it = batches[Symbol.asyncIterator]();
  const first = await it.next();
  const encoder = new TextEncoder();
  const render = shape.item;
  let text = shape.head;
  let empty = true;
  let done = false;
  let next: Promise<IteratorResult<NamespacePods>> | null = Promise.resolve(first);

  /** The next batch, requested ahead so the store's round trip overlaps rendering and the socket. */
  const ahead = (): Promise<IteratorResult<NamespacePods>> => {
    if (next === null) {
      next = it.next();
      // Awaited by the next pull; until then a failure must not count as an unhandled rejection.
      next.catch(() => {});
    }
    return next;
  };

  const take = (batch: NamespacePods) => {
    for (const e of batch.entries) {
      if (e.item === '' || !select(e, batch.namespace)) continue;
      const element = render === null ? e.item : render(e.item);
      text += empty ? element : `,${element}`;
      empty = false;
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          while (text.length < CHUNK_CHARS) {
            const r = await ahead();
            next = null;
            if (r.done) {
              done = true;
              break;
            }
            ahead();
            take(r.value);
          }
          if (done) text += shape.tail;
          controller.enqueue(encoder.encode(text));
          text = '';
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
