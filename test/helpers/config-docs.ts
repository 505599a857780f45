/**
 * docs/configuration.md is generated from the flag declarations, so the docs and `--help` cannot drift:
 * `npm run docs` writes it; test/unit/docs.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { eventsSpec, helpText, scrapeSpec, serveSpec } from '../../shared/config/index.ts';

export const CONFIG_DOC = new URL('../../docs/configuration.md', import.meta.url);

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
