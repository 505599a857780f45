/**
 * Hostile kubelet payloads, generated (fast-check): whatever a kubelet (or whatever answers at a
 * node's address) sends, the decoders either return a batch of positive, finite, integral values or
 * throw DecodeError, never anything else; valid payloads built from generated values decode to exactly
 * those values (Go's `uint64(seconds * 1e9)` for CPU seconds, as the kubelet-apis reference documents);
 * and deep or huge JSON fails fast.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DecodeError,
  decodeResource,
  decodeSummary,
  type MetricsBatch,
} from '../../functions/scrape/decode/index.ts';
import { mutated } from '../helpers/edits.ts';
import { fixture } from '../helpers/fixtures.ts';

const RESOURCE = fixture('resource-01-metrics-server-decode_test-kind-1.21-alpha.prom');
const SUMMARY = fixture('summary-01-metrics-server-v0.5.2-kind-edgecases.json');
const NOW = 1_700_000_000_000;

/** A batch's pods reduced to the values a payload gives (what the generated model knows). */
const podValues = (b: MetricsBatch) =>
  b.pods.map((p) => ({
    namespace: p.namespace,
    name: p.name,
    containers: p.containers.map((c) => ({
      name: c.name,
      cpu: c.cpu,
      memory: c.memory,
      timestamp: c.timestamp,
    })),
  }));

/** Every value a batch carries is a positive finite integer (start times may be 0: unknown). */
function assertSane(b: MetricsBatch): void {
  const positive = (v: number, what: string) =>
    assert.ok(Number.isInteger(v) && v > 0, `${what} = ${v} is not a positive integer`);
  if (b.node) {
    positive(b.node.cpu, 'node cpu');
    positive(b.node.memory, 'node memory');
    positive(b.node.timestamp, 'node timestamp');
  }
  for (const p of b.pods) {
    assert.ok(p.containers.length > 0, 'a pod without containers');
    for (const c of p.containers) {
      positive(c.cpu, 'container cpu');
      positive(c.memory, 'container memory');
      positive(c.timestamp, 'container timestamp');
      assert.ok(Number.isInteger(c.startTime) && c.startTime >= 0, `start time ${c.startTime}`);
    }
  }
}

/** Runs `decode`; a DecodeError is an allowed outcome, any other throw fails the property. */
function decodesOrRejects(decode: () => MetricsBatch): void {
  let batch: MetricsBatch;
  try {
    batch = decode();
  } catch (err) {
    if (err instanceof DecodeError) return;
    throw err;
  }
  assertSane(batch);
}

const NAMES = [
  'node_cpu_usage_seconds_total',
  'node_memory_working_set_bytes',
  'container_cpu_usage_seconds_total',
  'container_memory_working_set_bytes',
  'container_start_time_seconds',
  'scrape_error',
  'resource_scrape_error',
  'pod_cpu_usage_seconds_total',
  'other_metric',
];
const VALUES = fc.oneof(
  fc.double().map(String),
  fc.constantFrom('NaN', '+Inf', '-Inf', '0', '-0', '1e309', '-1', '0x10', '1_000', ''),
);
const LABEL_VALUE = fc
  .string({ maxLength: 12 })
  .map((s) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n'));
/** Lines that look like exposition text: the families the decoder reads, odd labels and values. */
const expositionLine = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...NAMES),
      fc.array(fc.tuple(fc.constantFrom('namespace', 'pod', 'container', 'x', ''), LABEL_VALUE), {
        maxLength: 4,
      }),
      VALUES,
      fc.option(fc.oneof(fc.integer().map(String), fc.constantFrom('1e3', 'x', '-5')), { nil: undefined }),
    )
    .map(([name, labels, value, ts]) => {
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${v}"`).join(',')}}` : '';
      return `${name}${l} ${value}${ts === undefined ? '' : ` ${ts}`}`;
    }),
  fc.constantFrom('# TYPE x counter', '# HELP x y', '#', '', '{', '}', 'a{b="c" 1'),
  fc.string({ maxLength: 30 }),
);

describe('/metrics/resource from a hostile kubelet', () => {
  test('arbitrary text: a sane batch or a DecodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) =>
        decodesOrRejects(() => decodeResource(text, NOW)),
      ),
      { numRuns: 500 },
    );
  });

  test('exposition-like lines with odd labels, values and timestamps', () => {
    fc.assert(
      fc.property(fc.array(expositionLine, { maxLength: 30 }), (lines) =>
        decodesOrRejects(() => decodeResource(lines.join('\n'), NOW)),
      ),
      { numRuns: 500 },
    );
  });

  test('a real payload with random edits', () => {
    fc.assert(
      fc.property(mutated(RESOURCE), (text) => decodesOrRejects(() => decodeResource(text, NOW))),
      { numRuns: 500 },
    );
  });
});

