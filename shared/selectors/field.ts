/**
 * Kubernetes field selectors as k8s.io/apimachinery `fields.ParseSelector` reads them: comma-separated
 * `field=value`, `field==value` or `field!=value` terms, with `\,`, `\=` and `\\` escaping a value's own
 * commas, equals signs and backslashes. Which fields exist is the caller's business (each API decides);
 * `validateFieldSelector` gives the generic apiserver's answer for the fields a resource supports.
 */
import { SelectorError } from './error.ts';
import { compareAsGo, goQuote } from './text.ts';

export type FieldOperator = '=' | '!=';

export interface FieldRequirement {
  readonly field: string;
  /** `==` is read as `=`, as apimachinery does. */
  readonly operator: FieldOperator;
  /** Unescaped. */
  readonly value: string;
}

export interface FieldSelector {
  /** In apimachinery's order (terms sorted by their text). */
  readonly requirements: readonly FieldRequirement[];
  /** True when the selector selects everything. */
  readonly empty: boolean;
  /**
   * Whether an object is selected; `get` returns a field's value, undefined (or '') when the object has
   * none. As in Kubernetes, a missing field compares as the empty string.
   */
  matches(get: (field: string) => string | undefined): boolean;
  /** The value an `=` term requires of this field, if any (for narrowing a lookup, e.g. by name). */
  exactMatch(field: string): string | undefined;
  /** The canonical text, as apimachinery prints it (terms sorted, values re-escaped, `==` as `=`). */
  toString(): string;
}

/** Splits at commas that are not escaped; each term keeps its backslashes. */
function splitTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector.charCodeAt(i);
    if (escaped) escaped = false;
    else if (c === 92) escaped = true;
    else if (c === 44) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** The first operator in the term splits it; the field part cannot be escaped. `!=` and `==` win over `=`. */
function splitTerm(term: string): { field: string; operator: '=' | '==' | '!='; raw: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    const next = term.charCodeAt(i + 1);
    if (c === 33 && next === 61) return { field: term.slice(0, i), operator: '!=', raw: term.slice(i + 2) };
    if (c === 61 && next === 61) return { field: term.slice(0, i), operator: '==', raw: term.slice(i + 2) };
    if (c === 61) return { field: term.slice(0, i), operator: '=', raw: term.slice(i + 1) };
  }
  return undefined;
}

/**
 * apimachinery's `UnescapeValue`. Its message for an unescaped `=` or `,` prints the character's code
 * (`unescaped character in value: 61`); it is kept word for word, since clients see Kubernetes' text.
 */
function unescapeValue(raw: string): string {
  if (!raw.includes('\\') && !raw.includes(',') && !raw.includes('=')) return raw;
  let out = '';
  let escaped = false;
  for (const ch of raw) {
    if (escaped) {
      if (ch !== '\\' && ch !== ',' && ch !== '=') {
        throw new SelectorError(`invalid field selector: invalid escape sequence: \\${ch}`);
      }
      out += ch;
      escaped = false;
    } else if (ch === '\\') {
      escaped = true;
    } else if (ch === ',' || ch === '=') {
      throw new SelectorError(`invalid field selector: unescaped character in value: ${ch.codePointAt(0)}`);
    } else {
      out += ch;
    }
  }
  if (escaped) throw new SelectorError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** apimachinery's `EscapeValue`. */
export function escapeFieldValue(value: string): string {
  let out = '';
  for (const ch of value) out += ch === '\\' || ch === ',' || ch === '=' ? `\\${ch}` : ch;
  return out;
}

function selectorOf(requirements: FieldRequirement[]): FieldSelector {
  const text = requirements.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
  const fields = requirements.map((r) => r.field);
  const wanted = requirements.map((r) => r.value);
  const equal = requirements.map((r) => r.operator === '=');
  return {
    requirements,
    empty: requirements.length === 0,
    matches(get) {
      for (let i = 0; i < fields.length; i++) {
        const actual = get(fields[i]!) ?? '';
        if ((actual === wanted[i]) !== equal[i]) return false;
      }
      return true;
    },
    exactMatch(field) {
      for (const r of requirements) if (r.field === field && r.operator === '=') return r.value;
      return undefined;
    },
    toString: () => text,
  };
}

/**
 * Parses a field selector as kube-apiserver does. The empty string selects everything; empty terms
 * (`a=b,,c=d`) are skipped, and so is a term with neither field nor value (`=`), as apimachinery drops it.
 * Field names are taken as written (no trimming): ` metadata.name=x` names the field ` metadata.name`.
 * Throws SelectorError with apimachinery's text, e.g. `invalid selector: 'x'; can't understand 'x'`.
 */
export function parseFieldSelector(text: string): FieldSelector {
  const terms = splitTerms(text).sort(compareAsGo);
  const requirements: FieldRequirement[] = [];
  for (const term of terms) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (parts === undefined)
      throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
    const value = unescapeValue(parts.raw);
    if (parts.field === '' && value === '') continue;
    requirements.push({ field: parts.field, operator: parts.operator === '!=' ? '!=' : '=', value });
  }
  return selectorOf(requirements);
}

/**
 * The first field of the selector that is not in `allowed`, in the order kube-apiserver checks them, or
 * undefined when all are allowed. For APIs whose error text differs from `validateFieldSelector`'s (the
 * core API says `field label not supported: spec.foo` for pods and nodes).
 */
export function unknownField(selector: FieldSelector, allowed: readonly string[]): string | undefined {
  for (const r of selector.requirements) if (!allowed.includes(r.field)) return r.field;
  return undefined;
}

/**
 * Rejects a selector on fields the resource does not support, with the text kube-apiserver's generic
 * field-label conversion gives (and kubectl shows): `"spec.nodeName" is not a known field selector: only
 * "metadata.name", "metadata.namespace"`. The list in the message is `allowed`, each quoted, joined by `, `.
 */
export function validateFieldSelector(selector: FieldSelector, allowed: readonly string[]): void {
  const field = unknownField(selector, allowed);
  if (field === undefined) return;
  throw new SelectorError(
    `${goQuote(field)} is not a known field selector: only ${allowed.map(goQuote).join(', ')}`,
  );
}
