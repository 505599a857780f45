/**
 * An overlay of the user's own, as the docs tell users to write one: a kustomization in a folder of
 * its own (a temporary one here) naming the repository's directories by relative path (kustomize takes
 * bases by relative path only), rendered by kubectl's kustomize.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kustomize, type Obj, repoPath } from './manifests.ts';

export interface OverlaySpec {
  /** Repository directories (`infra/kubernetes/base`). */
  resources: string[];
  components?: string[];
  /** More of the kustomization, as YAML lines (a secretGenerator, …). */
  extra?: string[];
  /** Files beside the kustomization. */
  files?: Record<string, string>;
}

export interface Overlay {
  dir: string;
  objects: Obj[];
  cleanup(): void;
}

/** Writes the overlay's kustomization (and files) into `dir`. */
export function writeOverlay(dir: string, o: OverlaySpec): void {
  const list = (key: string, paths: string[] = []) =>
    paths.length === 0 ? [] : [`${key}:`, ...paths.map((p) => `  - ${relative(dir, repoPath(p))}`)];
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      ...list('resources', o.resources),
      ...list('components', o.components),
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), text);
}

/** Writes and renders an overlay in a new temporary folder. */
export async function renderOverlay(o: OverlaySpec): Promise<Overlay> {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    writeOverlay(dir, o);
    return { dir, objects: await kustomize(dir), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
