/**
 * End to end: kubelets → the scrape program → Redis → the serve program → the API server's aggregation
 * → kubectl and @kubernetes/client-node. Values are checked exactly against what the simulated kubelets
 * reported, and faulty kubelets must only cost their own node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomObjectsApi, KubeConfig, Metrics } from '@kubernetes/client-node';
import { parseDuration } from '../../shared/duration.ts';
import { NodeMetricsList, PodMetricsList } from '../../shared/metrics-api.ts';
import { parseBytes, parseCpuNanocores } from '../../shared/quantity.ts';
import type { ServedRecord } from '../../sim/index.ts';
import { completePods, fresh, startMs } from '../helpers/served.ts';
import { type Cluster, RESOLUTION, startCluster, table } from './harness.ts';

const BROKEN = 'sim-node-0004';
let c: Cluster;

/** Go's time.Duration.Seconds(): whole seconds plus the remainder, as metrics-server divides by it. */
const goSeconds = (ns: number) => Math.floor(ns / 1e9) + (ns % 1e9) / 1e9;
const RESOLUTION_MS = parseDuration(RESOLUTION) / 1e6;

/**
 * The usage metrics-server computes for one series from what the kubelet reported: the rate between
 * the last two samples or, for a fresh container, the rate since it started (window = its age).
 */
function expected(records: readonly ServedRecord[], key: string) {
  const [a, b] = records.slice(-2).map((r) => r.samples.get(key));
  assert.ok(b, `a served sample of ${key}`);
  const from = fresh(b, RESOLUTION_MS) ? { timestampMs: startMs(b)!, cpuNs: 0 } : a;
  assert.ok(from, `two served samples of ${key}`);
  const windowNs = Math.round((b.timestampMs - from.timestampMs) * 1e6);
  return {
    cpu: Math.trunc((b.cpuNs - from.cpuNs) / goSeconds(windowNs)),
    memory: b.memoryBytes,
    timestampMs: b.timestampMs,
    windowNs,
  };
}

async function rawJson(path: string): Promise<unknown> {
  const r = await c.kubectl(['get', '--raw', path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  c = await startCluster({ nodes: 4, podsPerNode: 5, housekeepingMs: 1000, seed: 'e2e-top' });
  c.sim.cluster.setFault(BROKEN, 'status-500');
  for (let i = 0; i < 2; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1200)); // past the kubelets' next housekeeping
    const { code, lines } = await c.cycle();
    assert.equal(code, 0, lines.join('\n'));
  }
});
after(async () => c?.stop());

