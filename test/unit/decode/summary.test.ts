import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../../functions/scrape/decode/batch.ts';
import { decodeSummary } from '../../../functions/scrape/decode/summary.ts';
import { container, containerCount, fixture, ms, pod, podKeys, REQUEST_TIME, startNs } from './fixtures.ts';

const decodeFixture = (name: string) => decodeSummary(fixture(name), REQUEST_TIME);

describe('summary-01: metrics-server v0.5.2 edge cases (kind 1.17 node + 6 hand-edited pods)', () => {
  const batch = decodeFixture('summary-01-metrics-server-v0.5.2-kind-edgecases.json');

  test('the node is kept with the cumulative CPU, working set and cpu.time metrics-server expects', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2020-04-16T20:25:28Z'),
      cpu: 519978197128,
      memory: 1417551872,
    });
  });

  test('only default/all-fields survives, with its container as metrics-server v0.5.2 decodes it', () => {
    assert.deepEqual(batch.pods, [
      {
        namespace: 'default',
        name: 'all-fields',
        containers: [
          {
            name: 'container',
            timestamp: ms('2020-04-16T20:25:30Z'),
            startTime: startNs('2020-04-16T20:17:46Z'),
            cpu: 29328792,
            memory: 1449984,
          },
        ],
      },
    ]);
  });

  test('each incomplete pod is dropped whole, with the container and the cause named', () => {
    const reasons = Object.fromEntries(batch.dropped.map((d) => [d.what, d.reason]));
    assert.deepEqual(Object.keys(reasons).sort(), [
      'default/no CPU',
      'default/no memory',
      'default/no usageCoreNanoSeconds',
      'default/no workingSetBytes',
      'default/zero usageCoreNanoSeconds',
      'default/zero workingSetBytes',
    ]);
    assert.match(reasons['default/zero usageCoreNanoSeconds']!, /container "container": CPU usage is 0/);
    assert.match(reasons['default/no usageCoreNanoSeconds']!, /container "container": no CPU usage/);
    assert.match(reasons['default/no CPU']!, /container "container": no CPU usage, no timestamp/);
    assert.match(reasons['default/zero workingSetBytes']!, /container "container": memory working set is 0/);
    assert.match(reasons['default/no workingSetBytes']!, /container "container": no memory working set/);
    assert.match(reasons['default/no memory']!, /container "container": no memory working set/);
  });
});

describe('summary-02: Kubernetes 1.32 minikube node, containerd, 17 single-container pods', () => {
  const batch = decodeFixture('summary-02-nri-kubernetes-k8s1.32-minikube-containerd.json');

  test('the node datagen-1-32 is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2025-11-04T19:12:29Z'),
      cpu: 88585917000,
      memory: 932208640,
    });
  });

  test('all 17 pods are kept, one container each, sorted by namespace then name', () => {
    assert.deepEqual(podKeys(batch), [
      'kube-system/coredns-668d6bf9bc-psw5k',
      'kube-system/etcd-datagen-1-32',
      'kube-system/kindnet-t9n5r',
      'kube-system/kube-apiserver-datagen-1-32',
      'kube-system/kube-controller-manager-datagen-1-32',
      'kube-system/kube-proxy-vkf2l',
      'kube-system/kube-scheduler-datagen-1-32',
      'kube-system/metrics-server-cdc7dfdcd-5d7gd',
      'kube-system/storage-provisioner',
      'scraper/e2e-daemonset-t5q6v',
      'scraper/e2e-deployment-6d49cb8b4f-x68j2',
      'scraper/e2e-deployment-6d49cb8b4f-z5f9v',
      'scraper/e2e-hpa-87b6cf96-qc6zb',
      'scraper/e2e-kube-state-metrics-64cd7876b6-qvkz2',
      'scraper/e2e-scraper-cbf584747-mz7br',
      'scraper/e2e-statefulset-0',
      'scraper/e2e-statefulset-1',
    ]);
    assert.equal(containerCount(batch), 17);
    assert.deepEqual(batch.dropped, []);
  });

  test('a static pod (hash UID) is keyed by namespace/name and carries its values', () => {
    assert.deepEqual(container(batch, 'kube-system/etcd-datagen-1-32', 'etcd'), {
      name: 'etcd',
      timestamp: ms('2025-11-04T19:12:33Z'),
      startTime: startNs('2025-11-04T19:10:35Z'),
      cpu: 3668441000,
      memory: 33292288,
    });
  });

  test('usageNanoCores is ignored: php-apache reports 30666 there, the batch holds the cumulative counter', () => {
    assert.deepEqual(container(batch, 'scraper/e2e-hpa-87b6cf96-qc6zb', 'php-apache'), {
      name: 'php-apache',
      timestamp: ms('2025-11-04T19:12:24Z'),
      startTime: startNs('2025-11-04T19:11:21Z'),
      cpu: 196129000,
      memory: 22990848,
    });
  });
});

