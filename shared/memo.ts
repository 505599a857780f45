/**
 * A function's results kept by argument, for the hot paths that see the same few arguments over and over
 * (a kubelet timestamp formatted for every container, a label selector the HPA sends every 15 s, the
 * label texts of one ReplicaSet's pods). Bounded: dropped whole when `max` results are kept, so callers
 * sending endless distinct arguments cannot grow it. A call that throws keeps nothing.
 */
export function memoize<K, V>(max: number, compute: (key: K) => V): (key: K) => V {
  const kept = new Map<K, V>();
  return (key) => {
    let value = kept.get(key);
    if (value === undefined) {
      value = compute(key);
      if (kept.size >= max) kept.clear();
      kept.set(key, value);
    }
    return value;
  };
}
