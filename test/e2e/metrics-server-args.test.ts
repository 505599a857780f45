/**
 * Issue 9.6 as a user meets it: metrics-server's own argument list (manifests/base/deployment.yaml)
 * given to both programs, `npm run scrape -- …` and `npm run serve -- …`, against the simulated cluster.
 * Each runs, and says in one info line which of the flags belong to the other function; a flag of
 * metrics-server that has no meaning here stops the program with one line saying why.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keys } from '../../shared/store/keys.ts';
import { listenedUrl, startProgram, waitFor } from '../../sim/processes.ts';
import { type Cluster, startCluster } from './harness.ts';

const upstream = JSON.parse(
  await readFile(new URL('../fixtures/metrics-server/upstream.json', import.meta.url), 'utf8'),
) as { arguments: { deployment: { args: string[] } } };
/** --cert-dir=/tmp --secure-port=10250 --kubelet-preferred-address-types=… --kubelet-use-node-status-port --metric-resolution=15s */
const DEPLOYMENT = upstream.arguments.deployment.args;

let c: Cluster;
before(async () => {
  c = await startCluster({ nodes: 2, podsPerNode: 2, seed: 'e2e-ms-args', specialPods: false });
});
after(async () => c?.stop());

/** The info lines saying a flag is another function's: [flag, the function that uses it]. */
const ignoredFlags = (lines: string[]) =>
  lines
    .filter((l) => l.includes('"Flag used by another function; ignored here"'))
    .map((l) => /flag="([^"]+)" usedBy="([^"]+)"/.exec(l)?.slice(1));

/** What only this cluster can tell: where Redis, the API server and the kubelets' CA are. */
const connection = () => [`--redis-url=${c.db.url}`, `--kubeconfig=${c.file('scraper.kubeconfig')}`];

describe("metrics-server's deployment arguments, unchanged", () => {
  test('npm run scrape -- <them> --once scrapes every node and notes --cert-dir and --secure-port as serve’s', async () => {
    await c.db.redis.del(keys.scrapeLock);
    const lines: string[] = [];
    const args = [
      ...DEPLOYMENT,
      ...connection(),
      `--kubelet-certificate-authority=${c.file('kubelet-ca.crt')}`,
      '--once',
    ];
    const code = await startProgram('scrape', args, (l) => lines.push(l)).exited;
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(
      ignoredFlags(lines),
      [
        ['--cert-dir', 'serve'],
        ['--secure-port', 'serve'],
      ],
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /"Scrape cycle finished" nodes=2 scraped=2 failed=0/.test(l)),
      lines.join('\n'),
    );
  });

  test('npm run serve -- <them> serves HTTPS with its certificate in --cert-dir, noting the kubelet flags as scrape’s', async () => {
    // The only two values changed: this machine's /tmp and port 10250 are shared with other tests.
    const certDir = await mkdtemp(join(tmpdir(), 'ms-args-serve-'));
    const args = DEPLOYMENT.map((a) =>
      a === '--cert-dir=/tmp' ? `--cert-dir=${certDir}` : a === '--secure-port=10250' ? '--secure-port=0' : a,
    );
    assert.notDeepEqual(args, DEPLOYMENT);
    const lines: string[] = [];
    const serve = startProgram(
      'serve',
      [
        ...args,
        `--redis-url=${c.db.url}`,
        `--kubeconfig=${c.file('serve.kubeconfig')}`,
        '--bind-address=127.0.0.1',
      ],
      (l) => lines.push(l),
    );
    try {
      await waitFor('serve to listen', 15_000, async () =>
        lines.some((l) => l.includes('"Serving metrics.k8s.io securely"')),
      );
      // Port 0: it picks a free one (its default, 10250, would be metrics-server's and not free here).
      const url = listenedUrl(lines, 'Serving metrics.k8s.io securely');
      assert.match(url ?? '', /^https:\/\/127\.0\.0\.1:(?!10250")\d+$/, lines.join('\n'));
      assert.match(await readFile(join(certDir, 'apiserver.crt'), 'utf8'), /BEGIN CERTIFICATE/);
      assert.deepEqual(
        ignoredFlags(lines),
        [
          ['--kubelet-preferred-address-types', 'scrape'],
          ['--kubelet-use-node-status-port', 'scrape'],
        ],
        lines.join('\n'),
      );
    } finally {
      assert.equal(await serve.stop(), 0, lines.join('\n'));
      await rm(certDir, { recursive: true, force: true });
    }
  });
});

describe('a metrics-server flag with no meaning here', () => {
  test('stops either program at start with exit 2 and one line saying why', async () => {
    for (const fn of ['scrape', 'serve'] as const) {
      const lines: string[] = [];
      const code = await startProgram(fn, [...DEPLOYMENT, '--audit-log-path=-'], (l) => lines.push(l)).exited;
      assert.equal(code, 2);
      assert.deepEqual(lines, [
        "error: --audit-log-path is a metrics-server flag that has no meaning here: the serve function keeps no audit log: it answers read-only metrics.k8s.io requests, and kube-apiserver's audit log records each of them on its way through the aggregator",
      ]);
    }
  });
});

describe('a kubeconfig that cannot be loaded', () => {
  test('stops the scraper at start with exit 2 and one line naming the flag and the file', async () => {
    const lines: string[] = [];
    const code = await startProgram('scrape', ['--once', '--kubeconfig=/no/such.kubeconfig'], (l) =>
      lines.push(l),
    ).exited;
    assert.equal(code, 2);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^error: cannot load --kubeconfig \/no\/such\.kubeconfig: ENOENT: no such file/);
  });
});

describe('--version', () => {
  test("prints the project's version, as metrics-server prints its own", async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const fn of ['scrape', 'serve'] as const) {
      const lines: string[] = [];
      assert.equal(await startProgram(fn, ['--version'], (l) => lines.push(l)).exited, 0);
      assert.deepEqual(lines, [`v${version}`]);
    }
  });
});
