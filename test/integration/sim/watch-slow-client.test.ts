/**
 * A watcher that stops reading does not make the API server hold its changes forever: past the bound
 * the server ends that watch (as the watch cache closes unresponsive watchers), other watchers carry
 * on, and the client, reading again, finds the stream ended and watches again from where it was.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { type Sim, startSim } from '../../../sim/index.ts';
import { waitFor } from '../../../sim/processes.ts';
import { openWatch } from './watch-stream.ts';

let sim: Sim;
before(async () => {
  sim = await startSim({ nodes: 1, podsPerNode: 3, seed: 'slow-client', watchMaxPending: 1000 });
});
after(() => sim.stop());

test('a watcher that does not read is cut off past the bound; one that reads gets everything', async () => {
  const url = new URL(sim.apiServer.url);
  const from = sim.cluster.resourceVersion;
  const socket = connect({ host: url.hostname, port: Number(url.port), ca: sim.apiServer.caPem });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(
    `GET /api/v1/pods?watch=true&resourceVersion=${from} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${sim.tokens.admin}\r\n\r\n`,
  );
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
  });
  await waitFor('the slow watch', 5000, async () => sim.watches.active === 1);
  socket.pause();
  const reader = await openWatch(`${sim.apiServer.url}/api/v1/pods?watch=true&resourceVersion=${from}`, {
    ca: sim.apiServer.caPem,
    token: sim.tokens.admin,
  });
  await waitFor('both watches', 5000, async () => sim.watches.active === 2);

  // Big labels make each change a few kilobytes, so the paused socket's buffers fill up.
  const pod = sim.cluster.pods()[0]!;
  const big = 'x'.repeat(60);
  let changes = 0;
  await waitFor('the slow watch to be ended', 30_000, async () => {
    for (let i = 0; i < 100; i++, changes++) {
      const labels: Record<string, string> = {};
      for (let k = 0; k < 40; k++) labels[`label-${k}`] = `${big}${changes % 10}`;
      labels.n = String(changes);
      sim.cluster.setLabels({ namespace: pod.namespace, pod: pod.name }, labels);
    }
    await new Promise((r) => setImmediate(r));
    return sim.watches.active === 1;
  });
  // The watcher that reads gets every change, in order.
  const got = await reader.take(changes, (e) => e.object.metadata?.name === pod.name, 30_000);
  assert.deepEqual(
    got.map((e) => Number(e.object.metadata?.labels?.n)),
    Array.from({ length: changes }, (_, i) => i),
  );
  reader.close();
  // Reading again, the slow client finds the stream ended (the chunked body's last chunk).
  socket.resume();
  await waitFor('the end of the slow stream', 10_000, async () => received.endsWith('0\r\n\r\n'));
  socket.destroy();
});
