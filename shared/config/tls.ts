/**
 * metrics-server's `--tls-min-version` and `--tls-cipher-suites` take Go's crypto/tls names (as
 * k8s.io/component-base's flag parsing accepts them); Node's TLS server takes OpenSSL's. This maps one
 * to the other, following Go's behaviour: the suites choose what TLS 1.0–1.2 may negotiate, and TLS
 * 1.3's three suites are always on (Go does not let them be configured; names of TLS 1.3 suites in the
 * list are accepted and change nothing).
 */
import { DEFAULT_CIPHERS, getCiphers, type SecureVersion } from 'node:tls';
import type { Check } from './spec.ts';

/** Go's version names → Node's. Go's (and Node's) default minimum for servers is TLS 1.2. */
export const TLS_VERSIONS = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
} as const satisfies Record<string, SecureVersion>;

export type TlsVersionName = keyof typeof TLS_VERSIONS;
export const TLS_VERSION_NAMES = Object.keys(TLS_VERSIONS) as [TlsVersionName, ...TlsVersionName[]];

/** TLS 1.3's suites: always enabled, as in Go. */
const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Go's names of the TLS 1.0–1.2 suites it implements (tls.CipherSuites()) → OpenSSL's. */
const SECURE: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  // component-base keeps these older spellings
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/** tls.InsecureCipherSuites(): accepted with a warning, as kube-apiserver does. */
const INSECURE: Record<string, string> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

/** The OpenSSL name of a Go suite name, secure or insecure; only the tables' own names (never `valueOf`). */
const opensslName = (name: string): string | undefined =>
  Object.hasOwn(SECURE, name) ? SECURE[name] : Object.hasOwn(INSECURE, name) ? INSECURE[name] : undefined;

// Asked only when a suite is named: Workers' node:tls has no getCiphers, and this module loads there too.
let available: Set<string> | undefined;
function inOpenSsl(name: string): boolean {
  available ??= new Set(getCiphers());
  return available.has(name.toLowerCase());
}

/** A Go cipher suite name this Node's OpenSSL can serve. */
export const cipherSuite: Check<string> = (name) => {
  if (TLS13.includes(name)) return undefined;
  const openssl = opensslName(name);
  if (openssl === undefined) {
    return `${JSON.stringify(name)} is not a cipher suite name of Go's crypto/tls (such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`;
  }
  if (!inOpenSsl(openssl)) {
    return `${JSON.stringify(name)} (OpenSSL ${openssl}) is not available in this Node's OpenSSL`;
  }
  return undefined;
};

export const isInsecureCipherSuite = (name: string): boolean => Object.hasOwn(INSECURE, name);

export interface TlsPolicy {
  minVersion: SecureVersion;
  /** OpenSSL's cipher list for TLS 1.0–1.2 (TLS 1.3's suites stay at their default, all three); absent: Node's default */
  ciphers?: string;
}

/** Node's server options for the flags' values (each suite already checked by `cipherSuite`). */
export function tlsPolicy(minVersion: TlsVersionName, suites: readonly string[]): TlsPolicy {
  const listed = [...new Set(suites.filter((s) => !TLS13.includes(s)).map((s) => opensslName(s)!))];
  // Only TLS 1.3 names: Go then has no suite for TLS 1.0–1.2, so only TLS 1.3 can be negotiated.
  if (suites.length > 0 && listed.length === 0) return { minVersion: 'TLSv1.3' };
  const node = TLS_VERSIONS[minVersion];
  // OpenSSL 3's default security level refuses TLS 1.0 and 1.1 handshakes (SHA-1 signatures); Go
  // serves them when asked to, so an explicit older minimum lowers the level as well.
  const legacy = node === 'TLSv1' || node === 'TLSv1.1';
  if (listed.length === 0 && !legacy) return { minVersion: node };
  const ciphers = listed.length === 0 ? DEFAULT_CIPHERS : listed.join(':');
  return { minVersion: node, ciphers: legacy ? `${ciphers}:@SECLEVEL=0` : ciphers };
}
