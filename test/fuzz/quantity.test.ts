/**
 * Quantities, generated: what the serve function writes (formatCpu, formatMemory) reads back to the
 * same number, as client-go and client-node read it; valid quantities of every form parse; garbage is
 * refused with an Error naming the text, never a wrong number.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatCpu,
  formatMemory,
  parseBytes,
  parseCpuNanocores,
  parseQuantity,
} from '../../shared/quantity.ts';

describe('quantities the serve function writes', () => {
  test('CPU: parseCpuNanocores(formatCpu(n)) is n for every integer nanocore count up to 2^53', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const text = formatCpu(n);
        assert.match(text, /^(0|[1-9][0-9]*[numkMGTPE]?)$/);
        assert.equal(parseCpuNanocores(text), n);
      }),
      { numRuns: 2000 },
    );
  });

  test('memory: parseBytes(formatMemory(b)) is b, with a binary suffix only for exact multiples of 1024', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.maxSafeNat(),
          fc.nat({ max: 2 ** 20 }).map((k) => k * 1024),
          fc.nat({ max: 2048 }),
        ),
        (b) => {
          const text = formatMemory(b);
          assert.equal(parseBytes(text), b);
          if (/[KMGTPE]i$/.test(text)) assert.equal(b % 1024, 0);
          assert.doesNotMatch(text, /\./);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a non-finite value is refused, never written', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assert.throws(() => formatCpu(v), RangeError);
      assert.throws(() => formatMemory(v), RangeError);
    }
  });
});

const SUFFIXES = ['', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
/** The quantity grammar (apimachinery's): sign, digits, optional fraction, then a suffix or an exponent. */
const validQuantity = fc
  .tuple(
    fc.constantFrom('', '+', '-'),
    fc.stringMatching(/^[0-9]{1,6}$/),
    fc.option(fc.stringMatching(/^[0-9]{0,4}$/), { nil: undefined }),
    fc.oneof(
      fc.constantFrom(...SUFFIXES),
      fc.integer({ min: -6, max: 6 }).map((e) => `e${e}`),
    ),
  )
  .map(([sign, int, frac, suffix]) => `${sign}${int}${frac === undefined ? '' : `.${frac}`}${suffix}`);

describe('reading quantities', () => {
  test('every valid quantity parses to a finite number', () => {
    fc.assert(
      fc.property(validQuantity, (q) => {
        assert.ok(Number.isFinite(parseQuantity(q)), q);
        assert.ok(Number.isInteger(parseBytes(q)), q);
      }),
      { numRuns: 2000 },
    );
  });

  test('plain decimal values parse to the number they write', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.constantFrom('', 'k', 'M', 'Ki', 'Mi'), (n, s) => {
        const factor = { '': 1, k: 1e3, M: 1e6, Ki: 1024, Mi: 1024 ** 2 }[s] ?? Number.NaN;
        assert.equal(parseQuantity(`${n}${s}`), n * factor);
      }),
      { numRuns: 1000 },
    );
  });

  test('garbage is refused with an Error that quotes it, never a number', () => {
    const garbage = fc.oneof(
      fc
        .string({ maxLength: 12 })
        .filter(
          (s) => !/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?$/.test(s),
        ),
      validQuantity.map((q) => `${q}x`),
      validQuantity.map((q) => ` ${q}`),
      fc.constantFrom('', '.', '1.2.3', '1Mi5', '12Qi', '--1', '1e', 'Infinity', 'NaN', '0x10', '1_000'),
    );
    fc.assert(
      fc.property(garbage, (text) => {
        assert.throws(
          () => parseQuantity(text),
          (e: Error) => e instanceof Error && e.message.includes(JSON.stringify(text).slice(1, -1)),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