describe('summary-03: Kubernetes 1.35, containerd 2.2 with io and PSI blocks', () => {
  const batch = decodeFixture('summary-03-nri-kubernetes-k8s1.35-containerd2-psi-io.json');

  test('the PSI and io blocks are tolerated and the node is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2026-06-26T10:14:35Z'),
      cpu: 62148052000,
      memory: 917110784,
    });
  });

  test('all 17 pods are kept (their cumulative counters are non-zero)', () => {
    assert.equal(batch.pods.length, 17);
    assert.equal(containerCount(batch), 17);
    assert.deepEqual(batch.dropped, []);
  });

  test('php-apache, with usageNanoCores 0, is kept with its cumulative CPU', () => {
    assert.deepEqual(container(batch, 'scraper/e2e-hpa-6cd8d99884-tggnr', 'php-apache'), {
      name: 'php-apache',
      timestamp: ms('2026-06-26T10:14:39Z'),
      startTime: startNs('2026-06-26T10:13:00Z'),
      cpu: 24455000,
      memory: 11624448,
    });
  });
});

describe('summary-04: Kubernetes 1.28 with crash-looping sidecars', () => {
  const batch = decodeFixture('summary-04-nri-kubernetes-k8s1.28-crashlooping-sidecar.json');

  test('the node datagen-1-28 is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2023-11-10T06:20:52Z'),
      cpu: 117133655000,
      memory: 884572160,
    });
  });

  test('all 18 pods are kept: 13 with one container and 5 with two', () => {
    assert.equal(batch.pods.length, 18);
    assert.equal(containerCount(batch), 23);
    assert.deepEqual(batch.dropped, []);
    const twoContainers = batch.pods
      .filter((p) => p.containers.length === 2)
      .map((p) => `${p.namespace}/${p.name}`);
    assert.deepEqual(twoContainers, [
      'scraper/e2e-daemonset-xbvmt',
      'scraper/e2e-deployment-6c6fb66fd4-htr49',
      'scraper/e2e-deployment-6c6fb66fd4-vjqkq',
      'scraper/e2e-statefulset-0',
      'scraper/e2e-statefulset-1',
    ]);
  });

  test('containers are sorted by name, whatever the kubelet order, each with its own timestamp', () => {
    // The kubelet lists failing-container first in e2e-daemonset-xbvmt.
    assert.deepEqual(
      pod(batch, 'scraper/e2e-daemonset-xbvmt').containers.map((c) => c.name),
      ['compute-pi-digits', 'failing-container'],
    );
    assert.deepEqual(pod(batch, 'scraper/e2e-statefulset-0').containers, [
      {
        name: 'compute-pi-digits',
        timestamp: ms('2023-11-10T06:20:43Z'),
        startTime: startNs('2023-11-10T06:20:19Z'),
        cpu: 2003015000,
        memory: 10407936,
      },
      {
        name: 'failing-container',
        timestamp: ms('2023-11-10T06:20:35Z'),
        startTime: startNs('2023-11-10T06:20:19Z'),
        cpu: 11739000,
        memory: 536576,
      },
    ]);
  });

  test('the CronJob pod is kept', () => {
    assert.equal(container(batch, 'scraper/e2e-cronjob-28326620-xnd62', 'compute-pi-digits').cpu, 2499036000);
  });
});

