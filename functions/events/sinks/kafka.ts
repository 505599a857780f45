/**
 * `kafka:?brokers=h1:9092,h2:9092&topic=k8s-events`: each record is a message on `topic` with the
 * event's uid as its key (as kubernetes-event-exporter keys them, so an event's versions stay in order
 * on one partition and a compacted topic keeps its latest), the record's JSON as its value, the record's
 * time as its timestamp and headers `id` (the record id, what consumers deduplicate on) and `verb`.
 * Every write waits for all in-sync replicas (acks=-1).
 *
 * heapster's form carries over: `brokers` may be repeated and `eventstopic` names the topic. Options:
 * `compression=gzip` (snappy, lz4 and zstd need codecs kafkajs does not ship), `client_id`, `tls=true`
 * with `ca_file` and a client certificate (`cert_file`, `key_file`), `sasl=plain|scram-sha-256|
 * scram-sha-512` with `user` and `pw_file`, `max_message_bytes` (the broker's message.max.bytes).
 *
 * Kafka itself cannot deduplicate across producer sessions: a redelivered batch is written again, with
 * the same keys and ids. A record larger than max_message_bytes, or one the broker calls invalid, is
 * rejected; everything else (no leader, no topic, no broker, timeouts) is retried.
 */
import { CompressionTypes, Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from 'kafkajs';
import { z } from 'zod';
import type { EventRecord } from '../record.ts';
import { untilAborted } from './abort.ts';
import {
  bool,
  common,
  count,
  hostPorts,
  invalid,
  nonEmpty,
  oneOf,
  parseOptions,
  queryOptions,
  readPem,
  readSecret,
} from './options.ts';
import type { Delivery, Rejection, Sink, SinkContext, SinkKind } from './sink.ts';
import { SinkError } from './sink.ts';
import { type Outcome, writeSplitting } from './split.ts';

const KIND = 'kafka';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BATCH = 500;
/** How long a sink keeps its connections without a delivery. */
const IDLE_DISCONNECT_MS = 10_000;
/** Kafka's default message.max.bytes (1 MiB and a record batch's overhead). */
const MESSAGE_MAX_BYTES = 1_048_588;

/** Broker errors that mean the records themselves will never be taken. */
const MALFORMED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'CORRUPT_MESSAGE',
]);

const Options = z
  .strictObject({
    brokers: hostPorts,
    topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, {
      error: 'expected a topic name: letters, digits, ".", "_" and "-", at most 249',
    }),
    compression: oneOf(['none', 'gzip']).default('none'),
    client_id: nonEmpty.default('metrics-serverless-events'),
    tls: bool.default(false),
    ca_file: nonEmpty.optional(),
    cert_file: nonEmpty.optional(),
    key_file: nonEmpty.optional(),
    sasl: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    user: nonEmpty.optional(),
    pw_file: nonEmpty.optional(),
    max_message_bytes: count(1024, 1 << 30).optional(),
    ...common,
  })
  .refine((o) => o.sasl === undefined || (o.user !== undefined && o.pw_file !== undefined), {
    path: ['sasl'],
    error: 'needs user= and pw_file=',
  })
  .refine((o) => (o.cert_file === undefined) === (o.key_file === undefined), {
    error: 'cert_file and key_file go together',
  });

export type KafkaOptions = z.output<typeof Options>;

const UNSUPPORTED_CODECS = ['snappy', 'lz4', 'zstd'];

function parse(rest: string): KafkaOptions {
  if (rest !== '' && !rest.startsWith('?')) {
    throw invalid(KIND, `expected kafka:?brokers=HOST:PORT&topic=NAME, got kafka:${rest}`);
  }
  const raw = queryOptions(KIND, new URLSearchParams(rest), {
    repeatable: ['brokers'],
    secrets: { password: 'pw_file', pw: 'pw_file' },
  });
  // heapster's names.
  if (raw.eventstopic !== undefined) {
    if (raw.topic !== undefined) throw invalid(KIND, 'give topic or eventstopic, not both');
    raw.topic = raw.eventstopic;
    delete raw.eventstopic;
  }
  if (raw.compression !== undefined && UNSUPPORTED_CODECS.includes(raw.compression)) {
    throw invalid(
      KIND,
      `option "compression": ${raw.compression} is not available (kafkajs ships gzip only); use gzip or none`,
    );
  }
  return parseOptions(KIND, Options, raw);
}

const uidOf = (r: EventRecord) => r.event.metadata.uid;

/** The message a record becomes: the same key, value, headers and timestamp however often it is sent. */
export function messageOf(r: EventRecord) {
  const at = Date.parse(r.time);
  return {
    key: uidOf(r),
    value: JSON.stringify(r),
    headers: { id: r.id, verb: r.verb },
    ...(Number.isNaN(at) ? {} : { timestamp: String(at) }),
  };
}

/** The Kafka error under kafkajs' wrappers (retries exceeded, several brokers' errors). */
function rootCause(err: unknown): { type?: string; message: string; retriable?: boolean } {
  let e = err as { originalError?: unknown; errors?: unknown[]; type?: string; message?: string };
  for (let i = 0; i < 5; i++) {
    if (e?.originalError) e = e.originalError as typeof e;
    else if (Array.isArray(e?.errors) && e.errors.length > 0) e = e.errors[0] as typeof e;
    else break;
  }
  return { ...(e as object), message: e?.message ?? String(err) } as { type?: string; message: string };
}

