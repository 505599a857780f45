/**
 * Quantities as metrics-server serves them and as apimachinery reads them. Expected texts come from
 * metrics-server-behaviour.md §1.4 and from apimachinery's own tables (quantity_test.go TestQuantityString,
 * TestQuantityParse), converted by hand into nanocores or bytes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatCpu,
  formatMemory,
  parseBytes,
  parseCpuNanocores,
  parseQuantity,
} from '../../../shared/quantity.ts';

/** A small deterministic generator, so a failing round trip can be reproduced. */
function* pseudoRandom(seed: number, count: number, max: number): Generator<number> {
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const high = (Math.imul(state, 2654435761) >>> 0) / 2 ** 32;
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    // Spread over all magnitudes, not only the largest: pick a size, then a value of that size.
    const digits = Math.max(1, Math.round(high * Math.log10(max)));
    yield Math.min(max, Math.floor((state / 2 ** 32) * 10 ** digits));
  }
}

describe('formatCpu', () => {
  test('given the examples of metrics-server-behaviour.md §1.4, it prints them exactly', () => {
    const cases: [number, string][] = [
      [123456789, '123456789n'],
      [5000000, '5m'],
      [1000000000, '1'],
      [7000, '7u'],
      [0, '0'],
      [1500000000, '1500m'],
      [2000000000, '2'],
      [272335371, '272335371n'],
      [1267873, '1267873n'],
    ];
    for (const [nanocores, text] of cases) assert.equal(formatCpu(nanocores), text, `${nanocores} nanocores`);
  });

  test("given apimachinery's canonical-form table, it chooses the largest suffix that keeps an integer", () => {
    // decQuantity(v, scale, DecimalSI).String() from quantity_test.go, as nanocores = v × 10^(scale+9).
    const cases: [number, string][] = [
      [1, '1n'],
      [80, '80n'],
      [1080, '1080n'],
      [1000, '1u'],
      [80000, '80u'],
      [1080000, '1080u'],
      [1000000, '1m'],
      [80000000, '80m'],
      [1080000000, '1080m'],
      [3e12, '3k'],
      [3e17, '300M'],
      [1e18, '1G'],
    ];
    for (const [nanocores, text] of cases) assert.equal(formatCpu(nanocores), text, `${nanocores} nanocores`);
  });

  test('at the suffix boundaries it never rounds: 999, 1000, 1001, 999999, 1000000 nanocores', () => {
    assert.equal(formatCpu(999), '999n');
    assert.equal(formatCpu(1000), '1u');
    assert.equal(formatCpu(1001), '1001n');
    assert.equal(formatCpu(999999), '999999n');
    assert.equal(formatCpu(1000000), '1m');
    assert.equal(formatCpu(999999999), '999999999n');
    assert.equal(formatCpu(1000000001), '1000000001n');
  });

  test('given a fractional rate, it truncates to whole nanocores as metrics-server does', () => {
    assert.equal(formatCpu(5000000.9), '5m');
    assert.equal(formatCpu(999.99), '999n');
    assert.equal(formatCpu(0.7), '0');
  });

  test('near and above 2^53 it prints the exact integer digits', () => {
    assert.equal(formatCpu(2 ** 53 - 1), '9007199254740991n');
    assert.equal(formatCpu(2 ** 53), '9007199254740992n');
    assert.equal(formatCpu(2 ** 60), '1152921504606846976n');
    assert.equal(formatCpu(9e18), '9G');
  });

  test('a negative value carries a sign and the same suffix, as apimachinery negates', () => {
    assert.equal(formatCpu(-5000000), '-5m');
    assert.equal(formatCpu(-1), '-1n');
    assert.equal(formatCpu(-0), '0');
  });

  test('a value that is not a finite number is refused rather than printed as NaN', () => {
    assert.throws(() => formatCpu(Number.NaN), RangeError);
    assert.throws(() => formatCpu(Number.POSITIVE_INFINITY), RangeError);
  });
});

