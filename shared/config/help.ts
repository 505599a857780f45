/** `--help` in metrics-server's style. */
import type { Predecessor, Siblings } from './program.ts';
import type { AnyFlag } from './spec.ts';

/**
 * Usage in metrics-server's style: flags grouped by section, each with its type, default and variable;
 * then which other flags the program accepts without using them, and which it refuses.
 */
export function helpText(
  program: {
    readonly description: string;
    readonly flags: readonly AnyFlag[];
    readonly siblings?: () => Siblings;
    readonly replaces?: Predecessor | undefined;
  },
  programName: string,
): string {
  const sections = new Map<string, AnyFlag[]>();
  for (const f of program.flags) {
    const list = sections.get(f.section) ?? [];
    list.push(f);
    sections.set(f.section, list);
  }
  const out = [
    program.description,
    '',
    'Usage:',
    `  ${programName} [flags]`,
    '',
    'Every flag can also be set through the environment variable shown as [$NAME]; a flag beats its variable.',
  ];
  for (const [section, flags] of sections) {
    const heads = flags.map((f) => {
      const short = f.short === undefined ? '    ' : `-${f.short}, `;
      return `  ${short}--${f.name}${f.type === '' ? '' : ` ${f.type}`}`;
    });
    const width = Math.max(...heads.map((h) => h.length)) + 3;
    out.push('', `${section} flags:`, '');
    flags.forEach((f, i) => {
      const def = f.showDefault(f.default);
      const shownDefault = def === '' ? '' : ` (default ${def})`;
      const variable = f.env === undefined ? '' : ` [$${f.env}]`;
      out.push(`${heads[i]!.padEnd(width)}${f.help}${shownDefault}${variable}`);
    });
  }
  const siblings = Object.keys(program.siblings?.() ?? {});
  if (siblings.length > 0) {
    const them = siblings.map((s) => `the ${s} function`).join(' and ');
    out.push(
      '',
      `The flags of ${them} are accepted too, and ignored here with one info line each, so one argument list serves ${siblings.length === 1 ? 'both' : 'all of them'}.`,
    );
  }
  if (program.replaces !== undefined) {
    const p = program.replaces.name;
    out.push(
      `Any other ${p} flag stops the program with the reason it has no meaning here (docs/configuration.md: "Coming from ${p}").`,
    );
  }
  return `${out.join('\n')}\n`;
}
