import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decode } from '../../../functions/scrape/decode/index.ts';
import { decodeResource } from '../../../functions/scrape/decode/resource.ts';
import { decodeSummary } from '../../../functions/scrape/decode/summary.ts';
import { fixture, REQUEST_TIME } from './fixtures.ts';

const SUMMARY = 'summary-02-nri-kubernetes-k8s1.32-minikube-containerd.json';
const RESOURCE = 'resource-03-DERIVED-from-summary-02-k8s1.32.prom';

describe('given the same kubelet sample through both endpoints (summary-02 and resource-03)', () => {
  const fromSummary = decodeSummary(fixture(SUMMARY), REQUEST_TIME);
  const fromResource = decodeResource(fixture(RESOURCE), REQUEST_TIME);

  test('the node, the pods, their containers, timestamps, memory and start times are identical', () => {
    assert.deepEqual(fromResource.node, fromSummary.node);
    assert.deepEqual(fromResource.dropped, fromSummary.dropped);
    const withoutCpu = (batch: typeof fromSummary) =>
      batch.pods.map((p) => ({ ...p, containers: p.containers.map(({ cpu: _cpu, ...rest }) => rest) }));
    assert.deepEqual(withoutCpu(fromResource), withoutCpu(fromSummary));
  });

  test('CPU agrees to the nanosecond except where Go-style truncation of float seconds loses one', () => {
    // Every summary-02 integer is below 2^53, so JSON.parse loses nothing. The difference comes
    // from /metrics/resource itself: the kubelet writes seconds as floats, and uint64(v * 1e9)
    // truncates 0.264518 × 1e9 = 264517999.99999997 and 4.011264 × 1e9 = 4011263999.9999995 to one
    // nanosecond less than the summary's exact counter. Rates over seconds cannot show it.
    const offByOne: string[] = [];
    for (const [i, pod] of fromSummary.pods.entries()) {
      for (const [j, c] of pod.containers.entries()) {
        const other = fromResource.pods[i]!.containers[j]!;
        const difference = c.cpu - other.cpu;
        assert.ok(difference === 0 || difference === 1, `${pod.name}/${c.name}: ${c.cpu} vs ${other.cpu}`);
        if (difference === 1) offByOne.push(`${pod.namespace}/${pod.name}`);
      }
    }
    assert.deepEqual(offByOne, ['kube-system/storage-provisioner', 'scraper/e2e-statefulset-1']);
  });

  test('the dispatcher picks the decoder by endpoint', () => {
    assert.deepEqual(decode('summary', fixture(SUMMARY), REQUEST_TIME), fromSummary);
    assert.deepEqual(decode('resource', fixture(RESOURCE), REQUEST_TIME), fromResource);
  });
});
