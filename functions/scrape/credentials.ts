/**
 * The kubelet client's own TLS material (`--kubelet-certificate-authority`, `--kubelet-client-certificate`,
 * `--kubelet-client-key`), read and checked once at start: a file that cannot be read, is not PEM, or a key
 * that does not belong to the certificate stops the program with one line naming the flag, instead of
 * failing every node's scrape later. Key material never appears in a message.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../shared/config/index.ts';

export interface KubeletCredentialFlags {
  kubeletVia: 'direct' | 'proxy';
  kubeletCertificateAuthority: string;
  kubeletClientCertificate: string;
  kubeletClientKey: string;
}

export interface KubeletCredentials {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

function read(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read --${flag} ${path}: ${why(err)}`);
  }
}

function certificates(flag: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks =
    pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`--${flag} ${path} holds no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ConfigError(`--${flag} ${path}: certificate ${i + 1} cannot be parsed: ${why(err)}`);
    }
  });
}

function privateKey(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    // node:crypto's text says nothing more useful, and the key's bytes must not be echoed.
    throw new ConfigError(`--kubelet-client-key ${path} holds no usable PEM private key`);
  }
}

/**
 * The kubelet TLS flags that do nothing with --kubelet-via=proxy (the API server reaches the kubelets
 * with its own credentials): worth a warning at start, since they hint at a misunderstanding.
 */
export function ignoredWithProxy(f: KubeletCredentialFlags & { kubeletInsecureTls: boolean }): string[] {
  if (f.kubeletVia !== 'proxy') return [];
  const set: [string, boolean][] = [
    ['--kubelet-certificate-authority', f.kubeletCertificateAuthority !== ''],
    ['--kubelet-client-certificate', f.kubeletClientCertificate !== ''],
    ['--kubelet-client-key', f.kubeletClientKey !== ''],
    ['--kubelet-insecure-tls', f.kubeletInsecureTls],
  ];
  return set.filter(([, on]) => on).map(([flag]) => flag);
}

/** Reads and checks the files the flags name (none with --kubelet-via=proxy). Throws ConfigError. */
export function readKubeletCredentials(f: KubeletCredentialFlags): KubeletCredentials {
  if (f.kubeletVia !== 'direct') return {};
  const out: KubeletCredentials = {};
  if (f.kubeletCertificateAuthority) {
    out.ca = read('kubelet-certificate-authority', f.kubeletCertificateAuthority);
    certificates('kubelet-certificate-authority', f.kubeletCertificateAuthority, out.ca);
  }
  if (f.kubeletClientCertificate) {
    out.cert = read('kubelet-client-certificate', f.kubeletClientCertificate);
    out.key = read('kubelet-client-key', f.kubeletClientKey);
    const [leaf] = certificates('kubelet-client-certificate', f.kubeletClientCertificate, out.cert);
    const key = privateKey(f.kubeletClientKey, out.key);
    if (!leaf!.checkPrivateKey(key)) {
      throw new ConfigError(
        `--kubelet-client-key ${f.kubeletClientKey} does not belong to --kubelet-client-certificate ${f.kubeletClientCertificate}`,
      );
    }
  }
  return out;
}
