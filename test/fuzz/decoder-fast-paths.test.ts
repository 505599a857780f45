/**
 * The decoders' fast paths agree with their general readings, on generated and damaged payloads
 * (differential fuzzing with fast-check):
 *
 * - the exposition parser, which carries state from line to line (the last metric name, label sets
 *   already read, where the next backslash is), reads a text exactly as it reads each of its lines
 *   alone, samples and errors alike;
 * - `/metrics/resource`, whose label sets are read once and whose series are looked up once per
 *   label set, decodes a payload as it decodes the same payload with a line of another family after
 *   every line (which leaves nothing to reuse);
 * - `/stats/summary`, read plainly by hand where it is plainly valid, gives exactly what the schemas
 *   read, and the plain reading is the one taken for the kubelet payloads in use;
 * - the hand-read times and numbers are `Date.parse`'s and `Number`'s.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DecodeError, type MetricsBatch } from '../../functions/scrape/decode/batch.ts';
import { type LabelSet, parseExposition } from '../../functions/scrape/decode/exposition.ts';
import { decodeResource } from '../../functions/scrape/decode/resource.ts';
import { decodeSummary, readBySchema, readPlainly, timeMs } from '../../functions/scrape/decode/summary.ts';
import { createSimCluster } from '../../sim/model.ts';
import { renderResourceMetrics } from '../../sim/resource-metrics.ts';
import { renderSummary } from '../../sim/summary.ts';
import { mutated } from '../helpers/edits.ts';
import { FIXTURES, fixture } from '../helpers/fixtures.ts';

const NOW = 1_700_000_000_000;
const LABELS = ['namespace', 'pod', 'container'];

/** Kubelet payloads as the simulator serves them, 30 pods per node. */
const sim = (() => {
  const cluster = createSimCluster({
    nodes: 3,
    podsPerNode: 30,
    seed: 'fast-paths',
    startMs: NOW - 3_600_000,
  });
  const views = cluster.nodes().map((n) => cluster.kubeletView(n.name, NOW));
  return {
    resource: views.map((v) => renderResourceMetrics(v)),
    summary: views.map((v) => renderSummary(v, { onlyCpuAndMemory: true })),
  };
})();
const FIXTURE_FILES = readdirSync(FIXTURES).sort();
const resourceFixtures = FIXTURE_FILES.filter((f) => f.startsWith('resource-')).map(fixture);
const summaryFixtures = FIXTURE_FILES.filter((f) => f.startsWith('summary-')).map(fixture);

/** What happened: the result, or the DecodeError's message (any other throw fails the property). */
function outcome<T>(run: () => T): { ok: T } | { error: string } {
  try {
    return { ok: run() };
  } catch (err) {
    if (err instanceof DecodeError) return { error: err.message };
    throw err;
  }
}

/** A DecodeError message's line number moved by `map`. */
const renumber = (message: string, map: (line: number) => number) =>
  message.replace(/^line (\d+):/, (_, n: string) => `line ${map(Number(n))}:`);

interface Seen {
  family: string;
  labels: (string | undefined)[];
  value: number;
  timestamp: number | undefined;
  line: number;
}

/** Families read: the container and node ones; the rest are checked but not read (nor is a duplicate label an error in them). */
const classify = (name: string) => (/^(container|node)_/.test(name) ? name : undefined);

/** Every sample of `text`; checks on the way that one label set object always carries the same values. */
function samples(text: string): Seen[] {
  const seen: Seen[] = [];
  const first = new Map<LabelSet<never>, (string | undefined)[]>();
  parseExposition(text, LABELS, classify, (family, s) => {
    const labels = [...s.labels];
    const earlier = first.get(s.labelSet);
    if (earlier) assert.deepEqual(labels, earlier, 'one label set object, two sets of values');
    else first.set(s.labelSet, labels);
    seen.push({ family, labels, value: s.value, timestamp: s.timestamp, line: s.line });
  });
  return seen;
}

