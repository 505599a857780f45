/**
 * The serve program started as a test calls it: HTTPS on a free loopback port with its self-signed
 * certificate, and a keep-alive client presenting a `system:masters` client certificate (no API server
 * needed: both CAs are flags, and masters are allowed without a SubjectAccessReview).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe } from '../../functions/serve/main.ts';
import { loadServeConfig } from '../../shared/config/index.ts';
import { createLogger } from '../../shared/log.ts';
import { createCA, issueCertificate } from '../../shared/pki.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body as received (protobuf answers are not text). */
  bytes: Buffer;
}

/** An HTTPS GET that trusts only the server's own self-signed certificate. */
export function get(agent: Agent, url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Authentication that needs no API server, in `certDir`: a client CA (whose `system:masters` client
 * certificate is returned, for the test's requests) and a front-proxy CA, both given as flags.
 */
export async function masterCredentials(certDir: string) {
  const [clientCa, frontProxyCa] = await Promise.all([
    createCA('test-client-ca'),
    createCA('test-front-proxy-ca'),
  ]);
  const client = await issueCertificate(clientCa, {
    commonName: 'test-admin',
    organizations: ['system:masters'],
    usage: 'client',
  });
  await writeFile(join(certDir, 'client-ca.crt'), clientCa.certPem);
  await writeFile(join(certDir, 'front-proxy-ca.crt'), frontProxyCa.certPem);
  return {
    client,
    flags: [
      `--client-ca-file=${join(certDir, 'client-ca.crt')}`,
      `--requestheader-client-ca-file=${join(certDir, 'front-proxy-ca.crt')}`,
    ],
  };
}

/** Starts serve with these flags (Redis among them) besides the port, address and CAs it is given here. */
export async function startServeAsMaster(flags: string[]) {
  const certDir = await mkdtemp(join(tmpdir(), 'serve-test-'));
  // Authentication is always on: this test calls as a system:masters client certificate (no API server
  // needed: both CAs are flags, and masters are allowed without a SubjectAccessReview).
  const { client, flags: authFlags } = await masterCredentials(certDir);
  const config = loadServeConfig(
    [
      '--secure-port',
      '0',
      '--bind-address',
      '127.0.0.1',
      // Stopped at once unless a test asks for the shutdown delay.
      '--shutdown-delay-duration=0s',
      ...flags,
      '--cert-dir',
      certDir,
      ...authFlags,
    ],
    {},
  );
  const lines: string[] = [];
  const handle = await startServe(config, {
    log: createLogger({ write: (l) => lines.push(l) }),
    drainMs: 2000,
  });
  const ca = await readFile(join(certDir, 'apiserver.crt'), 'utf8');
  const agent = new Agent({ keepAlive: true, ca, cert: client.certPem, key: client.keyPem });
  return {
    handle,
    agent,
    lines,
    get: (path: string, headers?: Record<string, string>) => get(agent, `${handle.url}${path}`, headers),
    async stop() {
      agent.destroy();
      await handle.close();
      await rm(certDir, { recursive: true, force: true });
    },
  };
}
