/** The scraper's flags (metrics-server's kubelet client flags, plus how it is triggered) and their rules. */
import { parseLabelSelector, SelectorError } from '../selectors/index.ts';
import { httpUrl, ipAddress } from './checks.ts';
import {
  kubeconfig,
  loggingFlags,
  metricResolution,
  redisFlags,
  redisRules,
  servingFlags,
  version,
} from './flags.ts';
import { loadConfig, type Notice } from './load.ts';
import { metricsServer } from './metrics-server.ts';
import { type ConfigFor, defineProgram, type Siblings } from './program.ts';
import { serveSpec } from './serve.ts';
import { boolean, type Check, duration, integer, listOf, oneOf, port, quantity, string } from './spec.ts';

const TRIGGER = 'Trigger';
const KUBELET = 'Kubelet client';
const SHARDS = 'Sharding';

/** Node address types, in metrics-server's default order of preference. */
export const ADDRESS_TYPES = ['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP'] as const;

const labelSelector: Check<string> = (v) => {
  if (v === '') return undefined;
  try {
    parseLabelSelector(v);
    return undefined;
  } catch (err) {
    if (err instanceof SelectorError) return `must be a label selector: ${err.message}`;
    throw err;
  }
};

export const scrapeSpec = defineProgram({
  description: 'scrape: reads every kubelet and writes node, pod and container usage to Redis.',
  // With serve, it replaces metrics-server: one argument list carries over to both.
  siblings: (): Siblings => ({ serve: serveSpec }),
  replaces: metricsServer,
  flags: [
    version,
    kubeconfig,
    metricResolution,
    ...servingFlags,
    ...redisFlags,
    boolean('once', {
      section: TRIGGER,
      help: 'Run one scrape cycle now, whenever the last one ran (after waiting for one in progress on another instance), then exit: 0 when a node was scraped or there are no nodes, non-zero when every node failed or the cycle could not run.',
    }),
    boolean('loop', {
      section: TRIGGER,
      help: 'Run a cycle every --metric-resolution on an own ticker, instead of waiting for HTTP triggers.',
    }),
    port('port', {
      section: TRIGGER,
      default: 8080,
      zero: 'pick a free port',
      help: 'The plain-HTTP port of the trigger server (POST / runs the cycle due, or answers why not), used without --once and --loop.',
    }),
    string('bind-address', {
      section: TRIGGER,
      default: '0.0.0.0',
      check: ipAddress,
      help: 'The IP address on which to listen for the --port port. If 0.0.0.0 or ::, all interfaces will be used.',
    }),
    port('kubelet-port', {
      section: KUBELET,
      default: 10250,
      help: 'The port to use to connect to Kubelets.',
    }),
    boolean('kubelet-use-node-status-port', {
      section: KUBELET,
      help: 'Use the port in the node status. Takes precedence over --kubelet-port flag.',
    }),
    listOf('kubelet-preferred-address-types', ADDRESS_TYPES, {
      section: KUBELET,
      default: ADDRESS_TYPES,
      help: 'The priority of node address types to use when determining which address to use to connect to a particular node',
    }),
    boolean('kubelet-insecure-tls', {
      section: KUBELET,
      help: 'Do not verify CA of serving certificates presented by Kubelets.  For testing purposes only.',
    }),
    string('kubelet-certificate-authority', {
      section: KUBELET,
      help: "Path to the CA to use to validate the Kubelet's serving certificates (defaults to the cluster CA).",
    }),
    string('kubelet-client-certificate', {
      section: KUBELET,
      help: 'Path to a client cert file for TLS (defaults to the bearer token of the kubeconfig).',
    }),
    string('kubelet-client-key', {
      section: KUBELET,
      help: 'Path to a client key file for TLS.',
    }),
    duration('kubelet-request-timeout', {
      section: KUBELET,
      default: '10s',
      positive: true,
      help: 'The length of time to wait before giving up on a single request to Kubelet. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h).',
    }),
    oneOf('kubelet-endpoint', ['resource', 'summary'], {
      section: KUBELET,
      default: 'resource',
      help: 'The kubelet API to read: resource (/metrics/resource) or summary (/stats/summary).',
    }),
    oneOf('kubelet-via', ['direct', 'proxy'], {
      section: KUBELET,
      default: 'direct',
      help: "How to reach Kubelets: direct (the node's address) or proxy (through the API server's /api/v1/nodes/NAME/proxy/, needs nodes/proxy).",
    }),
    integer('kubelet-concurrency', {
      section: KUBELET,
      default: 256,
      min: 1,
      help: 'How many Kubelets are fetched at once.',
    }),
    quantity('kubelet-max-response-size', {
      section: KUBELET,
      default: '16Mi',
      help: "The largest Kubelet response body accepted; a larger one fails that node's scrape.",
    }),
    string('node-selector', {
      section: KUBELET,
      short: 'l',
      check: labelSelector,
      help: 'Selector (label query) to filter nodes on; only matching nodes are scraped (e.g. -l key1=value1,key2=value2).',
    }),
    integer('shard-size', {
      section: SHARDS,
      default: 0,
      min: 0,
      help: 'Fan a cycle out in shards of this many nodes (0: no sharding). The instance that takes the cycle lists nodes and pods once, cuts the selected nodes into shards (the same way every cycle: sorted by name) and has each shard scraped, by POST /shard to --shard-url, or in this process without it (docs/scaling.md).',
    }),
    string('shard-url', {
      section: SHARDS,
      check: httpUrl,
      help: "Where the cycle's coordinator POSTs each shard: the scrape function's own Service URL (its trigger server, e.g. http://metrics-scraper.kube-system.svc), so the platform spreads the shards over its instances. Empty: shards run in the coordinator's process. Needs --shard-size and --shard-secret-file.",
    }),
    string('shard-secret-file', {
      section: SHARDS,
      help: 'File holding the shared secret (a mounted Secret; one trailing newline is dropped, at least 16 bytes) that authenticates POST /shard: the coordinator sends it, every instance checks it (constant-time). Without it, this instance answers POST /shard with 401.',
    }),
    duration('shard-timeout', {
      section: SHARDS,
      default: '0s',
      help: "How long the coordinator waits for a shard's answer; a shard that has not answered by then costs its nodes this cycle (they keep their last points until they expire). 0: --kubelet-request-timeout plus 5s, at most 90% of --metric-resolution.",
    }),
    ...loggingFlags,
  ],
  rules: [
    ...redisRules,
    (c, x) => (c.once && c.loop ? `cannot use both ${x.ref('once')} and ${x.ref('loop')}` : undefined),
    (c, x) =>
      c.kubeletCertificateAuthority !== '' && c.kubeletInsecureTls
        ? `cannot use both ${x.ref('kubelet-certificate-authority')} and ${x.ref('kubelet-insecure-tls')}`
        : undefined,
    (c, x) =>
      c.kubeletClientKey !== '' && c.kubeletClientCertificate === ''
        ? `${x.ref('kubelet-client-key')} requires --kubelet-client-certificate`
        : undefined,
    (c, x) =>
      c.kubeletClientCertificate !== '' && c.kubeletClientKey === ''
        ? `${x.ref('kubelet-client-certificate')} requires --kubelet-client-key`
        : undefined,
    (c, x) =>
      c.shardUrl !== '' && c.shardSize === 0 ? `${x.ref('shard-url')} requires --shard-size` : undefined,
    (c, x) =>
      c.shardUrl !== '' && c.shardSecretFile === ''
        ? `${x.ref('shard-url')} requires --shard-secret-file: a shard invocation is authenticated by its shared secret`
        : undefined,
    (c, x) =>
      c.shardTimeoutMs > (c.metricResolutionMs * 9) / 10
        ? `${x.ref('shard-timeout')} (${x.text('shard-timeout')}) must be at most 90% of ` +
          `${x.ref('metric-resolution')} (${x.text('metric-resolution')})`
        : undefined,
    (c, x) =>
      c.shardTimeoutMs > 0 && c.shardTimeoutMs <= c.kubeletRequestTimeoutMs
        ? `${x.ref('shard-timeout')} (${x.text('shard-timeout')}) must be longer than ` +
          `${x.ref('kubelet-request-timeout')} (${x.text('kubelet-request-timeout')}): a shard waits for its kubelets`
        : undefined,
    // As metrics-server: a request must end well inside the cycle it belongs to.
    (c, x) =>
      c.kubeletRequestTimeoutMs > (c.metricResolutionMs * 9) / 10
        ? `${x.ref('kubelet-request-timeout')} (${x.text('kubelet-request-timeout')}) must be at most 90% of ` +
          `${x.ref('metric-resolution')} (${x.text('metric-resolution')}): lower the timeout or raise the resolution`
        : undefined,
  ],
});

export type ScrapeConfig = ConfigFor<typeof scrapeSpec>;

/**
 * How long the coordinator waits for a shard (--shard-timeout, or its default): the kubelet timeout and
 * the shard's own work, well inside the resolution.
 */
export function shardTimeoutMs(c: ScrapeConfig): number {
  if (c.shardTimeoutMs > 0) return c.shardTimeoutMs;
  return Math.min(c.kubeletRequestTimeoutMs + 5000, (c.metricResolutionMs * 9) / 10);
}

export type AddressType = (typeof ADDRESS_TYPES)[number];

/**
 * The scraper's configuration from argv (without node and the script) and the environment; throws
 * ConfigError. Flags accepted but not used here go to `onNotice`.
 */
export function loadScrapeConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  onNotice?: (notice: Notice) => void,
): ScrapeConfig {
  return loadConfig(scrapeSpec, argv, env, onNotice);
}
