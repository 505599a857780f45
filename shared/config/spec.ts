/**
 * Typed flags. Each flag is declared once: name, type, default, help, `--help` section and validation.
 * Its environment variable and its key in the parsed object are derived from the name
 * (`--metric-resolution` → METRIC_RESOLUTION, `metricResolutionMs`), and the object's type is inferred
 * from the declarations.
 */
import { parseDuration } from '../duration.ts';
import { parseBytes } from '../quantity.ts';
import { member } from './checks.ts';

/** Thrown by a flag's parser with what is allowed ("must be …"); loadConfig adds the flag and the value. */
export class InvalidValue extends Error {
  override name = 'InvalidValue';
}

export type Source = 'flag' | 'env' | 'default';

/** `metric-resolution` → `metricResolution`, at the type level. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

export interface Flag<N extends string = string, K extends string = string, T = unknown> {
  /** kebab-case, without the dashes */
  readonly name: N;
  /** the property of the parsed object */
  readonly key: K;
  /** one letter for `-x`, if any */
  readonly short: string | undefined;
  /** other names the command line accepts for it (another program's name for the same setting) */
  readonly aliases: readonly string[];
  /** the environment variable, or undefined when the flag is not read from the environment */
  readonly env: string | undefined;
  readonly section: string;
  readonly help: string;
  /** the type column of `--help` ('' for booleans) */
  readonly type: string;
  /** what a value looks like, for "missing value" messages */
  readonly expects: string;
  /** booleans take no separate value */
  readonly boolean: boolean;
  /** repeated on the command line, values accumulate (lists) instead of the last one winning */
  readonly repeatable: boolean;
  /** what joins repeated values before `parse` (',' for lists) */
  readonly separator: string;
  /** the default, written as on the command line ('' = none) */
  readonly default: string;
  /** the `(default …)` text of `--help`, '' to show none */
  readonly showDefault: (text: string) => string;
  /** how a raw value is echoed in messages (redacts secrets) */
  readonly echo: (text: string) => string;
  /** text → value; throws InvalidValue */
  readonly parse: (text: string) => T;
}

export type AnyFlag = Flag<string, string, unknown>;
type ValueOf<F> = F extends Flag<string, string, infer T> ? T : never;

/** The parsed object for a list of flags: `{ metricResolutionMs: number, kubeletInsecureTls: boolean, … }`. */
export type ConfigOf<F extends readonly AnyFlag[]> = { [X in F[number] as X['key']]: ValueOf<X> };

/** Checks one value; returns what is allowed ("must be …") when it is not, else undefined. */
export type Check<T> = (value: T) => string | undefined;

interface Common<T> {
  section: string;
  help: string;
  short?: string;
  /** Other command-line names (not environment variables), e.g. component-base's `--logging-format`. */
  aliases?: readonly string[];
  /** false: not read from the environment (only --help) */
  env?: false;
  check?: Check<T>;
  echo?: (text: string) => string;
}

export const envName = (name: string): string => name.replaceAll('-', '_').toUpperCase();
const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function define<const N extends string, K extends string, T>(
  name: N,
  key: K,
  o: Common<T>,
  kind: {
    type: string;
    expects: string;
    default: string;
    parse: (text: string) => T;
    showDefault?: (text: string) => string;
    boolean?: boolean;
    repeatable?: boolean;
    separator?: string;
  },
): Flag<N, K, T> {
  const check = o.check;
  return {
    name,
    key,
    short: o.short,
    aliases: o.aliases ?? [],
    env: o.env === false ? undefined : envName(name),
    section: o.section,
    help: o.help,
    type: kind.type,
    expects: kind.expects,
    boolean: kind.boolean ?? false,
    repeatable: kind.repeatable ?? false,
    separator: kind.separator ?? ',',
    default: kind.default,
    showDefault: kind.showDefault ?? ((t) => t),
    echo: o.echo ?? ((t) => t),
    parse: (text) => {
      const value = kind.parse(text);
      const problem = check?.(value);
      if (problem !== undefined) throw new InvalidValue(problem);
      return value;
    },
  };
}

const quoted = (t: string): string => (t === '' ? '' : JSON.stringify(t));

export function string<const N extends string>(
  name: N,
  o: Common<string> & { default?: string },
): Flag<N, Camel<N>, string> {
  return define(name, camel(name) as Camel<N>, o, {
    type: 'string',
    expects: 'a string',
    default: o.default ?? '',
    parse: (t) => t,
    showDefault: quoted,
  });
}

export function boolean<const N extends string>(name: N, o: Common<boolean>): Flag<N, Camel<N>, boolean> {
  return define(name, camel(name) as Camel<N>, o, {
    type: '',
    expects: 'true or false',
    default: 'false',
    boolean: true,
    showDefault: () => '',
    parse: (t) => {
      const v = t.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new InvalidValue('must be true or false');
    },
  });
}

export function integer<const N extends string>(
  name: N,
  o: Common<number> & { default?: number; min?: number; max?: number; expects?: string },
): Flag<N, Camel<N>, number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = o;
  const range =
    o.min !== undefined && o.max !== undefined
      ? `from ${min} to ${max}`
      : o.min !== undefined
        ? `of at least ${min}`
        : o.max !== undefined
          ? `of at most ${max}`
          : '';
  const allowed = `must be ${o.expects ?? `an integer ${range}`.trim()}`;
  return define(name, camel(name) as Camel<N>, o, {
    type: 'int',
    expects: o.expects ?? 'an integer',
    default: String(o.default ?? 0),
    showDefault: (t) => (t === '0' ? '' : t),
    parse: (t) => {
      if (!/^[+-]?\d+$/.test(t.trim())) throw new InvalidValue(allowed);
      const n = Number(t);
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidValue(allowed);
      return n;
    },
  });
}

