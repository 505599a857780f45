/**
 * The API server's address and the credentials a kubeconfig gives, for what needs only those: the
 * kubelet client, which takes the kubeconfig's credentials (its CA, client certificate, bearer token)
 * when no --kubelet-* flag names others. A shard instance needs nothing else of the kubeconfig (it never
 * lists the API server), so it need not load client-node's KubeConfig (≈ 38 MiB and 0.3 s of a start,
 * shared/kube.ts).
 *
 * What this reads, it reads as KubeConfig does (test/unit/shared/kube-credentials.test.ts compares the
 * two): one kubeconfig file (the flag's, else $KUBECONFIG's, else ~/.kube/config) whose current
 * context's cluster has a server, a CA (file or data), `insecure-skip-tls-verify`, `tls-server-name`,
 * and whose user has a token, a `token-file`, a client certificate and key (files or data); or, without
 * any file, the in-cluster ServiceAccount. Anything else (several files to merge, exec and auth-provider
 * users, basic auth, impersonation, proxies, an entry KubeConfig would refuse) is left to KubeConfig
 * itself, errors included.
 */
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { loadKubeConfig } from './kube.ts';

export interface KubeCredentials {
  /** The API server's URL, without a trailing slash. */
  readonly server: string;
  /** Sets the TLS options and headers of a request as KubeConfig's method of the same name does. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
  /** Who read the kubeconfig: this module, or client-node's KubeConfig. */
  readonly reader: 'light' | 'client-node';
}

/** Where a pod's ServiceAccount is mounted (as client-node's SERVICEACCOUNT_ROOT). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A file's bytes, or base64 data (as client-node's bufferFromFileOrString: the file first). */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

interface Parts {
  server: string;
  caFile?: string;
  caData?: string;
  skipTlsVerify: boolean;
  tlsServerName?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  /** The bearer token: read once (a token or token-file), or from its file at most every minute. */
  token: () => string | undefined;
}

function credentials(p: Parts): KubeCredentials {
  return {
    server: p.server,
    reader: 'light',
    async applyToHTTPSOptions(opts) {
      if (p.skipTlsVerify) opts.rejectUnauthorized = false;
      if (p.tlsServerName) opts.servername = p.tlsServerName;
      const ca = fileOrData(p.caFile, p.caData);
      if (ca) opts.ca = ca;
      const cert = fileOrData(p.certFile, p.certData);
      if (cert) opts.cert = cert;
      const key = fileOrData(p.keyFile, p.keyData);
      if (key) opts.key = key;
      opts.headers ??= {};
      const token = p.token();
      if (token) (opts.headers as Record<string, string>).Authorization = `Bearer ${token}`;
    },
  };
}

/** A token file read again once a minute, as client-node's FileAuth does. */
function tokenFile(path: string): () => string | undefined {
  let token: string | undefined;
  let readAt = 0;
  return () => {
    if (token === undefined || Date.now() - readAt > 60_000) {
      token = readFileSync(path, 'utf8');
      readAt = Date.now();
    }
    return token;
  };
}

/** The in-cluster configuration (client-node's loadFromCluster), or null outside a pod. */
function inCluster(dir: string): Parts | null {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return null; // client-node would make a server URL of `undefined`: its error, then
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  return {
    server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caFile: join(dir, 'ca.crt'),
    skipTlsVerify: false,
    token: tokenFile(join(dir, 'token')),
  };
}

const named = (list: unknown, name: unknown, key: string): Json | undefined => {
  const found = (list as Json[]).find((e) => e.name === name);
  return found && isObject(found[key]) ? (found[key] as Json) : undefined;
};

/** One kubeconfig file's current cluster and user, or null for anything this module leaves to KubeConfig. */
function fromFile(file: string): Parts | null {
  // Loaded here, not at start (an in-cluster process reads no YAML); js-yaml, which KubeConfig reads
  // kubeconfigs with (the same module, when a process loads both): 4 MiB, where the yaml package is 12.
  const { load } = createRequire(import.meta.url)('js-yaml') as typeof import('js-yaml');
  const doc: unknown = load(readFileSync(file, 'utf8'));
  if (!isObject(doc)) return null;
  const { clusters, users, contexts } = doc;
  if (![clusters, users, contexts].every(Array.isArray)) return null;
  // Every entry as KubeConfig checks it (it refuses the file for any bad one, current or not).
  const ok =
    (clusters as unknown[]).every((c) => isObject(c) && c.name && isObject(c.cluster) && c.cluster.server) &&
    (users as unknown[]).every((u) => isObject(u) && u.name) &&
    (contexts as unknown[]).every((c) => isObject(c) && c.name && isObject(c.context) && c.context.cluster);
  if (!ok) return null;
  const context = named(contexts, doc['current-context'], 'context');
  if (!context) return null;
  const cluster = named(clusters, context.cluster, 'cluster');
  const user = context.user ? named(users, context.user, 'user') : undefined;
  if (!cluster || !user || typeof cluster.server !== 'string') return null;
  if (cluster['proxy-url'] || user.exec || user['auth-provider'] || user.username || user.password || user.as)
    return null;
  const root = dirname(file);
  const abs = (v: unknown) => {
    const f = str(v);
    return f === undefined || isAbsolute(f) ? f : join(root, f);
  };
  // A token-file is read once, when the file is loaded (client-node's findToken).
  const token =
    str(user.token) ??
    (str(user['token-file']) ? readFileSync(user['token-file'] as string, 'utf8') : undefined);
  return {
    server: cluster.server.replace(/\/$/, ''),
    caFile: abs(cluster['certificate-authority']),
    caData: str(cluster['certificate-authority-data']),
    skipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: str(cluster['tls-server-name']),
    certFile: abs(user['client-certificate']),
    certData: str(user['client-certificate-data']),
    keyFile: abs(user['client-key']),
    keyData: str(user['client-key-data']),
    token: () => token,
  };
}

/**
 * The credentials of `path` (as --kubeconfig takes it; empty: $KUBECONFIG, ~/.kube/config, in-cluster,
 * in client-node's order). A kubeconfig that cannot be used is a ConfigError naming `--<flag>`, as
 * loadKubeConfig's.
 */
export function kubeCredentials(
  path: string,
  flag = 'kubeconfig',
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubeCredentials {
  let files = path.split(delimiter).filter((f) => f !== '');
  if (files.length === 0 && process.env.KUBECONFIG)
    files = process.env.KUBECONFIG.split(delimiter).filter((f) => f !== '');
  if (files.length === 0 && process.env.HOME) {
    const home = join(process.env.HOME, '.kube', 'config');
    if (existsSync(home)) files = [home];
  }
  let parts: Parts | null = null;
  try {
    if (files.length === 1) parts = fromFile(files[0]!);
    else if (files.length === 0 && existsSync(join(serviceAccountDir, 'token')))
      parts = inCluster(serviceAccountDir);
  } catch {
    parts = null; // KubeConfig says what is wrong, in its words
  }
  if (parts) return credentials(parts);
  const kc = loadKubeConfig(path, flag);
  return {
    server: kc.getCurrentCluster()!.server,
    reader: 'client-node',
    applyToHTTPSOptions: (opts) => kc.applyToHTTPSOptions(opts),
  };
}
