import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createSimCluster } from '../../../sim/model.ts';
import {
  escapeLabelValue,
  formatGoFloat,
  renderResourceMetrics,
  renderResourceScrapeError,
  renderResourceWrongShape,
  resourceSamples,
} from '../../../sim/resource-metrics.ts';
import { FIXTURES } from '../../helpers/fixtures.ts';

const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const RESOURCE_02 = fixture('resource-02-eks-2025-real-capture.prom');
const RESOURCE_03 = fixture('resource-03-DERIVED-from-summary-02-k8s1.32.prom');

interface Line {
  kind: 'help' | 'type' | 'sample';
  family: string;
  text: string;
  labels?: [string, string][];
  value?: string;
  timestamp?: string;
}

/** The text format, line by line (the subset kubelets write: no escapes needed in these payloads). */
function lines(body: string): Line[] {
  assert.ok(body.endsWith('\n'), 'the body ends with a newline');
  return body
    .slice(0, -1)
    .split('\n')
    .map((text) => {
      const meta = /^# (HELP|TYPE) (\w+) (.*)$/.exec(text);
      if (meta) return { kind: meta[1] === 'HELP' ? 'help' : 'type', family: meta[2]!, text } as Line;
      const m = /^(\w+)(?:\{([^}]*)\})? (\S+)(?: (\d+))?$/.exec(text);
      assert.ok(m, `not a sample line: ${JSON.stringify(text)}`);
      const labels = (m[2] ?? '')
        .split(',')
        .filter((p) => p !== '')
        .map((p) => {
          const lm = /^(\w+)="([^"]*)"$/.exec(p);
          assert.ok(lm, `bad label ${p}`);
          return [lm[1]!, lm[2]!] as [string, string];
        });
      return {
        kind: 'sample',
        family: m[1]!,
        text,
        labels,
        value: m[3]!,
        ...(m[4] ? { timestamp: m[4] } : {}),
      };
    });
}

const START = Date.UTC(2025, 5, 1, 12, 0, 0);
const sim = createSimCluster({ nodes: 2, podsPerNode: 10, seed: 'resource-metrics', startMs: START });
const view = sim.kubeletView('sim-node-0001', START + 90_000);
const rendered = renderResourceMetrics(view);
const ours = lines(rendered);
const theirs = lines(RESOURCE_03);

describe("formatGoFloat, Go's strconv.FormatFloat(v, 'g', -1, 64)", () => {
  test('reproduces every value token of the real and derived fixtures', () => {
    for (const body of [RESOURCE_02, RESOURCE_03]) {
      for (const l of lines(body)) {
        if (l.kind === 'sample') assert.equal(formatGoFloat(Number.parseFloat(l.value!)), l.value);
      }
    }
  });

  test('the documented examples (kubelet-apis.md §2.2)', () => {
    assert.equal(formatGoFloat(12_533_760), '1.253376e+07');
    assert.equal(formatGoFloat(1_616_273_408), '1.616273408e+09');
    assert.equal(formatGoFloat(1750607841.8297591), '1.7506078418297591e+09');
    assert.equal(formatGoFloat(6197.005020909), '6197.005020909');
  });

  test('exponent form starts at 1e6 and below 1e-4, with at least two exponent digits', () => {
    assert.equal(formatGoFloat(0), '0');
    assert.equal(formatGoFloat(999_999), '999999');
    assert.equal(formatGoFloat(1_000_000), '1e+06');
    assert.equal(formatGoFloat(0.0001), '0.0001');
    assert.equal(formatGoFloat(0.00001234), '1.234e-05');
    assert.equal(formatGoFloat(1e21), '1e+21');
    assert.equal(formatGoFloat(-2_500_000), '-2.5e+06');
    assert.equal(formatGoFloat(Number.NaN), 'NaN');
    assert.equal(formatGoFloat(Number.POSITIVE_INFINITY), '+Inf');
  });
});

