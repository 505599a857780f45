/**
 * Kubernetes label selectors with the full grammar of k8s.io/apimachinery `labels.Parse` (equality- and
 * set-based, `!key`, `key`, numeric `>`/`<`), the same accept/reject decisions and the same error texts,
 * so a 400 from the serve function reads like one from kube-apiserver.
 *
 * A selector is parsed once per request and matched against every pod of the answer (up to 150,000), so
 * parsing compiles each requirement into a small predicate and `matches` is a loop over those.
 */
import { SelectorError } from './error.ts';
import { compareAsGo, goQuote, utf8Length } from './text.ts';

/** apimachinery's `selection.Operator` values, as they appear in its messages. */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** Sorted and without duplicates; `in ()` is the set holding the empty string, as in apimachinery. */
  readonly values: readonly string[];
}

/** An object's labels. Keys inherited from a prototype (`constructor`, …) never count as labels. */
export type Labels = Readonly<Record<string, string>>;

export interface LabelSelector {
  /** Sorted by key, as apimachinery sorts them. */
  readonly requirements: readonly LabelRequirement[];
  /** True when the selector selects everything (the empty string). */
  readonly empty: boolean;
  /** Whether an object with these labels is selected; `undefined` means no labels. */
  matches(labels: Labels | undefined): boolean;
  /** The canonical text, as apimachinery's `Selector.String()` prints it (`a in (x,y),!b,c=d`). */
  toString(): string;
}

// ---------------------------------------------------------------------------------------------------------
// Lexer: the same tokens from the same bytes as apimachinery's, including its quirk that a NUL character
// reads as the end of the text.

type Token = 'end' | 'id' | 'in' | 'notin' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<';

interface Item {
  readonly tok: Token;
  readonly lit: string;
}

function isWhitespace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** `= ! ( ) , > <`: the characters that end an identifier and start an operator. */
function isSpecial(c: number): boolean {
  return c === 61 || c === 33 || c === 40 || c === 41 || c === 44 || c === 62 || c === 60;
}

