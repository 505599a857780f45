/**
 * A fresh scraper process resumes the TLS sessions an earlier one saved: given kubelets that issued
 * session tickets to one client, a second client that imports them resumes every session instead of a
 * full handshake, and a client with nothing imported does full handshakes. And the connections kept for
 * that hold nothing else (below).
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';
import { KubeletClient } from '../../../functions/scrape/kubelet.ts';
import type { NodeObject } from '../../../shared/kube.ts';
import { type Sim, startSim } from '../../../sim/index.ts';
import { directKubelet } from '../../helpers/kubelet-options.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let sim: Sim;
let nodes: NodeObject[];
const OPTIONS = directKubelet();

/** Counts, per TLS connection `c` makes scraping every node in turn, whether its session was resumed. */
async function handshakes(c: KubeletClient): Promise<{ full: number; resumed: number }> {
  const counts = { full: 0, resumed: 0 };
  const connect = tls.connect;
  // node:https opens its connections through tls.connect, so a wrapper sees each one.
  tls.connect = ((...args: Parameters<typeof tls.connect>) => {
    const socket = connect(...args);
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) counts.resumed++;
      else counts.full++;
    });
    return socket;
  }) as typeof tls.connect;
  try {
    for (const n of nodes) await c.scrape(n);
  } finally {
    tls.connect = connect;
  }
  return counts;
}

function client(): KubeletClient {
  const c = new KubeletClient({ ca: sim.kubeletCaPem }, OPTIONS, '');
  c.setHeaders({ Authorization: `Bearer ${sim.tokens.scraper}` });
  return c;
}

before(async () => {
  sim = await startSim({ nodes: 3, servedHistory: 0 });
  nodes = sim.cluster.nodes().map((n) => ({
    name: n.name,
    labels: {},
    annotations: {},
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
    kubeletPort: sim.kubelets.ports.get(n.name)!,
  }));
});
after(() => sim.stop());

describe('kubelet TLS sessions across processes', () => {
  test('sessions saved by one client are resumed by a fresh one; without them, full handshakes', async () => {
    const first = client();
    const observed: { node: string; success: boolean }[] = [];
    first.onRequest((o) => observed.push({ node: o.node, success: o.success }));
    const cold = await handshakes(first);
    assert.deepEqual(cold, { full: 3, resumed: 0 });
    assert.deepEqual(
      observed,
      nodes.map((n) => ({ node: n.name, success: true })),
    );
    const saved = first.takeNewSessions();
    assert.equal(saved.length, 3);
    assert.deepEqual(first.takeNewSessions(), [], 'each session is handed out once');
    first.close();

    const fresh = client();
    fresh.importSessions(saved);
    const resumed = await handshakes(fresh);
    fresh.close();
    assert.deepEqual(resumed, { full: 0, resumed: 3 });

    const without = client();
    const full = await handshakes(without);
    without.close();
    assert.deepEqual(full, { full: 3, resumed: 0 });
  });

  test('kubelets outside the retained endpoints are forgotten: no session kept, no connection kept', async () => {
    const c = client();
    for (const n of nodes) await c.scrape(n);
    const endpoints = nodes.map((n) => c.endpoint(n));
    assert.deepEqual(
      endpoints,
      nodes.map((n) => `127.0.0.1:${n.kubeletPort}`),
    );
    assert.equal(c.endpoint({ ...nodes[0]!, addresses: [] }), '', 'a node without an address has none');

    // The third node left the cluster: only the first two are retained.
    c.retain(new Set(endpoints.slice(0, 2)));
    assert.deepEqual(
      c.takeNewSessions().map(([e]) => e),
      endpoints.slice(0, 2),
      'the departed kubelet’s new session is not handed out to be saved',
    );
    // A kept connection would need no handshake; a kept session would resume one.
    const again = await handshakes(c);
    assert.deepEqual(
      again,
      { full: 1, resumed: 0 },
      'the first two reuse their connections; the third starts over',
    );
    c.close();
  });

  test('kubelets not requested for a while are forgotten (forgetIdle, for shard instances), the others kept', async () => {
    const c = client();
    for (const n of nodes.slice(0, 2)) await c.scrape(n);
    await new Promise((r) => setTimeout(r, 300));
    await c.scrape(nodes[2]!);
    c.forgetIdle(200);
    assert.deepEqual(
      c.takeNewSessions().map(([e]) => e),
      [c.endpoint(nodes[2]!)],
      'only the kubelet requested within 200 ms keeps its new session',
    );
    const again = await handshakes(c);
    assert.deepEqual(
      again,
      { full: 2, resumed: 0 },
      'the two idle kubelets start over; the third reuses its connection',
    );
    c.forgetIdle(60_000);
    const kept = await handshakes(c);
    assert.deepEqual(kept, { full: 0, resumed: 0 }, 'nothing idle that long: every connection kept');
    c.close();
  });

  test('a failed request is observed as a failure', async () => {
    const c = client();
    const observed: boolean[] = [];
    c.onRequest((o) => observed.push(o.success));
    const gone: NodeObject = { ...nodes[0]!, kubeletPort: 1 };
    await assert.rejects(c.scrape(gone));
    c.close();
    assert.deepEqual(observed, [false]);
  });
});

/**
 * A kept-alive kubelet connection does not keep alive the request that opened it. Node's https.Agent
 * leaves listeners on each socket whose closure holds the callback of the request that created it; with
 * one connection kept per kubelet, every first request, its response and its body stayed in memory for
 * as long as the connections lived (hundreds of MiB at 5,000 nodes). Checked with the garbage collector:
 * once the connections are idle in the pool, every request object must be collectable.
 */
test('idle kept-alive connections hold neither their first request nor the sessions Node hands out', async () => {
  const c = client();
  const requests: WeakRef<object>[] = [];
  const onStart = (m: unknown) => requests.push(new WeakRef((m as { request: object }).request));
  diagnostics.subscribe('http.client.request.start', onStart);
  try {
    for (const n of nodes) await c.scrape(n);
  } finally {
    diagnostics.unsubscribe('http.client.request.start', onStart);
  }
  assert.equal(requests.length, nodes.length);
  // Let the responses end and the sockets go back to the pool, then collect.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  assert.equal(requests.filter((r) => r.deref() !== undefined).length, 0, 'requests still reachable');

  // Each saved session is a buffer of its own size, not a view of a larger one.
  const sessions = c.takeNewSessions();
  assert.equal(sessions.length, nodes.length);
  for (const [, s] of sessions) assert.equal(s.buffer.byteLength, s.length);

  // The connections are kept: a second round opens none.
  for (const n of nodes) await c.scrape(n);
  assert.deepEqual(c.takeNewSessions(), [], 'no new connection, so no new session');
  c.close();
});
