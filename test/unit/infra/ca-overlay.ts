/**
 * The ca-bundle path as docs/deploy.md tells users to take it: a CA, a serving certificate for the TLS
 * Service's DNS name signed by it (openssl), and a kustomize overlay of a base with the ca-bundle
 * component and a secretGenerator for the three files. Rendered by kubectl's kustomize.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kustomize, type Obj } from './manifests.ts';
import { writeOverlay } from './overlay.ts';

export interface CaOverlay {
  objects: Obj[];
  caPem: string;
  certPem: string;
  cleanup(): void;
}

export async function caBundleOverlay(base: string, namespace: string, dnsName: string): Promise<CaOverlay> {
  const dir = mkdtempSync(join(tmpdir(), 'ca-bundle-'));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string) => execFileSync('openssl', args.split(' '), { stdio: 'pipe' });
  openssl(
    `req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=metrics-ca -keyout ${file('ca.key')} -out ${file('ca.crt')}`,
  );
  openssl(
    `req -newkey rsa:2048 -nodes -subj /CN=metrics-serve -keyout ${file('tls.key')} -out ${file('tls.csr')}`,
  );
  writeFileSync(file('san.ext'), `subjectAltName=DNS:${dnsName}\n`);
  openssl(
    `x509 -req -in ${file('tls.csr')} -CA ${file('ca.crt')} -CAkey ${file('ca.key')} -CAcreateserial -days 1 -extfile ${file('san.ext')} -out ${file('tls.crt')}`,
  );
  writeOverlay(dir, {
    resources: [base],
    components: ['infra/kubernetes/components/ca-bundle'],
    extra: [
      'secretGenerator:',
      '  - name: metrics-serve-tls',
      `    namespace: ${namespace}`,
      '    type: kubernetes.io/tls',
      '    files: [tls.crt, tls.key, ca.crt]',
    ],
  });
  try {
    return {
      objects: await kustomize(dir),
      caPem: readFileSync(file('ca.crt'), 'utf8'),
      certPem: readFileSync(file('tls.crt'), 'utf8'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