describe('after two scrape cycles', () => {
  test('every node reports CPU to the nanocore and memory to the byte from the two kubelet samples', async () => {
    const list = NodeMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/nodes'));
    const healthy = c.sim.cluster.nodes().filter((n) => n.name !== BROKEN);
    assert.deepEqual(
      list.items.map((n) => n.metadata.name),
      healthy.map((n) => n.name),
    );
    for (const item of list.items) {
      const want = expected(c.sim.kubelets.served(item.metadata.name), 'node');
      assert.equal(parseCpuNanocores(item.usage.cpu), want.cpu, `${item.metadata.name} cpu`);
      assert.equal(parseBytes(item.usage.memory), want.memory, `${item.metadata.name} memory`);
      assert.equal(parseDuration(item.window), want.windowNs);
      assert.equal(Date.parse(item.timestamp), Math.floor(want.timestampMs / 1000) * 1000);
      assert.deepEqual(item.metadata.labels, c.sim.cluster.node(item.metadata.name)?.labels);
    }
  });

  test('every Running pod with complete metrics is served exactly; incomplete, Pending and Succeeded ones are not', async () => {
    const list = PodMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/pods'));
    const { specials } = c.sim.cluster;
    const served = new Set(list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    assert.ok(
      specials.zeroWorkingSet && !served.has(specials.zeroWorkingSet),
      'zero working set → pod dropped',
    );
    assert.ok(specials.pending && !served.has(specials.pending), 'Pending pod is invisible');
    assert.ok(specials.succeeded && !served.has(specials.succeeded), 'Succeeded pod is invisible');
    assert.deepEqual([...served], completePods(c.sim, RESOLUTION_MS), 'sorted by namespace, then name');
    for (const pod of list.items) {
      const simPod = c.sim.cluster.pod(pod.metadata.namespace!, pod.metadata.name)!;
      const records = c.sim.kubelets.served(simPod.nodeName!);
      const containers = pod.containers.map((x) => x.name);
      assert.deepEqual(containers, [...containers].sort(), 'containers sorted by name');
      let earliest = Number.POSITIVE_INFINITY;
      let window = 0;
      for (const ct of pod.containers) {
        const want = expected(records, `${pod.metadata.namespace}/${pod.metadata.name}/${ct.name}`);
        assert.equal(parseCpuNanocores(ct.usage.cpu), want.cpu, `${pod.metadata.name}/${ct.name} cpu`);
        assert.equal(parseBytes(ct.usage.memory), want.memory, `${pod.metadata.name}/${ct.name} memory`);
        if (want.timestampMs < earliest) [earliest, window] = [want.timestampMs, want.windowNs];
      }
      assert.equal(
        Date.parse(pod.timestamp),
        Math.floor(earliest / 1000) * 1000,
        'earliest container timestamp',
      );
      assert.equal(parseDuration(pod.window), window);
      assert.deepEqual(pod.metadata.labels ?? {}, simPod.labels);
    }
  });

  test('kubectl top nodes prints every node, <unknown> for the one whose kubelet fails', async () => {
    const r = await c.kubectl(['top', 'nodes']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)']);
    const list = NodeMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/nodes'));
    for (const item of list.items) {
      const row = rows.find((x) => x[0] === item.metadata.name);
      assert.ok(row, item.metadata.name);
      assert.equal(row[1], `${Math.ceil(parseCpuNanocores(item.usage.cpu) / 1e6)}m`);
      assert.equal(row[3], `${Math.floor(parseBytes(item.usage.memory) / 2 ** 20)}Mi`);
    }
    assert.deepEqual(rows.at(-1), [BROKEN, '<unknown>', '<unknown>', '<unknown>', '<unknown>']);
  });

  test('kubectl top is answered in Kubernetes protobuf, which it asks for first (as from metrics-server)', async () => {
    const r = await c.kubectl(['top', 'pods', '-A', '-v=8']);
    assert.equal(r.code, 0, r.stderr);
    // kubectl logs the metrics request and the headers of its answer.
    const at = r.stderr.search(/GET https:\/\/\S+\/apis\/metrics\.k8s\.io\/v1beta1\/pods/);
    assert.ok(at >= 0, r.stderr);
    const answer = r.stderr.slice(at);
    assert.match(answer, /Request Headers:[\s\S]*?Accept: application\/vnd\.kubernetes\.protobuf, \*\/\*/);
    assert.match(answer, /Response Headers:[\s\S]*?Content-Type: application\/vnd\.kubernetes\.protobuf/);
    assert.ok(table(r.stdout).length > 2);
  });

  test('kubectl top works the same from kubectl 1.27 to 1.33', async () => {
    for (const v of ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33']) {
      const r = await c.kubectl(['top', 'nodes', '--no-headers'], v);
      assert.equal(r.code, 0, `kubectl ${v}: ${r.stderr}`);
      assert.equal(table(r.stdout).length, 4, `kubectl ${v}`);
    }
  });

  test('kubectl top pods -A lists the served pods with kubectl’s rounding', async () => {
    const r = await c.kubectl(['top', 'pods', '-A']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout).slice(1);
    const list = PodMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/pods'));
    assert.equal(rows.length, list.items.length);
    for (const pod of list.items) {
      const row = rows.find((x) => x[0] === pod.metadata.namespace && x[1] === pod.metadata.name);
      assert.ok(row, pod.metadata.name);
      // kubectl sums the containers' quantities, then rounds the sum up to millicores.
      const cpu = pod.containers.reduce((s, ct) => s + parseCpuNanocores(ct.usage.cpu), 0);
      const mem = pod.containers.reduce((s, ct) => s + parseBytes(ct.usage.memory), 0);
      assert.equal(row[2], `${Math.ceil(cpu / 1e6)}m`);
      assert.equal(row[3], `${Math.floor(mem / 2 ** 20)}Mi`);
    }
  });

  test('kubectl top pods -n NS -l SELECTOR shows only the matching pods (the HPA query)', async () => {
    const complete = new Set(completePods(c.sim, RESOLUTION_MS));
    const target = c.sim.cluster
      .pods()
      .find(
        (p) => complete.has(`${p.namespace}/${p.name}`) && p.labels.app && p.namespace !== 'kube-system',
      )!;
    const r = await c.kubectl([
      'top',
      'pods',
      '-n',
      target.namespace,
      '-l',
      `app in (${target.labels.app},nothing)`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const names = table(r.stdout)
      .slice(1)
      .map((x) => x[0]);
    const want = c.sim.cluster
      .pods()
      .filter(
        (p) =>
          p.namespace === target.namespace &&
          p.labels.app === target.labels.app &&
          complete.has(`${p.namespace}/${p.name}`),
      )
      .map((p) => p.name)
      .sort();
    assert.deepEqual(names, want);
  });

  test('kubectl top pods --containers --sort-by=cpu: one row per container, busiest pods first', async () => {
    const r = await c.kubectl(['top', 'pods', '-A', '--containers', '--sort-by=cpu', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    const list = PodMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/pods'));
    const byPod = new Map(list.items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    assert.deepEqual(
      rows.map((x) => `${x[0]}/${x[1]}/${x[2]}`).sort(),
      list.items
        .flatMap((p) => p.containers.map((ct) => `${p.metadata.namespace}/${p.metadata.name}/${ct.name}`))
        .sort(),
    );
    // kubectl sorts the pods by their total CPU in millicores (rounded up), then prints each pod's
    // containers together; pods with equal millicores may come in either order.
    const order = [...new Set(rows.map((x) => `${x[0]}/${x[1]}`))];
    const totals = order.map((k) =>
      Math.ceil(byPod.get(k)!.containers.reduce((s, ct) => s + parseCpuNanocores(ct.usage.cpu), 0) / 1e6),
    );
    assert.deepEqual(
      totals,
      [...totals].sort((a, b) => b - a),
    );
  });

  test('kubectl top pod names the two kinds of missing pod as metrics-server does', async () => {
    const { zeroWorkingSet, pending } = c.sim.cluster.specials;
    const [zns, zname] = zeroWorkingSet!.split('/');
    const zero = await c.kubectl(['top', 'pod', '-n', zns!, zname!]);
    assert.notEqual(zero.code, 0);
    assert.match(zero.stderr, new RegExp(`NotFound.*podmetrics.metrics.k8s.io "${zns}/${zname}" not found`));
    const [pns, pname] = pending!.split('/');
    const pend = await c.kubectl(['top', 'pod', '-n', pns!, pname!]);
    assert.notEqual(pend.code, 0);
    assert.match(pend.stderr, new RegExp(`NotFound.*pods "${pname}" not found`));
  });

  test('@kubernetes/client-node’s Metrics reads the same objects', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(`${c.dir}/admin.kubeconfig`);
    const metrics = new Metrics(kc);
    const nodes = await metrics.getNodeMetrics();
    assert.deepEqual(nodes, await rawJson('/apis/metrics.k8s.io/v1beta1/nodes'));
    const namespace = completePods(c.sim, RESOLUTION_MS)
      .find((k) => !k.startsWith('kube-system/'))!
      .split('/')[0]!;
    const pods = await metrics.getPodMetrics(namespace);
    assert.deepEqual(pods, await rawJson(`/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods`));
    assert.ok(pods.items.length > 0);
  });

  test('through a v1 APIService: discovery prefers v1, and client-node and raw requests read the same objects as v1', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(`${c.dir}/admin.kubeconfig`);
    const group = (await rawJson('/apis/metrics.k8s.io')) as {
      versions: { version: string }[];
      preferredVersion: { version: string };
    };
    assert.deepEqual(
      group.versions.map((v) => v.version),
      ['v1', 'v1beta1'],
    );
    assert.equal(group.preferredVersion.version, 'v1');
    const custom = kc.makeApiClient(CustomObjectsApi);
    const v1 = (await custom.listClusterCustomObject({
      group: 'metrics.k8s.io',
      version: 'v1',
      plural: 'nodes',
    })) as { apiVersion: string; items: unknown[] };
    assert.equal(v1.apiVersion, 'metrics.k8s.io/v1');
    const v1beta1 = (await rawJson('/apis/metrics.k8s.io/v1beta1/nodes')) as { items: unknown[] };
    assert.deepEqual(v1.items, v1beta1.items, 'the same objects in both versions');
    const namespace = completePods(c.sim, RESOLUTION_MS)
      .find((k) => !k.startsWith('kube-system/'))!
      .split('/')[0]!;
    const pods = (await custom.listNamespacedCustomObject({
      group: 'metrics.k8s.io',
      version: 'v1',
      namespace,
      plural: 'pods',
    })) as { apiVersion: string; kind: string; items: { metadata: { name: string } }[] };
    assert.equal(pods.kind, 'PodMetricsList');
    assert.ok(pods.items.length > 0);
    const one = (await rawJson(
      `/apis/metrics.k8s.io/v1/namespaces/${namespace}/pods/${pods.items[0]!.metadata.name}`,
    )) as {
      kind: string;
      apiVersion: string;
    };
    assert.deepEqual([one.kind, one.apiVersion], ['PodMetrics', 'metrics.k8s.io/v1']);
    // kubectl (1.27–1.33 ask for v1beta1) reads v1 where it is asked to.
    const table = await c.kubectl(['get', 'nodes.v1.metrics.k8s.io']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+CPU\s+MEMORY\s+WINDOW/);
  });

  test('the scraper logged the failing node with its cause, and the cycle summary', () => {
    const failure = c.scrapeLog.find((l) => l.includes('"Failed to scrape node"'));
    assert.ok(failure, c.scrapeLog.join('\n'));
    assert.match(failure, new RegExp(`node="${BROKEN}"`));
    assert.match(failure, /500 Internal Server Error/);
    assert.ok(c.scrapeLog.some((l) => /"Scrape cycle finished" nodes=4 scraped=3 failed=1/.test(l)));
  });
});

describe('faulty kubelets cost only their own node', () => {
  for (const fault of ['garbage', 'wrong-shape', 'slow', 'huge', 'scrape-error', 'refuse'] as const) {
    test(`a kubelet that is ${fault}: one log line names the node and the cause; the others are served`, async () => {
      const victim = 'sim-node-0002';
      // A healthy cycle first, so the victim's last points are fresh (they live resolution + grace).
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await c.cycle()).code, 0);
      c.sim.cluster.setFault(victim, fault);
      try {
        const { code, lines } = await c.cycle(['--kubelet-max-response-size=1Mi']);
        assert.equal(code, 0);
        const failures = lines.filter((l) => l.includes('Failed to scrape node'));
        assert.equal(failures.length, 2, lines.join('\n')); // the victim, and the node broken from the start
        const line = failures.find((l) => l.includes(`node="${victim}"`));
        assert.ok(line, lines.join('\n'));
        const cause = {
          garbage: /failed parsing metrics/,
          'wrong-shape': /failed parsing metrics/,
          slow: /timeout after 2s/,
          huge: /larger than 1048576 bytes/,
          'scrape-error': /failed parsing metrics: .*scrape error/i,
          // A reset before or during the TLS handshake, in Node's words for either.
          refuse:
            /ECONNRESET|socket hang up|socket disconnected before secure TLS connection was established/,
        }[fault];
        assert.match(line, cause);
        if (fault === 'slow') assert.match(line, /timeout to access kubelet/);
        const nodes = NodeMetricsList.parse(await rawJson('/apis/metrics.k8s.io/v1beta1/nodes'));
        // The victim keeps its last point until it expires; every other healthy node is served fresh.
        assert.deepEqual(
          nodes.items.map((n) => n.metadata.name),
          ['sim-node-0001', 'sim-node-0002', 'sim-node-0003'],
        );
      } finally {
        c.sim.cluster.setFault(victim, 'none');
      }
    });
  }

  test('scrape --once exits non-zero when every selected node fails, with one line per node', async () => {
    const { code, lines } = await c.cycle([`--node-selector=kubernetes.io/hostname=${BROKEN}`]);
    assert.equal(code, 1);
    assert.equal(lines.filter((l) => l.includes('Failed to scrape node')).length, 1);
  });
});