describe('formatMemory', () => {
  test('exact multiples of 1024 take the largest exact binary suffix', () => {
    const cases: [number, string][] = [
      [1024, '1Ki'],
      [6 * 1024, '6Ki'],
      [3136 * 1024, '3136Ki'],
      [4470464 * 1024, '4470464Ki'],
      [512 * 1024 ** 2, '512Mi'],
      [300 * 1024 ** 2, '300Mi'],
      [1024 ** 3, '1Gi'],
      [1001 * 1024 ** 3, '1001Gi'],
      [1024 ** 4, '1Ti'],
      [4 * 1024 ** 5, '4Pi'],
      [1024 ** 6, '1Ei'],
      [3 * 1024 ** 6, '3Ei'],
      [1024000, '1000Ki'],
    ];
    for (const [bytes, text] of cases) assert.equal(formatMemory(bytes), text, `${bytes} bytes`);
  });

  test('other values from 1024 up are plain bytes, never a decimal suffix', () => {
    assert.equal(formatMemory(1025), '1025');
    assert.equal(formatMemory(1234567), '1234567');
    assert.equal(formatMemory(1000000), '1000000');
    assert.equal(formatMemory(2047), '2047');
  });

  test('below 1024 apimachinery formats as DecimalSI: plain digits, except 1000 which is 1k', () => {
    assert.equal(formatMemory(0), '0');
    assert.equal(formatMemory(1), '1');
    assert.equal(formatMemory(5), '5');
    assert.equal(formatMemory(999), '999');
    assert.equal(formatMemory(1000), '1k');
    assert.equal(formatMemory(1001), '1001');
    assert.equal(formatMemory(1023), '1023');
  });

  test('near and above 2^53 it is exact', () => {
    assert.equal(formatMemory(2 ** 53 - 1), '9007199254740991');
    assert.equal(formatMemory(2 ** 53 + 2), '9007199254740994');
    assert.equal(formatMemory(2 ** 60 + 2 ** 10), '1125899906842625Ki');
  });

  test('a negative value is signed: -1024 is -1Ki and -1000 is -1k', () => {
    assert.equal(formatMemory(-1024), '-1Ki');
    assert.equal(formatMemory(-1000), '-1k');
    assert.equal(formatMemory(-5), '-5');
  });

  test('for any byte count it emits an integer with at most a suffix, which client-node can read as a BigInt', () => {
    for (const bytes of pseudoRandom(7, 2000, Number.MAX_SAFE_INTEGER)) {
      assert.match(formatMemory(bytes), /^\d+(Ki|Mi|Gi|Ti|Pi|Ei|k)?$/, `${bytes} bytes`);
      assert.match(formatMemory(bytes * 1024), /^\d+(Ki|Mi|Gi|Ti|Pi|Ei)?$/, `${bytes * 1024} bytes`);
    }
  });
});