describe('summary-05: Windows node on EKS (dockershim, 2020)', () => {
  const batch = decodeFixture('summary-05-datadog-windows-eks-2020.json');

  test('the node is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2020-04-24T15:54:11Z'),
      cpu: 452800000000,
      memory: 924364800,
    });
  });

  test('the Datadog pod is dropped because of its two zero-valued init containers, both named', () => {
    assert.equal(batch.dropped.length, 1);
    const [dropped] = batch.dropped;
    assert.equal(dropped!.what, 'default/dd-datadog-lbvkl');
    assert.match(dropped!.reason, /container "init-config": CPU usage is 0, memory working set is 0/);
    assert.match(dropped!.reason, /container "init-volume": CPU usage is 0, memory working set is 0/);
    assert.doesNotMatch(dropped!.reason, /process-agent|trace-agent|"agent"/);
  });

  test('the IIS pod is the only pod kept, with a memory block holding only workingSetBytes', () => {
    assert.deepEqual(batch.pods, [
      {
        namespace: 'default',
        name: 'windows-server-iis-6c68545d57-gwtn9',
        containers: [
          {
            name: 'windows-server-iis',
            timestamp: ms('2020-04-24T15:54:20Z'),
            startTime: startNs('2020-04-24T15:48:22Z'),
            cpu: 70140625000,
            memory: 136814592,
          },
        ],
      },
    ]);
  });
});

describe('summary-06: GKE node, Kubernetes ~1.6, docker (2017)', () => {
  const batch = decodeFixture('summary-06-elastic-beats-gke-2017-docker.json');

  test('blocks without time and a pod without pod-level cpu/memory are tolerated', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2017-04-20T08:06:41Z'),
      cpu: 4189523881380,
      memory: 2111090688,
    });
    assert.deepEqual(batch.pods, [
      {
        namespace: 'default',
        name: 'nginx-deployment-2303442956-pcqfc',
        containers: [
          {
            name: 'nginx',
            timestamp: ms('2017-04-20T08:06:34Z'),
            startTime: startNs('2017-04-18T16:47:44Z'),
            cpu: 43959424,
            memory: 1454080,
          },
        ],
      },
    ]);
    assert.deepEqual(batch.dropped, []);
  });
});

describe('summary-07: synthetic quirks', () => {
  const batch = decodeFixture('summary-07-SYNTHETIC-quirks.json');

  test('the node is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2024-01-01T01:00:00Z'),
      cpu: 3600000000000,
      memory: 1073741824,
    });
  });

  test('restarted-dup survives with the newer non-zero twin (started 00:50:00Z), not the all-zero one', () => {
    assert.deepEqual(batch.pods, [
      {
        namespace: 'default',
        name: 'restarted-dup',
        containers: [
          {
            name: 'app',
            timestamp: ms('2024-01-01T00:59:59Z'),
            startTime: startNs('2024-01-01T00:50:00Z'),
            cpu: 194938403350,
            memory: 39690240,
          },
        ],
      },
    ]);
  });

  test('just-started is dropped: web has no cpu block, sidecar has zero memory', () => {
    const dropped = batch.dropped.find((d) => d.what === 'default/just-started');
    assert.ok(dropped, 'just-started is reported as dropped');
    assert.match(dropped.reason, /container "web": no CPU usage/);
    assert.match(dropped.reason, /container "sidecar": memory working set is 0/);
  });

  test('no-times is dropped: null cpu.time and null startTime', () => {
    const dropped = batch.dropped.find((d) => d.what === 'default/no-times');
    assert.ok(dropped, 'no-times is reported as dropped');
    assert.match(dropped.reason, /container "c": no timestamp, no start time/);
  });

  test('pods with containers null or [] are simply absent, not reported as dropped', () => {
    assert.deepEqual(batch.dropped.map((d) => d.what).sort(), ['default/just-started', 'default/no-times']);
  });
});

/** A minimal valid summary, to be bent out of shape by each test. */
function summary(pods: unknown[]): Record<string, unknown> {
  return {
    node: {
      nodeName: 'n1',
      cpu: { time: '2024-01-01T00:00:10Z', usageCoreNanoSeconds: 5_000_000_000 },
      memory: { time: '2024-01-01T00:00:10Z', workingSetBytes: 1_000_000 },
    },
    pods,
  };
}

function containerJson(
  name: string,
  cpuTime: string | null,
  cpu: number,
  memory: number,
  start: string | null,
) {
  return {
    name,
    startTime: start,
    cpu: { time: cpuTime, usageCoreNanoSeconds: cpu },
    memory: { time: cpuTime, workingSetBytes: memory },
  };
}

const podJson = (name: string, containers: unknown) => ({
  podRef: { name, namespace: 'ns', uid: 'u' },
  containers,
});

