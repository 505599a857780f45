/**
 * Every kind of sink `--sink KIND:OPTIONS` can name, and the parsing of such a URI into a sink ready to
 * be created. Adding a kind is one line in KINDS.
 */
import { influxdbSink } from './influxdb.ts';
import { kafkaSink } from './kafka.ts';
import { natsSink } from './nats.ts';
import { redisSink } from './redis.ts';
import { s3Sink } from './s3.ts';
import { InvalidSink, type Sink, type SinkContext, type SinkKind } from './sink.ts';
import { stdoutSink } from './stdout.ts';
import { webhookSink } from './webhook.ts';

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

const KINDS: readonly Registered[] = [
  registered(stdoutSink),
  registered(redisSink),
  registered(influxdbSink),
  registered(kafkaSink),
  registered(s3Sink),
  registered(webhookSink),
  registered(natsSink),
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
  return { kind, uri, create: k.parse(rest) };
}
