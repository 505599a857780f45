/**
 * A fresh scraper process resumes the TLS sessions an earlier one saved: given kubelets that issued
 * session tickets to one client, a second client that imports them resumes every session instead of a
 * full handshake, and a client with nothing imported does full handshakes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { KubeletClient, type KubeletOptions } from '../../../functions/scrape/kubelet.ts';
import type { NodeObject } from '../../../shared/kube.ts';
import { type Sim, startSim } from '../../../sim/index.ts';

let sim: Sim;
let nodes: NodeObject[];
const OPTIONS: KubeletOptions = {
  endpoint: 'resource',
  via: 'direct',
  port: 0,
  useNodeStatusPort: true,
  preferredAddressTypes: ['InternalIP'],
  timeoutMs: 5000,
  maxBytes: 16 << 20,
};

/** Counts, per TLS connection made while `run` runs, whether its session was resumed. */
async function handshakes(run: () => Promise<void>): Promise<{ full: number; resumed: number }> {
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
    await run();
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
    const cold = await handshakes(async () => {
      for (const n of nodes) await first.scrape(n);
    });
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
    const resumed = await handshakes(async () => {
      for (const n of nodes) await fresh.scrape(n);
    });
    fresh.close();
    assert.deepEqual(resumed, { full: 0, resumed: 3 });

    const without = client();
    const full = await handshakes(async () => {
      for (const n of nodes) await without.scrape(n);
    });
    without.close();
    assert.deepEqual(full, { full: 3, resumed: 0 });
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