/** The same, each line parsed on its own: nothing can carry over from one line to the next. */
function samplesLineByLine(text: string): Seen[] {
  const seen: Seen[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    try {
      for (const s of samples(line)) seen.push({ ...s, line: i + 1 });
    } catch (err) {
      if (err instanceof DecodeError) throw new DecodeError(renumber(err.message, () => i + 1));
      throw err;
    }
  }
  return seen;
}

// Payloads shaped like the kubelet's: families whose series share label sets, mostly in the same
// order, with the odd escape, blank, trailing comma, duplicate or broken label among them.
const labelValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('kube-system', 'coredns-558bd4d5db-4dpjz', 'app', 'sidecar', 'a') },
  fc.constantFrom('', 'new\\nline', 'q\\"uo\\\\te', 'bad\\q', 'x"y', 'ünï'),
  fc.string({ maxLength: 6 }).map((s) => s.replace(/[\\"\n]/g, '')),
);
const labelSetText = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('container', 'namespace', 'pod') },
          fc.constantFrom('x', '1a', ''),
        ),
        labelValue,
        fc.constantFrom('', '', '', ' '),
      ),
      { maxLength: 4 },
    ),
    fc.boolean(),
  )
  .map(
    ([pairs, trailing]) =>
      `{${pairs.map(([k, v, blank]) => `${k}${blank}=${blank}"${v}"`).join(',')}${trailing && pairs.length ? ',' : ''}}`,
  );
