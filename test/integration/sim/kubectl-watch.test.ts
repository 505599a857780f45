/**
 * The real kubectl binaries (1.27 to 1.33) against the development API server's Events and watches:
 * `kubectl get events -A` prints kube-apiserver's columns, and `-w` streams what happens next, as
 * `kubectl get pods -w` and `get nodes -w` do.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';

function kubectlDir(): string | undefined {
  try {
    return dirname(
      execFileSync('sh', ['-c', 'readlink -f "$(command -v kubectl)"'], { encoding: 'utf8' }).trim(),
    );
  } catch {
    return undefined;
  }
}
const DIR = kubectlDir();
const VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'].filter(
  (v) => DIR !== undefined && existsSync(join(DIR, `kubectl.${v}`)),
);
const binary = (v: string) => join(DIR!, `kubectl.${v}`);

let sim: Sim;
let dir: string;
const args = (...more: string[]) => [
  '--kubeconfig',
  join(dir, 'kubeconfig'),
  '--cache-dir',
  join(dir, 'cache'),
  ...more,
];
const env = () => ({ PATH: process.env.PATH ?? '', HOME: dir });

function kubectl(
  version: string,
  ...more: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary(version), args(...more), { env: env(), timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A kubectl that keeps running (`-w`): its output lines as they come. */
