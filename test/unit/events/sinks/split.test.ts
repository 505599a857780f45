/**
 * Finding the malformed records of a refused batch by halves: every good record is written, exactly the
 * bad ones are rejected in journal order, the cost stays logarithmic, and the same batch is always cut
 * the same way (so a part sent to a webhook carries the same Idempotency-Key every time).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SinkError } from '../../../../functions/events/sinks/sink.ts';
import { type Outcome, type Part, writeSplitting } from '../../../../functions/events/sinks/split.ts';
import { idempotencyKey } from '../../../../functions/events/sinks/webhook.ts';
import { eventRecord } from '../../../helpers/sink-records.ts';

/** A sink that refuses any write holding a bad record, and keeps what it accepted. */
function fussySink(bad: Set<string>) {
  const accepted: string[] = [];
  const parts: [number, number][] = [];
  const write = async (p: Part): Promise<Outcome> => {
    parts.push([p.start, p.end]);
    if (p.records.some((r) => bad.has(r.id))) return { kind: 'refused', reason: 'HTTP 400: bad' };
    accepted.push(...p.records.map((r) => r.id));
    return { kind: 'accepted' };
  };
  return { write, accepted, parts };
}

describe('writeSplitting', () => {
  test('rejects exactly the bad records, in order, and writes every other one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (n, picks) => {
          const records = Array.from({ length: n }, () => eventRecord());
          const bad = new Set(picks.map((i) => records[i % n]!.id));
          const sink = fussySink(bad);
          const rejected = await writeSplitting(records, sink.write);
          assert.deepEqual(
            rejected.map((r) => r.id),
            records.filter((r) => bad.has(r.id)).map((r) => r.id),
          );
          assert.ok(rejected.every((r) => r.reason === 'HTTP 400: bad'));
          assert.deepEqual(
            sink.accepted,
            records.filter((r) => !bad.has(r.id)).map((r) => r.id),
          );
          // About 2·k·log2(n) writes for k bad records, never more than 2n - 1.
          const k = bad.size;
          assert.ok(
            sink.parts.length <= Math.min(2 * n - 1, 1 + 2 * k * Math.ceil(Math.log2(n) + 1)),
            `${sink.parts.length} writes`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a clean batch is one write; an empty one none', async () => {
    const sink = fussySink(new Set());
    await writeSplitting([eventRecord(), eventRecord()], sink.write);
    assert.deepEqual(sink.parts, [[0, 2]]);
    await writeSplitting([], sink.write);
    assert.equal(sink.parts.length, 1);
  });

  test('the same batch is split into the same parts every time', async () => {
    const records = Array.from({ length: 37 }, () => eventRecord());
    const bad = new Set([records[5]!.id, records[30]!.id]);
    const one = fussySink(bad);
    const two = fussySink(bad);
    await writeSplitting(records, one.write);
    await writeSplitting(records, two.write);
    assert.deepEqual(one.parts, two.parts);
  });

  test('a sink that names its refused records ends the search for that part', async () => {
    const records = [eventRecord(), eventRecord(), eventRecord()];
    let writes = 0;
    const rejected = await writeSplitting(records, async () => {
      writes++;
      return { kind: 'partial', rejected: [{ id: records[1]!.id, reason: 'type conflict' }] };
    });
    assert.deepEqual(rejected, [{ id: records[1]!.id, reason: 'type conflict' }]);
    assert.equal(writes, 1);
  });

  test('a retryable failure in any part fails the whole batch', async () => {
    const records = [eventRecord(), eventRecord(), eventRecord(), eventRecord()];
    let writes = 0;
    await assert.rejects(
      writeSplitting(records, async (p) => {
        writes++;
        if (p.end - p.start === 4) return { kind: 'refused', reason: 'bad' };
        throw new SinkError('HTTP 503');
      }),
      { name: 'SinkError', message: 'HTTP 503' },
    );
    assert.equal(writes, 2);
  });
});

describe('webhook Idempotency-Key', () => {
  test("the whole batch's key as it is; a part's derived from it and its position; unsafe keys hashed", () => {
    const records = [eventRecord(), eventRecord(), eventRecord()];
    const batch = { records, key: 'b-42' };
    assert.equal(idempotencyKey(batch, { start: 0, end: 3 }), 'b-42');
    const half = idempotencyKey(batch, { start: 0, end: 2 });
    assert.match(half, /^[0-9a-f]{32}$/);
    assert.equal(idempotencyKey({ records, key: 'b-42' }, { start: 0, end: 2 }), half);
    assert.notEqual(idempotencyKey(batch, { start: 2, end: 3 }), half);
    assert.notEqual(idempotencyKey({ records, key: 'b-43' }, { start: 0, end: 2 }), half);
    assert.match(idempotencyKey({ records, key: 'a b\nc' }, { start: 0, end: 3 }), /^[0-9a-f]{32}$/);
  });
});
