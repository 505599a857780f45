/**
 * A kubelet closes a kept-alive connection when its idle timeout ends; when that happens just as the
 * scraper reuses the connection, the request is written to a socket the kubelet is closing and fails
 * with a reset, though the kubelet never saw it. The kubelet client sends such a GET once more, on a new
 * connection (as Go's transport does), and only then: a failure on a connection of its own, or a second
 * one, still fails the node.
 *
 * The kubelet here is a real HTTPS server (node:https) answering the resource endpoint with a real-shaped
 * payload, which closes a connection at the moment a chosen request arrives on it, before answering.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { KubeletClient, KubeletError } from '../../../functions/scrape/kubelet.ts';
import type { NodeObject } from '../../../shared/kube.ts';
import { createCA, issueLoopbackServerCertificate } from '../../../shared/pki.ts';
import { directKubelet } from '../../helpers/kubelet-options.ts';

const PAYLOAD = `# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 357.35491 1760421041000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 4.577755136e+09 1760421041000
`;

const OPTIONS = directKubelet({ maxBytes: 1 << 20 });

describe('a kept-alive kubelet connection closed as it is reused', () => {
  let server: https.Server;
  let ca: string;
  let node: NodeObject;
  /** Which requests (counted from 1) the server answers by closing their connection instead. */
  let closeOn: (n: number, onReusedConnection: boolean) => boolean = () => false;
  let requests = 0;
  let connections = 0;

  before(async () => {
    const authority = await createCA('kubelet-ca');
    ca = authority.certPem;
    const cert = await issueLoopbackServerCertificate(authority, 'kubelet');
    const served = new WeakMap<Socket, number>();
    server = https.createServer(
      { cert: cert.certPem, key: cert.keyPem, keepAliveTimeout: 60_000 },
      (req, res) => {
        requests++;
        const socket = req.socket;
        const before = served.get(socket) ?? 0;
        served.set(socket, before + 1);
        if (closeOn(requests, before > 0)) {
          socket.destroy();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end(PAYLOAD);
      },
    );
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    node = {
      name: 'node-1',
      labels: {},
      annotations: {},
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      kubeletPort: port,
    };
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = () => {
    const c = new KubeletClient({ ca }, OPTIONS, '');
    c.setHeaders({});
    return c;
  };
  const reset = (rule: typeof closeOn) => {
    closeOn = rule;
    requests = 0;
    connections = 0;
  };

  test('the request goes once more, on a new connection, and the node is scraped', async () => {
    reset((n, reused) => n === 2 && reused);
    const c = client();
    try {
      assert.ok((await c.scrape(node)).node, 'the first request, which opens the connection');
      const second = await c.scrape(node);
      assert.ok(second.node, 'the node is scraped');
      assert.equal(requests, 3, 'the closed request and its one retry');
      assert.equal(connections, 2, 'the retry on a new connection');
    } finally {
      c.close();
    }
  });

  test('a connection of its own that is closed fails the node: nothing is sent again', async () => {
    reset((n) => n === 1);
    const c = client();
    try {
      await assert.rejects(
        c.scrape(node),
        (err: Error) => err instanceof KubeletError && /socket hang up/.test(err.message),
      );
      assert.equal(requests, 1);
    } finally {
      c.close();
    }
  });

  test('a retry that is closed too fails the node, after one retry', async () => {
    reset((n, reused) => (n === 2 && reused ? true : n === 3));
    const c = client();
    try {
      await c.scrape(node);
      await assert.rejects(c.scrape(node), KubeletError);
      assert.equal(requests, 3, 'the first, the closed one, and one retry');
    } finally {
      c.close();
    }
  });
});
