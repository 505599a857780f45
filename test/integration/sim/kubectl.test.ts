import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { startFakeMetricsBackend } from './metrics-backend.ts';

/** The versioned kubectl binaries stand beside the one `kubectl` links to (clients.md §0). */
function findKubectl(version: string): string | undefined {
  try {
    const linked = execFileSync('sh', ['-c', 'readlink -f "$(command -v kubectl)"'], {
      encoding: 'utf8',
    }).trim();
    const candidate = join(dirname(linked), `kubectl.${version}`);
    return existsSync(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

const KUBECTL = findKubectl('1.32');
let sim: Sim;
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL!,
      ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const columns = (line: string | undefined) => (line ?? '').trim().split(/\s{2,}/);

describe('real kubectl 1.32 against the development API server', {
  skip: KUBECTL ? false : 'kubectl.1.32 not found',
}, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-kubectl-'));
    sim = await startSim({ nodes: 2, podsPerNode: 5, seed: 'kubectl-it' });
    await sim.writeKubeconfig(join(dir, 'kubeconfig'), 'admin');
  });
  after(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('get --raw /api/v1/nodes prints the NodeList', async () => {
    const r = await kubectl('get', '--raw', '/api/v1/nodes');
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { name: string } }[] };
    assert.equal(list.kind, 'NodeList');
    assert.deepEqual(
      list.items.map((i) => i.metadata.name),
      ['sim-node-0001', 'sim-node-0002'],
    );
  });

  test('get nodes prints the server-side columns', async () => {
    const r = await kubectl('get', 'nodes');
    assert.equal(r.code, 0, r.stderr);
    const [header, first, second] = r.stdout.trimEnd().split('\n');
    assert.deepEqual(columns(header), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
    assert.deepEqual(columns(first).slice(0, 3), ['sim-node-0001', 'Ready', 'control-plane']);
    assert.deepEqual(columns(second).slice(0, 3), ['sim-node-0002', 'Ready', '<none>']);
    assert.equal(columns(first)[4], 'v1.32.0');
  });

  test('get pods -A lists every pod with its namespace, readiness and status', async () => {
    const r = await kubectl('get', 'pods', '-A');
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    assert.deepEqual(columns(header), ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    assert.equal(rows.length, sim.cluster.pods().length);
    const byKey = new Map(rows.map((row) => [`${columns(row)[0]}/${columns(row)[1]}`, columns(row)]));
    assert.equal(byKey.get(sim.cluster.specials.pending!)?.[3], 'ContainerCreating');
    assert.equal(byKey.get(sim.cluster.specials.succeeded!)?.[3], 'Completed');
    assert.equal(byKey.get(sim.cluster.specials.zeroWorkingSet!)?.[2], '2/2');
  });

  test('get --raw through the node proxy shows what a kubelet returns', async () => {
    const r = await kubectl('get', '--raw', '/api/v1/nodes/sim-node-0002/proxy/metrics/resource');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# HELP container_cpu_usage_seconds_total \[STABLE\]/);
  });

  test('top node without a metrics backend: "Metrics API not available"', async () => {
    const r = await kubectl('top', 'node');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: Metrics API not available$/m);
  });

  test('top node with a registered but unreachable backend: ServiceUnavailable', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, []);
    sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
    await backend.close();
    try {
      const r = await kubectl('top', 'node');
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /Error from server \(ServiceUnavailable\): the server is currently unable to handle the request \(get nodes\.metrics\.k8s\.io\)/,
      );
    } finally {
      sim.unregisterMetricsBackend();
    }
  });

  test('top node through the aggregator: metrics from the backend, capacity from the nodes', async () => {
    const backend = await startFakeMetricsBackend(sim.frontProxyCaPem, ['sim-node-0001', 'sim-node-0002']);
    sim.registerMetricsBackend({ url: backend.url, caPem: backend.caPem });
    try {
      const r = await kubectl('top', 'node');
      assert.equal(r.code, 0, r.stderr);
      const [header, first, second] = r.stdout.trimEnd().split('\n');
      assert.deepEqual(columns(header), ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)']);
      // The fake backend reports 250m/1024Mi and 500m/2048Mi.
      assert.deepEqual(
        [columns(first)[0], columns(first)[1], columns(first)[3]],
        ['sim-node-0001', '250m', '1024Mi'],
      );
      assert.deepEqual(
        [columns(second)[0], columns(second)[1], columns(second)[3]],
        ['sim-node-0002', '500m', '2048Mi'],
      );
      assert.ok(
        backend.seen.every(
          (s) => s.clientCN === 'front-proxy-client' && s.headers['x-remote-user'] === 'admin',
        ),
      );
    } finally {
      sim.unregisterMetricsBackend();
      await backend.close();
    }
  });
});
