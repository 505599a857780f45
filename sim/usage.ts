/**
 * The usage model of a simulated container (or of a node's or pod's own overhead), as pure functions
 * of time: a CPU rate that moves smoothly (a base plus a few sinusoids of seeded amplitude, period and
 * phase: a slow trend, a medium swing and fast "noise"), its exact integral as the cumulative counter,
 * and a page-aligned memory working set that moves the same way.
 *
 * Sinusoids are used for the noise as well because their integral has a closed form: the cumulative
 * counter at any instant costs a few `Math.cos` calls, whatever the container's age.
 */

export interface Wave {
  /** Cores (CPU) or bytes (memory). */
  amplitude: number;
  periodMs: number;
  /** Radians. */
  phase: number;
}

export interface UsageProfile {
  /** Mean CPU rate in cores; the waves' amplitudes sum to less than this, so the rate stays positive. */
  cpuBaseCores: number;
  cpuWaves: Wave[];
  memoryBaseBytes: number;
  memoryWaves: Wave[];
}

export const PAGE_SIZE = 4096;
const TWO_PI = 2 * Math.PI;

function waveValue(w: Wave, elapsedMs: number): number {
  return w.amplitude * Math.sin((TWO_PI * elapsedMs) / w.periodMs + w.phase);
}

/** ∫₀^elapsed of the wave, in amplitude-seconds. */
function waveIntegralSeconds(w: Wave, elapsedMs: number): number {
  const periodSeconds = w.periodMs / 1000;
  return (
    ((w.amplitude * periodSeconds) / TWO_PI) *
    (Math.cos(w.phase) - Math.cos((TWO_PI * elapsedMs) / w.periodMs + w.phase))
  );
}

/** The CPU rate in cores `elapsedMs` after the usage started. */
export function cpuRateCores(u: UsageProfile, elapsedMs: number): number {
  let rate = u.cpuBaseCores;
  for (const w of u.cpuWaves) rate += waveValue(w, elapsedMs);
  return rate;
}

/** CPU time in core-seconds consumed between the start of usage and `elapsedMs` after it. */
export function cpuSecondsSince(u: UsageProfile, elapsedMs: number): number {
  if (elapsedMs <= 0) return 0;
  let seconds = (u.cpuBaseCores * elapsedMs) / 1000;
  for (const w of u.cpuWaves) seconds += waveIntegralSeconds(w, elapsedMs);
  return seconds;
}

/** The cumulative counter in whole nanoseconds (what a kubelet reports): the integral, truncated. */
export function cpuNanosecondsSince(u: UsageProfile, elapsedMs: number): number {
  return Math.floor(cpuSecondsSince(u, elapsedMs) * 1e9);
}

/** The working set in bytes, a whole number of pages, `elapsedMs` after the usage started. */
export function memoryBytesAt(u: UsageProfile, elapsedMs: number): number {
  let bytes = u.memoryBaseBytes;
  for (const w of u.memoryWaves) bytes += waveValue(w, elapsedMs);
  return Math.max(PAGE_SIZE, Math.floor(bytes / PAGE_SIZE) * PAGE_SIZE);
}

/**
 * The time of the last housekeeping sample at or before `nowMs`, for a series whose first sample was
 * taken at `firstSampleMs` and then every `intervalMs`; undefined before the first sample. This is what
 * makes a scrape see cached values between ticks, as cAdvisor's housekeeping does.
 */
export function lastTickMs(firstSampleMs: number, intervalMs: number, nowMs: number): number | undefined {
  if (nowMs < firstSampleMs) return undefined;
  return firstSampleMs + Math.floor((nowMs - firstSampleMs) / intervalMs) * intervalMs;
}
