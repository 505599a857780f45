/**
 * The all-namespaces pod list as a byte stream: the store yields namespaces in batches and each chunk
 * is written as the socket asks for it, so memory stays at about two batches (the one being written and
 * the one read ahead) however many pods there are: 150,000 pods are ~50 MB of JSON, never held at once.
 *
 * Where the scraper stored a namespace's items in name order (and nothing selects among them), the store
 * hands them over as bytes: stored as the list holds them (a comma before each item), they are written as
 * Redis sent them, not even copied; stored otherwise, each item's bytes are copied into the chunk. Nothing
 * is decoded, split or encoded again.
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
import type { NamespacePods, OrderedItems } from '../../shared/store/reader.ts';
import { encodeItem, listMessage } from './protobuf.ts';
import type { ListShape, ProtobufListShape } from './render.ts';

/** Text gathered per chunk: enough to amortise socket writes (a namespace batch may add more). */
const CHUNK_CHARS = 64 * 1024;

export type Select = (entry: StoredEntry, namespace: string) => boolean;

/** Observes the metric timestamps of a namespace's items served as bytes (NamespacePods.ordered). */
export type ObserveOrdered = (timestamps: Float64Array) => void;

async function protobufList(
  shape: ProtobufListShape,
  batches: AsyncIterable<NamespacePods>,
  select: Select,
  observeOrdered: ObserveOrdered,
): Promise<Uint8Array> {
  const items: Uint8Array[] = [];
  for await (const batch of batches) {
    if (batch.ordered !== undefined) {
      observeOrdered(batch.ordered.timestamps);
      for (const text of orderedTexts(batch.ordered)) items.push(encodeItem(shape.kind, text));
      continue;
    }
    for (const e of batch.entries) {
      if (e.item !== '' && select(e, batch.namespace)) items.push(encodeItem(shape.kind, e.item));
    }
  }
  return listMessage(shape.kind, shape.version, items);
}

/** The texts of items stored in name order (for shapes that wrap or encode each item). */
function* orderedTexts({ bytes, spans }: OrderedItems): Iterable<string> {
  for (let i = 0; i < spans.length; i += 2)
    yield bytes.toString('utf8', spans[i]!, spans[i]! + spans[i + 1]!);
}

/**
 * The list's body from the store's batches, each item that `select` takes. A batch of items in name
 * order (NamespacePods.ordered, asked for only where nothing selects) is every item, each observed.
 */
export async function streamList(
  shape: ListShape,
  batches: AsyncIterable<NamespacePods>,
  select: Select,
  onError: (err: unknown) => void,
  observeOrdered: ObserveOrdered = () => {},
): Promise<ReadableStream<Uint8Array> | Uint8Array> {
  if (shape.format === 'protobuf') return protobufList(shape, batches, select, observeOrdered);
  const it = batches[Symbol.asyncIterator]();
  const first = await it.next();
  const render = shape.item;
  /** Text not yet in `chunk`, which it follows. */
  let text = shape.head;
  let chunk = Buffer.allocUnsafe(CHUNK_CHARS);
  /** `chunk[start, used)` is written and not handed on yet; what came before it has been. */
  let start = 0;
  let used = 0;
  /** Pieces written before `chunk[start, used)` (filled chunks, stored bytes), and their bytes. */
  const full: Uint8Array[] = [];
  let fullBytes = 0;
  let empty = true;
  let done = false;

  /** What `chunk` holds that is not in `full` yet goes there. */
  const seal = () => {
    if (used === start) return;
    full.push(chunk.subarray(start, used));
    fullBytes += used - start;
    start = used;
  };
  /** Room for `bytes` more in `chunk` (a new one when it lacks it). */
  const room = (bytes: number) => {
    if (chunk.length - used >= bytes) return;
    seal();
    chunk = Buffer.allocUnsafe(Math.max(CHUNK_CHARS, bytes));
    start = used = 0;
  };
  const flushText = () => {
    if (text === '') return;
    room(text.length * 3); // UTF-8 takes at most 3 bytes per UTF-16 code unit
    used += chunk.write(text, used, 'utf8');
    text = '';
  };
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
    const ordered = batch.ordered;
    if (ordered !== undefined) {
      observeOrdered(ordered.timestamps);
      if (render !== null) {
        for (const t of orderedTexts(ordered)) {
          text += empty ? render(t) : `,${render(t)}`;
          empty = false;
        }
        return;
      }
      flushText();
      const { bytes, spans } = ordered;
      if (ordered.joined) {
        // The stored bytes are the items, a comma before each: handed on as they came.
        seal();
        const items = empty ? bytes.subarray(1) : bytes;
        full.push(items);
        fullBytes += items.length;
        empty = false;
        return;
      }
      for (let i = 0; i < spans.length; i += 2) {
        const offset = spans[i]!;
        const length = spans[i + 1]!;
        room(length + 1);
        if (!empty) chunk[used++] = 44; // ','
        used += bytes.copy(chunk, used, offset, offset + length);
        empty = false;
      }
      return;
    }
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
          while (text.length + used - start + fullBytes < CHUNK_CHARS) {
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
          flushText();
          seal();
          for (const c of full) controller.enqueue(c);
          full.length = 0;
          fullBytes = 0;
          // What follows goes after what was handed on, in the same chunk while it has room: the
          // consumer reads only the pieces it was given.
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
