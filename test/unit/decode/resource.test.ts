import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../../functions/scrape/decode/batch.ts';
import { decodeResource } from '../../../functions/scrape/decode/resource.ts';
import { container, containerCount, fixture, ms, pod, podKeys, REQUEST_TIME, startNs } from './fixtures.ts';

const decodeFixture = (name: string) => decodeResource(fixture(name), REQUEST_TIME);

/** Asserts that decoding `text` throws a DecodeError whose message matches. */
function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => decodeResource(text, REQUEST_TIME),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError, `a DecodeError, not ${String(error)}`);
      assert.match(error.message, message);
      return true;
    },
  );
}

const NODE =
  'node_cpu_usage_seconds_total 10 1700000000000\nnode_memory_working_set_bytes 2048 1700000000000\n';

describe('resource-01: metrics-server decode_test "Normal" (kind 1.21-era, one pod)', () => {
  const batch = decodeFixture('resource-01-metrics-server-decode_test-kind-1.21-alpha.prom');

  test('the node is kept with the values metrics-server expects', () => {
    assert.deepEqual(batch.node, { timestamp: 1633253809720, cpu: 357354910000, memory: 1616273408 });
  });

  test('coredns is decoded as metrics-server expects, exponent values included (1.633252712e+9)', () => {
    assert.deepEqual(batch.pods, [
      {
        namespace: 'kube-system',
        name: 'coredns-558bd4d5db-4dpjz',
        containers: [
          {
            name: 'coredns',
            timestamp: 1633253812125,
            cpu: 4710169000,
            memory: 12533760,
            startTime: 1633252712e9,
          },
        ],
      },
    ]);
    assert.deepEqual(batch.dropped, []);
  });

  test('scrape_error 0 is not a failure', () => {
    assert.match(fixture('resource-01-metrics-server-decode_test-kind-1.21-alpha.prom'), /^scrape_error 0$/m);
    assert.notEqual(batch.node, null);
  });
});

describe('resource-02: real EKS capture (2025), [STABLE] names, multi-container pods', () => {
  const batch = decodeFixture('resource-02-eks-2025-real-capture.prom');

  test('the node is kept', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2025-06-23T19:09:34.670Z'),
      cpu: 6197005020909,
      memory: 1137475584,
    });
  });

  test('all 9 pods and 12 containers are kept, sorted', () => {
    assert.deepEqual(podKeys(batch), [
      'ersilia-core/ersilia-aws-load-balancer-controller-5f7cfb55d8-jbwqw',
      'ersilia-core/ersilia-hub-frontend-75f4f69b7b-dx49p',
      'ersilia-core/ersilia-hub-postgresql-0',
      'ersilia-core/ersilia-hub-server-78554c56f7-klmrl',
      'ersilia-core/ersilia-nginx-567d564fc-cpfvd',
      'kube-system/aws-node-7k649',
      'kube-system/ebs-csi-node-v6cqf',
      'kube-system/eks-pod-identity-agent-59jlc',
      'kube-system/kube-proxy-t748f',
    ]);
    assert.equal(containerCount(batch), 12);
    assert.deepEqual(batch.dropped, []);
  });

  test('multi-container pods hold each of their containers, sorted by name', () => {
    assert.deepEqual(
      pod(batch, 'kube-system/aws-node-7k649').containers.map((c) => c.name),
      ['aws-eks-nodeagent', 'aws-node'],
    );
    assert.deepEqual(
      pod(batch, 'kube-system/ebs-csi-node-v6cqf').containers.map((c) => c.name),
      ['ebs-plugin', 'liveness-probe', 'node-driver-registrar'],
    );
  });

  test('container values come from the container series, not the pod_* series sampled at other times', () => {
    // container: 753.998393487 s @ …769183; pod_cpu_usage_seconds_total: 753.978995701 s @ …767087.
    assert.deepEqual(container(batch, 'ersilia-core/ersilia-hub-postgresql-0', 'postgresql'), {
      name: 'postgresql',
      timestamp: 1750705769183,
      cpu: 753998393487,
      memory: 47992832,
      // 1.750607876466787e+09 s without a timestamp; × 1e9 in double arithmetic, as Go does
      startTime: Number(1750607876466787072n),
    });
  });

  test('a start time without a timestamp keeps its sub-second precision and does not date the sample', () => {
    assert.deepEqual(container(batch, 'kube-system/aws-node-7k649', 'aws-eks-nodeagent'), {
      name: 'aws-eks-nodeagent',
      timestamp: 1750705768415,
      cpu: 40384910049,
      memory: 17391616,
      startTime: Number(1750607841829759232n),
    });
  });
});