describe('the /metrics/resource body of a simulated 1.32 kubelet', () => {
  test('has the families of resource-03 in the same order, with the same HELP and TYPE lines', () => {
    const headers = (ls: Line[]) => ls.filter((l) => l.kind !== 'sample').map((l) => l.text);
    assert.deepEqual(headers(ours), headers(theirs));
  });

  test('each family carries the labels resource-03 carries, in the same order', () => {
    const shape = (ls: Line[]) => {
      const m = new Map<string, string>();
      for (const l of ls) if (l.kind === 'sample') m.set(l.family, l.labels!.map(([k]) => k).join(','));
      return m;
    };
    assert.deepEqual(shape(ours), shape(theirs));
  });

  test('timestamps as in resource-03: on every series but container_start_time_seconds and resource_scrape_error', () => {
    const stamped = (ls: Line[]) => {
      const m = new Map<string, boolean>();
      for (const l of ls) if (l.kind === 'sample') m.set(l.family, l.timestamp !== undefined);
      return m;
    };
    assert.deepEqual(stamped(ours), stamped(theirs));
  });

  test('series are sorted by their label values within each family', () => {
    const byFamily = new Map<string, string[]>();
    for (const l of ours) {
      if (l.kind !== 'sample') continue;
      const list = byFamily.get(l.family) ?? [];
      list.push(l.labels!.map(([, v]) => v).join('\u0000'));
      byFamily.set(l.family, list);
    }
    for (const [family, keys] of byFamily) assert.deepEqual(keys, [...keys].sort(), family);
  });

  test('values are written in Go form and memory is whole pages', () => {
    for (const l of ours) {
      if (l.kind !== 'sample') continue;
      assert.equal(formatGoFloat(Number.parseFloat(l.value!)), l.value);
      if (l.family.endsWith('_working_set_bytes')) assert.equal(Number.parseFloat(l.value!) % 4096, 0);
    }
  });

  test('the node swap series is stamped with the node memory time, and resource_scrape_error is 0', () => {
    const find = (family: string) => ours.find((l) => l.family === family && l.kind === 'sample')!;
    assert.equal(find('node_swap_usage_bytes').timestamp, find('node_memory_working_set_bytes').timestamp);
    assert.equal(find('resource_scrape_error').value, '0');
  });

  test('what is recorded as served is what a decoder reads from the body', () => {
    const served = new Map(resourceSamples(view));
    const cpu = ours.filter((l) => l.kind === 'sample' && l.family === 'container_cpu_usage_seconds_total');
    assert.equal(served.size, cpu.length + 1);
    for (const l of cpu) {
      const labels = Object.fromEntries(l.labels!);
      const s = served.get(`${labels.namespace}/${labels.pod}/${labels.container}`);
      assert.ok(s);
      assert.equal(s.cpuSecondsText, l.value);
      assert.equal(s.cpuNs, Math.trunc(Number.parseFloat(l.value!) * 1e9));
      assert.equal(String(s.timestampMs), l.timestamp);
    }
    const node = ours.find((l) => l.kind === 'sample' && l.family === 'node_cpu_usage_seconds_total')!;
    assert.equal(served.get('node')!.cpuSecondsText, node.value);
  });

  test('a container whose working set is 0 is written as 0 (so metrics-server drops its pod)', () => {
    const zero = sim.specials.zeroWorkingSet!;
    const [ns, pod] = zero.split('/');
    const mem = ours.filter(
      (l) =>
        l.kind === 'sample' &&
        l.family === 'container_memory_working_set_bytes' &&
        l.labels!.some(([k, v]) => k === 'namespace' && v === ns) &&
        l.labels!.some(([k, v]) => k === 'pod' && v === pod),
    );
    assert.deepEqual(mem.map((l) => l.value).sort(), ['0', mem.find((l) => l.value !== '0')!.value!].sort());
  });

  test('a failed stats call is a body with only resource_scrape_error 1', () => {
    const only = lines(renderResourceScrapeError()).filter((l) => l.kind === 'sample');
    assert.deepEqual(
      only.map((l) => `${l.family} ${l.value}`),
      ['resource_scrape_error 1'],
    );
  });

  test('the wrong-shape body is valid text whose container series lack pod and namespace', () => {
    const ls = lines(renderResourceWrongShape(START));
    const cpu = ls.find((l) => l.family === 'container_cpu_usage_seconds_total' && l.kind === 'sample')!;
    assert.deepEqual(
      cpu.labels!.map(([k]) => k),
      ['container'],
    );
  });

  test('label values escape backslash, quote and newline', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  });
});