function streaming(version: string, ...more: string[]) {
  const child: ChildProcess = spawn(binary(version), args(...more), {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return {
    lines: () => out.split('\n').filter((l) => l !== ''),
    stderr: () => err,
    stop: () => child.kill('SIGKILL'),
  };
}

const columns = (line: string | undefined) => (line ?? '').trim().split(/\s{2,}/);

describe('kubectl get events and -w against the development API server', {
  skip: VERSIONS.length > 0 ? false : 'no versioned kubectl binaries beside kubectl',
}, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-kubectl-watch-'));
    sim = await startSim({ nodes: 2, podsPerNode: 4, seed: 'kubectl-watch' });
    await sim.writeKubeconfig(join(dir, 'kubeconfig'), 'admin');
  });
  after(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('get events -A: NAMESPACE, LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; old- and new-style rows alike', async () => {
    const pod = sim.cluster.pods().find((p) => p.namespace === 'shop' && p.nodeName !== undefined)!;
    const ref = { kind: 'Pod', namespace: 'shop', name: pod.name, uid: pod.uid, apiVersion: 'v1' };
    sim.events.record({
      involvedObject: ref,
      source: { component: 'kubelet', host: pod.nodeName! },
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
    });
    sim.events.record({
      involvedObject: ref,
      source: { component: 'kubelet', host: pod.nodeName! },
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
    });
    sim.events.emit({
      style: 'new',
      involvedObject: ref,
      reportingController: 'default-scheduler',
      reportingInstance: 'default-scheduler-x',
      action: 'Binding',
      reason: 'Scheduled',
      message: `Successfully assigned shop/${pod.name} to ${pod.nodeName}`,
    });
    for (const v of VERSIONS) {
      const r = await kubectl(v, 'get', 'events', '-A');
      assert.equal(r.code, 0, `${v}: ${r.stderr}`);
      const [header, ...rows] = r.stdout.trimEnd().split('\n');
      assert.deepEqual(columns(header), ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], v);
      assert.equal(rows.length, sim.events.size, v);
      const mine = rows.map(columns).filter((c) => c[4] === `pod/${pod.name}`);
      assert.deepEqual(
        mine.map((c) => [c[0], c[2], c[3]]),
        [
          ['shop', 'Warning', 'BackOff'],
          ['shop', 'Normal', 'Scheduled'],
        ],
        v,
      );
      assert.match(mine[1]![1]!, /^\d+s$/, `${v}: a new-style event's LAST SEEN comes from its eventTime`);
      const nodeRows = rows.map(columns).filter((c) => c[4] === 'node/sim-node-0001');
      assert.ok(
        nodeRows.some((c) => c[3] === 'NodeReady'),
        v,
      );
    }
    const wide = await kubectl(
      '1.32',
      'get',
      'events',
      '-n',
      'shop',
      '-o',
      'wide',
      '--field-selector',
      'reason=BackOff',
    );
    assert.equal(wide.code, 0, wide.stderr);
    const [h, row] = wide.stdout.trimEnd().split('\n');
    assert.deepEqual(columns(h), [
      'LAST SEEN',
      'TYPE',
      'REASON',
      'OBJECT',
      'SUBOBJECT',
      'SOURCE',
      'MESSAGE',
      'FIRST SEEN',
      'COUNT',
      'NAME',
    ]);
    assert.equal(columns(row)[4], `kubelet, ${pod.nodeName}`, 'no subobject: the column is blank');
    assert.equal(columns(row).at(-2), '2');
  });

  test('get events.events.k8s.io -A prints the same table from the other group', async () => {
    const r = await kubectl('1.32', 'get', 'events.events.k8s.io', '-A');
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    assert.deepEqual(columns(header), ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    assert.equal(rows.length, sim.events.size);
  });

  test('get events -A -w: the list, then each new event and each repeat as it happens', async () => {
    for (const v of VERSIONS) {
      const w = streaming(v, 'get', 'events', '-A', '-w');
      try {
        const listed = sim.events.size + 1; // the rows and the header
        await waitFor(`${v}: the list`, 15_000, async () => w.lines().length >= listed);
        await waitFor(`${v}: the watch`, 15_000, async () => sim.watches.active >= 1);
        const target = `node/sim-node-0002`;
        const message = `watched by kubectl ${v}`;
        sim.events.record({
          involvedObject: { kind: 'Node', name: 'sim-node-0002', uid: 'sim-node-0002' },
          source: { component: 'kubelet', host: 'sim-node-0002' },
          reason: 'Rebooted',
          type: 'Warning',
          message,
        });
        sim.events.record({
          involvedObject: { kind: 'Node', name: 'sim-node-0002', uid: 'sim-node-0002' },
          source: { component: 'kubelet', host: 'sim-node-0002' },
          reason: 'Rebooted',
          type: 'Warning',
          message,
        });
        await waitFor(
          `${v}: two watch rows`,
          15_000,
          async () => w.lines().filter((l) => l.includes(message)).length === 2,
        );
        const rows = w
          .lines()
          .filter((l) => l.includes(message))
          .map(columns);
        assert.deepEqual(
          rows.map((c) => [c[0], c[2], c[3], c[4]]),
          [
            ['default', 'Warning', 'Rebooted', target],
            ['default', 'Warning', 'Rebooted', target],
          ],
        );
        assert.equal(w.stderr(), '', v);
      } finally {
        w.stop();
      }
      await waitFor(`${v}: its watch to close`, 5000, async () => sim.watches.active === 0);
    }
  });

  test('get pods -w and get nodes -w stream the cluster’s changes', async () => {
    const pods = streaming('1.32', 'get', 'pods', '-n', 'payments', '-w');
    const nodes = streaming('1.32', 'get', 'nodes', '-w', '--output-watch-events');
    try {
      await waitFor('both watches', 15_000, async () => sim.watches.active === 2);
      sim.cluster.addPod({
        namespace: 'payments',
        name: 'ledger-w',
        nodeName: 'sim-node-0001',
        phase: 'Pending',
      });
      sim.cluster.setPodPhase('payments', 'ledger-w', 'Running');
      sim.cluster.setLabels(
        { node: 'sim-node-0002' },
        { ...sim.cluster.node('sim-node-0002')!.labels, 'node-role.kubernetes.io/spot': '' },
      );
      await waitFor(
        'the pod rows',
        15_000,
        async () => pods.lines().filter((l) => l.startsWith('ledger-w')).length === 2,
      );
      assert.deepEqual(
        pods
          .lines()
          .filter((l) => l.startsWith('ledger-w'))
          .map((l) => columns(l).slice(1, 3)),
        [
          ['0/1', 'ContainerCreating'],
          ['1/1', 'Running'],
        ],
      );
      await waitFor('the node row', 15_000, async () => nodes.lines().some((l) => l.startsWith('MODIFIED')));
      const modified = columns(nodes.lines().find((l) => l.startsWith('MODIFIED')));
      assert.deepEqual(modified.slice(0, 4), ['MODIFIED', 'sim-node-0002', 'Ready', 'spot']);
    } finally {
      pods.stop();
      nodes.stop();
      sim.cluster.deletePod('payments', 'ledger-w');
    }
  });
});