function lex(s: string): Item[] {
  const items: Item[] = [];
  const n = s.length;
  let pos = 0;
  for (;;) {
    while (pos < n && isWhitespace(s.charCodeAt(pos))) pos++;
    if (pos >= n || s.charCodeAt(pos) === 0) {
      items.push({ tok: 'end', lit: '' });
      return items;
    }
    const start = pos;
    const c = s.charCodeAt(pos++);
    let lit: string;
    let tok: Token;
    if (isSpecial(c)) {
      // The longest operator: `!=` and `==` are the only two-character ones.
      if ((c === 33 || c === 61) && pos < n && s.charCodeAt(pos) === 61) pos++;
      lit = s.slice(start, pos);
      tok = lit as Token;
    } else {
      while (pos < n) {
        const d = s.charCodeAt(pos);
        if (d === 0 || isSpecial(d) || isWhitespace(d)) break;
        pos++;
      }
      lit = s.slice(start, pos);
      tok = lit === 'in' ? 'in' : lit === 'notin' ? 'notin' : 'id';
    }
    // Go's lexer reads the character after a token and consumes it when it is a NUL: a NUL right after a
    // token is skipped, while a NUL where a token should start ends the text.
    if (pos < n && s.charCodeAt(pos) === 0) pos++;
    items.push({ tok, lit });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Validation, with apimachinery's messages (k8s.io/apimachinery/pkg/api/validate/content, v0.35 and later).

const LABEL_KEY_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${LABEL_KEY_FMT})?`;
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

const LABEL_NAME_RE = new RegExp(`^${LABEL_KEY_FMT}$`);
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);

function regexError(msg: string, re: string, ...examples: string[]): string {
  let out = `${msg} (e.g. `;
  examples.forEach((example, i) => {
    if (i > 0) out += ' or ';
    out += `'${example}', `;
  });
  return `${out}regex used for validation is '${re}')`;
}

function maxLenError(n: number): string {
  return `must be no more than ${n} bytes`;
}

function labelKeyErrors(key: string): string[] {
  const errs: string[] = [];
  const parts = key.split('/');
  let name: string;
  if (parts.length === 1) {
    name = key;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix === '') {
      errs.push('prefix part must be non-empty');
    } else {
      if (utf8Length(prefix) > 253) errs.push(`prefix part ${maxLenError(253)}`);
      if (!DNS1123_SUBDOMAIN_RE.test(prefix)) {
        errs.push(`prefix part ${regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com')}`);
      }
    }
  } else {
    return [
      `a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name === '') errs.push('name part must be non-empty');
  else if (utf8Length(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!LABEL_NAME_RE.test(name)) {
    errs.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (utf8Length(value) > 63) errs.push(maxLenError(63));
  if (!LABEL_VALUE_RE.test(value)) {
    errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

/** apimachinery's `field.Invalid(...).Error()`. */
function invalidValue(path: string, value: string, errs: string[]): string {
  return `${path}: Invalid value: ${goQuote(value)}: ${errs.join('; ')}`;
}

/** apimachinery's aggregate error text: one message as is, several de-duplicated inside `[…]`. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Integers, as Go's strconv.ParseInt(s, 10, 64) reads them.

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** A signed decimal integer within int64; a plain number when it has at most 15 digits (exact and fast). */
function parseInt64(s: string): number | bigint | undefined {
  const n = s.length;
  let i = 0;
  const first = s.charCodeAt(0);
  if (first === 43 || first === 45) i = 1;
  if (i === n) return undefined;
  for (let j = i; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return undefined;
  }
  if (n - i <= 15) return Number(s);
  const big = BigInt(s);
  return big < INT64_MIN || big > INT64_MAX ? undefined : big;
}

// ---------------------------------------------------------------------------------------------------------
// Parser: a port of apimachinery's recursive descent, so the same texts fail with the same messages.

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

const OPERATOR_OF: Partial<Record<Token, LabelOperator>> = {
  in: 'in',
  notin: 'notin',
  '=': '=',
  '==': '==',
  '!=': '!=',
  '>': 'gt',
  '<': 'lt',
};

class Parser {
  private position = 0;
  private readonly items: Item[];

  constructor(text: string) {
    this.items = lex(text);
  }

  /** The next token; in a value position the keywords `in` and `notin` are plain identifiers. */
  private lookahead(values: boolean): Item {
    const item = this.items[this.position]!;
    return values && (item.tok === 'in' || item.tok === 'notin') ? { tok: 'id', lit: item.lit } : item;
  }

  private consume(values: boolean): Item {
    const item = this.lookahead(values);
    this.position++;
    return item;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead(true);
      if (tok === 'end') return requirements;
      if (tok !== 'id' && tok !== '!') {
        throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      let requirement: LabelRequirement;
      try {
        requirement = this.parseRequirement();
      } catch (err) {
        if (err instanceof SelectorError)
          throw new SelectorError(`unable to parse requirement: ${err.message}`);
        throw err;
      }
      requirements.push(requirement);
      const after = this.consume(true);
      if (after.tok === 'end') return requirements;
      if (after.tok !== ',')
        throw new SelectorError(`found '${after.lit}', expected: ',' or 'end of string'`);
      const next = this.lookahead(true);
      if (next.tok !== 'id' && next.tok !== '!') {
        throw new SelectorError(`found '${next.lit}', expected: identifier after ','`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let { tok, lit } = this.consume(true);
    let operator: LabelOperator | undefined;
    if (tok === '!') {
      operator = '!';
      ({ tok, lit } = this.consume(true));
    }
    if (tok !== 'id') throw new SelectorError(`found '${lit}', expected: identifier`);
    const keyErrors = labelKeyErrors(lit);
    if (keyErrors.length > 0) throw new SelectorError(invalidValue('<nil>', lit, keyErrors));
    const key = lit;
    const next = this.lookahead(true).tok;
    if (operator === '!') return requirement(key, '!', []);
    if (next === 'end' || next === ',') return requirement(key, 'exists', []);

    const op = this.consume(false);
    operator = OPERATOR_OF[op.tok];
    if (operator === undefined) throw new SelectorError(`found '${op.lit}', expected: ${BINARY_OPERATORS}`);
    const values = operator === 'in' || operator === 'notin' ? this.parseValues() : this.parseExactValue();
    return requirement(key, operator, values);
  }

  private parseValues(): Set<string> {
    const open = this.consume(true);
    if (open.tok !== '(') throw new SelectorError(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.lookahead(true);
    if (tok === ')') {
      this.consume(true);
      return new Set(['']);
    }
    if (tok !== 'id' && tok !== ',')
      throw new SelectorError(`found '${lit}', expected: ',', ')' or identifier`);
    const values = this.parseIdentifiersList();
    this.consume(true); // the ')' that ended the list
    return values;
  }

  /** `a,b`, `,a`, `a,,b`, `a,`: empty places between commas are the empty value. */
  private parseIdentifiersList(): Set<string> {
    const values = new Set<string>();
    for (;;) {
      const { tok, lit } = this.consume(true);
      if (tok === 'id') {
        values.add(lit);
        const next = this.lookahead(true);
        if (next.tok === ',') continue;
        if (next.tok === ')') return values;
        throw new SelectorError(`found '${next.lit}', expected: ',' or ')'`);
      }
      if (tok === ',') {
        if (values.size === 0) values.add('');
        const next = this.lookahead(true).tok;
        if (next === ')') {
          values.add('');
          return values;
        }
        if (next === ',') values.add('');
        continue;
      }
      throw new SelectorError(`found '${lit}', expected: ',', or identifier`);
    }
  }

  private parseExactValue(): Set<string> {
    const next = this.lookahead(true).tok;
    if (next === 'end' || next === ',') return new Set(['']);
    const { tok, lit } = this.consume(true);
    if (tok === 'id') return new Set([lit]);
    throw new SelectorError(`found '${lit}', expected: identifier`);
  }
}

/** apimachinery's `NewRequirement` checks on the values (the key is checked while parsing). */
function requirement(key: string, operator: LabelOperator, valueSet: Iterable<string>): LabelRequirement {
  const values = [...valueSet].sort(compareAsGo);
  const errors: string[] = [];
  if (operator === 'gt' || operator === 'lt') {
    values.forEach((v, i) => {
      if (parseInt64(v) === undefined) {
        errors.push(
          `values[${i}]: Invalid value: ${goQuote(v)}: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
    });
  }
  values.forEach((v, i) => {
    const valueErrors = labelValueErrors(v);
    if (valueErrors.length > 0) errors.push(invalidValue(`values[${i}][${key}]`, v, valueErrors));
  });
  if (errors.length > 0) throw new SelectorError(aggregate(errors));
  return { key, operator, values };
}

