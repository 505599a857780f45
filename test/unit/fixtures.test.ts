import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FIXTURES, UPSTREAM_FIXTURES } from '../helpers/fixtures.ts';

test('the kubelet fixtures in the repository are exactly the steering folder’s (when it is beside the clone)', (t) => {
  if (!existsSync(UPSTREAM_FIXTURES)) {
    t.skip('no ../shared/fixtures/kubelet beside this clone');
    return;
  }
  const ours = readdirSync(FIXTURES).sort();
  assert.deepEqual(ours, readdirSync(UPSTREAM_FIXTURES).sort());
  for (const name of ours) {
    assert.ok(
      readFileSync(new URL(name, FIXTURES)).equals(readFileSync(new URL(name, UPSTREAM_FIXTURES))),
      name,
    );
  }
});
