/**
 * The simulated cluster in one call: the model, one fake kubelet per node, and the development API
 * server in front of them (with its Events and the history behind its watches), with their PKI
 * (cluster CA, kubelet serving CA, front-proxy CA) and users. What `npm start`, the end-to-end tests
 * and the benchmark run against.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Logger } from '../shared/log.ts';
import {
  type CertificateAndKey,
  createCA,
  issueCertificate,
  issueCertificatesSharingKey,
} from '../shared/pki.ts';
import { type Activity, type ActivityOptions, startActivity } from './activity.ts';
import {
  type MetricsBackendRegistration,
  type ReviewRecord,
  type SimApiServer,
  startApiServer,
} from './apiserver.ts';
import { SimAuth, type SimRole, type SimUser, type UserSpec } from './auth.ts';
import type { EventStore } from './events.ts';
import type { History } from './history.ts';
import { type KubeletFleet, type KubeletFleetOptions, startKubelets } from './kubelet.ts';
import { type EventLoad, startEventLoad } from './load.ts';
import { createSimCluster, type SimCluster } from './model.ts';
import type { EventRecorder } from './recorder.ts';
import { createApiState } from './state.ts';

export interface StartSimOptions {
  nodes: number;
  /** Running pods per node; default 30. */
  podsPerNode?: number;
  seed?: string | number;
  /** The resourceVersion before the cluster's first object; default 1000 (see SimClusterOptions). */
  resourceVersionBase?: number;
  /** Application namespaces; default default, shop, payments, analytics, monitoring. */
  namespaces?: string[];
  /** Kubelet housekeeping interval; default 10 s. */
  housekeepingMs?: number;
  /** Node i's kubelet listens on kubeletPortBase + i; default: ephemeral ports. */
  kubeletPortBase?: number;
  /** The API server's port; default ephemeral. */
  apiServerPort?: number;
  /** Extra users, or changes to the default ones (matched by name). */
  users?: UserSpec[];
  /** The Pending/Succeeded/zero-memory/young pods (default true). */
  specialPods?: boolean;
  /** Kubelet responses remembered per node (default 8; 0 for benchmarks). */
  servedHistory?: number;
  /** The kubelets' clock (default Date.now); see KubeletFleetOptions.now. */
  kubeletClock?: () => number;
  /** How long an Event lives after its last write (kube-apiserver's `--event-ttl`); default 1 h. */
  eventTtlMs?: number;
  /** How long the API server keeps changes for watches and continue tokens; default 5 min. */
  historyWindowMs?: number;
  /** At most this many changes kept per resource; default 102,400. */
  historyMaxPerResource?: number;
  /** Watch BOOKMARK period; default 60 s. */
  bookmarkIntervalMs?: number;
  /** Changes a watcher may have unsent before the API server ends its watch; default 100,000. */
  watchMaxPending?: number;
  /** Record the kubelets' start-up Events (Starting, NodeReady, …) when the sim starts; default true. */
  nodeStartupEvents?: boolean;
  /**
   * Starts the kubelets (default: `startKubelets`, every kubelet in this process). The benchmark passes
   * one that serves them from worker processes (`bench/kubelet-workers.ts`), so that at 10,000 nodes
   * their CPU, memory and sockets are spread over processes of their own.
   */
  startKubelets?: (opts: KubeletFleetOptions) => Promise<KubeletFleet>;
  logger?: Logger;
}

/** The default users by the part they play; `kubeconfigYaml` accepts these names or a full user name. */
export type SimUserRole = Exclude<SimRole, 'none'> | 'nobody';