/** A TCP port. `zero` names what 0 means where 0 is allowed ("disabled", "pick a free port"). */
export function port<const N extends string>(
  name: N,
  o: Common<number> & { default: number; zero?: string },
): Flag<N, Camel<N>, number> {
  const expects = o.zero === undefined ? 'a port from 1 to 65535' : `a port from 0 to 65535 (0 = ${o.zero})`;
  const help = o.zero === undefined ? o.help : `${o.help} 0 = ${o.zero}.`;
  return integer(name, { ...o, help, min: o.zero === undefined ? 1 : 0, max: 65535, expects });
}

/** Go-style duration ("15s", "1m30s"); the parsed value is milliseconds, under `<name>Ms`. */
export function duration<const N extends string>(
  name: N,
  o: Common<number> & { default: string; min?: string; positive?: boolean },
): Flag<N, `${Camel<N>}Ms`, number> {
  const min = o.min;
  const minMs = min === undefined ? undefined : parseDuration(min) / 1e6;
  return define(name, `${camel(name)}Ms` as `${Camel<N>}Ms`, o, {
    type: 'duration',
    expects: 'a duration such as 15s or 1m30s',
    default: o.default,
    parse: (t) => {
      let ns: number;
      try {
        ns = parseDuration(t);
      } catch {
        throw new InvalidValue('must be a duration such as 15s or 1m30s');
      }
      const ms = ns / 1e6;
      if (minMs !== undefined && ms < minMs) throw new InvalidValue(`must be a duration of at least ${min}`);
      if (o.positive && ms <= 0) throw new InvalidValue('must be a duration greater than 0, such as 10s');
      return ms;
    },
  });
}

/** A byte size as a Kubernetes quantity ("16Mi", "512Ki", "1G"); the parsed value is bytes, under `<name>Bytes`. */
export function quantity<const N extends string>(
  name: N,
  o: Common<number> & { default: string },
): Flag<N, `${Camel<N>}Bytes`, number> {
  const allowed = 'must be a size greater than 0 such as 16Mi, 512Ki or 1G';
  return define(name, `${camel(name)}Bytes` as `${Camel<N>}Bytes`, o, {
    type: 'quantity',
    expects: 'a size such as 16Mi',
    default: o.default,
    parse: (t) => {
      let bytes: number;
      try {
        bytes = parseBytes(t);
      } catch {
        throw new InvalidValue(allowed);
      }
      if (!(bytes > 0)) throw new InvalidValue(allowed);
      return bytes;
    },
  });
}

/**
 * Comma-separated strings; blanks around items are dropped. Repeating the flag adds to the list, as
 * pflag's string slices do. `item` checks each element and names the bad one.
 */
export function list<const N extends string>(
  name: N,
  o: Common<string[]> & { default?: readonly string[]; item?: Check<string> },
): Flag<N, Camel<N>, string[]> {
  const item = o.item;
  return define(name, camel(name) as Camel<N>, o, {
    type: 'strings',
    expects: 'a comma-separated list',
    default: (o.default ?? []).join(','),
    repeatable: true,
    showDefault: (t) => (t === '' ? '' : `[${t}]`),
    parse: (t) => {
      const items = t
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      for (const i of items) {
        const problem = item?.(i);
        if (problem !== undefined) throw new InvalidValue(problem);
      }
      return items;
    },
  });
}

/**
 * Values that may themselves hold commas (URIs: `kafka:?brokers=h1:9092,h2:9092`), as pflag's
 * stringArray: each repetition of the flag is one item, never split. In the environment variable, items
 * are separated by whitespace (no item can contain any). `item` checks each element and names the bad one.
 */
export function stringArray<const N extends string>(
  name: N,
  o: Common<string[]> & { item?: Check<string> },
): Flag<N, Camel<N>, string[]> {
  const item = o.item;
  return define(name, camel(name) as Camel<N>, o, {
    type: 'stringArray',
    expects: 'a value',
    default: '',
    repeatable: true,
    separator: '\n',
    showDefault: (t) => (t === '' ? '' : `[${t}]`),
    parse: (t) => {
      const items = t.split(/\s+/).filter((s) => s !== '');
      for (const i of items) {
        const problem = item?.(i);
        if (problem !== undefined) throw new InvalidValue(problem);
      }
      return items;
    },
  });
}

/** A list whose items come from a fixed set of words (each bad item is named); at least one item. */
export function listOf<const N extends string, const V extends readonly [string, ...string[]]>(
  name: N,
  values: V,
  o: Omit<Common<V[number][]>, 'check'> & { default: readonly V[number][] },
): Flag<N, Camel<N>, V[number][]> {
  const items = list(name, {
    ...o,
    item: member(values),
    check: (v) => (v.length === 0 ? `must name at least one of ${values.join(', ')}` : undefined),
  });
  return items as Flag<N, Camel<N>, V[number][]>; // every item was checked against `values`
}

/** One of a fixed set of words; the parsed type is their union. */
export function oneOf<const N extends string, const V extends readonly [string, ...string[]]>(
  name: N,
  values: V,
  o: Common<V[number]> & { default: V[number] },
): Flag<N, Camel<N>, V[number]> {
  return define(name, camel(name) as Camel<N>, o, {
    type: values.join('|'),
    expects: `one of ${values.join(', ')}`,
    default: o.default,
    showDefault: quoted,
    parse: (t) => {
      const v = values.find((x) => x === t);
      if (v === undefined) throw new InvalidValue(`must be one of ${values.join(', ')}`);
      return v;
    },
  });
}

/** The same flag with another default (written as on the command line), for a program that wants one. */
export function withDefault<F extends AnyFlag>(flag: F, text: string): F {
  return { ...flag, default: text };
}
