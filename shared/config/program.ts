/** A program's flags and the rules across them; every program gets -h/--help. */
import { type AnyFlag, boolean, type ConfigOf, type Source } from './spec.ts';

/** The first section of `--help`, where -h/--help is listed. */
export const GENERAL = 'General';

/** `-h, --help`: every program has it; it is never read from the environment. */
export const helpFlag = boolean('help', {
  short: 'h',
  env: false,
  section: GENERAL,
  help: 'Show this help and exit.',
});

/** What a cross-flag rule may ask about the flags it names. */
export interface RuleContext<N extends string> {
  /** where the value came from */
  source(name: N): Source;
  /** `--name`, or `--name from environment variable NAME` when it came from there */
  ref(name: N): string;
  /** the value as written (flag, environment or default), redacted like in value errors */
  text(name: N): string;
}

/** A check across flags: returns the one-line problem, or undefined. */
export type Rule<F extends readonly AnyFlag[]> = (
  config: ConfigOf<F>,
  ctx: RuleContext<F[number]['name']>,
) => string | undefined;

/** What another program contributes to this one's command line: its flags. */
export interface Sibling {
  readonly flags: readonly AnyFlag[];
}

/** Sibling programs by name. */
export type Siblings = Readonly<Record<string, Sibling>>;

/**
 * A flag of the program these replace (metrics-server), as the migration table and the parser see it.
 * A flag some program here declares under the same name needs no `refused`; any other says why it has
 * no meaning here.
 */
export interface ForeignFlag {
  readonly name: string;
  /** the section of the predecessor's `--help` it is listed in */
  readonly section: string;
  /** why it has no meaning here: the program stops with this line */
  readonly refused?: string;
  /** a boolean value that states what happens here anyway: accepted with an info line, not refused */
  readonly harmless?: 'true' | 'false';
  /** for a flag a program here takes: how it differs from the predecessor's, for the migration table */
  readonly note?: string;
}

/** The program the functions replace, and every flag it has. */
export interface Predecessor {
  readonly name: string;
  readonly flags: readonly ForeignFlag[];
}

export interface Program<F extends readonly AnyFlag[]> {
  /** the first line of `--help` */
  readonly description: string;
  readonly flags: readonly [...F, typeof helpFlag];
  readonly rules: readonly Rule<F>[];
  /**
   * Programs, by name, whose flags this one accepts and ignores with one info line each, so that one
   * argument list can be given to all of them. A function, so that two programs can name each other.
   */
  readonly siblings: () => Siblings;
  /** The program this one replaces: its flags that nothing here declares are refused with the reason. */
  readonly replaces: Predecessor | undefined;
}

/** The parsed object of a program: its flags' values, plus `help` (true: print helpText and exit 0). */
export type ConfigFor<P> = P extends Program<infer F> ? ConfigOf<[...F, typeof helpFlag]> : never;

export function defineProgram<const F extends readonly AnyFlag[]>(p: {
  description: string;
  flags: F;
  rules?: readonly Rule<NoInfer<F>>[];
  siblings?: () => Siblings;
  replaces?: Predecessor;
}): Program<F> {
  const flags = [...p.flags, helpFlag] as const;
  const seen = new Set<string>();
  for (const f of flags) {
    const names = [f.name, ...f.aliases].map((n) => `--${n}`);
    for (const id of [...names, f.short === undefined ? '' : `-${f.short}`, f.key]) {
      if (id !== '' && seen.has(id)) throw new Error(`flag ${id} is declared twice`);
      seen.add(id);
    }
  }
  return {
    description: p.description,
    flags,
    rules: p.rules ?? [],
    siblings: p.siblings ?? (() => ({})),
    replaces: p.replaces,
  };
}
