/**
 * The end-to-end harness: a simulated cluster, the serve function and the scraper run as the real
 * programs (exactly as `npm run serve` / `npm run scrape -- --once`), a private Redis database, and the
 * real clients (the kubectl binaries, @kubernetes/client-node).
 */
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createCA, issueLoopbackServerCertificate } from '../../shared/pki.ts';
import { type Sim, type StartSimOptions, startSim } from '../../sim/index.ts';
import { listenedUrl, type Program, startProgram, waitFor } from '../../sim/processes.ts';
import { leaseTestDb, type TestDb } from '../helpers/redis.ts';

/** The folder of the versioned kubectl binaries (kubectl.1.27 … kubectl.1.33) beside the one on PATH. */
function kubectlDir(): string {
  const which = (process.env.PATH ?? '')
    .split(':')
    .map((d) => join(d, 'kubectl'))
    .find((p) => {
      try {
        return realpathSync(p) !== '';
      } catch {
        return false;
      }
    });
  if (!which) throw new Error('kubectl is not on the PATH');
  return dirname(realpathSync(which));
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Cluster {
  sim: Sim;
  db: TestDb;
  dir: string;
  /** `https://127.0.0.1:<port>` of the serve function, reached directly (not through the aggregator). */
  serveUrl: string;
  /** The CA of the serve function's serving certificate. */
  serveCaPem: string;
  /** A path in the cluster's temporary folder. */
  file(name: string): string;
  serveLog: string[];
  /** The last `--once` run's output lines. */
  scrapeLog: string[];
  /**
   * The scraper's flags against this cluster (Redis, kubeconfig, kubelet CA and addresses, the
   * resolution, a 2 s kubelet timeout); a later flag of the same name wins.
   */
  scrapeArgs(...overrides: string[]): string[];
  /** One scrape cycle through the real program (`scrape --once`: one cycle now, whatever the lock says). */
  cycle(
    extraArgs?: string[],
    env?: Record<string, string>,
  ): Promise<{ code: number | NodeJS.Signals; lines: string[] }>;
  /** kubectl as admin, or with another kubeconfig. */
  kubectl(args: string[], version?: string, kubeconfig?: string): Promise<Run>;
  stop(): Promise<void>;
}

/**
 * metrics-server's default resolution: points live 60 s + grace, so a slow machine running the whole
 * suite never sees them expire mid-test (cycles are driven by the tests, not by the clock).
 */
export const RESOLUTION = '60s';

export interface ClusterOptions {
  /** Extra flags for the serve program. */
  serveArgs?: string[];
}

export async function startCluster(simOptions: StartSimOptions, o: ClusterOptions = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-e2e-'));
  const db = await leaseTestDb();
  const sim = await startSim(simOptions);
  const file = (n: string) => join(dir, n);
  const serveCa = await createCA('e2e-serve-ca');
  const cert = await issueLoopbackServerCertificate(serveCa, 'serve');
  await Promise.all([
    writeFile(file('serve.crt'), cert.certPem),
    writeFile(file('serve.key'), cert.keyPem),
    writeFile(file('kubelet-ca.crt'), sim.kubeletCaPem),
    sim.writeKubeconfig(file('scraper.kubeconfig'), 'scraper'),
    sim.writeKubeconfig(file('admin.kubeconfig'), 'admin'),
    // The serve function's own identity: TokenReview, SubjectAccessReview, the authentication ConfigMap.
    sim.writeKubeconfig(file('serve.kubeconfig'), 'serve'),
  ]);
  const serveLog: string[] = [];
  const serve: Program = startProgram(
    'serve',
    [
      `--redis-url=${db.url}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      `--tls-cert-file=${file('serve.crt')}`,
      `--tls-private-key-file=${file('serve.key')}`,
      `--kubeconfig=${file('serve.kubeconfig')}`,
      // Stopped at once: the shutdown delay has its own test.
      '--shutdown-delay-duration=0s',
      ...(o.serveArgs ?? []),
    ],
    (l) => serveLog.push(l),
  );
  const serveUrl = await waitFor('the serve function to listen', 15_000, async () =>
    listenedUrl(serveLog, 'Serving metrics.k8s.io'),
  ).catch(async (err: unknown) => {
    await serve.stop();
    await sim.stop();
    await db.release();
    throw new Error(`${err instanceof Error ? err.message : String(err)}; its log:\n${serveLog.join('\n')}`);
  });
  sim.registerMetricsBackend({
    url: serveUrl,
    caPem: serveCa.certPem,
    // Both APIServices, as the manifests register them.
    versions: ['v1beta1', 'v1'],
  });
  const kubectls = kubectlDir();
  const scrapeLog: string[] = [];
  const scrapeArgs = (...overrides: string[]) => {
    const named = new Set(overrides.map((a) => a.split('=')[0]));
    return [
      `--redis-url=${db.url}`,
      `--kubeconfig=${file('scraper.kubeconfig')}`,
      `--kubelet-certificate-authority=${file('kubelet-ca.crt')}`,
      '--kubelet-use-node-status-port',
      '--kubelet-preferred-address-types=InternalIP',
      `--metric-resolution=${RESOLUTION}`,
      '--kubelet-request-timeout=2s',
      // Stopped at once: the shutdown delay has its own test.
      '--shutdown-delay-duration=0s',
    ]
      .filter((a) => !named.has(a.split('=')[0]))
      .concat(overrides);
  };
  return {
    sim,
    db,
    dir,
    serveUrl,
    serveCaPem: serveCa.certPem,
    file,
    serveLog,
    scrapeLog,
    scrapeArgs,
    async cycle(extraArgs = [], env = {}) {
      scrapeLog.length = 0;
      const p = startProgram(
        'scrape',
        ['--once', ...scrapeArgs(...extraArgs)],
        (l) => scrapeLog.push(l),
        env,
      );
      const code = await p.exited;
      return { code, lines: [...scrapeLog] };
    },
    kubectl(args, version = '1.32', kubeconfig = file('admin.kubeconfig')) {
      return run(join(kubectls, `kubectl.${version}`), [
        `--kubeconfig=${kubeconfig}`,
        `--cache-dir=${file('kube-cache')}`,
        ...args,
      ]);
    },
    async stop() {
      await serve.stop();
      await sim.stop();
      await db.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** kubectl's table output as rows of cells (header first). */
export function table(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
}
