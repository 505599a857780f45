import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import {
  type CertificateAndKey,
  createCA,
  issueCertificate,
  issueCertificatesSharingKey,
  selfSignedServingCertificate,
} from '../../../shared/pki.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

interface Handshake {
  /** What the client saw: undefined when the server's certificate verified. */
  clientError: string | undefined;
  /** The client certificate's CN as the server verified it, or undefined. */
  serverSawClient: string | undefined;
}

/** One TLS handshake over loopback: the server presents `server`, the client trusts `clientCa`. */
async function handshake(opts: {
  server: CertificateAndKey;
  clientCa: string;
  host?: string;
  clientCert?: CertificateAndKey;
  serverTrustsClientsOf?: string;
}): Promise<Handshake> {
  let serverSawClient: string | undefined;
  const server = createServer(
    {
      key: opts.server.keyPem,
      cert: opts.server.certPem,
      requestCert: opts.serverTrustsClientsOf !== undefined,
      rejectUnauthorized: false,
      ...(opts.serverTrustsClientsOf ? { ca: opts.serverTrustsClientsOf } : {}),
    },
    (socket: TLSSocket) => {
      if (socket.authorized) serverSawClient = String(socket.getPeerCertificate().subject.CN);
      socket.end('ok');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const clientError = await new Promise<string | undefined>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca: opts.clientCa,
        ...(opts.host && !/^\d/.test(opts.host) ? { servername: opts.host } : {}),
        ...(opts.clientCert ? { cert: opts.clientCert.certPem, key: opts.clientCert.keyPem } : {}),
      });
      socket.on('secureConnect', () => {
        socket.on('data', () => {});
        socket.on('end', () => resolve(undefined));
      });
      socket.on('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
    });
    return { clientError, serverSawClient };
  } finally {
    server.close();
  }
}

describe('the simulated cluster PKI (ECDSA P-256 via @peculiar/x509)', () => {
  test('a server certificate issued by a CA verifies against that CA, over TLS', async () => {
    const ca = await createCA('test-ca');
    const server = await issueCertificate(ca, {
      commonName: 'api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const result = await handshake({ server, clientCa: ca.certPem });
    assert.equal(result.clientError, undefined);
  });

  test('a client that trusts another CA refuses the server', async () => {
    const ca = await createCA('test-ca');
    const other = await createCA('other-ca');
    const server = await issueCertificate(ca, {
      commonName: 'api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const result = await handshake({ server, clientCa: other.certPem });
    assert.equal(result.clientError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('a client certificate verifies on the server side (mutual TLS), and its CN is the user', async () => {
    const ca = await createCA('cluster');
    const proxyCa = await createCA('front-proxy-ca');
    const server = await issueCertificate(ca, {
      commonName: 'api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const client = await issueCertificate(proxyCa, { commonName: 'front-proxy-client', usage: 'client' });
    const ok = await handshake({
      server,
      clientCa: ca.certPem,
      clientCert: client,
      serverTrustsClientsOf: proxyCa.certPem,
    });
    assert.equal(ok.serverSawClient, 'front-proxy-client');
    const stranger = await issueCertificate(ca, { commonName: 'not-the-proxy', usage: 'client' });
    const refused = await handshake({
      server,
      clientCa: ca.certPem,
      clientCert: stranger,
      serverTrustsClientsOf: proxyCa.certPem,
    });
    assert.equal(refused.serverSawClient, undefined);
  });

  test('certificates carry the extensions Go and node:tls check: CA flag, SANs, extended key usage', async () => {
    const ca = await createCA('test-ca');
    const leaf = await issueCertificate(ca, {
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server-and-client',
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    assert.equal(caCert.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.deepEqual([...(cert.keyUsage ?? [])].sort(), [SERVER_AUTH, CLIENT_AUTH].sort());
    assert.match(cert.subject, /O=system:masters/);
    assert.match(cert.subject, /CN=kube-apiserver-kubelet-client/);
    assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('a serving certificate without any SAN is refused: Go would not accept it', async () => {
    const ca = await createCA('test-ca');
    await assert.rejects(
      issueCertificate(ca, { commonName: 'x', usage: 'server' }),
      /needs at least one DNS name or IP/,
    );
  });

  test('certificates issued in bulk with one shared key verify like single ones, each with its own names', async () => {
    const ca = await createCA('kubelet-ca');
    const [a, b] = await issueCertificatesSharingKey(ca, [
      {
        commonName: 'system:node:n1',
        organizations: ['system:nodes'],
        dnsNames: ['n1'],
        ipAddresses: ['127.0.0.1'],
        usage: 'server',
      },
      { commonName: 'system:node:n2', dnsNames: ['n2'], ipAddresses: ['::1'], usage: 'server' },
    ]);
    assert.ok(a && b);
    const caCert = new X509Certificate(ca.certPem);
    const first = new X509Certificate(a.certPem);
    const second = new X509Certificate(b.certPem);
    assert.ok(first.verify(caCert.publicKey) && second.verify(caCert.publicKey));
    assert.equal(first.checkHost('n1'), 'n1');
    assert.equal(first.checkHost('n2'), undefined);
    assert.equal(second.checkIP('::1'), '::1');
    assert.notEqual(first.serialNumber, second.serialNumber);
    assert.deepEqual(first.keyUsage, [SERVER_AUTH]);
    assert.equal(a.keyPem, b.keyPem);
    assert.equal((await handshake({ server: a, clientCa: ca.certPem })).clientError, undefined);
  });

  test('a self-signed serving certificate is its own trust anchor for localhost and 127.0.0.1', async () => {
    const self = await selfSignedServingCertificate(['localhost', '127.0.0.1']);
    const cert = new X509Certificate(self.certPem);
    assert.match(cert.subject, /CN=localhost@\d+/);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal((await handshake({ server: self, clientCa: self.certPem })).clientError, undefined);
    const stranger = await createCA('stranger');
    assert.notEqual((await handshake({ server: self, clientCa: stranger.certPem })).clientError, undefined);
  });
});
