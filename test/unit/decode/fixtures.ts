/** Helpers over the kubelet payload fixtures (test/fixtures/kubelet). */
import type { ContainerSample, MetricsBatch, PodSamples } from '../../../functions/scrape/decode/batch.ts';

export { fixture } from '../../helpers/fixtures.ts';

/** An RFC 3339 time as milliseconds since the epoch, the unit of every sample timestamp. */
export const ms = (time: string): number => Date.parse(time);

/**
 * A start time written as whole RFC 3339 seconds, in the batch's unit: nanoseconds as Go's
 * `uint64(seconds * 1e9)` computes them in float arithmetic.
 */
export const startNs = (time: string): number => (Date.parse(time) / 1000) * 1e9;

/** A request time far from every fixture's sample times, so a sample that took it stands out. */
export const REQUEST_TIME = ms('2030-01-01T00:00:00Z');

export const podKeys = (batch: MetricsBatch): string[] => batch.pods.map((p) => `${p.namespace}/${p.name}`);

export const containerCount = (batch: MetricsBatch): number =>
  batch.pods.reduce((sum, pod) => sum + pod.containers.length, 0);

export function pod(batch: MetricsBatch, key: string): PodSamples {
  const found = batch.pods.find((p) => `${p.namespace}/${p.name}` === key);
  if (!found) throw new Error(`pod ${key} is not in the batch (it has ${podKeys(batch).join(', ')})`);
  return found;
}

export function container(batch: MetricsBatch, key: string, name: string): ContainerSample {
  const found = pod(batch, key).containers.find((c) => c.name === name);
  if (!found) throw new Error(`container ${name} is not in pod ${key}`);
  return found;
}
