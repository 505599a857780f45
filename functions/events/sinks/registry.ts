/**
 * Every kind of sink `--sink KIND:OPTIONS` can name, and the parsing of such a URI into a sink ready to
 * be created. Adding a kind is one line in KINDS.
 *
 * A kind's module is loaded when a URI first names that kind, not at start: the SDKs behind S3, Kafka
 * and NATS cost ≈ 30, 15 and 20 MiB and 60–190 ms each to import (`npm run bench -- --startup`), which
 * a function without those sinks should not pay. The load is synchronous (`require` of an ES module,
 * none of them awaits at top level), so parsing stays where and when it was: at start, one clear line
 * for a bad URI.
 */
import { createRequire } from 'node:module';
import { InvalidSink, type Sink, type SinkContext, type SinkKind } from './sink.ts';

const requireSink = createRequire(import.meta.url);

/** A kind with its options type hidden: parse once, create later. */
interface Registered {
  kind: string;
  parse(rest: string): (name: string, context: SinkContext) => Sink;
}

function registered<O>(k: SinkKind<O>): Registered {
  return {
    kind: k.kind,
    parse(rest) {
      const options = k.parse(rest);
      return (name, context) => k.create(name, options, context);
    },
  };
}

/** Each kind, and how to load its module (a literal path per kind, so a bundler could still follow it). */
const KINDS: readonly { kind: string; load: () => Registered }[] = [
  {
    kind: 'stdout',
    load: () => registered((requireSink('./stdout.ts') as typeof import('./stdout.ts')).stdoutSink),
  },
  {
    kind: 'redis',
    load: () => registered((requireSink('./redis.ts') as typeof import('./redis.ts')).redisSink),
  },
  {
    kind: 'influxdb',
    load: () => registered((requireSink('./influxdb.ts') as typeof import('./influxdb.ts')).influxdbSink),
  },
  {
    kind: 'kafka',
    load: () => registered((requireSink('./kafka.ts') as typeof import('./kafka.ts')).kafkaSink),
  },
  { kind: 's3', load: () => registered((requireSink('./s3.ts') as typeof import('./s3.ts')).s3Sink) },
  {
    kind: 'webhook',
    load: () => registered((requireSink('./webhook.ts') as typeof import('./webhook.ts')).webhookSink),
  },
  { kind: 'nats', load: () => registered((requireSink('./nats.ts') as typeof import('./nats.ts')).natsSink) },
];

export const sinkKinds = (): string[] => KINDS.map((k) => k.kind);

/** A sink URI, parsed and checked: `create` makes the sink (once, at start). */
export interface ParsedSink {
  kind: string;
  uri: string;
  create(name: string, context: SinkContext): Sink;
}

/** `stdout`, `redis:?stream=k8s-events`, …; throws InvalidSink naming what is wrong. */
export function parseSinkUri(uri: string): ParsedSink {
  const colon = uri.indexOf(':');
  const kind = colon < 0 ? uri : uri.slice(0, colon);
  const rest = colon < 0 ? '' : uri.slice(colon + 1);
  const k = KINDS.find((x) => x.kind === kind);
  if (!k)
    throw new InvalidSink(`unknown sink kind ${JSON.stringify(kind)} (known: ${sinkKinds().join(', ')})`);
  return { kind, uri, create: k.load().parse(rest) };
}
