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

export interface Program<F extends readonly AnyFlag[]> {
  /** the first line of `--help` */
  readonly description: string;
  readonly flags: readonly [...F, typeof helpFlag];
  readonly rules: readonly Rule<F>[];
}

/** The parsed object of a program: its flags' values, plus `help` (true: print helpText and exit 0). */
export type ConfigFor<P> = P extends Program<infer F> ? ConfigOf<[...F, typeof helpFlag]> : never;

export function defineProgram<const F extends readonly AnyFlag[]>(p: {
  description: string;
  flags: F;
  rules?: readonly Rule<NoInfer<F>>[];
}): Program<F> {
  const flags = [...p.flags, helpFlag] as const;
  const seen = new Set<string>();
  for (const f of flags) {
    for (const id of [`--${f.name}`, f.short === undefined ? '' : `-${f.short}`, f.key]) {
      if (id !== '' && seen.has(id)) throw new Error(`flag ${id} is declared twice`);
      seen.add(id);
    }
  }
  return { description: p.description, flags, rules: p.rules ?? [] };
}