function config(o: KafkaOptions, timeoutMs: number, ctx: SinkContext): KafkaConfig {
  const ssl =
    o.tls || o.ca_file || o.cert_file
      ? {
          ...(o.ca_file ? { ca: [readPem(KIND, 'ca_file', o.ca_file)] } : {}),
          ...(o.cert_file ? { cert: readPem(KIND, 'cert_file', o.cert_file) } : {}),
          ...(o.key_file ? { key: readPem(KIND, 'key_file', o.key_file) } : {}),
        }
      : undefined;
  const password = o.pw_file ? readSecret(KIND, 'pw_file', o.pw_file) : undefined;
  const sasl =
    o.sasl && o.user && password !== undefined
      ? { mechanism: o.sasl, username: o.user, password }
      : undefined;
  return {
    clientId: o.client_id,
    brokers: o.brokers,
    connectionTimeout: Math.min(timeoutMs, 5000),
    requestTimeout: timeoutMs,
    enforceRequestTimeout: true,
    retry: { retries: 0 },
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl: sasl as KafkaConfig['sasl'] } : {}),
    // kafkajs' own lines (every reconnect attempt) are detail: the delivery logs each failed batch once.
    logLevel: logLevel.WARN,
    logCreator: () => (entry) =>
      ctx.log.debug(4, `kafkajs: ${entry.log.message}`, { namespace: entry.namespace, level: entry.label }),
  };
}

/** `create`, with the idle time before connections are closed (the tests shorten it). */
export function createKafkaSink(
  name: string,
  o: KafkaOptions,
  ctx: SinkContext,
  idleDisconnectMs = IDLE_DISCONNECT_MS,
): Sink {
  const timeoutMs = o.timeout ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = o.max_message_bytes ?? MESSAGE_MAX_BYTES;
  const kafka = new Kafka(config(o, timeoutMs, ctx));
  const target = o.brokers.join(',');

  // One producer per connection: after a failure or an idle spell a fresh one is made, since kafkajs
  // 2.2.4 can write to a connection it is still closing when one producer is reconnected.
  interface Session {
    producer: Producer;
    ready: Promise<void>;
  }
  let session: Session | undefined;
  const drop = (s: Session | undefined) => {
    if (!s) return Promise.resolve();
    if (session === s) session = undefined;
    return s.producer.disconnect().catch(() => {});
  };
  const open = (): Session => {
    if (session) return session;
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 0 },
    });
    const s: Session = { producer, ready: producer.connect() };
    s.ready.catch(() => drop(s));
    producer.on(producer.events.DISCONNECT, () => {
      if (session === s) session = undefined;
    });
    session = s;
    return s;
  };

  const send = async (s: Session, records: readonly EventRecord[]): Promise<Outcome> => {
    try {
      await s.producer.send({
        topic: o.topic,
        acks: -1,
        timeout: timeoutMs,
        compression: o.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: records.map(messageOf),
      });
      return { kind: 'accepted' };
    } catch (err) {
      const cause = rootCause(err);
      if (cause.type && MALFORMED.has(cause.type))
        return { kind: 'refused', reason: `${cause.type}: ${cause.message}` };
      drop(s);
      throw new SinkError(`${target}: topic ${o.topic}: ${cause.message}`, { cause: err });
    }
  };

  // kafkajs 2.2.4 polls its request queues every millisecond while connected (tulios/kafkajs#1704,
  // about 2.5 % of a core here), so an idle sink lets go of its connections.
  let idle: NodeJS.Timeout | undefined;
  const disconnectWhenIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => drop(session), idleDisconnectMs).unref();
  };

  const deliver = async (records: readonly EventRecord[]): Promise<Delivery> => {
    clearTimeout(idle);
    try {
      return await deliverConnected(records);
    } finally {
      disconnectWhenIdle();
    }
  };

  const deliverConnected = async (records: readonly EventRecord[]): Promise<Delivery> => {
    const s = open();
    await s.ready.catch((err: unknown) => {
      throw new SinkError(`${target}: ${rootCause(err).message}`, { cause: err });
    });
    // A message larger than the broker takes would fail the whole request: keep it out.
    const rejected: Rejection[] = [];
    const fitting = records.filter((r) => {
      const bytes = Buffer.byteLength(messageOf(r).value) + Buffer.byteLength(uidOf(r));
      if (bytes <= maxBytes) return true;
      rejected.push({ id: r.id, reason: `${bytes} bytes, more than max_message_bytes=${maxBytes}` });
      return false;
    });
    return { rejected: [...rejected, ...(await writeSplitting(fitting, (part) => send(s, part.records)))] };
  };

  return {
    name,
    maxBatch: o.max_batch ?? MAX_BATCH,
    deliver: (batch, signal) => untilAborted(() => deliver(batch.records), signal),
    async close() {
      clearTimeout(idle);
      await drop(session);
    },
  };
}

export const kafkaSink: SinkKind<KafkaOptions> = {
  kind: KIND,
  parse,
  create: (name, o, ctx) => createKafkaSink(name, o, ctx),
};