// ---------------------------------------------------------------------------------------------------------
// Matching: one predicate per requirement, chosen once at parse time.

type Predicate = (labels: Labels) => boolean;

/**
 * The label's value, or undefined when the object does not have it. `typeof` rather than `in`: labels
 * decoded from JSON are plain objects, and inherited members such as `constructor` are never strings.
 */
function compile(r: LabelRequirement): Predicate {
  const { key, values } = r;
  const single = values.length === 1 ? values[0]! : undefined;
  const set = new Set(values);
  switch (r.operator) {
    case 'exists':
      return (labels) => typeof labels[key] === 'string';
    case '!':
      return (labels) => typeof labels[key] !== 'string';
    case '=':
    case '==':
    case 'in':
      if (single !== undefined) return (labels) => labels[key] === single;
      return (labels) => {
        const v = labels[key];
        return typeof v === 'string' && set.has(v);
      };
    case '!=':
    case 'notin':
      // A missing label is "not equal" and "not in": `!=` and `notin` select objects without the key.
      if (single !== undefined) return (labels) => labels[key] !== single;
      return (labels) => {
        const v = labels[key];
        return typeof v !== 'string' || !set.has(v);
      };
    case 'gt':
    case 'lt': {
      const threshold = parseInt64(single!)!;
      const thresholdNumber = Number(threshold);
      const thresholdBig = BigInt(threshold);
      const greater = r.operator === 'gt';
      return (labels) => {
        const v = labels[key];
        if (typeof v !== 'string') return false;
        const n = parseInt64(v);
        if (n === undefined) return false;
        // A number has at most 15 digits, so comparing it with the rounded threshold keeps the order.
        if (typeof n === 'number') return greater ? n > thresholdNumber : n < thresholdNumber;
        return greater ? n > thresholdBig : n < thresholdBig;
      };
    }
  }
}

function requirementText(r: LabelRequirement): string {
  switch (r.operator) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
      return `${r.key} in (${r.values.join(',')})`;
    case 'notin':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'gt':
      return `${r.key}>${r.values[0]}`;
    case 'lt':
      return `${r.key}<${r.values[0]}`;
    default:
      return `${r.key}${r.operator}${r.values[0]}`;
  }
}

const NO_LABELS: Labels = Object.freeze({});

function selectorOf(requirements: LabelRequirement[]): LabelSelector {
  // Array.prototype.sort is stable: requirements on the same key keep the order they were written in.
  requirements.sort((a, b) => compareAsGo(a.key, b.key));
  const predicates = requirements.map(compile);
  const text = requirements.map(requirementText).join(',');
  let matches: (labels: Labels | undefined) => boolean;
  if (predicates.length === 0) {
    matches = () => true;
  } else if (predicates.length === 1) {
    const only = predicates[0]!;
    matches = (labels) => only(labels ?? NO_LABELS);
  } else {
    matches = (labels) => {
      const l = labels ?? NO_LABELS;
      for (let i = 0; i < predicates.length; i++) if (!predicates[i]!(l)) return false;
      return true;
    };
  }
  return {
    requirements,
    empty: requirements.length === 0,
    matches,
    toString: () => text,
  };
}

/**
 * Parses a label selector as kube-apiserver does (`labels.Parse`). The empty string (or only blanks)
 * selects everything. Throws SelectorError with apimachinery's message for anything it would reject,
 * e.g. `(((` → `found '(', expected: !, identifier, or 'end of string'`.
 */
export function parseLabelSelector(text: string): LabelSelector {
  return selectorOf(new Parser(text).parse());
}
