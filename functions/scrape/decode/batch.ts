/**
 * What one kubelet scrape yields: the node's sample and its pods' container samples, after
 * metrics-server's decode-time drop rules. Both decoders (`resource.ts`, `summary.ts`) produce it.
 */

/** One kubelet sample: cumulative CPU and instantaneous memory at a kubelet timestamp. */
export interface Sample {
  /** The kubelet's timestamp of the sample, milliseconds since the epoch (an integer). */
  timestamp: number;
  /** Cumulative CPU usage in core-nanoseconds, as Go's `uint64(seconds * 1e9)` computes it. */
  cpu: number;
  /** Working set in bytes. */
  memory: number;
}

export interface ContainerSample extends Sample {
  name: string;
  /**
   * When the container started, nanoseconds since the epoch. It is the exact value Go's
   * `uint64(float64Seconds * 1e9)` gives, which a double holds exactly; 0 when the kubelet did not say.
   */
  startTime: number;
}

export interface PodSamples {
  namespace: string;
  name: string;
  /** Sorted by container name; never empty (a pod without containers is not in the batch). */
  containers: ContainerSample[];
}

/** Why a decoder left something out of the batch; logged at debug level, counted in metrics. */
export interface Dropped {
  /** `node`, or `namespace/pod` */
  what: string;
  reason: string;
}

export interface MetricsBatch {
  /** `null` when the node's own sample is incomplete (zero or missing CPU, memory or timestamp). */
  node: Sample | null;
  /** Sorted by namespace, then name. */
  pods: PodSamples[];
  dropped: Dropped[];
}

/** A payload that cannot be decoded at all; the message names the field (or line) and the cause. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}
