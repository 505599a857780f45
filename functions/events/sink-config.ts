/**
 * The sinks of one deployment, from `--sink` flags and the `--sink-config` file, parsed and checked at
 * start: a bad URI, file, pattern or name stops the program with one line naming it.
 *
 * The file (YAML):
 *
 *   sinks:
 *     - name: warnings                    # the sink's name in logs, /metrics and its journal cursor
 *       uri: 'webhook:https://hooks.example.com/k8s'   # the same text as a --sink value
 *       match:                            # optional: only records some rule matches (routing.ts)
 *         - type: Warning
 *       drop:                             # optional: never records a rule matches
 *         - namespace: 'kube-system|kube-public'
 *
 * A --sink is named after its kind (`--sink stdout` is the sink `stdout`): its cursor survives reordering
 * the flags and changing its options. Two sinks of one kind need names, so they go in the file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ALL, type Route, Rule } from './routing.ts';
import { parseSinkUri } from './sinks/registry.ts';
import { InvalidSink, type Sink, type SinkContext } from './sinks/sink.ts';

/** Safe as a Redis hash field and a Prometheus label value, readable in logs. */
const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

const SinkEntry = z.strictObject({
  name: z.string().regex(NAME, 'must be lower-case letters, digits, ".", "_" and "-" (at most 63)'),
  uri: z.string().min(1, 'must not be empty'),
  match: z.array(Rule).default([]),
  drop: z.array(Rule).default([]),
});

export const SinkConfigFile = z.strictObject({
  sinks: z.array(SinkEntry).min(1, 'must name at least one sink'),
});
export type SinkConfigFile = z.infer<typeof SinkConfigFile>;

export interface ConfiguredSink {
  name: string;
  kind: string;
  uri: string;
  route: Route;
  create(context: SinkContext): Sink;
}

/** `sinks[1].match[0].kind` */
const pathText = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');

/** Reads and checks a --sink-config file; throws InvalidSink with the file and the place named. */
export function readSinkConfig(file: string): ConfiguredSink[] {
  const where = `--sink-config ${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidSink(`cannot read ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new InvalidSink(`${where} is not YAML: ${first}`);
  }
  const r = SinkConfigFile.safeParse(doc ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = pathText(issue.path);
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
        : issue.message;
    throw new InvalidSink(`${where}: ${at === '' ? '' : `${at}: `}${message}`);
  }
  return r.data.sinks.map((s, i) => {
    try {
      const parsed = parseSinkUri(s.uri);
      return {
        name: s.name,
        kind: parsed.kind,
        uri: s.uri,
        route: { match: s.match, drop: s.drop },
        create: (c) => parsed.create(s.name, c),
      };
    } catch (err) {
      if (err instanceof InvalidSink)
        throw new InvalidSink(`${where}: sinks[${i}] (${s.name}): ${err.message}`);
      throw err;
    }
  });
}

/** Every sink of the deployment: the --sink flags' and the file's; names unique. */
export function configuredSinks(flags: readonly string[], file: string): ConfiguredSink[] {
  const out: ConfiguredSink[] = [];
  for (const uri of flags) {
    let parsed: ReturnType<typeof parseSinkUri>;
    try {
      parsed = parseSinkUri(uri);
    } catch (err) {
      if (err instanceof InvalidSink)
        throw new InvalidSink(`invalid value ${JSON.stringify(uri)} for --sink: ${err.message}`);
      throw err;
    }
    if (out.some((s) => s.name === parsed.kind))
      throw new InvalidSink(
        `two --sink ${parsed.kind}: a --sink is named after its kind; give each its own name in --sink-config`,
      );
    out.push({
      name: parsed.kind,
      kind: parsed.kind,
      uri,
      route: ALL,
      create: (c) => parsed.create(parsed.kind, c),
    });
  }
  if (file !== '') {
    for (const s of readSinkConfig(file)) {
      if (out.some((o) => o.name === s.name))
        throw new InvalidSink(
          `--sink-config ${file}: the sink name ${s.name} is used twice (a --sink is named after its kind)`,
        );
      out.push(s);
    }
  }
  return out;
}
