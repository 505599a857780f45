/** Generated damage to real payloads, for the decoders' fuzz tests. */
import fc from 'fast-check';

/** Random edits of `base`: deletions, insertions and replacements at random places. */
export const mutated = (base: string): fc.Arbitrary<string> =>
  fc
    .array(
      fc.record({
        at: fc.nat({ max: base.length }),
        del: fc.nat({ max: 20 }),
        ins: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.constantFrom(
            '"',
            '\\',
            '{',
            '}',
            '=',
            ',',
            ' ',
            '\n',
            '#',
            'NaN',
            '-1',
            '+Inf',
            '1e309',
            '\u0000',
            '\u2028',
          ),
        ),
      }),
      { maxLength: 12 },
    )
    .map((edits) => edits.reduce((s, e) => s.slice(0, e.at) + e.ins + s.slice(e.at + e.del), base));