describe('parseQuantity', () => {
  test("given apimachinery's parse table, it reads every suffix form to the same value", () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['0n', 0],
      ['0u', 0],
      ['0m', 0],
      ['0Ki', 0],
      ['0k', 0],
      ['0Mi', 0],
      ['0M', 0],
      ['0Gi', 0],
      ['0G', 0],
      ['0Ti', 0],
      ['0T', 0],
      ['1', 1],
      ['1Ki', 1024],
      ['8Ki', 8 * 1024],
      ['7Mi', 7 * 1024 ** 2],
      ['6Gi', 6 * 1024 ** 3],
      ['5Ti', 5 * 1024 ** 4],
      ['4Pi', 4 * 1024 ** 5],
      ['3Ei', 3 * 1024 ** 6],
      ['10Ti', 10 * 1024 ** 4],
      ['100Ti', 100 * 1024 ** 4],
      ['5n', 5e-9],
      ['4u', 4e-6],
      ['3m', 3e-3],
      ['9', 9],
      ['8k', 8e3],
      ['50k', 5e4],
      ['7M', 7e6],
      ['6G', 6e9],
      ['5T', 5e12],
      ['40T', 4e13],
      ['300T', 3e14],
      ['2P', 2e15],
      ['1E', 1e18],
      ['1E-3', 1e-3],
      ['1e3', 1e3],
      ['1E6', 1e6],
      ['1e9', 1e9],
      ['1E12', 1e12],
      ['1e15', 1e15],
      ['1E18', 1e18],
      ['1e14', 1e14],
      ['1e13', 1e13],
      ['100.035k', 100035],
      ['0.001', 0.001],
      ['0.0005k', 0.5],
      ['0.005', 0.005],
      ['0.05', 0.05],
      ['0.5', 0.5],
      ['0.00050k', 0.5],
      ['0.00500', 0.005],
      ['0.05000', 0.05],
      ['0.50000', 0.5],
      ['0.5e0', 0.5],
      ['0.5e-1', 0.05],
      ['0.5e-2', 0.005],
      ['10.035M', 10035000],
      ['1.2e3', 1200],
      ['1.3E+6', 1300000],
      ['1.40e9', 1.4e9],
      ['1.53E12', 1.53e12],
      ['1.6e15', 1.6e15],
      ['1.7E18', 1.7e18],
      ['9.01', 9.01],
      ['8.1k', 8100],
      ['7.123456M', 7123456],
      ['6.987654321G', 6987654321],
      ['5.444T', 5.444e12],
      ['40.1T', 4.01e13],
      ['300.2T', 3.002e14],
      ['2.5P', 2.5e15],
      ['1.01E', 1.01e18],
      ['12E', 1.2e19],
      ['100.035Ki', 102435.84],
      ['0.5Mi', 524288],
      ['0.05Gi', 53687091.2],
      ['0.025Ti', 27487790694.4],
      ['.001', 0.001],
      ['.0001k', 0.1],
      ['1.', 1],
      ['1.G', 1e9],
      ['+5', 5],
      ['-5', -5],
      ['-2k', -2000],
      ['-1.5Gi', -1.5 * 1024 ** 3],
      ['007', 7],
    ];
    for (const [text, value] of cases) assert.equal(parseQuantity(text), value, text);
  });

  test('below one nano-unit it rounds away from zero, as apimachinery does on parse', () => {
    const cases: [string, number][] = [
      ['3.001n', 4e-9],
      ['1.1E-9', 2e-9],
      ['0.0000000001', 1e-9],
      ['0.0000000005', 1e-9],
      ['0.00000000050', 1e-9],
      ['0.5e-9', 1e-9],
      ['0.9n', 1e-9],
      ['0.00000012345', 124e-9],
      ['0.00000012354', 124e-9],
      ['0.000000000001Ki', 2e-9],
      ['1e-999999', 1e-9],
      ['-0.1n', -1e-9],
    ];
    for (const [text, value] of cases) assert.equal(parseQuantity(text), value, text);
  });

  test('the values a kubelet or the API server writes for node allocatable read as base units', () => {
    assert.equal(parseQuantity('3920m'), 3.92);
    assert.equal(parseQuantity('16Mi'), 16 * 1024 * 1024);
    assert.equal(parseQuantity('7901576Ki'), 7901576 * 1024);
    assert.equal(parseQuantity('110'), 110);
  });

  test('text apimachinery rejects is an Error naming the text and the cause', () => {
    const cases: [string, RegExp][] = [
      ['12Qi', /invalid quantity "12Qi": unexpected "Q"/],
      ['1.2.3', /invalid quantity "1\.2\.3": unexpected "\."/],
      ['', /invalid quantity "": the text is empty/],
      ['1Mi5', /unknown suffix "Mi5"/],
      ['1e', /unknown suffix "e"/],
      ['5i', /unknown suffix "i"/],
      ['1K', /unknown suffix "K"/],
      ['1ki', /unknown suffix "ki"/],
      ['1ee3', /unknown suffix "ee3"/],
      ['1e1.5', /unexpected "\."/],
      ['Ki', /no digits/],
      ['.', /no digits/],
      ['-', /no digits/],
      ['--1', /no digits/],
      ['+-1', /no digits/],
      [' 1', /no digits/],
      ['1 ', /unexpected " "/],
      ['1 Ki', /unexpected " "/],
      ['0x10', /unexpected "x"/],
      ['1_000', /unexpected "_"/],
      ['abc', /no digits/],
      ['1e400', /out of range/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseQuantity(text), { message }, JSON.stringify(text));
      assert.throws(() => parseCpuNanocores(text), { message }, JSON.stringify(text));
      assert.throws(() => parseBytes(text), { message }, JSON.stringify(text));
    }
  });
});

