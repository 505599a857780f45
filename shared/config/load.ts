/**
 * Reading argv and the environment into a program's typed config. Precedence: flag > environment
 * variable > default. A bad value is one ConfigError line naming the flag, the value, where it came from
 * and what is allowed.
 *
 * `<NAME>_FILE` names a file holding the variable's value (one trailing newline dropped): function
 * platforms mount secrets as files (OpenFaaS under /var/openfaas/secrets/, Docker and Kubernetes
 * Secrets as volumes), and a Redis URL with a password should not sit in the environment.
 */
import { readFileSync } from 'node:fs';
import { type ForeignFlag, helpFlag, type Program, type RuleContext } from './program.ts';
import { type AnyFlag, type ConfigOf, InvalidValue, type Source } from './spec.ts';

/** A bad flag, environment variable or combination: the program prints `error: <message>` and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface Given {
  text: string;
  source: Source;
  /** The name it was given under on the command line (an alias, or a short flag's long name). */
  name?: string;
  /** The file it was read from, when it came from `<NAME>_FILE`. */
  file?: string;
}

/** Where a value came from, for messages: `--name (NAME)` on the command line, or the variable. */
function where(f: AnyFlag, g: Pick<Given, 'source' | 'file' | 'name'>): string {
  if (g.source === 'env' && g.file !== undefined) return `--${f.name} from file ${g.file} (${f.env}_FILE)`;
  if (g.source === 'env') return `--${f.name} from environment variable ${f.env}`;
  const name = g.name ?? f.name;
  return f.env === undefined || name !== f.name ? `--${name}` : `--${name} (${f.env})`;
}

