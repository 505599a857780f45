/**
 * `--sink stdout`: one record per line on standard output, eventrouter's JSON shape extended
 * (`{"id","verb","time","event","old_event"}`). The function's own logs go to standard error, so the
 * output is records only. A line is written whole or the batch fails (EPIPE: retried, as any sink).
 * stdout cannot deduplicate: a batch redelivered after a crash appears again, with the same ids.
 */
import type { Writable } from 'node:stream';
import { type Batch, type Delivery, InvalidSink, type Sink, SinkError, type SinkKind } from './sink.ts';

/** Records as lines on a stream. */
export class StreamSink implements Sink {
  readonly name: string;
  readonly maxBatch = 500;
  readonly #out: Writable;

  constructor(name: string, out: Writable) {
    this.name = name;
    this.#out = out;
  }

  deliver(batch: Batch, signal: AbortSignal): Promise<Delivery> {
    if (signal.aborted) return Promise.reject(new SinkError('delivery aborted'));
    let text = '';
    for (const r of batch.records) text += `${JSON.stringify(r)}\n`;
    return new Promise((resolve, reject) => {
      this.#out.write(text, (err) => {
        if (err) reject(new SinkError(`writing to ${this.name}: ${err.message}`));
        else resolve({ rejected: [] });
      });
    });
  }

  async close(): Promise<void> {}
}

export const stdoutSink: SinkKind<Record<string, never>> = {
  kind: 'stdout',
  parse(rest) {
    if (rest !== '') throw new InvalidSink('stdout takes no options');
    return {};
  },
  create(name) {
    return new StreamSink(name, process.stdout);
  },
};
