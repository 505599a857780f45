/**
 * docs/configuration.md is generated from the flag declarations, so the docs and `--help` cannot drift:
 * `npm run docs` writes it; test/unit/docs.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  eventsSpec,
  helpText,
  METRICS_SERVER_FLAGS,
  scrapeSpec,
  serveSpec,
} from '../../shared/config/index.ts';

export const CONFIG_DOC = new URL('../../docs/configuration.md', import.meta.url);

/** The migration table: every metrics-server flag, which function takes it, and what it does here. */
function migrationTable(): string {
  const programs = { scrape: scrapeSpec, serve: serveSpec };
  const rows = METRICS_SERVER_FLAGS.map((f) => {
    const takers = Object.entries(programs)
      .filter(([, p]) => p.flags.some((x) => x.name === f.name || x.aliases.includes(f.name)))
      .map(([name]) => name);
    const other = Object.keys(programs).filter((n) => !takers.includes(n));
    const taken =
      takers.length === 0
        ? 'neither'
        : other.length === 0
          ? takers.join(', ')
          : `${takers[0]} (${other[0]} ignores it)`;
    const here =
      f.refused === undefined
        ? (f.note ?? 'as in metrics-server')
        : f.harmless === undefined
          ? `refused: ${f.refused}`
          : `\`--${f.name}=${f.harmless}\` is accepted with an info line; otherwise refused: ${f.refused}`;
    return `| \`--${f.name}\` | ${f.section} | ${taken} | ${here} |`;
  });
  return ['| metrics-server flag | its section | taken by | here |', '|---|---|---|---|', ...rows].join('\n');
}

export function configurationDoc(): string {
  const block = (name: string, text: string) =>
    `\`\`\`console\n$ npm run ${name} -- --help\n${text.trimEnd()}\n\`\`\``;
  return `# Configuration

<!-- Generated from shared/config by \`npm run docs\`; edit the flag declarations, not this file. -->

The functions are plain Node programs configured by flags. Every flag can also be set through its
environment variable (the flag's name in upper snake case: \`--metric-resolution\` → \`METRIC_RESOLUTION\`),
which is how function platforms pass configuration; a flag beats its variable. Flags take \`--flag value\`
or \`--flag=value\`; booleans are bare (\`--kubelet-insecure-tls\`) or \`=true\`/\`=false\`; durations are
Go-style (\`15s\`, \`1m30s\`), as metrics-server's are. A bad value stops the program at start with one
line naming the flag, the value and what is allowed, and exit code 2.

Flags keep metrics-server's names wherever metrics-server has the same setting, so existing arguments
carry over.

## Coming from metrics-server

Paste metrics-server's argument list into both functions unchanged (its manifests' arguments, its Helm
chart's \`defaultArgs\` and the high-availability component's are tested that way). Each function takes
the flags it implements and accepts the other one's with one info line naming the function that uses
it (\`"Flag used by another function; ignored here" flag="--cert-dir" usedBy="serve"\`), so the same list
serves both. Every other metrics-server flag stops the program with one line naming it and why it has
no meaning here: none is ignored silently (an ignored \`--tls-min-version\` would be a quiet security
regression). A few are accepted at the one value that states what happens here anyway
(\`--profiling=false\`), with an info line.

The events function replaces event exporters, not metrics-server: it takes neither metrics-server's
flags nor the other functions'.

${migrationTable()}

## scrape

${block('scrape', helpText(scrapeSpec, 'scrape'))}

## serve

${block('serve', helpText(serveSpec, 'serve'))}

## events

The sinks, the routing file and the delivery guarantee: [events.md](events.md).

${block('events', helpText(eventsSpec, 'events'))}
`;
}

if (import.meta.main) {
  writeFileSync(CONFIG_DOC, configurationDoc());
  process.stdout.write(`wrote ${CONFIG_DOC.pathname}\n`);
}

export const currentDoc = () => readFileSync(CONFIG_DOC, 'utf8');
