/**
 * One log line per distinct message per interval: a misconfiguration that refuses every request (a
 * wrong front-proxy CA, an unreachable API server) must show in the log, and must not flood it.
 */
export function throttled(intervalMs = 10_000, now: () => number = Date.now): (key: string) => boolean {
  const last = new Map<string, number>();
  return (key) => {
    const t = now();
    const prev = last.get(key);
    if (prev !== undefined && t - prev < intervalMs) return false;
    if (last.size >= 100) last.clear();
    last.set(key, t);
    return true;
  };
}
