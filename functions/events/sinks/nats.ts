/**
 * `nats:nats://host:4222?subject=k8s.events`: each record is a JetStream publish of its JSON to
 * `subject`, with `Nats-Msg-Id` = the record's id, so the stream drops a redelivered record itself
 * (within the stream's duplicate window). A publish is acknowledged by the stream (PubAck), so a
 * record counts as delivered only once it is stored.
 *
 * With `stream=NAME` the sink checks that stream at its first delivery, creates it when missing
 * (capturing `subject`, with a `duplicate_window` of 10 minutes unless told), and has every publish
 * expect it. Servers: a comma-separated list (`nats://a:4222,nats://b:4222`). Credentials from files:
 * `creds_file` (a .creds file: JWT and NKey seed), `user` with `pw_file`, or `token_file`; TLS with
 * `tls://` or `ca_file`.
 *
 * A record larger than the server's max_payload or the stream's max_msg_size is rejected (it would
 * never fit); everything else (no stream for the subject, no answer, a server down) is retried.
 */
import { type JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { z } from 'zod';
import type { EventRecord } from '../record.ts';
import { untilAborted } from './abort.ts';
import {
  bool,
  common,
  duration,
  invalid,
  nonEmpty,
  parseOptions,
  queryOptions,
  readPem,
  readSecret,
} from './options.ts';
import {
  type Delivery,
  type Rejection,
  type Sink,
  type SinkContext,
  SinkError,
  type SinkKind,
} from './sink.ts';

const KIND = 'nats';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BATCH = 500;
const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
/** JetStream's "message size exceeds maximum allowed" (the stream's max_msg_size). */
const MESSAGE_TOO_LARGE = 10054;

const Options = z
  .strictObject({
    subject: z.string().regex(/^[^\s*>.]+(\.[^\s*>.]+)*$/, {
      error: 'expected a subject to publish to, such as k8s.events (no spaces, no wildcards)',
    }),
    stream: z
      .string()
      .regex(/^[^\s.*>/\\]+$/, { error: 'expected a stream name (no spaces, dots, wildcards or slashes)' })
      .optional(),
    duplicate_window: duration.optional(),
    creds_file: nonEmpty.optional(),
    user: nonEmpty.optional(),
    pw_file: nonEmpty.optional(),
    token_file: nonEmpty.optional(),
    ca_file: nonEmpty.optional(),
    tls: bool.optional(),
    ...common,
  })
  .refine((o) => o.pw_file === undefined || o.user !== undefined, {
    path: ['user'],
    error: 'is required with pw_file',
  })
  .refine((o) => o.duplicate_window === undefined || o.stream !== undefined, {
    path: ['duplicate_window'],
    error: 'only applies to a stream this sink creates: give stream= too',
  });

export type NatsOptions = z.output<typeof Options> & { servers: string[] };

function parse(rest: string): NatsOptions {
  const q = rest.indexOf('?');
  const list = q < 0 ? rest : rest.slice(0, q);
  const servers = (list === '' ? 'nats://127.0.0.1:4222' : list).split(',').map((s) => s.trim());
  for (const s of servers) {
    let u: URL | undefined;
    try {
      u = new URL(s);
    } catch {}
    if (!u || !['nats:', 'tls:'].includes(u.protocol) || !u.hostname) {
      throw invalid(
        KIND,
        `${JSON.stringify(s)} is not a server URL such as nats://nats:4222 or tls://nats:4222`,
      );
    }
    if (u.username || u.password) {
      throw invalid(
        KIND,
        'credentials do not go in the URL: use creds_file=, user= with pw_file=, or token_file=',
      );
    }
  }
  const raw = queryOptions(KIND, new URLSearchParams(q < 0 ? '' : rest.slice(q)), {
    secrets: { pass: 'pw_file', password: 'pw_file', pw: 'pw_file', token: 'token_file' },
  });
  return { ...parseOptions(KIND, Options, raw), servers };
}

/** The connection options, secrets read from their files (at start, so a missing file stops it). */
function connectOptions(o: NatsOptions, timeoutMs: number): NodeConnectionOptions {
  const c: NodeConnectionOptions = {
    servers: o.servers,
    name: 'metrics-serverless-events',
    timeout: timeoutMs,
    reconnect: true,
    maxReconnectAttempts: -1,
  };
  if (o.creds_file)
    c.authenticator = credsAuthenticator(
      new TextEncoder().encode(readSecret(KIND, 'creds_file', o.creds_file)),
    );
  if (o.user) {
    c.user = o.user;
    if (o.pw_file) c.pass = readSecret(KIND, 'pw_file', o.pw_file);
  }
  if (o.token_file) c.token = readSecret(KIND, 'token_file', o.token_file);
  if (o.ca_file || o.tls) c.tls = o.ca_file ? { ca: readPem(KIND, 'ca_file', o.ca_file) } : {};
  return c;
}

const apiCode = (err: unknown) => (err as JetStreamApiError)?.code;

/** Why the server would never store this record, or undefined when a retry may succeed. */
function malformed(err: unknown): string | undefined {
  const message = (err as Error)?.message ?? String(err);
  if (apiCode(err) === MESSAGE_TOO_LARGE) return `refused by the stream: ${message}`;
  if (/max_payload/.test(message)) return `larger than the server's max_payload`;
  return undefined;
}

function create(name: string, o: NatsOptions, ctx: SinkContext): Sink {
  const timeoutMs = o.timeout ?? DEFAULT_TIMEOUT_MS;
  const options = connectOptions(o, timeoutMs);
  const target = o.servers.join(',');
  let connection: Promise<NatsConnection> | undefined;
  let streamChecked = false;

  const connected = async (): Promise<NatsConnection> => {
    const current = connection ? await connection.catch(() => undefined) : undefined;
    if (current && !current.isClosed()) return current;
    connection = connect(options);
    try {
      return await connection;
    } catch (err) {
      connection = undefined;
      throw new SinkError(`${target}: ${(err as Error).message}`, { cause: err });
    }
  };

  const ensureStream = async (nc: NatsConnection) => {
    if (!o.stream || streamChecked) return;
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    try {
      await jsm.streams.info(o.stream);
    } catch (err) {
      if (apiCode(err) !== 10059) throw err;
      const window = o.duplicate_window ?? DEFAULT_DUPLICATE_WINDOW_MS;
      await jsm.streams.add({ name: o.stream, subjects: [o.subject], duplicate_window: window * 1e6 });
      ctx.log.info('Created JetStream stream', {
        stream: o.stream,
        subject: o.subject,
        duplicateWindow: `${window / 1000}s`,
      });
    }
    streamChecked = true;
  };

  const publishAll = async (records: readonly EventRecord[]): Promise<Delivery> => {
    const nc = await connected();
    await ensureStream(nc).catch((err: unknown) => {
      throw new SinkError(`${target}: stream ${o.stream}: ${(err as Error).message}`, { cause: err });
    });
    const js = jetstream(nc, { timeout: timeoutMs });
    const expect = o.stream ? { streamName: o.stream } : undefined;
    // All at once on one connection: the server stores them in the order they were written.
    const settled = await Promise.allSettled(
      records.map((r) =>
        js.publish(o.subject, JSON.stringify(r), {
          msgID: r.id,
          timeout: timeoutMs,
          ...(expect ? { expect } : {}),
        }),
      ),
    );
    const rejected: Rejection[] = [];
    let retry: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') return;
      const why = malformed(s.reason);
      if (why !== undefined) rejected.push({ id: records[i]!.id, reason: why });
      else retry ??= s.reason;
    });
    if (retry !== undefined) {
      // A stream may have been deleted since it was checked: look again next time.
      streamChecked = false;
      const m = (retry as Error)?.message ?? String(retry);
      // Nobody answered the publish: the client reads that as "JetStream is not enabled".
      const unanswered = (retry as Error)?.name === 'JetStreamNotEnabled' || /no responders/i.test(m);
      const hint = unanswered ? ` (no stream captures subject ${o.subject}, or JetStream is off)` : '';
      throw new SinkError(`${target}: publish to ${o.subject}: ${m}${hint}`, { cause: retry });
    }
    return { rejected };
  };

  return {
    name,
    maxBatch: o.max_batch ?? MAX_BATCH,
    deliver(batch, signal): Promise<Delivery> {
      return untilAborted(() => publishAll(batch.records), signal);
    },
    async close() {
      const nc = connection ? await connection.catch(() => undefined) : undefined;
      connection = undefined;
      await nc?.drain().catch(() => nc.close());
    },
  };
}

export const natsSink: SinkKind<NatsOptions> = { kind: KIND, parse, create };
