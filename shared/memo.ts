/**
 * A function's results kept by argument, for the hot paths that see the same few arguments over and over
 * (a kubelet timestamp formatted for every container, a label selector the HPA sends every 15 s, the
 * label texts of one ReplicaSet's pods). Bounded: dropped whole when `max` results are kept, so callers
 * sending endless distinct arguments cannot grow it. A call that throws keeps nothing.
 *
 * A string argument is kept flat (`flat`), a copy of its own: V8 makes a substring of 13 characters or
 * more a view of the text it was cut from, so a container name cut from a kubelet's body would otherwise
 * keep the whole body alive for as long as the result is kept (one body per distinct long name,
 * process-long).
 */
export function memoize<K, V>(max: number, compute: (key: K) => V): (key: K) => V {
  const kept = new Map<K, V>();
  return (key) => {
    let value = kept.get(key);
    if (value === undefined) {
      value = compute(key);
      if (kept.size >= max) kept.clear();
      kept.set(typeof key === 'string' ? (flat(key) as K) : key, value);
    }
    return value;
  };
}

/**
 * `s` as one flat string. V8 keeps a concatenation as a tree of its parts: each part is an object the
 * garbage collector marks for as long as the string is kept, and each use of the whole (writing it,
 * concatenating it into a longer text that is then written) walks the tree again. A string built once
 * and kept (a pod's item template, a memoized piece of text) is flattened once, here. The result is
 * cut from a new flat text (`s` after one blank), so it keeps neither a concatenation's tree nor the
 * text `s` itself was cut from (a memoized key cut from a kubelet's body). A no-op such as `trim`
 * would not do, as optimised code returns its receiver unchanged. Cheap (a copy of `s`); equal to `s`
 * in every code unit.
 */
export function flat(s: string): string {
  return ` ${s}`.slice(1);
}
