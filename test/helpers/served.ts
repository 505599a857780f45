/**
 * What metrics-server's rules serve, worked out from what the simulated kubelets reported (their served
 * records): the tests' expected answers, so a test compares the store or the API with the kubelets
 * themselves, never with the code under test.
 */
import type { ServedSample, Sim } from '../../sim/index.ts';

/** A container's start time as the decoder reads it (Go's uint64(seconds * 1e9)), in ms. */
export const startMs = (s: ServedSample): number | undefined =>
  s.startTimeSeconds === undefined ? undefined : Math.trunc(s.startTimeSeconds * 1e9) / 1e6;

/** metrics-server's fresh-container rule: between 10 s and one resolution old, served after one sample. */
export function fresh(b: ServedSample, resolutionMs: number): boolean {
  const start = startMs(b);
  if (start === undefined) return false;
  const age = b.timestampMs - start;
  return age >= 10_000 && age < resolutionMs;
}

/**
 * `namespace/name` of every Running pod whose kubelet reported every container with non-zero values in
 * both of the last two responses (at different times), or once for a fresh container: exactly the pods
 * metrics-server's rules serve. Very young pods may have been reported only once, depending on when the
 * cycles ran. Sorted.
 */
export function completePods(sim: Pick<Sim, 'cluster' | 'kubelets'>, resolutionMs: number): string[] {
  const out: string[] = [];
  for (const p of sim.cluster.pods()) {
    if (p.phase !== 'Running' || !p.nodeName) continue;
    const records = sim.kubelets.served(p.nodeName).slice(-2);
    if (records.length < 2 || records.some((r) => r.status !== 200)) continue;
    const complete = p.containers.every((ct) => {
      const [a, b] = records.map((r) => r.samples.get(`${p.namespace}/${p.name}/${ct.name}`));
      if (!b || b.cpuNs <= 0 || b.memoryBytes <= 0) return false;
      return (
        fresh(b, resolutionMs) ||
        (a !== undefined && b.timestampMs > a.timestampMs && a.cpuNs > 0 && a.memoryBytes > 0)
      );
    });
    if (complete) out.push(`${p.namespace}/${p.name}`);
  }
  return out.sort();
}