describe('/stats/summary from a hostile kubelet', () => {
  test('arbitrary JSON values: a sane batch or a DecodeError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) =>
        decodesOrRejects(() => decodeSummary(JSON.stringify(v) ?? 'null', NOW)),
      ),
      { numRuns: 500 },
    );
  });

  test('summary-shaped objects with wrong types, negative, huge and missing numbers', () => {
    const num = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constant(null),
      fc.string({ maxLength: 3 }),
      fc.constant(-1),
    );
    const time = fc.oneof(
      fc.constant('2024-01-01T00:00:00Z'),
      fc.string({ maxLength: 25 }),
      fc.constant(null),
      fc.integer(),
    );
    const block = fc.record({ time, usageCoreNanoSeconds: num, workingSetBytes: num }, { requiredKeys: [] });
    const container = fc.record(
      {
        name: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()),
        startTime: time,
        cpu: block,
        memory: block,
      },
      { requiredKeys: [] },
    );
    const pod = fc.record(
      {
        podRef: fc.record(
          { name: fc.string({ maxLength: 5 }), namespace: fc.string({ maxLength: 5 }) },
          { requiredKeys: [] },
        ),
        containers: fc.oneof(fc.array(container, { maxLength: 4 }), fc.constant(null)),
      },
      { requiredKeys: [] },
    );
    const summary = fc.record(
      {
        node: fc.record({ cpu: block, memory: block }, { requiredKeys: [] }),
        pods: fc.array(pod, { maxLength: 5 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(summary, (s) => decodesOrRejects(() => decodeSummary(JSON.stringify(s), NOW))),
      { numRuns: 500 },
    );
  });

  test('a real payload with random edits', () => {
    fc.assert(
      fc.property(mutated(SUMMARY), (text) => decodesOrRejects(() => decodeSummary(text, NOW))),
      { numRuns: 300 },
    );
  });

  // Time bounds here are generous: the point is "no stack overflow, no runaway", not a benchmark.
  const quickly = (what: string, run: () => void) => {
    const started = Date.now();
    run();
    assert.ok(Date.now() - started < 5000, `${what} took ${Date.now() - started} ms`);
  };

  test('JSON nested a million levels deep fails fast with a DecodeError', () => {
    for (const body of ['['.repeat(1_000_000) + ']'.repeat(1_000_000), `{"pods":${'['.repeat(1_000_000)}`]) {
      quickly('deep JSON', () => assert.throws(() => decodeSummary(body, NOW), DecodeError));
    }
  });

  test('deep nesting under a key the decoder does not read is ignored, quickly', () => {
    const body = `{"node":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}`;
    quickly('deep unread JSON', () => assert.equal(decodeSummary(body, NOW).node, null));
  });

  test('an enormous array of the wrong shape is rejected at its first element, without listing the rest', () => {
    const body = `{"pods":[${'1,'.repeat(4_000_000)}1]}`;
    quickly('8 MB of wrong pods', () =>
      assert.throws(
        () => decodeSummary(body, NOW),
        (e: Error) => {
          assert.ok(e instanceof DecodeError);
          assert.equal(e.message, 'pods[0]: expected object, received number');
          return true;
        },
      ),
    );
  });
});

/** Names a kubelet may report, including what must never become a key pattern. */
const NAME = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/),
  fc.string({ minLength: 1, maxLength: 10, unit: 'grapheme' }),
  fc.constantFrom('*', 'a:b', '{x}', 'new\nline', 'ünï', '🚀', 'q"uo\\te'),
);

interface Generated {
  node: { cpuText: string; memory: number; ts: number };
  pods: Map<
    string,
    {
      namespace: string;
      name: string;
      containers: Map<string, { name: string; cpuText: string; memory: number; ts: number; start: number }>;
    }
  >;
}

