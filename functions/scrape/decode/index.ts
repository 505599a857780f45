/**
 * The kubelet payload decoders: `/metrics/resource` (Prometheus text, the default, as in
 * metrics-server ≥ 0.6) and `/stats/summary` (JSON, as in metrics-server ≤ 0.5). Both apply the same
 * drop and duplicate rules (`rules.ts`) and return the same MetricsBatch.
 */
import type { MetricsBatch } from './batch.ts';
import { decodeResource } from './resource.ts';
import { decodeSummary } from './summary.ts';

export type { ContainerSample, Dropped, MetricsBatch, PodSamples, Sample } from './batch.ts';
export { DecodeError } from './batch.ts';
export { decodeResource, decodeSummary };

/** Which kubelet endpoint a body came from (`--kubelet-endpoint`). */
export type KubeletEndpoint = 'resource' | 'summary';

/**
 * Decodes one kubelet response body.
 * @param requestTime when the request started, ms since the epoch (stamps untimed samples)
 * @throws DecodeError naming the line or field, and the cause
 */
export function decode(endpoint: KubeletEndpoint, body: string, requestTime: number): MetricsBatch {
  return endpoint === 'resource' ? decodeResource(body, requestTime) : decodeSummary(body, requestTime);
}