describe('parseCpuNanocores', () => {
  test('it returns the integer count of nanocores, exact where floating point would not be', () => {
    const cases: [string, number][] = [
      ['250m', 250000000],
      ['1', 1000000000],
      ['1267873n', 1267873],
      ['0.5', 500000000],
      ['1.5', 1500000000],
      ['100u', 100000],
      ['7u', 7000],
      ['0', 0],
      ['0.1n', 1],
      ['-0.1n', -1],
      ['9007199254740991n', 9007199254740991],
      ['9007199.254740991', 9007199254740991],
      ['9007199254740.991u', 9007199254740991],
    ];
    for (const [text, nanocores] of cases) assert.equal(parseCpuNanocores(text), nanocores, text);
  });
});

describe('parseBytes', () => {
  test('it returns integer bytes, rounding fractions away from zero like Quantity.Value()', () => {
    const cases: [string, number][] = [
      ['3136Ki', 3211264],
      ['16Mi', 16777216],
      ['1G', 1e9],
      ['1.5Gi', 1610612736],
      ['0.5Ki', 512],
      ['1.1Ki', 1127],
      ['1.5', 2],
      ['100m', 1],
      ['-1.5', -2],
      ['1234567', 1234567],
      ['9007199254740991', 9007199254740991],
    ];
    for (const [text, bytes] of cases) assert.equal(parseBytes(text), bytes, text);
  });
});

describe('round trips', () => {
  const edges = [
    0,
    1,
    999,
    1000,
    1001,
    1023,
    1024,
    1025,
    999999,
    1e6,
    1e9 - 1,
    1e9,
    1e9 + 1,
    2 ** 53 - 1,
    2 ** 53,
  ];

  test('parseCpuNanocores(formatCpu(n)) is n for every integer up to 2^53, also for round numbers', () => {
    for (const random of [...edges, ...pseudoRandom(1, 5000, Number.MAX_SAFE_INTEGER)]) {
      // Multiples of 1000 and 10^6 exercise the u, m, '' and k suffixes, which random values rarely hit.
      for (const n of [random, random * 1000, random * 1e6].filter((v) => v <= Number.MAX_SAFE_INTEGER)) {
        assert.equal(parseCpuNanocores(formatCpu(n)), n, `${n} → ${formatCpu(n)}`);
      }
    }
  });

  test('parseBytes(formatMemory(n)) is n for every integer up to 2^53, also for multiples of 1024', () => {
    for (const n of [...edges, ...pseudoRandom(2, 5000, Number.MAX_SAFE_INTEGER)]) {
      assert.equal(parseBytes(formatMemory(n)), n, `${n} → ${formatMemory(n)}`);
      const k = n * 1024 <= Number.MAX_SAFE_INTEGER ? n * 1024 : n;
      assert.equal(parseBytes(formatMemory(k)), k, `${k} → ${formatMemory(k)}`);
    }
  });

  test("apimachinery's canonical CPU texts come back unchanged", () => {
    for (const text of [
      '1m',
      '80m',
      '1080m',
      '1n',
      '80n',
      '1080n',
      '1u',
      '80u',
      '1080u',
      '3k',
      '1G',
      '300M',
      '1',
    ]) {
      assert.equal(formatCpu(parseCpuNanocores(text)), text);
    }
  });

  test("non-canonical texts come back in apimachinery's canonical form", () => {
    // TestQuantityParseEmit / TestQuantityString alternates.
    assert.equal(formatMemory(parseBytes('1024Mi')), '1Gi');
    assert.equal(formatMemory(parseBytes('307200Ki')), '300Mi');
    assert.equal(formatMemory(parseBytes('1025024Mi')), '1001Gi');
    assert.equal(formatCpu(parseCpuNanocores('1.08')), '1080m');
    assert.equal(formatCpu(parseCpuNanocores('1080000000n')), '1080m');
    assert.equal(formatCpu(parseCpuNanocores('1000u')), '1m');
    assert.equal(formatCpu(parseCpuNanocores('0.001T')), '1G');
  });
});