const cpuText = fc.oneof(
  fc.integer({ min: 1, max: 10 ** 9 }).map((n) => `${n / 1000}`),
  fc.double({ min: 1e-6, max: 1e7, noNaN: true }).map((d) => d.toString()),
);
const model: fc.Arbitrary<Generated> = fc
  .record({
    node: fc.record({
      cpuText,
      memory: fc.integer({ min: 1, max: 2 ** 40 }),
      ts: fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }),
    }),
    pods: fc.array(
      fc.record({
        namespace: NAME,
        name: NAME,
        containers: fc.uniqueArray(
          fc.record({
            name: NAME,
            cpuText,
            memory: fc.integer({ min: 1, max: 2 ** 36 }),
            ts: fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }),
            start: fc.integer({ min: 1_400_000_000, max: 1_899_999_999 }),
          }),
          { minLength: 1, maxLength: 4, selector: (c) => c.name },
        ),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ node, pods }) => {
    const byKey = new Map<string, Generated['pods'] extends Map<string, infer P> ? P : never>();
    for (const p of pods) {
      const key = JSON.stringify([p.namespace, p.name]);
      if (!byKey.has(key)) {
        byKey.set(key, {
          namespace: p.namespace,
          name: p.name,
          containers: new Map(p.containers.map((c) => [c.name, c])),
        });
      }
    }
    return { node, pods: byKey };
  });

/** Prometheus label-value escaping. */
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
/** Go's `uint64(seconds * 1e9)` of the written number (the reference's conversion). */
const goNanos = (text: string) => Math.trunc(Number.parseFloat(text) * 1e9);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function expected(g: Generated) {
  const pods = [...g.pods.values()]
    .sort((a, b) => byText(a.namespace, b.namespace) || byText(a.name, b.name))
    .map((p) => ({
      namespace: p.namespace,
      name: p.name,
      containers: [...p.containers.values()]
        .sort((a, b) => byText(a.name, b.name))
        .map((c) => ({ name: c.name, cpu: goNanos(c.cpuText), memory: c.memory, timestamp: c.ts })),
    }));
  return { node: { cpu: goNanos(g.node.cpuText), memory: g.node.memory, timestamp: g.node.ts }, pods };
}

describe('valid payloads built from generated values decode to exactly those values', () => {
  test('/metrics/resource, names with *, :, {, }, newlines and unicode', () => {
    fc.assert(
      fc.property(model, (g) => {
        const lines = [
          '# TYPE node_cpu_usage_seconds_total counter',
          `node_cpu_usage_seconds_total ${g.node.cpuText} ${g.node.ts}`,
          `node_memory_working_set_bytes ${g.node.memory} ${g.node.ts}`,
        ];
        for (const p of g.pods.values()) {
          for (const c of p.containers.values()) {
            const l = `{container="${esc(c.name)}",namespace="${esc(p.namespace)}",pod="${esc(p.name)}"}`;
            lines.push(`container_cpu_usage_seconds_total${l} ${c.cpuText} ${c.ts}`);
            lines.push(`container_memory_working_set_bytes${l} ${c.memory} ${c.ts}`);
            lines.push(`container_start_time_seconds${l} ${c.start} ${c.ts}`);
          }
        }
        const b = decodeResource(`${lines.join('\n')}\n`, NOW);
        const want = expected(g);
        assert.deepEqual(b.node, want.node);
        assert.deepEqual(podValues(b), want.pods);
        assert.deepEqual(b.dropped, []);
      }),
      { numRuns: 200 },
    );
  });

  test('/stats/summary, the same values as integers', () => {
    fc.assert(
      fc.property(model, (g) => {
        const time = (ms: number) =>
          new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
        const nanos = (text: string) => goNanos(text);
        const summary = {
          node: {
            cpu: { time: time(g.node.ts), usageCoreNanoSeconds: nanos(g.node.cpuText) },
            memory: { workingSetBytes: g.node.memory },
          },
          pods: [...g.pods.values()].map((p) => ({
            podRef: { namespace: p.namespace, name: p.name },
            containers: [...p.containers.values()].map((c) => ({
              name: c.name,
              startTime: time(c.start * 1000),
              cpu: { time: time(c.ts), usageCoreNanoSeconds: nanos(c.cpuText) },
              memory: { workingSetBytes: c.memory },
            })),
          })),
        };
        const b = decodeSummary(JSON.stringify(summary), NOW);
        const want = expected(g);
        // The summary's times have whole seconds.
        const second = (ms: number) => Math.floor(ms / 1000) * 1000;
        assert.deepEqual(b.node, { ...want.node, timestamp: second(want.node.timestamp) });
        assert.deepEqual(
          podValues(b),
          want.pods.map((p) => ({
            ...p,
            containers: p.containers.map((c) => ({ ...c, timestamp: second(c.timestamp) })),
          })),
        );
      }),
      { numRuns: 200 },
    );
  });
});
