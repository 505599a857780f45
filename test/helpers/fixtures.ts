/**
 * The kubelet payload fixtures (real captures and their quirks; origins and licences in
 * test/fixtures/kubelet/README.md). They are copied into the repository from the steering folder
 * (../shared/fixtures/kubelet beside the project) so a clone anywhere runs the same tests;
 * test/unit/fixtures.test.ts checks the copy still matches when that folder is present.
 */
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../fixtures/kubelet/', import.meta.url);
export const UPSTREAM_FIXTURES = new URL('../../../shared/fixtures/kubelet/', import.meta.url);

export const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
export const fixtureBytes = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