const NAMES = [
  'container_cpu_usage_seconds_total',
  'container_memory_working_set_bytes',
  'container_start_time_seconds',
  'container_swap_usage_bytes',
  'node_cpu_usage_seconds_total',
  'node_memory_working_set_bytes',
  'pod_cpu_usage_seconds_total',
  'scrape_error',
  'resource_scrape_error',
  'container_cpu_usage_seconds',
];
const value = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true }).map(String) },
  fc.constantFrom('0', '1', '1.796115405203216e+09', 'NaN', '+Inf', '-1', '1e309', 'x'),
);
const timestamp = fc.option(fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }).map(String), {
  nil: undefined,
});
const kubeletLike = fc
  .record({
    sets: fc.array(labelSetText, { minLength: 1, maxLength: 6 }),
    orders: fc.array(fc.array(fc.nat({ max: 5 }), { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    families: fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.nat({ max: 2 }), fc.boolean()), {
      maxLength: 8,
    }),
    values: fc.array(fc.tuple(value, timestamp), { minLength: 1, maxLength: 16 }),
    crlf: fc.boolean(),
  })
  .map(({ sets, orders, families, values, crlf }) => {
    const lines: string[] = [];
    let n = 0;
    for (const [name, which, withHelp] of families) {
      if (withHelp) lines.push(`# HELP ${name} [STABLE] text`, `# TYPE ${name} gauge`);
      for (const i of orders[which % orders.length]!) {
        const [v, ts] = values[n++ % values.length]!;
        lines.push(`${name}${sets[i % sets.length]} ${v}${ts === undefined ? '' : ` ${ts}`}`);
      }
    }
    return lines.join(crlf ? '\r\n' : '\n');
  });

const payloads = fc.oneof(
  kubeletLike,
  kubeletLike.chain(mutated),
  fc.constantFrom(...sim.resource, ...resourceFixtures).chain(mutated),
);

describe('the exposition parser reads a text as it reads each line alone', () => {
  test('the simulator payloads and the fixtures', () => {
    for (const text of [...sim.resource, ...resourceFixtures]) {
      assert.deepEqual(samples(text), samplesLineByLine(text));
    }
  });

  test('generated kubelet-like payloads, whole and damaged: the same samples, or the same error', () => {
    fc.assert(
      fc.property(payloads, (text) => {
        assert.deepEqual(
          outcome(() => samples(text)),
          outcome(() => samplesLineByLine(text)),
        );
      }),
      { numRuns: 1500 },
    );
  });

  test('a kubelet payload reads each container label set once, for all four container families', () => {
    const sets = new Map<string, Set<LabelSet<never>>>();
    parseExposition(sim.resource[0]!, LABELS, classify, (family, s) => {
      if (!family.startsWith('container_')) return;
      const key = s.labels.join('/');
      const objects = sets.get(key) ?? new Set();
      objects.add(s.labelSet);
      sets.set(key, objects);
    });
    assert.ok(sets.size >= 30, `${sets.size} containers`);
    for (const [key, objects] of sets) assert.equal(objects.size, 1, `${key}: ${objects.size} label sets`);
  });
});

/** `text` with a line of a family nobody reads after every line: no name, label set or series to reuse. */
const interleaved = (text: string) =>
  text
    .split('\n')
    .map((line, i) => `${line}\nzz_interleaved{q="${i}"} 1`)
    .join('\n');

describe('/metrics/resource decodes as it does with nothing to reuse from line to line', () => {
  const both = (text: string) => {
    const whole = outcome(() => decodeResource(text, NOW));
    const alone = outcome(() => decodeResource(interleaved(text), NOW));
    if ('error' in alone) {
      assert.deepEqual(whole, { error: renumber(alone.error, (n) => (n + 1) / 2) });
    } else {
      assert.deepEqual(whole, alone);
    }
    return whole;
  };

  test('the simulator payloads and the fixtures', () => {
    for (const text of [...sim.resource, ...resourceFixtures]) {
      const batch = both(text);
      assert.ok('ok' in batch && (batch.ok as MetricsBatch).pods.length > 0);
    }
  });

  test('generated kubelet-like payloads, whole and damaged: the same batch, or the same error', () => {
    fc.assert(
      fc.property(payloads, (text) => {
        both(text);
      }),
      { numRuns: 1500 },
    );
  });
});

// Summaries: mostly plainly valid, with now and then a value of a kind the schemas reject or read
// their own way (a time with an offset, a fraction, lower case, a day past the month's end).
const time = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => new Date(s * 1000)) },
  fc.constant(null),
  fc.constantFrom(
    '2024-02-30T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T10:00:00+02:00',
    '2024-01-01T10:00:00.5Z',
    '2024-01-01t10:00:00z',
    'yesterday',
    '',
  ),
  fc.integer(),
);
const count = fc.oneof(
  { weight: 6, arbitrary: fc.nat() },
  fc.constantFrom(0, -1, 1.5, 2 ** 64, null, '5', true),
);
const withSometimes = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary }, fc.constantFrom(undefined, null, 7, 'x', [], {}));
const usage = fc.record(
  {
    cpu: withSometimes(
      fc.record({ time, usageCoreNanoSeconds: count, usageNanoCores: count }, { requiredKeys: [] }),
    ),
    memory: withSometimes(fc.record({ time, workingSetBytes: count, rssBytes: count }, { requiredKeys: [] })),
  },
  { requiredKeys: [] },
);
const summaryLike = fc.record(
  {
    node: withSometimes(
      fc.record(
        { nodeName: fc.string(), cpu: usage.map((u) => u.cpu), memory: usage.map((u) => u.memory) },
        { requiredKeys: [] },
      ),
    ),
    pods: withSometimes(
      fc.array(
        withSometimes(
          fc.record(
            {
              podRef: withSometimes(
                fc.record({
                  name: fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 5 }) }, fc.constant(3)),
                  namespace: fc.oneof(
                    { weight: 8, arbitrary: fc.string({ maxLength: 5 }) },
                    fc.constant(null),
                  ),
                  uid: fc.string({ maxLength: 3 }),
                }),
              ),
              containers: withSometimes(
                fc.array(
                  withSometimes(
                    fc
                      .record(
                        {
                          name: fc.oneof(
                            { weight: 8, arbitrary: fc.string({ maxLength: 5 }) },
                            fc.constant(1),
                          ),
                          startTime: time,
                        },
                        { requiredKeys: ['name'] },
                      )
                      .chain((c) => usage.map((u) => ({ ...c, ...u }))),
                  ),
                  { maxLength: 4 },
                ),
              ),
            },
            { requiredKeys: [] },
          ),
        ),
        { maxLength: 5 },
      ),
    ),
  },
  { requiredKeys: [] },
);

