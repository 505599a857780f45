/**
 * `--authorization-always-allow-paths`, matched as k8s.io/apiserver's path authorizer does: exact
 * paths, or prefixes written with one trailing `*` (`/healthz/*`). Only non-resource requests match:
 * a resource request is never always-allowed, whatever its path.
 */

export class AlwaysAllowPathError extends Error {
  override name = 'AlwaysAllowPathError';
}

/** Throws AlwaysAllowPathError for a `*` anywhere but at the end. */
export function alwaysAllowPaths(patterns: readonly string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const pattern of patterns) {
    const p = pattern.replace(/^\//, '');
    if (p === '') {
      exact.add(p); // "/" itself
      continue;
    }
    if (p.slice(0, -1).includes('*')) throw new AlwaysAllowPathError(`only trailing * allowed in "${p}"`);
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return (path) => {
    const p = path.replace(/^\//, '');
    return exact.has(p) || prefixes.some((prefix) => p.startsWith(prefix));
  };
}