describe('given a summary of the wrong shape, the decoder rejects it naming the field path', () => {
  const rejects = (body: unknown, message: string | RegExp) =>
    assert.throws(
      () => decodeSummary(typeof body === 'string' ? body : JSON.stringify(body), REQUEST_TIME),
      (error: unknown) => {
        assert.ok(error instanceof DecodeError, `a DecodeError, not ${String(error)}`);
        if (typeof message === 'string') assert.equal(error.message, message);
        else assert.match(error.message, message);
        return true;
      },
    );

  test('pods is a string', () => {
    rejects({ ...summary([]), pods: 'oops' }, 'pods: expected array, received string');
  });

  test('a container counter is a string, deep in the fourth pod', () => {
    const good = podJson('p', [containerJson('c', '2024-01-01T00:00:00Z', 1, 1, '2024-01-01T00:00:00Z')]);
    const bad = podJson('q', [
      {
        ...containerJson('c', '2024-01-01T00:00:00Z', 1, 1, '2024-01-01T00:00:00Z'),
        cpu: { time: '2024-01-01T00:00:00Z', usageCoreNanoSeconds: '123' },
      },
    ]);
    rejects(
      summary([good, good, good, bad]),
      'pods[3].containers[0].cpu.usageCoreNanoSeconds: expected number, received string',
    );
  });

  test('a time that is not RFC 3339', () => {
    rejects(
      summary([podJson('p', [containerJson('c', 'yesterday', 1, 1, '2024-01-01T00:00:00Z')])]),
      'pods[0].containers[0].cpu.time: expected an RFC 3339 time, received "yesterday"',
    );
  });

  test('a pod without podRef', () => {
    rejects(summary([{ containers: [] }]), 'pods[0].podRef: expected object, received undefined');
  });

  test('the node block is a number', () => {
    rejects({ node: 7, pods: [] }, 'node: expected object, received number');
  });

  test('the body is a JSON array, not an object', () => {
    rejects([], 'summary: expected object, received array');
  });

  test('the body is not JSON at all', () => {
    rejects('<html>502 Bad Gateway</html>', /^the summary is not JSON: /);
  });

  test('several problems: the first is named and the rest counted', () => {
    rejects({ node: 7, pods: 'x' }, /^node: expected object, received number \(and 1 more\)$/);
  });
});

describe('given summaries a lenient reader must accept', () => {
  test('an already-parsed object decodes like its text', () => {
    const body = summary([
      podJson('p', [containerJson('c', '2024-01-01T00:00:00Z', 7, 8, '2023-12-31T23:00:00Z')]),
    ]);
    assert.deepEqual(decodeSummary(body, REQUEST_TIME), decodeSummary(JSON.stringify(body), REQUEST_TIME));
  });

  test('pods: null, a missing pods key and a missing node decode to an empty batch with the node dropped', () => {
    assert.deepEqual(decodeSummary('{"pods": null}', REQUEST_TIME), {
      node: null,
      pods: [],
      dropped: [{ what: 'node', reason: 'no CPU usage, no memory working set, no timestamp' }],
    });
    assert.deepEqual(decodeSummary('{}', REQUEST_TIME).pods, []);
  });

  test('unknown keys anywhere are ignored', () => {
    const body = summary([
      {
        ...podJson('p', [
          { ...containerJson('c', '2024-01-01T00:00:00Z', 7, 8, '2024-01-01T00:00:00Z'), gpu: 1 },
        ]),
        x: [],
      },
    ]);
    assert.equal(decodeSummary({ ...body, future: { field: true } }, REQUEST_TIME).pods.length, 1);
  });

  test('a sample time with a zone offset or a fraction is read to the millisecond', () => {
    const batch = decodeSummary(
      summary([
        podJson('p', [containerJson('c', '2024-01-01T02:00:00.250+02:00', 7, 8, '2024-01-01T00:00:00Z')]),
      ]),
      REQUEST_TIME,
    );
    assert.equal(batch.pods[0]!.containers[0]!.timestamp, ms('2024-01-01T00:00:00.250Z'));
  });

  test('a node without cpu.time is dropped, naming the missing timestamp; its pods are still kept', () => {
    const body = summary([
      podJson('p', [containerJson('c', '2024-01-01T00:00:00Z', 7, 8, '2024-01-01T00:00:00Z')]),
    ]);
    (body.node as { cpu: { time: null } }).cpu.time = null;
    const batch = decodeSummary(body, REQUEST_TIME);
    assert.equal(batch.node, null);
    assert.deepEqual(batch.dropped, [{ what: 'node', reason: 'no timestamp' }]);
    assert.equal(batch.pods.length, 1);
  });

  test('the request time is never used as a sample time: a null cpu.time drops the pod', () => {
    const batch = decodeSummary(
      summary([podJson('p', [containerJson('c', null, 7, 8, '2024-01-01T00:00:00Z')])]),
      REQUEST_TIME,
    );
    assert.deepEqual(batch.pods, []);
    assert.deepEqual(batch.dropped, [{ what: 'ns/p', reason: 'container "c": no timestamp' }]);
  });
});

