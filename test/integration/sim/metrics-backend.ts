/**
 * A stand-in for the metrics.k8s.io backend behind the simulated aggregator: HTTPS with a self-signed
 * certificate, a client certificate requested and verified against the front-proxy CA, every request
 * recorded, and fixed answers for discovery and NodeMetrics/PodMetrics lists.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { selfSignedServingCertificate } from '../../../shared/pki.ts';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** CN of a client certificate that verified against the front-proxy CA. */
  clientCN: string | undefined;
}

export interface FakeMetricsBackend {
  url: string;
  caPem: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

const RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'metrics.k8s.io/v1beta1',
  resources: [
    { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
    { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
  ],
};

export async function startFakeMetricsBackend(
  frontProxyCaPem: string,
  nodeNames: string[],
): Promise<FakeMetricsBackend> {
  const { certPem, keyPem } = await selfSignedServingCertificate(['localhost', '127.0.0.1']);
  const seen: SeenRequest[] = [];
  const server: Server = createServer(
    { key: keyPem, cert: certPem, requestCert: true, rejectUnauthorized: false, ca: frontProxyCaPem },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const clientCN = socket.authorized ? String(socket.getPeerCertificate().subject.CN) : undefined;
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, clientCN });
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/apis/metrics.k8s.io/v1beta1') return send(200, RESOURCES);
      if (path === '/apis/metrics.k8s.io/v1beta1/nodes') {
        return send(200, {
          kind: 'NodeMetricsList',
          apiVersion: 'metrics.k8s.io/v1beta1',
          metadata: {},
          items: nodeNames.map((name, i) => ({
            metadata: { name, creationTimestamp: '2025-06-01T12:00:00Z' },
            timestamp: '2025-06-01T12:00:00Z',
            window: '20.05s',
            usage: { cpu: `${(i + 1) * 250}m`, memory: `${(i + 1) * 1024}Mi` },
          })),
        });
      }
      return send(404, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server could not find the requested resource',
        reason: 'NotFound',
        code: 404,
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: certPem,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
