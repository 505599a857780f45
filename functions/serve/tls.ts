/**
 * The serving certificate: `--tls-cert-file`/`--tls-private-key-file` when given; otherwise, as
 * metrics-server (k8s.io/apiserver's MaybeDefaultWithSelfSignedCerts) does, a self-signed one for
 * localhost, 127.0.0.1, ::1 and the host name, kept as apiserver.crt/apiserver.key in `--cert-dir`
 * (reused when already there) or in a fresh temporary folder. A self-signed certificate is what an
 * APIService with `insecureSkipTLSVerify: true` accepts; give real files to use a `caBundle`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  isInsecureCipherSuite,
  type TlsPolicy,
  type TlsVersionName,
  tlsPolicy,
} from '../../shared/config/index.ts';
import type { Logger } from '../../shared/log.ts';
import { selfSignedServingCertificate } from '../../shared/pki.ts';

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  /** Where the certificate came from, for the startup log. */
  certFile: string;
  /** Removes what this process created (a temporary cert dir); a no-op otherwise. */
  cleanup(): Promise<void>;
}

export interface TlsFlags {
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  certDir: string;
}

async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read --${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

export async function servingCertificate(flags: TlsFlags, log: Logger): Promise<ServingCertificate> {
  if (flags.tlsCertFile !== '') {
    const [certPem, keyPem] = await Promise.all([
      readFlagFile('tls-cert-file', flags.tlsCertFile),
      readFlagFile('tls-private-key-file', flags.tlsPrivateKeyFile),
    ]);
    return { certPem, keyPem, certFile: flags.tlsCertFile, cleanup: async () => {} };
  }

  const temporary = flags.certDir === '';
  const dir = temporary ? await mkdtemp(join(tmpdir(), 'metrics-serve-')) : flags.certDir;
  const certFile = join(dir, 'apiserver.crt');
  const keyFile = join(dir, 'apiserver.key');
  const cleanup = temporary ? () => rm(dir, { recursive: true, force: true }) : async () => {};

  if (!temporary) {
    const [certPem, keyPem] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
    if (certPem !== null && keyPem !== null) return { certPem, keyPem, certFile, cleanup };
  }

  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', hostname()])];
  const { certPem, keyPem } = await selfSignedServingCertificate(hosts);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(certFile, certPem);
    await writeFile(keyFile, keyPem, { mode: 0o600 });
  } catch (err) {
    throw new ConfigError(
      `cannot write the self-signed certificate into --cert-dir ${dir}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  log.info('Generated self-signed cert', { certFile, hosts });
  return { certPem, keyPem, certFile, cleanup };
}

/**
 * --tls-min-version and --tls-cipher-suites as Node's server options: to be given to the server and to
 * every setSecureContext, since a new context would otherwise fall back to Node's defaults. Insecure
 * suites are served, with kube-apiserver's warning.
 */
export function servingTlsPolicy(
  flags: { tlsMinVersion: TlsVersionName; tlsCipherSuites: readonly string[] },
  log: Logger,
): TlsPolicy {
  for (const suite of flags.tlsCipherSuites.filter(isInsecureCipherSuite)) {
    log.warn('Use of insecure cipher detected', { cipher: suite });
  }
  return tlsPolicy(flags.tlsMinVersion, flags.tlsCipherSuites);
}