describe('resource-03: derived from summary-02 (Kubernetes 1.32 family set with swap)', () => {
  const batch = decodeFixture('resource-03-DERIVED-from-summary-02-k8s1.32.prom');

  test('the node is kept; node_swap_usage_bytes is ignored', () => {
    assert.deepEqual(batch.node, {
      timestamp: ms('2025-11-04T19:12:29Z'),
      cpu: 88585917000,
      memory: 932208640,
    });
  });

  test('all 17 pods are kept with one container each', () => {
    assert.equal(batch.pods.length, 17);
    assert.equal(containerCount(batch), 17);
    assert.deepEqual(batch.dropped, []);
  });

  test('CPU seconds truncate to nanoseconds as Go does: 0.264518 s × 1e9 = 264517999.99999997 → 264517999', () => {
    assert.deepEqual(container(batch, 'kube-system/storage-provisioner', 'storage-provisioner'), {
      name: 'storage-provisioner',
      timestamp: ms('2025-11-04T19:12:16Z'),
      cpu: 264517999,
      memory: 10072064,
      startTime: startNs('2025-11-04T19:10:45Z'),
    });
  });
});

describe('given a kubelet that reports a scrape error inside its 200 response', () => {
  test('resource_scrape_error 1 fails the decode, saying so', () => {
    rejects(`${NODE}resource_scrape_error 1\n`, /line 3: the kubelet reports a failed stats collection/);
  });

  test('the old scrape_error 1 fails it too', () => {
    rejects('# TYPE scrape_error gauge\nscrape_error 1\n', /line 2: .*failed stats collection/);
  });

  test('an error response with nothing else (what a failing kubelet sends) fails', () => {
    rejects('resource_scrape_error 1', /scrape error 1/);
  });
});

describe('given malformed exposition text, the decoder names the line and what is wrong', () => {
  test('a bad value', () => {
    rejects(
      `${NODE}container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 4.7x 1700000000000\n`,
      /^line 3: bad sample value "4.7x"/,
    );
  });

  test('an unterminated label value', () => {
    rejects(
      `# HELP x y\ncontainer_cpu_usage_seconds_total{namespace="n",pod="p",container="c} 1 2\n${NODE}`,
      /^line 2: unterminated value of label container/,
    );
  });

  test('a bad timestamp', () => {
    rejects(`${NODE}\nnode_swap_usage_bytes 0 17000000000x0\n`, /^line 4: bad timestamp "17000000000x0"/);
  });

  test('a fractional timestamp', () => {
    rejects('node_cpu_usage_seconds_total 1 1700000000000.5\n', /^line 1: bad timestamp/);
  });

  test('a line with no value', () => {
    rejects(`${NODE}node_memory_working_set_bytes\n`, /^line 3: no value for node_memory_working_set_bytes/);
  });

  test('a family the decoder does not read is still checked', () => {
    rejects(
      `${NODE}pod_cpu_usage_seconds_total{namespace="n",pod="p"} abc 1\n`,
      /^line 3: bad sample value "abc"/,
    );
  });

  test('a container series without its pod label', () => {
    rejects(
      'container_cpu_usage_seconds_total{container="c",namespace="n"} 1 1700000000000\n',
      /^line 1: .*label pod/,
    );
  });

  test('trailing garbage after the timestamp', () => {
    rejects(
      'node_cpu_usage_seconds_total 1 1700000000000 extra\n',
      /^line 1: unexpected "extra" after the timestamp/,
    );
  });
});

