/**
 * Which nodes left the cluster: the nodes the scraper keeps anything for (keys.scrapeNodes, each with
 * its kubelet's `host:port`) against the cycle's node list. Pure; the cycle reads both, the store
 * forgets what this names.
 */

export interface Departures {
  /** Registered nodes the list no longer has. */
  departed: string[];
  /** Kubelet endpoints registered earlier that no listed node uses now (TLS session fields to drop). */
  staleEndpoints: string[];
}

/**
 * @param known  node → kubelet endpoint, as registered by earlier cycles ('' for none)
 * @param listed node → kubelet endpoint, for every node the cycle listed
 */
export function departures(
  known: ReadonlyMap<string, string>,
  listed: ReadonlyMap<string, string>,
): Departures {
  const departed: string[] = [];
  const stale = new Set<string>();
  for (const [node, endpoint] of known) {
    const now = listed.get(node);
    if (now === undefined) departed.push(node);
    // A node that left, or whose kubelet moved (a new address or port), leaves its old endpoint behind…
    if (endpoint !== '' && now !== endpoint) stale.add(endpoint);
  }
  // …unless another listed node's kubelet is there (--kubelet-via=proxy: every node's is the API server).
  if (stale.size > 0) for (const endpoint of listed.values()) stale.delete(endpoint);
  return { departed, staleEndpoints: [...stale] };
}
