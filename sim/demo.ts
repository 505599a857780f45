/**
 * `npm start`: the whole system on one machine. A simulated cluster (HTTPS kubelets with moving usage
 * and a development API server that aggregates metrics.k8s.io and serves Events, with watches), the
 * scrape function on its own ticker, the serve function and the events function (--loop, stdout sink),
 * all run as the real programs against Redis. The cluster lives: pods are replaced, one crash-loops,
 * one cannot be scheduled, and their Events are recorded (`kubectl get events -A -w`) and delivered by
 * the events function (its lines prefixed `[events]`). It writes .demo/kubeconfig and prints the
 * kubectl lines that work against it; Ctrl-C stops everything.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { resolve } from 'node:path';
import {
  defineProgram,
  duration,
  integer,
  loadConfig,
  loggingFlags,
  metricResolution,
  redisUrl,
  string,
  withDefault,
} from '../shared/config/index.ts';
import { createCA, issueLoopbackServerCertificate } from '../shared/pki.ts';
import { onShutdown, startProgram as startMain } from '../shared/program.ts';
import { startSim } from './index.ts';
import {
  listenedUrl,
  type Program,
  type RedisServer,
  redisAnswers,
  redisServerInstalled,
  startProgram,
  startRedisServer,
  waitFor,
} from './processes.ts';

const demoSpec = defineProgram({
  description: 'demo: a simulated cluster, the scrape and serve functions, and Redis, for kubectl top.',
  flags: [
    redisUrl,
    withDefault(metricResolution, '15s'),
    integer('nodes', { section: 'Demo', default: 4, min: 1, max: 500, help: 'How many simulated nodes.' }),
    integer('pods-per-node', {
      section: 'Demo',
      default: 8,
      min: 1,
      max: 110,
      help: 'Running pods per node.',
    }),
    string('dir', {
      section: 'Demo',
      default: '.demo',
      help: 'Where the kubeconfig and certificates are written.',
    }),
    string('seed', {
      section: 'Demo',
      help: "The simulated cluster's seed (its pods' names, uids, usage; default: a new one each run, as each run is a new cluster, so the events function, whose journal is in Redis, sees new Events).",
    }),
    duration('event-ttl', {
      section: 'Demo',
      default: '1h',
      positive: true,
      help: "How long the simulated API server keeps an Event after its last write (kube-apiserver's --event-ttl).",
    }),
    ...loggingFlags,
  ],
});

const { config, log } = startMain('demo', demoSpec, (argv, env) => loadConfig(demoSpec, argv, env));
const dir = resolve(config.dir);
const rel = (p: string) => (p.startsWith(`${process.cwd()}/`) ? p.slice(process.cwd().length + 1) : p);
const out = (line = '') => process.stdout.write(`${line}\n`);

const stops: (() => Promise<unknown>)[] = [];
let stopping = false;
const stopAll = async () => {
  stopping = true;
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
};
onShutdown(log, stopAll);

try {
  // Redis: the one given, or a private one when nothing answers there.
  let redis = config.redisUrl;
  if (!(await redisAnswers(redis))) {
    if (!redisServerInstalled()) {
      process.stderr.write(
        `error: no Redis answers at ${redis} and redis-server is not installed: install it ` +
          '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or pass --redis-url\n',
      );
      process.exit(1);
    }
    const server: RedisServer = await startRedisServer();
    stops.push(() => server.stop());
    redis = server.url;
    log.info('No Redis answered at --redis-url: started a private redis-server', {
      given: config.redisUrl,
      using: redis,
    });
  }

  await mkdir(dir, { recursive: true });
  out(`Starting a simulated cluster of ${config.nodes} nodes × ${config.podsPerNode} pods…`);
  const sim = await startSim({
    seed: config.seed === '' ? randomUUID() : config.seed,
    // Each run is a new cluster, with resourceVersions above any earlier run's: a checkpoint the events
    // function left in Redis is then older than anything this API server holds, and answered 410 Gone.
    resourceVersionBase: Date.now(),
    nodes: config.nodes,
    podsPerNode: config.podsPerNode,
    eventTtlMs: config.eventTtlMs,
    logger: log,
  });
  stops.push(() => sim.stop());
  const activity = sim.startActivity();
  stops.push(async () => activity.stop());

  // The serve function's certificate, from a CA the API server trusts (the APIService's caBundle).
  const serveCa = await createCA('metrics-serve-ca');
  const serveCert = await issueLoopbackServerCertificate(serveCa, 'metrics-serve');
  const file = (name: string) => resolve(dir, name);
  await Promise.all([
    writeFile(file('serve.crt'), serveCert.certPem),
    writeFile(file('serve.key'), serveCert.keyPem, { mode: 0o600 }),
    writeFile(file('kubelet-ca.crt'), sim.kubeletCaPem),
    sim.writeKubeconfig(file('scraper.kubeconfig'), 'scraper'),
    sim.writeKubeconfig(file('kubeconfig'), 'admin'),
    // The serve function's identity: TokenReview, SubjectAccessReview, extension-apiserver-authentication.
    sim.writeKubeconfig(file('serve.kubeconfig'), 'serve'),
    // The events function's identity: list and watch Events, nothing else.
    sim.writeKubeconfig(file('events.kubeconfig'), 'events'),
  ]);

  const prefixed = (name: string) => (line: string) => process.stderr.write(`[${name}] ${line}\n`);
  const common = [
    '--redis-url',
    redis,
    '--metric-resolution',
    `${config.metricResolutionMs / 1000}s`,
    '--v',
    String(config.v),
    // Nothing balances load in front of the demo's functions: Ctrl-C stops them at once.
    '--shutdown-delay-duration=0s',
  ];
  // Port 0: serve picks a free port and logs it (a port picked here could be taken before it binds).
  let serveUrl: string | undefined;
  const serve: Program = startProgram(
    'serve',
    [
      ...common,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      `--tls-cert-file=${file('serve.crt')}`,
      `--tls-private-key-file=${file('serve.key')}`,
      `--kubeconfig=${file('serve.kubeconfig')}`,
    ],
    (line) => {
      serveUrl ??= listenedUrl([line], 'Serving metrics.k8s.io securely');
      prefixed('serve')(line);
    },
  );
  stops.push(() => serve.stop());
  const scrape: Program = startProgram(
    'scrape',
    [
      ...common,
      '--loop',
      '--bind-address=127.0.0.1',
      '--port=0',
      `--kubeconfig=${file('scraper.kubeconfig')}`,
      `--kubelet-certificate-authority=${file('kubelet-ca.crt')}`,
      '--kubelet-use-node-status-port',
      '--kubelet-preferred-address-types=InternalIP',
      '--kubelet-request-timeout=5s',
    ],
    prefixed('scrape'),
  );
  stops.push(() => scrape.stop());
  // Every Event, once, as a record on its own line (the stdout sink), as the cluster produces them.
  const events: Program = startProgram(
    'events',
    [
      '--redis-url',
      redis,
      '--v',
      String(config.v),
      '--loop',
      '--sink',
      'stdout',
      '--flush-interval=1s',
      '--bind-address=127.0.0.1',
      '--port=0',
      '--shutdown-delay-duration=0s',
      // What it remembers of each event: at least the API server's TTL (its own least is 1m).
      `--event-ttl=${Math.max(60, Math.ceil(config.eventTtlMs / 1000))}s`,
      `--kubeconfig=${file('events.kubeconfig')}`,
    ],
    prefixed('events'),
  );
  stops.push(() => events.stop());
  for (const [name, p] of [
    ['serve', serve],
    ['scrape', scrape],
    ['events', events],
  ] as const) {
    void p.exited.then((code) => {
      // Ctrl-C reaches the functions too (one process group), then stopAll's SIGTERM: not unexpected.
      if (!stopping && code !== 'SIGTERM' && code !== 0) {
        log.error('A function stopped unexpectedly; stopping the demo', { function: name, exit: code });
        void stopAll().then(() => process.exit(1));
      }
    });
  }
  sim.registerMetricsBackend({
    url: await waitFor('the serve function to listen', 60_000, async () => serveUrl),
    caPem: serveCa.certPem,
    // Both APIServices, as the manifests register them.
    versions: ['v1beta1', 'v1'],
  });

  const kubeconfig = rel(file('kubeconfig'));
  out(`
The demo cluster is up: ${config.nodes} nodes, metrics every ${config.metricResolutionMs / 1000}s, Redis at ${redis}.
Try (the first numbers come after two scrapes):

  kubectl --kubeconfig ${kubeconfig} top nodes
  kubectl --kubeconfig ${kubeconfig} top pods -A
  kubectl --kubeconfig ${kubeconfig} top pods -n shop --containers --sort-by=cpu
  kubectl --kubeconfig ${kubeconfig} get --raw /apis/metrics.k8s.io/v1beta1/nodes
  kubectl --kubeconfig ${kubeconfig} get events -A
  kubectl --kubeconfig ${kubeconfig} get events -A -w

The events function delivers each of those Events once, as the [events] lines (its stdout sink).
Ctrl-C stops everything.
`);

  // Progress: say when metrics are served through the aggregated API for every node (a node is served
  // once two of its kubelet's samples have been scraped, which takes some nodes a cycle more than others).
  const started = Date.now();
  const poll = setInterval(() => {
    const req = https.get(
      `${sim.apiServer.url}/apis/metrics.k8s.io/v1beta1/nodes`,
      { ca: sim.apiServer.caPem, headers: { Authorization: `Bearer ${sim.tokens.admin}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          try {
            const items = (JSON.parse(body) as { items?: unknown[] }).items ?? [];
            if (res.statusCode === 200 && items.length >= config.nodes) {
              clearInterval(poll);
              out(
                `Metrics for ${items.length} nodes are served (after ${Math.round((Date.now() - started) / 1000)}s).`,
              );
            }
          } catch {
            // not yet
          }
        });
      },
    );
    req.on('error', () => undefined);
  }, 1000);
  stops.push(async () => clearInterval(poll));
} catch (err) {
  log.error('The demo failed to start', { err: err instanceof Error ? err.message : String(err) });
  await stopAll();
  process.exit(1);
}