describe('given duplicates in one summary', () => {
  test('a pod listed twice keeps the listing whose newest container sample is newer', () => {
    const older = podJson('p', [containerJson('c', '2024-01-01T00:00:05Z', 100, 10, '2024-01-01T00:00:00Z')]);
    const newer = podJson('p', [containerJson('c', '2024-01-01T00:00:09Z', 200, 20, '2024-01-01T00:00:00Z')]);
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const batch = decodeSummary(summary(order), REQUEST_TIME);
      assert.equal(batch.pods.length, 1);
      assert.equal(batch.pods[0]!.containers[0]!.cpu, 200);
    }
  });

  test('duplicate container names: the all-zero twin is ignored even when it is listed last or is newer', () => {
    const zero = containerJson('app', '2024-01-01T00:00:09Z', 0, 0, '2024-01-01T00:00:08Z');
    const live = containerJson('app', '2024-01-01T00:00:05Z', 300, 30, '2024-01-01T00:00:01Z');
    for (const order of [
      [zero, live],
      [live, zero],
    ]) {
      const batch = decodeSummary(summary([podJson('p', order)]), REQUEST_TIME);
      assert.equal(batch.pods[0]!.containers.length, 1);
      assert.equal(batch.pods[0]!.containers[0]!.cpu, 300);
    }
  });

  test('two non-zero twins: the newer timestamp wins, then the later start time', () => {
    const a = containerJson('app', '2024-01-01T00:00:05Z', 100, 10, '2024-01-01T00:00:01Z');
    const b = containerJson('app', '2024-01-01T00:00:06Z', 50, 5, '2024-01-01T00:00:00Z');
    assert.equal(
      decodeSummary(summary([podJson('p', [a, b])]), REQUEST_TIME).pods[0]!.containers[0]!.cpu,
      50,
    );
    assert.equal(
      decodeSummary(summary([podJson('p', [b, a])]), REQUEST_TIME).pods[0]!.containers[0]!.cpu,
      50,
    );
    const c = containerJson('app', '2024-01-01T00:00:06Z', 70, 7, '2024-01-01T00:00:03Z');
    assert.equal(
      decodeSummary(summary([podJson('p', [c, b])]), REQUEST_TIME).pods[0]!.containers[0]!.cpu,
      70,
    );
  });

  test('a newest twin that is incomplete fails the pod rather than letting an older sample stand in', () => {
    const old = containerJson('app', '2024-01-01T00:00:05Z', 100, 10, '2024-01-01T00:00:01Z');
    const fresh = containerJson('app', '2024-01-01T00:00:09Z', 40, 0, '2024-01-01T00:00:08Z');
    const batch = decodeSummary(summary([podJson('p', [old, fresh])]), REQUEST_TIME);
    assert.deepEqual(batch.pods, []);
    assert.deepEqual(batch.dropped, [{ what: 'ns/p', reason: 'container "app": memory working set is 0' }]);
  });

  test('a twin without a CPU sample has no timestamp, so a complete twin is newer', () => {
    const old = containerJson('app', '2024-01-01T00:00:05Z', 100, 10, '2024-01-01T00:00:01Z');
    const noCpu = {
      name: 'app',
      startTime: '2024-01-01T00:00:08Z',
      memory: { time: '2024-01-01T00:00:09Z', workingSetBytes: 3 },
    };
    const batch = decodeSummary(summary([podJson('p', [noCpu, old])]), REQUEST_TIME);
    assert.equal(batch.pods[0]!.containers[0]!.cpu, 100);
  });
});