describe('/stats/summary read plainly is what the schemas read', () => {
  const agree = (json: unknown) => {
    const plain = readPlainly(json);
    const bySchema = outcome(() => readBySchema(json));
    if (plain !== undefined) assert.deepEqual({ ok: plain }, bySchema);
    return plain;
  };

  test('the simulator payloads and every fixture are read plainly, as the schemas read them', () => {
    for (const text of [...sim.summary, ...summaryFixtures]) {
      assert.ok(agree(JSON.parse(text)) !== undefined, 'read plainly');
    }
  });

  test('generated summaries, mostly valid: where the plain reading gives an answer, it is the schemas’', () => {
    let plain = 0;
    fc.assert(
      fc.property(summaryLike, (s) => {
        if (agree(JSON.parse(JSON.stringify(s))) !== undefined) plain++;
      }),
      { numRuns: 1500 },
    );
    // Both ways are exercised: most generated summaries are plain, many are not.
    assert.ok(plain > 150 && plain < 1350, `${plain} of 1500 read plainly`);
  });

  test('damaged real payloads: the same readings, or the schemas’ error from the decoder', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sim.summary, ...summaryFixtures).chain(mutated), (text) => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return;
        }
        agree(json);
        const bySchema = outcome(() => readBySchema(json));
        if ('error' in bySchema)
          assert.deepEqual(
            outcome(() => decodeSummary(text, NOW)),
            bySchema,
          );
      }),
      { numRuns: 500 },
    );
  });
});

/** A run of digits, every length from `min` to `max` alike (fast-check would favour short ones). */
const digitRun = (min: number, max: number) =>
  fc
    .integer({ min, max })
    .chain((n) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n }));

describe('hand-read numbers and times', () => {
  test('a time in the kubelet’s form, any digits in any field, is what Date.parse reads (NaN included)', () => {
    const field = (width: number) =>
      fc.nat({ max: 10 ** width - 1 }).map((n) => String(n).padStart(width, '0'));
    fc.assert(
      fc.property(
        fc.tuple(
          field(4),
          field(2),
          fc.oneof(field(2), fc.constantFrom('28', '29', '30', '31')),
          field(2),
          field(2),
          field(2),
        ),
        ([y, mo, d, h, mi, s]) => {
          const text = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
          assert.ok(Object.is(timeMs(text), Date.parse(text)), text);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('a timestamp of up to 20 digits, signed or not, is the integer Number reads', () => {
    fc.assert(
      fc.property(fc.constantFrom('', '+', '-'), digitRun(1, 20), (sign, digits) => {
        let read: number | undefined;
        parseExposition(
          `m 1 ${sign}${digits}`,
          [],
          () => 'm',
          (_, s) => {
            read = s.timestamp;
          },
        );
        assert.ok(Object.is(read, Number(`${sign}${digits}`)), `${sign}${digits}: ${read}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('a decimal token of up to 20 digits with any exponent is the double Number reads', () => {
    const digits = digitRun(0, 20);
    fc.assert(
      fc.property(
        fc.constantFrom('', '+', '-'),
        digits,
        fc.option(digits, { nil: undefined }),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat({ max: 400 })), {
          nil: undefined,
        }),
        (sign, whole, fraction, exponent) => {
          if (whole === '' && !fraction) return;
          const token = `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent ? exponent.join('') : ''}`;
          let read: number | undefined;
          parseExposition(
            `m ${token}`,
            [],
            () => 'm',
            (_, s) => {
              read = s.value;
            },
          );
          assert.ok(Object.is(read, Number(token)), `${token}: ${read} instead of ${Number(token)}`);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
