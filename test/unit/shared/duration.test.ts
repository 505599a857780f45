/**
 * Go durations: `time.Duration.String()` for the metrics API's `window`, `time.ParseDuration` for flags.
 * Expected texts come from metrics-server-behaviour.md §1.4 and from Go's own tables (time_test.go
 * durationTests and parseDurationTests), re-derived by hand where JavaScript numbers differ.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDuration } from '../../../shared/duration.ts';

const ns = 1;
const us = 1e3;
const ms = 1e6;
const s = 1e9;
const m = 60 * s;
const h = 60 * m;

describe('formatDuration', () => {
  test('given the windows metrics-server serves, it prints them as Go does', () => {
    const cases: [number, string][] = [
      [15 * s, '15s'],
      [20.114 * s, '20.114s'],
      [26279434112, '26.279434112s'],
      [1 * m, '1m0s'],
      [0, '0s'],
      [2 * h, '2h0m0s'],
    ];
    for (const [d, text] of cases) assert.equal(formatDuration(d), text, `${d} ns`);
  });

  test("given Go's own table, it prints every unit and trims trailing zeros of the fraction", () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [1 * ns, '1ns'],
      [1100 * ns, '1.1µs'],
      [2200 * us, '2.2ms'],
      [3300 * ms, '3.3s'],
      [4 * m + 5 * s, '4m5s'],
      [4 * m + 5001 * ms, '4m5.001s'],
      [5 * h + 6 * m + 7001 * ms, '5h6m7.001s'],
      [8 * m + 1 * ns, '8m0.000000001s'],
      [1 * h + 1 * m + 1001 * ms, '1h1m1.001s'],
      [1500 * ms, '1.5s'],
      [999 * ms, '999ms'],
      [1500 * ns, '1.5µs'],
      [500 * ns, '500ns'],
      [999 * ns, '999ns'],
      [1000 * ns, '1µs'],
      [999999 * ns, '999.999µs'],
      [1 * ms, '1ms'],
      [999999999 * ns, '999.999999ms'],
      [1 * s, '1s'],
      [59 * s, '59s'],
      [60 * s, '1m0s'],
      [3599 * s, '59m59s'],
      [3600 * s, '1h0m0s'],
      [100 * h, '100h0m0s'],
    ];
    for (const [d, text] of cases) assert.equal(formatDuration(d), text, `${d} ns`);
  });

  test('the micro sign is U+00B5, as Go writes it', () => {
    assert.equal(formatDuration(1500).codePointAt(3), 0xb5);
  });

  test('a negative duration is the positive one with a minus sign', () => {
    assert.equal(formatDuration(-1500 * ms), '-1.5s');
    assert.equal(formatDuration(-1 * m), '-1m0s');
    assert.equal(formatDuration(-1500), '-1.5µs');
    assert.equal(formatDuration(-1), '-1ns');
    // math.MinInt64, which is exactly representable: Go prints it from its uint64 magnitude.
    assert.equal(formatDuration(-(2 ** 63)), '-2562047h47m16.854775808s');
  });

  test('a fractional nanosecond count is rounded to whole nanoseconds', () => {
    assert.equal(formatDuration(1499.6), '1.5µs');
    assert.equal(formatDuration(0.4), '0s');
    assert.equal(formatDuration(15e9 + 0.5), '15.000000001s');
  });

  test('a value that is not a finite number is refused', () => {
    assert.throws(() => formatDuration(Number.NaN), RangeError);
    assert.throws(() => formatDuration(Number.NEGATIVE_INFINITY), RangeError);
  });
});

describe('parseDuration', () => {
  test("given Go's table of valid durations, it returns the same nanoseconds", () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['5s', 5 * s],
      ['30s', 30 * s],
      ['1478s', 1478 * s],
      ['-5s', -5 * s],
      ['+5s', 5 * s],
      ['-0', 0],
      ['+0', 0],
      ['5.0s', 5 * s],
      ['5.6s', 5 * s + 600 * ms],
      ['5.s', 5 * s],
      ['.5s', 500 * ms],
      ['1.0s', 1 * s],
      ['1.00s', 1 * s],
      ['1.004s', 1 * s + 4 * ms],
      ['1.0040s', 1 * s + 4 * ms],
      ['100.00100s', 100 * s + 1 * ms],
      ['10ns', 10 * ns],
      ['11us', 11 * us],
      ['12µs', 12 * us], // U+00B5 MICRO SIGN
      ['12μs', 12 * us], // U+03BC GREEK SMALL LETTER MU
      ['13ms', 13 * ms],
      ['14s', 14 * s],
      ['15m', 15 * m],
      ['16h', 16 * h],
      ['3h30m', 3 * h + 30 * m],
      ['10.5s4m', 4 * m + 10 * s + 500 * ms],
      ['-2m3.4s', -(2 * m + 3 * s + 400 * ms)],
      ['1h2m3s4ms5us6ns', 1 * h + 2 * m + 3 * s + 4 * ms + 5 * us + 6 * ns],
      ['39h9m14.425s', 39 * h + 9 * m + 14 * s + 425 * ms],
      ['52763797000ns', 52763797000 * ns],
      // More than 9 fraction digits (golang.org/issue/6617): 1/3 h.
      ['0.3333333333333333333h', 20 * m],
      ['0.100000000000000000000h', 6 * m],
      // Go keeps 19 fraction digits (…807) and scales in float64: 8301034832854775808 × 3.6e-7 = 2988372539827.7 ns.
      ['0.830103483285477580700h', 49 * m + 48 * s + 372539827 * ns],
      ['-2562047h47m16.854775808s', -(2 ** 63)],
    ];
    for (const [text, value] of cases) assert.equal(parseDuration(text), value, text);
  });

  test('the examples of the brief and the flags read as expected', () => {
    assert.equal(parseDuration('15s'), 15 * s);
    assert.equal(parseDuration('1m30s'), 90 * s);
    assert.equal(parseDuration('1.5h'), 90 * m);
    assert.equal(parseDuration('300ms'), 300 * ms);
    assert.equal(parseDuration('10us'), 10 * us);
    assert.equal(parseDuration('10µs'), 10 * us);
    assert.equal(parseDuration('-1s'), -1 * s);
    assert.equal(parseDuration('60s'), 1 * m);
  });

  test('up to 2^53 ns the value is exact; up to the int64 limit it is the nearest double', () => {
    assert.equal(parseDuration('9007199254740991ns'), 2 ** 53 - 1);
    assert.equal(parseDuration('9223372036854775807ns'), 2 ** 63);
    assert.equal(parseDuration('-9223372036854775808ns'), -(2 ** 63));
    assert.equal(parseDuration('-9223372036854775.808us'), -(2 ** 63));
    assert.equal(parseDuration('-9223372036s854ms775us808ns'), -(2 ** 63));
  });

  test('text Go rejects is an Error that quotes it and says what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /^invalid duration "": empty; expected a number and a unit, such as 15s, 1m30s or 300ms$/],
      ['3', /^invalid duration "3": missing unit after 3; use one of ns, us \(or µs\), ms, s, m, h$/],
      ['00', /missing unit after 00/],
      ['1.5', /missing unit after 1\.5/],
      ['1m30', /missing unit after 30/],
      ['-', /^invalid duration "-": empty/],
      ['s', /^invalid duration "s": unexpected "s"/],
      ['abc', /^invalid duration "abc": unexpected "a"/],
      ['.', /^invalid duration ".": a number has no digits/],
      ['-.', /a number has no digits/],
      ['.s', /a number has no digits/],
      ['+.s', /a number has no digits/],
      ['1d', /^invalid duration "1d": unknown unit "d" after 1; use one of ns, us \(or µs\), ms, s, m, h$/],
      ['1constructor', /unknown unit "constructor"/],
      ['1h-1m', /unknown unit "h-"/],
      ['1 s', /unknown unit " s"/],
      [' 1s', /unexpected " "/],
      ['1S', /unknown unit "S"/],
      ['9223372036854775808ns', /^invalid duration "9223372036854775808ns": out of range/],
      ['9223372036854775.808us', /out of range/],
      ['9223372036854ms775us808ns', /out of range/],
      ['-9223372036854775809ns', /out of range/],
      ['2562048h', /out of range/],
      ['99999999999999999999s', /out of range/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseDuration(text), { message }, JSON.stringify(text));
    }
  });
});

describe('round trips', () => {
  test('parseDuration(formatDuration(d)) is d for every integer nanosecond count up to 2^53', () => {
    const values = [0, 1, 999, 1000, 1001, 999999, 1e6, 1e9 - 1, 1e9, 1e9 + 1, 60e9, 3600e9, 2 ** 53 - 1];
    let state = 3;
    for (let i = 0; i < 5000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const digits = 1 + (state % 16);
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      values.push(Math.min(Number.MAX_SAFE_INTEGER, Math.floor((state / 2 ** 32) * 10 ** digits)));
    }
    for (const d of values) {
      assert.equal(parseDuration(formatDuration(d)), d, `${d} → ${formatDuration(d)}`);
      const negative = d === 0 ? 0 : -d;
      assert.equal(
        parseDuration(formatDuration(negative)),
        negative,
        `${negative} → ${formatDuration(negative)}`,
      );
    }
  });

  test('a canonical text comes back unchanged, a non-canonical one in canonical form', () => {
    for (const text of [
      '15s',
      '20.114s',
      '26.279434112s',
      '1m0s',
      '2h0m0s',
      '1h1m1.001s',
      '999ms',
      '1.5µs',
      '500ns',
    ]) {
      assert.equal(formatDuration(parseDuration(text)), text);
    }
    assert.equal(formatDuration(parseDuration('90s')), '1m30s');
    assert.equal(formatDuration(parseDuration('1.5h')), '1h30m0s');
    assert.equal(formatDuration(parseDuration('10us')), '10µs');
    assert.equal(formatDuration(parseDuration('0.5s')), '500ms');
  });
});