export interface Sim {
  cluster: SimCluster;
  apiServer: { url: string; port: number; caPem: string };
  /** CA of the kubelets' serving certificates (the scraper's `--kubelet-certificate-authority`). */
  kubeletCaPem: string;
  /** CA of the front-proxy client certificate (the serve function's `--requestheader-client-ca-file`). */
  frontProxyCaPem: string;
  /** The aggregator's client certificate (CN front-proxy-client), signed by the front-proxy CA. */
  frontProxyClient: CertificateAndKey;
  /** A client certificate for the scraper's user, signed by the cluster CA (kubelets accept it). */
  scraperClient: CertificateAndKey;
  tokens: Record<SimUserRole, string>;
  users: readonly SimUser[];
  kubelets: KubeletFleet;
  kubeconfigYaml(user?: SimUserRole | string): string;
  writeKubeconfig(path: string, user?: SimUserRole | string): Promise<void>;
  /** Makes `/apis/metrics.k8s.io` an aggregated API served by this backend (the front-proxy client cert by default). */
  registerMetricsBackend(
    b: Omit<MetricsBackendRegistration, 'frontProxyClient'> & { frontProxyClient?: CertificateAndKey },
  ): void;
  unregisterMetricsBackend(): void;
  /** Every TokenReview and SubjectAccessReview the API server answered (what delegating servers asked). */
  reviews(): readonly ReviewRecord[];
  /** Changes kube-system/extension-apiserver-authentication (see SimApiServer). */
  updateAuthenticationConfig(data: Record<string, string | undefined>): void;
  /** Issues a client certificate from the front-proxy CA (e.g. a second proxy with another name). */
  issueFrontProxyClient(commonName: string): Promise<CertificateAndKey>;
  /** Issues a client certificate from the cluster CA (user = CN, groups = O, as kube-apiserver reads it). */
  issueClusterClient(commonName: string, organizations?: string[]): Promise<CertificateAndKey>;
  /** The stored core/v1 Events: emit, record (fold repeats), bump, rewrite, delete, expire, set the TTL. */
  events: EventStore;
  /** The events the cluster's components record as objects change (BackOff, FailedScheduling on demand). */
  recorder: EventRecorder;
  /** The changes behind watches and continue tokens; `history.compact()` makes older ones 410 Gone. */
  history: History;
  /** Open watches; `sendBookmarks()` and `closeAll()` for tests. */
  watches: SimApiServer['watches'];
  /** Makes the cluster live (rollouts, a crash-looping pod, an unschedulable one); stop() ends it. */
  startActivity(opts?: ActivityOptions): Activity;
  /** Synthetic Events at a sustained rate (the events benchmark's load); stop() ends it. */
  startEventLoad(perSecond: number): EventLoad;
  stop(): Promise<void>;
}

const ROLE_USER: Record<SimUserRole, string> = {
  admin: 'admin',
  scraper: 'system:serviceaccount:kube-system:metrics-scraper',
  serve: 'system:serviceaccount:kube-system:metrics-serve',
  events: 'system:serviceaccount:kube-system:metrics-events',
  viewer: 'viewer',
  nobody: 'nobody',
};

