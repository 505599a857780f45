import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../../functions/scrape/decode/batch.ts';
import { parseExposition } from '../../../functions/scrape/decode/exposition.ts';

interface Seen {
  name: string;
  labels: (string | undefined)[];
  value: number;
  timestamp: number | undefined;
  line: number;
}

/** Every sample of `text`, with the values of labels `a` and `b`. */
function parse(text: string, labels: readonly string[] = ['a', 'b']): Seen[] {
  const seen: Seen[] = [];
  parseExposition(
    text,
    labels,
    (name) => name,
    (name, s) =>
      seen.push({ name, labels: [...s.labels], value: s.value, timestamp: s.timestamp, line: s.line }),
  );
  return seen;
}

const readValueOf = (token: string): number => {
  const [sample] = parse(`m ${token}`);
  assert.ok(sample, `a sample for ${token}`);
  return sample.value;
};

function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError, `a DecodeError, not ${String(error)}`);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('sample values', () => {
  test('Go float forms read as the same double JavaScript reads them', () => {
    for (const token of [
      '0',
      '-0',
      '7',
      '+7',
      '-7.25',
      '.5',
      '5.',
      '00012',
      '4.710169',
      '357.35491',
      '1.633252712e+9',
      '1.616273408e+09',
      '1.7506078418297591e+09',
      '1.253376e+07',
      '1E3',
      '2.5e-7',
      '6197.005020909',
      '0.000000000000000000000001',
      '123456789012345678901234567890',
      '1e400',
      '9007199254740993',
    ]) {
      assert.ok(
        Object.is(readValueOf(token), Number(token)),
        `${token} → ${Number(token)}, got ${readValueOf(token)}`,
      );
    }
  });

  test("NaN and the infinities, in Go's spellings", () => {
    assert.ok(Number.isNaN(readValueOf('NaN')));
    assert.equal(readValueOf('+Inf'), Number.POSITIVE_INFINITY);
    assert.equal(readValueOf('-Inf'), Number.NEGATIVE_INFINITY);
    assert.equal(readValueOf('Inf'), Number.POSITIVE_INFINITY);
    assert.equal(readValueOf('-infinity'), Number.NEGATIVE_INFINITY);
  });

  test('10,000 pseudo-random decimals are read exactly as Number() reads them', () => {
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 10_000; i++) {
      let token = next(4) === 0 ? '-' : '';
      const integerDigits = next(12);
      for (let d = 0; d < integerDigits; d++) token += String(next(10));
      if (integerDigits === 0 || next(2) === 0) {
        token += '.';
        const fractionDigits = integerDigits === 0 ? 1 + next(18) : next(18);
        for (let d = 0; d < fractionDigits; d++) token += String(next(10));
      }
      if (next(3) === 0) token += `e${['', '+', '-'][next(3)]}${next(40)}`;
      assert.ok(
        Object.is(readValueOf(token), Number(token)),
        `${token}: expected ${Number(token)}, got ${readValueOf(token)}`,
      );
    }
  });

  test('anything else is a bad value, named with its line', () => {
    for (const token of [
      '0x10',
      '1_000',
      '1e',
      'e5',
      '--1',
      '+NaN',
      '1.2.3',
      'Infinityx',
      '.',
      '1,5',
      '"1"',
    ]) {
      assert.throws(() => parse(`# first line\nm ${token} 1\n`), {
        name: 'DecodeError',
        message: `line 2: bad sample value ${JSON.stringify(token)}`,
      });
    }
  });
});

describe('timestamps', () => {
  test('are integer milliseconds, optional, and may be signed', () => {
    assert.deepEqual(
      parse('m 1 1633253812125\nm 2\nm 3 -5\nm 4 +6').map((s) => s.timestamp),
      [1633253812125, undefined, -5, 6],
    );
  });

  test('anything but an integer is a bad timestamp', () => {
    for (const token of ['1.5', '1e3', 'now', '12a']) rejects(`m 1 ${token}`, /^line 1: bad timestamp/);
  });
});

