/**
 * The events function's flags (DESIGN.md, *Events*) and their rules. Sinks are only checked for their
 * form here (`KIND` or `KIND:OPTIONS`); each kind parses its options at start in functions/events, where
 * the kinds live, and a bad one stops the program there with the same one-line error.
 */
import { ipAddress } from './checks.ts';
import { kubeconfig, loggingFlags, redisFlags, redisRules, servingFlags } from './flags.ts';
import { loadConfig } from './load.ts';
import { type ConfigFor, defineProgram } from './program.ts';
import { boolean, type Check, duration, port, string, stringArray } from './spec.ts';

const TRIGGER = 'Trigger';
const EVENTS = 'Source';
const SINKS = 'Sink';

/** `stdout`, `redis:?stream=x`, `influxdb:http://host:8086?db=k8s`: a lower-case kind, then its options. */
const sinkForm: Check<string> = (v) =>
  /^[a-z][a-z0-9]*(:|$)/.test(v)
    ? undefined
    : `${JSON.stringify(v)} is not KIND or KIND:OPTIONS (such as stdout or redis:?stream=k8s-events)`;

/** A namespace name (a DNS label), or empty for all namespaces. */
const namespaceName: Check<string> = (v) =>
  v === '' || /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)
    ? undefined
    : 'must be a namespace name (lower-case letters, digits and -, at most 63), or empty for all namespaces';

export const eventsSpec = defineProgram({
  description:
    'events: reads Kubernetes Events from a checkpoint, journals each version once in Redis, and delivers them to every sink.',
  flags: [
    kubeconfig,
    ...servingFlags,
    ...redisFlags,
    stringArray('sink', {
      section: SINKS,
      item: sinkForm,
      help:
        "A sink to deliver events to, as KIND or KIND:OPTIONS (heapster's form); repeat the flag for more sinks: stdout, redis:?stream=k8s-events, redis:redis://host:6379/2?stream=k8s-events, " +
        'influxdb:http://host:8086?db=k8s, kafka:?brokers=h1:9092,h2:9092&topic=k8s-events, s3:?bucket=B&prefix=events, webhook:https://host/path, nats:nats://host:4222?subject=k8s.events. ' +
        'A sink is named after its kind (its position in the journal is kept under that name); name several of one kind in --sink-config. In $SINK, separate sinks with spaces.',
    }),
    string('sink-config', {
      section: SINKS,
      help: 'A YAML file of named sinks with routing rules (match and drop by namespace, kind, reason, type, component; anchored regular expressions), in addition to --sink. See docs/events.md.',
    }),
    duration('flush-interval', {
      section: SINKS,
      default: '5s',
      positive: true,
      help: 'Under --loop: the longest a journaled event waits for its batch to fill before it is sent to a sink.',
    }),
    duration('journal-max-age', {
      section: SINKS,
      default: '24h',
      min: '1m',
      help: "How long the journal keeps events a sink has not accepted yet (a sink that is down gets them when it is back), and how long a removed sink's position is kept.",
    }),
    string('namespace', {
      section: EVENTS,
      check: namespaceName,
      help: 'Only read the Events of this namespace (default: all namespaces).',
    }),
    duration('event-ttl', {
      section: EVENTS,
      default: '1h',
      min: '1m',
      help: "The API server's --event-ttl (OpenShift: 3h). Each event's versions are remembered this long plus 15m, so that a re-list never journals one again.",
    }),
    boolean('once', {
      section: TRIGGER,
      help: 'Run one pass (read what is new since the checkpoint, deliver to every sink), then exit: 0 when every sink has everything journaled, 1 when a sink is still behind or the pass could not run.',
    }),
    boolean('loop', {
      section: TRIGGER,
      help: 'Keep a watch open and deliver as events arrive; another instance with --loop waits as a standby and takes over when this one goes.',
    }),
    duration('leader-elect-lease-duration', {
      section: TRIGGER,
      default: '15s',
      min: '2s',
      help: "As kube-controller-manager's: how long the instance that reads and delivers holds its lease in Redis without renewing it (it renews every third of that). When it dies, another instance takes over within this long.",
    }),
    duration('pass-timeout', {
      section: TRIGGER,
      default: '4m',
      min: '10s',
      help: "The longest one pass (POST /, --once) reads and delivers; keep it below the platform's request timeout (Knative: 5m). What is left is done by the next pass.",
    }),
    port('port', {
      section: TRIGGER,
      default: 8080,
      zero: 'pick a free port',
      help: 'The plain-HTTP port of the trigger server (POST / runs a pass), health probes and /metrics; not opened with --once.',
    }),
    string('bind-address', {
      section: TRIGGER,
      default: '0.0.0.0',
      check: ipAddress,
      help: 'The IP address on which to listen for the --port port. If 0.0.0.0 or ::, all interfaces will be used.',
    }),
    ...loggingFlags,
  ],
  rules: [
    ...redisRules,
    (c, x) => (c.once && c.loop ? `cannot use both ${x.ref('once')} and ${x.ref('loop')}` : undefined),
    (c) =>
      c.sink.length === 0 && c.sinkConfig === ''
        ? 'no sink: give at least one --sink (such as --sink stdout) or a --sink-config file'
        : undefined,
  ],
});

export type EventsConfig = ConfigFor<typeof eventsSpec>;

/** The events function's configuration from argv (without node and the script) and the environment; throws ConfigError. */
export function loadEventsConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): EventsConfig {
  return loadConfig(eventsSpec, argv, env);
}
