import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadline, untilAborted } from '../../../../functions/events/sinks/abort.ts';
import { SinkError } from '../../../../functions/events/sinks/sink.ts';

// An abandoned sink promise that rejects later must not become an unhandled rejection: Node would end
// the process (it did, at SIGTERM, when the stdout sink refused an already-aborted delivery).
const noUnhandled = async (body: () => Promise<void>) => {
  const seen: unknown[] = [];
  const on = (err: unknown) => seen.push(err);
  process.on('unhandledRejection', on);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', on);
  }
  assert.deepEqual(seen, []);
};

test('with the signal already aborted the work is not started, and the error names the reason', async () => {
  await noUnhandled(async () => {
    let started = false;
    const work = () => {
      started = true;
      return Promise.reject(new SinkError('refused'));
    };
    await assert.rejects(untilAborted(work, AbortSignal.abort(), 'delivery stopped'), /delivery stopped/);
    assert.equal(started, false);
  });
});

test('an abort gives up on the work at once; its later rejection is handled', async () => {
  await noUnhandled(async () => {
    const ac = new AbortController();
    let fail!: (e: Error) => void;
    const p = untilAborted(() => new Promise<never>((_, reject) => (fail = reject)), ac.signal);
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof SinkError && e.message === 'aborted');
    fail(new Error('too late'));
  });
});

test('the work answers: its value or its error, untouched', async () => {
  const ac = new AbortController();
  assert.equal(await untilAborted(async () => 7, ac.signal), 7);
  await assert.rejects(
    untilAborted(() => Promise.reject(new Error('no such topic')), ac.signal),
    /no such topic/,
  );
});

test("deadline: the caller's signal, also aborted after the timeout", async () => {
  const ac = new AbortController();
  const s = deadline(ac.signal, 10);
  assert.equal(s.aborted, false);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(s.aborted, true);
  const t = new AbortController();
  const u = deadline(t.signal, 60_000);
  t.abort();
  assert.equal(u.aborted, true);
});
