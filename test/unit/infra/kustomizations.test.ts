/**
 * Every kustomization under infra/ renders with kubectl's kustomize and yields only valid objects, and
 * every component is used by some kustomization, so none rots unseen. (The cross-checks run on the
 * complete deployments in kubernetes.test.ts, knative.test.ts and openfaas.test.ts.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import {
  isBuiltin,
  kustomize,
  parseYaml,
  repoPath,
  repoRoot,
  validateBuiltin,
  validateSchema,
} from './manifests.ts';

const files = execFileSync('find', [repoPath('infra'), '-name', 'kustomization.yaml'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean)
  .sort();
const read = (file: string) => parseYaml(readFileSync(file, 'utf8'), file)[0]!;

describe('the kustomizations under infra/', () => {
  for (const file of files.filter((f) => read(f).kind === 'Kustomization')) {
    const dir = relative(repoRoot, dirname(file));
    test(`${dir} renders, and every object it yields is valid against its schema`, async () => {
      const objects = await kustomize(dir);
      assert.ok(objects.length > 0);
      for (const o of objects) await (isBuiltin(o) ? validateBuiltin(o) : validateSchema(o));
    });
  }

  // ca-bundle needs a Secret the user provides: the tests render it in overlays made with generated
  // certificates (ca-overlay.ts), for plain Kubernetes and for Knative.
  const renderedByTests = new Set([repoPath('infra/kubernetes/components/ca-bundle')]);

  test('every component is used by a kustomization (or rendered by the tests)', () => {
    const used = new Set(
      files.flatMap((f) => ((read(f).components ?? []) as string[]).map((c) => resolve(dirname(f), c))),
    );
    const components = files.filter((f) => read(f).kind === 'Component').map((f) => dirname(f));
    assert.ok(components.length >= 4);
    for (const c of components)
      assert.ok(used.has(c) || renderedByTests.has(c), `${relative(repoRoot, c)} is used`);
  });
});
