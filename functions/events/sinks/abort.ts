/**
 * Bounding a sink's work in time: the delivery's signal, also aborted after the sink's timeout, and for
 * clients that take no signal (kafkajs, nats), giving up on their promise when the signal aborts.
 */
import { SinkError } from './sink.ts';

/** The caller's signal, also aborted after `timeoutMs`. */
export function deadline(signal: AbortSignal, timeoutMs: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
}

/**
 * `work`, or a SinkError as soon as `signal` aborts. The work itself still ends by itself (a publish in
 * flight may yet land: delivery sends the batch again later, and the sinks' ids make that harmless).
 */
export function untilAborted<T>(work: () => Promise<T>, signal: AbortSignal, reason = 'aborted'): Promise<T> {
  if (signal.aborted) return Promise.reject(new SinkError(reason));
  const p = work();
  p.catch(() => {}); // nobody waits for it after an abort
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new SinkError(reason));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