describe('labels', () => {
  test('the values of the labels asked for come in the order asked, others are skipped', () => {
    assert.deepEqual(
      parse('m{z="1",b="B",c_2="x",a="A"} 1').map((s) => s.labels),
      [['A', 'B']],
    );
    assert.deepEqual(
      parse('m{b="B"} 1\nm 2\nm{} 3').map((s) => s.labels),
      [
        [undefined, 'B'],
        [undefined, undefined],
        [undefined, undefined],
      ],
    );
  });

  test('blanks around "=" and ",", a trailing comma, and "=", ",", "{", "}", "#" inside values', () => {
    assert.deepEqual(
      parse('m{ a = "x=1,{}#" , b\t=\t"y" , } 1').map((s) => s.labels),
      [['x=1,{}#', 'y']],
    );
  });

  test('escapes \\\\ \\" and \\n are decoded, in kept and skipped labels alike', () => {
    assert.deepEqual(
      parse('m{a="q\\"b\\\\s\\nn",z="\\\\"} 1').map((s) => s.labels),
      [['q"b\\s\nn', undefined]],
    );
  });

  test('an unknown escape is an error, even in a label not kept', () => {
    rejects('m{z="a\\tb"} 1', /^line 1: invalid escape \\t in a label value/);
  });

  test('unterminated values and label sets are errors', () => {
    rejects('m{a="x} 1', /^line 1: unterminated value of label a/);
    rejects('m{a="x\\"} 1', /^line 1: unterminated value of label a/);
    rejects('m{a="x" 1', /^line 1: expected "," or "}" after a label value, found "1"/);
    rejects('m{a="x",', /^line 1: unterminated label set/);
  });

  test('other label syntax errors', () => {
    rejects('m{a=x} 1', /^line 1: the value of label a must be quoted/);
    rejects('m{a "x"} 1', /^line 1: expected "=" after label name a/);
    rejects('m{1a="x"} 1', /^line 1: expected a label name, found "1a=\\"x\\"}"/);
    rejects('m{a="x",a="y"} 1', /^line 1: label a appears twice/);
  });

  test('a label value never runs onto the next line', () => {
    rejects('m{a="x\n"} 1', /^line 1: unterminated value of label a/);
  });
});

describe('lines', () => {
  test('HELP, TYPE, other comments and blank lines are skipped, but counted', () => {
    const text = '# HELP m [STABLE] free text, even "quotes" {}\n# TYPE m counter\n#no space\n\n   \nm 1\n';
    assert.deepEqual(
      parse(text).map((s) => s.line),
      [6],
    );
  });

  test('a TYPE line must name a metric and a known type', () => {
    rejects(
      'm 1\n# TYPE m bogus\n',
      /^line 2: # TYPE must end in counter, gauge, histogram, summary or untyped; found "bogus"/,
    );
    rejects('# TYPE\n', /^line 1: # TYPE needs a metric name/);
    rejects('# TYPE m counter extra\n', /^line 1: # TYPE must end in/);
  });

  test('names and values are separated by blanks', () => {
    rejects('m-1 1', /^line 1: unexpected "-1" after metric name m/);
    rejects('{a="b"} 1', /^line 1: expected a metric name/);
  });

  test('a metric name may repeat a prefix of the previous one without being taken for it', () => {
    assert.deepEqual(
      parse('metric 1\nmetric_total 2\nmetric 3\nmetric:x 4').map((s) => s.name),
      ['metric', 'metric_total', 'metric', 'metric:x'],
    );
  });

  test('only the families the caller classifies reach it, yet every line is checked', () => {
    const names: string[] = [];
    parseExposition(
      'keep 1\nskip{a="x"} 2\nkeep 3',
      [],
      (name) => (name === 'keep' ? name : undefined),
      (name) => names.push(name),
    );
    assert.deepEqual(names, ['keep', 'keep']);
    assert.throws(
      () =>
        parseExposition(
          'keep 1\nskip 2x',
          [],
          (name) => (name === 'keep' ? name : undefined),
          () => {},
        ),
      /line 2: bad sample value/,
    );
  });
});