export async function startSim(opts: StartSimOptions): Promise<Sim> {
  const cluster = createSimCluster({
    nodes: opts.nodes,
    podsPerNode: opts.podsPerNode,
    seed: opts.seed,
    namespaces: opts.namespaces,
    housekeepingMs: opts.housekeepingMs,
    specialPods: opts.specialPods,
    ...(opts.resourceVersionBase === undefined ? {} : { resourceVersionBase: opts.resourceVersionBase }),
  });
  const auth = new SimAuth(opts.users ?? []);
  const [clusterCa, kubeletCa, frontProxyCa] = await Promise.all([
    createCA('kubernetes'),
    createCA('kubelet-serving-ca'),
    createCA('front-proxy-ca'),
  ]);
  const [serving, kubeletClient, frontProxyClient, scraperClient] = await Promise.all([
    issueCertificate(clusterCa, {
      commonName: 'kube-apiserver',
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    }),
    issueCertificate(clusterCa, {
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      usage: 'client',
    }),
    issueCertificate(frontProxyCa, { commonName: 'front-proxy-client', usage: 'client' }),
    issueCertificate(clusterCa, { commonName: ROLE_USER.scraper, usage: 'client' }),
  ]);
  const kubeletCerts = await issueCertificatesSharingKey(
    kubeletCa,
    cluster.nodes().map((n) => ({
      commonName: `system:node:${n.name}`,
      organizations: ['system:nodes'],
      dnsNames: [n.name],
      ipAddresses: [n.internalIP],
      usage: 'server' as const,
    })),
  );
  const certificates = new Map(cluster.nodes().map((n, i) => [n.name, kubeletCerts[i]!]));

  const kubelets = await (opts.startKubelets ?? startKubelets)({
    cluster,
    certificates,
    clientCaPem: clusterCa.certPem,
    auth,
    portBase: opts.kubeletPortBase,
    history: opts.servedHistory,
    now: opts.kubeletClock,
    logger: opts.logger,
  });
  // The API server's state starts once the kubelets are up: their start-up is its first events.
  const state = createApiState(cluster, {
    clientCaPem: clusterCa.certPem,
    requestHeaderCaPem: frontProxyCa.certPem,
    configMapUid: randomUUID(),
    ...(opts.eventTtlMs === undefined ? {} : { eventTtlMs: opts.eventTtlMs }),
    ...(opts.historyWindowMs === undefined ? {} : { historyWindowMs: opts.historyWindowMs }),
    ...(opts.historyMaxPerResource === undefined
      ? {}
      : { historyMaxPerResource: opts.historyMaxPerResource }),
    ...(opts.nodeStartupEvents === undefined ? {} : { nodeStartupEvents: opts.nodeStartupEvents }),
  });
  let apiServer: SimApiServer;
  try {
    apiServer = await startApiServer({
      state,
      auth,
      serving,
      clusterCaPem: clusterCa.certPem,
      kubeletCaPem: kubeletCa.certPem,
      kubeletClient,
      frontProxyCaPem: frontProxyCa.certPem,
      port: opts.apiServerPort,
      ...(opts.bookmarkIntervalMs === undefined ? {} : { bookmarkIntervalMs: opts.bookmarkIntervalMs }),
      ...(opts.watchMaxPending === undefined ? {} : { watchMaxPending: opts.watchMaxPending }),
      logger: opts.logger,
    });
  } catch (err) {
    state.close();
    await kubelets.close();
    throw err;
  }
  const running = new Set<{ stop(): void }>();
  const track = <T extends { stop(): void }>(t: T): T => {
    running.add(t);
    const stop = t.stop.bind(t);
    t.stop = () => {
      running.delete(t);
      stop();
    };
    return t;
  };

  const tokenOf = (name: string) => {
    const u = auth.user(name);
    if (!u)
      throw new Error(
        `no user "${name}" in the simulated cluster (known: ${auth.users.map((x) => x.name).join(', ')})`,
      );
    return u.token;
  };
  const tokens = Object.fromEntries(
    Object.entries(ROLE_USER).map(([role, name]) => [role, tokenOf(name)]),
  ) as Record<SimUserRole, string>;
  const kubeconfigYaml = (user: SimUserRole | string = 'admin') => {
    const name = ROLE_USER[user as SimUserRole] ?? user;
    return kubeconfig(apiServer.url, clusterCa.certPem, name, tokenOf(name));
  };

  let stopped: Promise<void> | undefined;
  return {
    cluster,
    apiServer: { url: apiServer.url, port: apiServer.port, caPem: clusterCa.certPem },
    kubeletCaPem: kubeletCa.certPem,
    frontProxyCaPem: frontProxyCa.certPem,
    frontProxyClient,
    scraperClient,
    tokens,
    users: auth.users,
    kubelets,
    kubeconfigYaml,
    writeKubeconfig: (path, user) => writeFile(path, kubeconfigYaml(user), { mode: 0o600 }),
    registerMetricsBackend: (b) =>
      apiServer.registerMetricsBackend({ ...b, frontProxyClient: b.frontProxyClient ?? frontProxyClient }),
    unregisterMetricsBackend: () => apiServer.unregisterMetricsBackend(),
    reviews: () => apiServer.reviews(),
    updateAuthenticationConfig: (data) => apiServer.updateAuthenticationConfig(data),
    issueFrontProxyClient: (commonName) => issueCertificate(frontProxyCa, { commonName, usage: 'client' }),
    issueClusterClient: (commonName, organizations = []) =>
      issueCertificate(clusterCa, { commonName, organizations, usage: 'client' }),
    events: state.events,
    recorder: state.recorder,
    history: state.history,
    watches: apiServer.watches,
    startActivity: (o = {}) => track(startActivity({ cluster, recorder: state.recorder, ...o })),
    startEventLoad: (perSecond) => track(startEventLoad({ cluster, events: state.events, perSecond })),
    stop: () => {
      stopped ??= (async () => {
        for (const t of [...running]) t.stop();
        state.close();
        await Promise.all([apiServer.close(), kubelets.close()]);
      })();
      return stopped;
    },
  };
}

/** A kubeconfig for one user of the simulated cluster (bearer token, cluster CA inline). */
export function kubeconfig(server: string, caPem: string, userName: string, token: string): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sim',
    '  cluster:',
    `    server: ${q(server)}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'contexts:',
    '- name: sim',
    '  context:',
    '    cluster: sim',
    `    user: ${q(userName)}`,
    '    namespace: default',
    'current-context: sim',
    'preferences: {}',
    'users:',
    `- name: ${q(userName)}`,
    '  user:',
    `    token: ${q(token)}`,
    '',
  ].join('\n');
}

export type { Activity, ActivityOptions } from './activity.ts';
export type { MetricsBackendRegistration, ReviewRecord } from './apiserver.ts';
export type { SimUser, UserSpec } from './auth.ts';
export type { EventSpec, EventStore, ObjectReference, SimEvent } from './events.ts';
export type { KubeletFleet, ServedRecord } from './kubelet.ts';
export type { EventLoad } from './load.ts';
export type { KubeletFault, KubeletFaultInput, SimCluster } from './model.ts';
export type { ServedSample } from './resource-metrics.ts';
