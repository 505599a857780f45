import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configurationDoc, currentDoc } from '../helpers/config-docs.ts';

test('docs/configuration.md lists exactly the flags --help lists (run `npm run docs` after changing a flag)', () => {
  assert.equal(currentDoc(), configurationDoc());
});