describe('given well-formed samples with quirks', () => {
  test('label values with escapes are decoded: \\\\, \\" and \\n', () => {
    const text = `${NODE}container_cpu_usage_seconds_total{container="a\\"b\\\\c\\nd",namespace="n",pod="p"} 1 1700000000000
container_memory_working_set_bytes{container="a\\"b\\\\c\\nd",namespace="n",pod="p"} 5 1700000000000
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.deepEqual(
      batch.pods.map((p) => p.containers.map((c) => c.name)),
      [['a"b\\c\nd']],
    );
  });

  test('samples without timestamps take the request time', () => {
    const text = `node_cpu_usage_seconds_total 10
node_memory_working_set_bytes 2048
container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 1.5
container_memory_working_set_bytes{container="c",namespace="n",pod="p"} 4096
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.deepEqual(batch.node, { timestamp: REQUEST_TIME, cpu: 10e9, memory: 2048 });
    assert.equal(batch.pods[0]!.containers[0]!.timestamp, REQUEST_TIME);
  });

  test("the container timestamp is the CPU sample's, never the memory or start-time sample's", () => {
    const text = `container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 1 1700000000100
container_memory_working_set_bytes{container="c",namespace="n",pod="p"} 4096 1700000000200
container_start_time_seconds{container="c",namespace="n",pod="p"} 1.6999e+09 1700000000300
`;
    assert.equal(decodeResource(text, REQUEST_TIME).pods[0]!.containers[0]!.timestamp, 1700000000100);
  });

  test('NaN, +Inf and negative values make a series invalid: the pod or node is dropped, naming it', () => {
    const text = `node_cpu_usage_seconds_total +Inf 1700000000000
node_memory_working_set_bytes 2048 1700000000000
container_cpu_usage_seconds_total{container="c",namespace="n",pod="nan"} NaN 1700000000000
container_memory_working_set_bytes{container="c",namespace="n",pod="nan"} 4096 1700000000000
container_cpu_usage_seconds_total{container="c",namespace="n",pod="negative"} 1 1700000000000
container_memory_working_set_bytes{container="c",namespace="n",pod="negative"} -4096 1700000000000
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.equal(batch.node, null);
    assert.deepEqual(batch.pods, []);
    assert.deepEqual(batch.dropped, [
      { what: 'node', reason: 'CPU usage is Infinity' },
      { what: 'n/nan', reason: 'container "c": CPU usage is NaN' },
      { what: 'n/negative', reason: 'container "c": memory working set is -4096' },
    ]);
  });

  test('a NaN start time counts as unknown (0), which this endpoint allows', () => {
    const text = `container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 1 1700000000000
container_memory_working_set_bytes{container="c",namespace="n",pod="p"} 4096 1700000000000
container_start_time_seconds{container="c",namespace="n",pod="p"} NaN
`;
    assert.equal(decodeResource(text, REQUEST_TIME).pods[0]!.containers[0]!.startTime, 0);
  });

  test('the 1.18-era CPU names without _total are read', () => {
    const text = `# TYPE node_cpu_usage_seconds gauge
node_cpu_usage_seconds 357.35491 1633253809720
node_memory_working_set_bytes 1.616273408e+09 1633253809720
container_cpu_usage_seconds{container="coredns",namespace="kube-system",pod="coredns"} 4.710169 1633253812125
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns"} 1.253376e+07 1633253812125
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.deepEqual(batch.node, { timestamp: 1633253809720, cpu: 357354910000, memory: 1616273408 });
    assert.deepEqual(batch.pods[0]!.containers[0], {
      name: 'coredns',
      timestamp: 1633253812125,
      cpu: 4710169000,
      memory: 12533760,
      startTime: 0,
    });
  });

  test('a container seen only in container_start_time_seconds fails its pod, as in metrics-server', () => {
    const text = `${NODE}container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 1 1700000000000
container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 4096 1700000000000
container_start_time_seconds{container="a",namespace="n",pod="p"} 1.6e+09
container_start_time_seconds{container="ghost",namespace="n",pod="p"} 1.6e+09
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.deepEqual(batch.pods, []);
    assert.deepEqual(batch.dropped, [
      { what: 'n/p', reason: 'container "ghost": no CPU usage, no memory working set, no timestamp' },
    ]);
  });

  test('a missing node memory series drops the node but keeps its pods', () => {
    const text = `node_cpu_usage_seconds_total 10 1700000000000
container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 1 1700000000000
container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 4096 1700000000000
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.equal(batch.node, null);
    assert.deepEqual(batch.dropped, [{ what: 'node', reason: 'no memory working set' }]);
    assert.deepEqual(podKeys(batch), ['n/p']);
  });

  test('an empty body decodes to no node and no pods', () => {
    const batch = decodeResource('', REQUEST_TIME);
    assert.equal(batch.node, null);
    assert.deepEqual(batch.pods, []);
  });

  test('a pod with many containers keeps each apart, names of one length too, in name order', () => {
    // Twelve containers (more than a pod's containers are looked up by scanning, so also by name),
    // each family listing them in another order.
    const names = Array.from({ length: 12 }, (_, i) => `c${String.fromCharCode(108 - i)}`);
    const lines: string[] = [];
    for (const [i, name] of names.entries()) {
      lines.push(
        `container_cpu_usage_seconds_total{container="${name}",namespace="n",pod="p"} ${i + 1} 1700000000000`,
      );
    }
    for (const [i, name] of [...names.entries()].reverse()) {
      lines.push(
        `container_memory_working_set_bytes{container="${name}",namespace="n",pod="p"} ${i + 1} 1700000000000`,
      );
    }
    const batch = decodeResource(lines.join('\n'), REQUEST_TIME);
    assert.deepEqual(
      batch.pods[0]!.containers.map((c) => [c.name, c.cpu, c.memory]),
      names.map((name, i) => [name, (i + 1) * 1e9, i + 1]).reverse(),
    );
  });

  test('CRLF line ends, tabs, comments and blank lines are accepted', () => {
    const text =
      '# a comment\r\n\r\n# HELP node_cpu_usage_seconds_total [STABLE] x\r\nnode_cpu_usage_seconds_total\t10\t1700000000000\r\n' +
      '  node_memory_working_set_bytes 2048 1700000000000  \r\n';
    assert.deepEqual(decodeResource(text, REQUEST_TIME).node, {
      timestamp: 1700000000000,
      cpu: 10e9,
      memory: 2048,
    });
  });
});

