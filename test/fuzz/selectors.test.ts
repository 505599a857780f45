/**
 * Label and field selectors as a hostile caller writes them (`?labelSelector=…` reaches the serve
 * function unfiltered): any text parses or throws SelectorError, nothing else; what parses prints a
 * canonical text that parses to the same selector (apimachinery's `String()` round trip) and selects
 * exactly the same objects.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  escapeFieldValue,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from '../../shared/selectors/index.ts';

function parsesOrRejects<T>(parse: () => T): T | null {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SelectorError) return null;
    throw err;
  }
}

const TOKENS = [
  'in',
  'notin',
  '(',
  ')',
  ',',
  '!',
  '=',
  '==',
  '!=',
  '>',
  '<',
  ' ',
  'a',
  'b/c',
  'x.y',
  '-',
  '',
  '\u0000',
  '"',
  '\\',
];
const selectorish = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 16 }).map((t) => t.join('')),
);

/** Label keys and values as Kubernetes allows them (the generator's own small grammar). */
const segment = fc.stringMatching(/^[a-z0-9]([-a-z0-9_.]{0,8}[a-z0-9])?$/);
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,4}[a-z0-9])?$/);
const key = fc.oneof(
  segment,
  fc.tuple(dnsLabel, segment).map(([p, n]) => `${p}.io/${n}`),
);
const value = fc.oneof(fc.constant(''), segment);
const requirement = fc.oneof(
  fc.tuple(key, fc.constantFrom('=', '==', '!='), value).map(([k, op, v]) => `${k}${op}${v}`),
  fc
    .tuple(key, fc.constantFrom(' in ', ' notin '), fc.array(value, { minLength: 1, maxLength: 3 }))
    .map(([k, op, vs]) => `${k}${op}(${vs.join(',')})`),
  key,
  key.map((k) => `!${k}`),
  fc
    .tuple(key, fc.constantFrom('>', '<'), fc.integer({ min: 0, max: 99 }))
    .map(([k, op, n]) => `${k}${op}${n}`),
);
const labelSelectorText = fc.array(requirement, { maxLength: 5 }).map((r) => r.join(','));
const labels = fc.dictionary(key, value, { maxKeys: 5 });

describe('label selectors', () => {
  test('any text: a selector or a SelectorError, never a crash', () => {
    fc.assert(
      fc.property(selectorish, (text) => void parsesOrRejects(() => parseLabelSelector(text))),
      { numRuns: 2000 },
    );
  });

  test('valid selectors: parse(toString()) prints the same text and selects the same labels', () => {
    fc.assert(
      fc.property(labelSelectorText, fc.array(labels, { maxLength: 5 }), (text, objects) => {
        const s = parseLabelSelector(text);
        const again = parseLabelSelector(s.toString());
        assert.equal(again.toString(), s.toString());
        for (const l of objects) assert.equal(again.matches(l), s.matches(l));
      }),
      { numRuns: 1000 },
    );
  });

  test('what parses from arbitrary text is stable too', () => {
    fc.assert(
      fc.property(selectorish, (text) => {
        const s = parsesOrRejects(() => parseLabelSelector(text));
        if (s === null) return;
        assert.equal(parseLabelSelector(s.toString()).toString(), s.toString());
      }),
      { numRuns: 2000 },
    );
  });
});

const fieldValue = fc.string({ maxLength: 10 });
const fieldSelectorText = fc
  .array(
    fc.tuple(
      fc.constantFrom('metadata.name', 'metadata.namespace', 'spec.x'),
      fc.constantFrom('=', '==', '!='),
      fieldValue,
    ),
    { maxLength: 4 },
  )
  .map((terms) => terms.map(([f, op, v]) => `${f}${op}${escapeFieldValue(v)}`).join(','));

describe('field selectors', () => {
  test('any text: a selector or a SelectorError, never a crash', () => {
    fc.assert(
      fc.property(selectorish, (text) => void parsesOrRejects(() => parseFieldSelector(text))),
      { numRuns: 2000 },
    );
  });

  // apimachinery sorts a field selector's terms by their text as written, so `==` vs `=` and escapes
  // can reorder terms once; after that one normalisation the text is a fixed point.
  test('escaped values of any characters round-trip: parse(toString()) is the same selector', () => {
    const sorted = (s: ReturnType<typeof parseFieldSelector>) =>
      s.requirements.map((r) => JSON.stringify(r)).sort();
    fc.assert(
      fc.property(
        fieldSelectorText,
        fc.dictionary(fc.constantFrom('metadata.name', 'metadata.namespace'), fieldValue),
        (text, fields) => {
          const s = parseFieldSelector(text);
          const again = parseFieldSelector(s.toString());
          assert.deepEqual(sorted(again), sorted(s));
          const third = parseFieldSelector(again.toString());
          assert.equal(third.toString(), again.toString());
          const get = (f: string) => fields[f];
          assert.equal(again.matches(get), s.matches(get));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('a value with commas, equals signs and backslashes is read back as written', () => {
    fc.assert(
      fc.property(fieldValue, (v) => {
        assert.equal(
          parseFieldSelector(`metadata.name=${escapeFieldValue(v)}`).exactMatch('metadata.name'),
          v,
        );
      }),
      { numRuns: 1000 },
    );
  });
});
