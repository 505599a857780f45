/** Sorted string keys, as etcd orders them (by code unit): binary search, insert and remove in place. */

/** The first index whose key is ≥ `key`. */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function insertSorted(keys: string[], key: string): void {
  const i = lowerBound(keys, key);
  if (i === keys.length) keys.push(key);
  else if (keys[i] !== key) keys.splice(i, 0, key);
}

export function removeSorted(keys: string[], key: string): void {
  const i = lowerBound(keys, key);
  if (keys[i] === key) keys.splice(i, 1);
}

/** The keys of one namespace in a sorted `namespace/name` list: those in [ns/, ns0), '0' following '/'. */
export function namespaceRange(keys: readonly string[], namespace: string): readonly string[] {
  return keys.slice(lowerBound(keys, `${namespace}/`), lowerBound(keys, `${namespace}0`));
}
