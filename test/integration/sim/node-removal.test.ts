/**
 * Removing a node from the simulated cluster at run time, as a client sees it: the API server no longer
 * has the node or its pods, and its kubelet stops answering (new connections refused, open ones closed).
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type Sim, startSim } from '../../../sim/index.ts';
import { fetchHttps, json } from './https.ts';
import { openWatch } from './watch-stream.ts';

let sim: Sim;
before(async () => {
  sim = await startSim({ nodes: 3, podsPerNode: 4, seed: 'sim-node-removal' });
});
after(() => sim.stop());

const api = (path: string) =>
  fetchHttps(`${sim.apiServer.url}${path}`, { ca: sim.apiServer.caPem, token: sim.tokens.admin });

/** A kubelet GET over `agent`, and the socket it went over. */
function kubeletGet(agent: Agent, port: number): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${port}/healthz`,
      { agent, headers: { authorization: `Bearer ${sim.tokens.scraper}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as Socket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a removed node and its pods leave the API server, and its kubelet stops answering', async () => {
  const victim = sim.cluster.nodes().at(-1)!.name;
  const port = sim.kubelets.ports.get(victim)!;
  const pods = sim.cluster.podsOnNode(victim).map((p) => p.name);
  const agent = new Agent({ keepAlive: true, ca: sim.kubeletCaPem });
  const open = await kubeletGet(agent, port);
  assert.equal(open.status, 200);
  const closed = new Promise<void>((resolve) => open.socket.once('close', () => resolve()));

  sim.cluster.removeNode(victim);
  await closed; // the kept-alive connection is closed by the kubelet
  agent.destroy();
  const refused = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.equal(refused, 'ECONNREFUSED');
  assert.equal(sim.kubelets.ports.has(victim), false);
  assert.deepEqual(sim.kubelets.served(victim), []);

  assert.equal((await api(`/api/v1/nodes/${victim}`)).status, 404);
  assert.equal((await api(`/api/v1/nodes/${victim}/proxy/metrics/resource`)).status, 404);
  const nodes = JSON.parse((await api('/api/v1/nodes')).text) as { items: { metadata: { name: string } }[] };
  assert.equal(
    nodes.items.some((n) => n.metadata.name === victim),
    false,
  );
  const onNode = JSON.parse((await api(`/api/v1/pods?fieldSelector=spec.nodeName%3D${victim}`)).text) as {
    items: unknown[];
  };
  assert.deepEqual(onNode.items, []);
  const all = JSON.parse((await api('/api/v1/pods')).text) as { items: { metadata: { name: string } }[] };
  assert.deepEqual(
    all.items.map((p) => p.metadata.name).filter((n) => pods.includes(n)),
    [],
  );

  // The other kubelets still answer.
  const other = sim.cluster.nodes()[0]!.name;
  const fresh = new Agent({ ca: sim.kubeletCaPem });
  assert.equal((await kubeletGet(fresh, sim.kubelets.ports.get(other)!)).status, 200);
  fresh.destroy();
});

test('watchers of nodes and of pods see the removed node and each of its pods DELETED, as last seen', async () => {
  const victim = sim.cluster.nodes().at(-1)!.name;
  const pods = sim.cluster.podsOnNode(victim).map((p) => `${p.namespace}/${p.name}`);
  assert.ok(pods.length > 0);
  const from = json<{ metadata: { resourceVersion: string } }>(await api('/api/v1/nodes')).metadata
    .resourceVersion;
  const open = (path: string) =>
    openWatch(`${sim.apiServer.url}${path}?watch=true&resourceVersion=${from}`, {
      ca: sim.apiServer.caPem,
      token: sim.tokens.admin,
    });
  const nodeWatch = await open('/api/v1/nodes');
  const podWatch = await open('/api/v1/pods');
  try {
    sim.cluster.removeNode(victim);
    const [node] = await nodeWatch.take(1, (e) => e.type === 'DELETED');
    assert.equal(node!.object.metadata?.name, victim);
    const deleted = await podWatch.take(pods.length, (e) => e.type === 'DELETED');
    assert.deepEqual(
      deleted.map((e) => `${e.object.metadata?.namespace}/${e.object.metadata?.name}`).sort(),
      [...pods].sort(),
    );
    for (const e of deleted) assert.equal((e.object.spec as { nodeName: string }).nodeName, victim);
  } finally {
    nodeWatch.close();
    podWatch.close();
  }
});