describe('given duplicate series for one container (leaked cgroups, kubernetes#137724)', () => {
  // Modelled on metrics-server PR #1779: kubelet v1.30.10 writing two series for one container.
  const twins = `container_cpu_usage_seconds_total{container="prometheus",namespace="monitoring",pod="prom-0"} 994631.562157 1773934038841
container_cpu_usage_seconds_total{container="prometheus",namespace="monitoring",pod="prom-0"} 295207.606798 1773934038962
container_memory_working_set_bytes{container="prometheus",namespace="monitoring",pod="prom-0"} 5.690306969e+10 1773934038841
container_memory_working_set_bytes{container="prometheus",namespace="monitoring",pod="prom-0"} 3.3157259264e+10 1773934038962
container_start_time_seconds{container="prometheus",namespace="monitoring",pod="prom-0"} 1.7691949565992033e+09
`;

  test('the twin with the newer CPU timestamp is kept, with its own memory', () => {
    // The n-th series of each family belongs to the n-th twin: the one start-time series pairs with
    // the first twin, so the kept twin has no start time (0: unknown, allowed on this endpoint).
    const batch = decodeResource(twins, REQUEST_TIME);
    assert.deepEqual(batch.pods[0]!.containers, [
      {
        name: 'prometheus',
        timestamp: 1773934038962,
        cpu: 295207606798000,
        memory: 33157259264,
        startTime: 0,
      },
    ]);
  });

  test('an all-zero twin is ignored wherever it is listed', () => {
    const text = `container_cpu_usage_seconds_total{container="app",namespace="n",pod="p"} 12 1700000000000
container_cpu_usage_seconds_total{container="app",namespace="n",pod="p"} 0 1700000009000
container_memory_working_set_bytes{container="app",namespace="n",pod="p"} 4096 1700000000000
container_memory_working_set_bytes{container="app",namespace="n",pod="p"} 0 1700000009000
`;
    const batch = decodeResource(text, REQUEST_TIME);
    assert.deepEqual(batch.pods[0]!.containers, [
      { name: 'app', timestamp: 1700000000000, cpu: 12e9, memory: 4096, startTime: 0 },
    ]);
  });
});