/** The flag's value from NAME, or from the file NAME_FILE names; undefined when neither is set. */
function fromEnvironment(
  f: AnyFlag,
  env: Readonly<Record<string, string | undefined>>,
): Omit<Given, 'source'> | undefined {
  if (f.env === undefined) return undefined;
  const fileVariable = `${f.env}_FILE`;
  // An empty variable counts as unset: platform templates often render an absent value as "".
  const text = env[f.env] || undefined;
  const file = env[fileVariable] || undefined;
  if (text !== undefined && file !== undefined) {
    throw new ConfigError(`set only one of ${f.env} and ${fileVariable} for --${f.name}`);
  }
  if (file === undefined) return text === undefined ? undefined : { text };
  try {
    return { text: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), file };
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot read ${fileVariable} ${file} for --${f.name}: ${cause}`);
  }
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** " (did you mean --x?)" for a near miss: a typo, `_` for `-`, or a cut-off name. */
function suggestion(name: string, flags: readonly AnyFlag[]): string {
  const wanted = name.toLowerCase().replaceAll('_', '-');
  let best: { name: string; d: number } | undefined;
  for (const f of flags) {
    const prefix = wanted.length >= 4 && (f.name.startsWith(wanted) || wanted.startsWith(f.name));
    const d = prefix ? 1 : distance(wanted, f.name);
    // Short names are too close to everything: allow one edit from 3 letters, two from 6.
    const allowed = Math.min(2, Math.floor(wanted.length / 3));
    if (d <= allowed && (best === undefined || d < best.d)) best = { name: f.name, d };
  }
  return best === undefined ? '' : ` (did you mean --${best.name}?)`;
}

/** Something to say once the logger exists: a flag accepted without being used here, and why. */
export interface Notice {
  message: string;
  fields: Record<string, string>;
}

/** What a name on the command line stands for in this program. */
type Resolved =
  | { kind: 'own'; flag: AnyFlag }
  | { kind: 'sibling'; flag: AnyFlag; owners: string }
  | { kind: 'foreign'; entry: ForeignFlag; predecessor: string }
  | undefined;

/** What the command line of a program is made of. */
type CommandLine = Pick<Program<readonly AnyFlag[]>, 'flags' | 'siblings' | 'replaces'>;

/** Own flags by every name (aliases too), then siblings' flags this program lacks, then the predecessor's. */
function resolver(program: CommandLine): {
  long: (name: string) => Resolved;
  short: (letter: string) => Resolved;
} {
  const own = new Map<string, AnyFlag>();
  const ownShort = new Map<string, AnyFlag>();
  for (const f of program.flags) {
    for (const n of [f.name, ...f.aliases]) own.set(n, f);
    if (f.short !== undefined) ownShort.set(f.short, f);
  }
  const sibling = new Map<string, { flag: AnyFlag; owners: string[] }>();
  const siblingShort = new Map<string, { flag: AnyFlag; owners: string[] }>();
  const add = <K>(map: Map<K, { flag: AnyFlag; owners: string[] }>, key: K, flag: AnyFlag, owner: string) => {
    const seen = map.get(key);
    if (seen === undefined) map.set(key, { flag, owners: [owner] });
    else if (!seen.owners.includes(owner)) seen.owners.push(owner);
  };
  for (const [owner, s] of Object.entries(program.siblings())) {
    for (const f of s.flags) {
      if (f === helpFlag) continue;
      for (const n of [f.name, ...f.aliases]) if (!own.has(n)) add(sibling, n, f, owner);
      if (f.short !== undefined && !ownShort.has(f.short)) add(siblingShort, f.short, f, owner);
    }
  }
  const predecessor = program.replaces;
  const foreign = new Map((predecessor?.flags ?? []).map((e) => [e.name, e]));
  const fromSibling = (s: { flag: AnyFlag; owners: string[] } | undefined): Resolved =>
    s === undefined ? undefined : { kind: 'sibling', flag: s.flag, owners: s.owners.join(',') };
  return {
    long: (name) => {
      const f = own.get(name);
      if (f !== undefined) return { kind: 'own', flag: f };
      const s = fromSibling(sibling.get(name));
      if (s !== undefined) return s;
      const entry = foreign.get(name);
      // An entry without a reason names a flag some program here declares; this one does not.
      return entry?.refused !== undefined && predecessor !== undefined
        ? { kind: 'foreign', entry, predecessor: predecessor.name }
        : undefined;
    },
    short: (letter) => {
      const f = ownShort.get(letter);
      return f !== undefined ? { kind: 'own', flag: f } : fromSibling(siblingShort.get(letter));
    },
  };
}

const booleanText = (t: string): string => {
  const v = t.toLowerCase();
  return v === '1' ? 'true' : v === '0' ? 'false' : v;
};

interface Scanned {
  given: Map<AnyFlag, { text: string; name: string }>;
  help: boolean;
  notices: Notice[];
}

/**
 * Reads argv into raw texts per flag. A sibling's flag is checked with its own parser and noted; a
 * predecessor's flag is refused with its reason, unless its value states what happens here anyway.
 * Reports the first problem, unless --help is anywhere.
 */
function scan(program: CommandLine, argv: readonly string[]): Scanned {
  const { flags } = program;
  const resolve = resolver(program);
  const given = new Map<AnyFlag, { text: string; name: string }>();
  const notices: Notice[] = [];
  const noted = new Set<string>();
  let problem: string | undefined;
  let help = false;
  let previous: AnyFlag | undefined;
  const fail = (message: string) => {
    problem ??= message;
  };
  const note = (key: string, n: Notice) => {
    if (!noted.has(key)) notices.push(n);
    noted.add(key);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let found: Resolved;
    let name = '';
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      found = resolve.long(name);
      if (found === undefined) fail(`unknown flag --${name}${suggestion(name, flags)}`);
    } else if (arg.startsWith('-') && arg.length > 1 && arg !== '--') {
      const rest = arg.slice(2);
      found = resolve.short(arg[1]!);
      const flag = found?.kind === 'foreign' ? undefined : found?.flag;
      if (flag === undefined || (flag.boolean && rest !== '' && !rest.startsWith('='))) {
        const shortName = arg.slice(1).split('=')[0]!;
        fail(`unknown flag -${shortName}${suggestion(shortName, flags)}`);
        found = undefined;
      } else {
        name = flag.name;
        if (rest !== '') inline = rest.startsWith('=') ? rest.slice(1) : rest; // -v=2 and -v2, as pflag allows
      }
    } else {
      const after = previous?.boolean
        ? `: --${previous.name} takes no separate value (write --${previous.name}=${arg})`
        : ': this program takes flags only';
      fail(`unexpected argument ${JSON.stringify(arg)}${after}`);
    }
    previous = found?.kind === 'foreign' ? undefined : found?.flag;
    if (found === undefined) continue;

    if (found.kind === 'foreign') {
      const { entry, predecessor } = found;
      if (entry.harmless !== undefined && booleanText(inline ?? 'true') === entry.harmless) {
        note(`--${name}`, {
          message: `A ${predecessor} flag that states what happens here anyway; ignored`,
          fields: { flag: `--${name}=${entry.harmless}`, why: entry.refused! },
        });
      } else {
        fail(`--${name} is a ${predecessor} flag that has no meaning here: ${entry.refused}`);
      }
      continue;
    }

    const flag = found.flag;
    let text: string;
    if (flag.boolean) text = inline ?? 'true';
    else if (inline !== undefined) text = inline;
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) text = argv[++i]!;
    else {
      fail(`missing value for --${name}: expected ${flag.expects}`);
      continue;
    }

    if (found.kind === 'sibling') {
      try {
        flag.parse(text);
      } catch (err) {
        if (!(err instanceof InvalidValue)) throw err;
        fail(
          `invalid value ${JSON.stringify(flag.echo(text))} for --${name} (a flag of the ${found.owners} function): ${err.message}`,
        );
        continue;
      }
      note(`--${flag.name}`, {
        message: 'Flag used by another function; ignored here',
        fields: { flag: `--${name}`, usedBy: found.owners },
      });
      continue;
    }

    if (flag === helpFlag) help ||= text === 'true' || text === '1';
    const before = given.get(flag);
    given.set(flag, {
      text: flag.repeatable && before !== undefined ? `${before.text}${flag.separator}${text}` : text,
      name,
    });
  }
  if (problem !== undefined && !help) throw new ConfigError(problem);
  return { given, help, notices };
}

/**
 * Parses argv (without node and the script) and env into the program's typed config, or throws a
 * ConfigError with one line. With `-h`/`--help` it returns the defaults and `help: true` without
 * validating anything else, so help always works. Flags accepted but not used here are passed to
 * `onNotice` once the whole configuration is valid, for the program to log.
 */
export function loadConfig<F extends readonly AnyFlag[]>(
  program: Program<F>,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  onNotice?: (notice: Notice) => void,
): ConfigOf<[...F, typeof helpFlag]> {
  const { given, help, notices } = scan(program, argv);
  const raw = new Map<string, Given>();
  const config: Record<string, unknown> = {};
  for (const f of program.flags) {
    const fromFlag = help && f !== helpFlag ? undefined : given.get(f);
    const fromEnv = fromFlag !== undefined || help ? undefined : fromEnvironment(f, env);
    const g: Given =
      fromFlag !== undefined
        ? { text: fromFlag.text, name: fromFlag.name, source: 'flag' }
        : fromEnv !== undefined
          ? { ...fromEnv, source: 'env' }
          : { text: f.default, source: 'default' };
    raw.set(f.name, g);
    try {
      config[f.key] = f.parse(g.text);
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      if (g.source === 'default') throw new Error(`the default of --${f.name} is invalid: ${err.message}`);
      throw new ConfigError(
        `invalid value ${JSON.stringify(f.echo(g.text))} for ${where(f, g)}: ${err.message}`,
      );
    }
  }
  const typed = config as ConfigOf<[...F, typeof helpFlag]>;
  if (help) return typed;

  const byName = new Map(program.flags.map((f) => [f.name, f]));
  const ctx: RuleContext<string> = {
    source: (name) => raw.get(name)?.source ?? 'default',
    ref: (name) => {
      const f = byName.get(name);
      const g = raw.get(name);
      return g?.source === 'env' && f !== undefined ? where(f, g) : `--${name}`;
    },
    text: (name) => {
      const f = byName.get(name);
      const text = raw.get(name)?.text ?? '';
      return f === undefined ? text : f.echo(text);
    },
  };
  for (const rule of program.rules) {
    // The rules see the program's own flags; `help` is the extra key they do not need.
    const problem = rule(typed as unknown as ConfigOf<F>, ctx);
    if (problem !== undefined) throw new ConfigError(problem);
  }
  for (const n of notices) onNotice?.(n);
  return typed;
}
