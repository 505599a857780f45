/**
 * A small certificate authority for the simulated cluster, and the serve function's self-signed serving
 * certificate. ECDSA P-256 with SHA-256, certificates built with @peculiar/x509 over WebCrypto, keys
 * exported as PKCS#8 PEM so that node:tls and Go clients (kubectl) load them.
 *
 * Extensions follow what kubeadm and client-go's cert helpers write, because Go's verifier is the
 * strictest client we meet: a CA carries basicConstraints CA:TRUE (critical), keyCertSign and a SKI; a
 * leaf carries CA:FALSE, digitalSignature + keyEncipherment, the extKeyUsage it is for, its SANs, and
 * SKI/AKI so that chains build without guessing.
 */
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign, webcrypto } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type * as X509 from '@peculiar/x509';

let loading: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509 is loaded on first use, not at import: it costs about half a second, which a serve
 * function given its own certificate should not pay on a cold start. It is loaded after the shim
 * because its CommonJS build requires tsyringe, which throws at load time unless a Reflect metadata
 * polyfill is present (its README asks for `reflect-metadata`).
 */
function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    installReflectMetadataShim();
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return loading;
}

/**
 * The part of the Reflect metadata API that tsyringe uses (getMetadata, getOwnMetadata, defineMetadata),
 * installed only when no polyfill is loaded. x509 registers its algorithms without constructor
 * parameters, so the metadata it asks for is always absent; the shim only has to answer correctly.
 */
function installReflectMetadataShim(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, Map<unknown, unknown>>>();
  const own = (target: object, property: unknown) => store.get(target)?.get(property);
  reflect.defineMetadata = (key: unknown, value: unknown, target: object, property?: unknown) => {
    const byProperty = store.get(target) ?? new Map<unknown, Map<unknown, unknown>>();
    store.set(target, byProperty);
    const byKey = byProperty.get(property) ?? new Map<unknown, unknown>();
    byProperty.set(property, byKey);
    byKey.set(key, value);
  };
  reflect.getOwnMetadata = (key: unknown, target: object, property?: unknown) =>
    own(target, property)?.get(key);
  reflect.getMetadata = (key: unknown, target: object, property?: unknown) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const byKey = own(t, property);
      if (byKey?.has(key)) return byKey.get(key);
    }
    return undefined;
  };
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
// Certificates are back-dated so that a peer whose clock is slightly behind still accepts them.
const BACKDATE_MS = 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
// KeyUsage bits as @peculiar/x509 numbers them (RFC 5280 §4.2.1.3).
const DIGITAL_SIGNATURE = 1;
const KEY_ENCIPHERMENT = 4;
const KEY_CERT_SIGN = 32;
const CRL_SIGN = 64;

interface KeyPair {
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
}

export interface CertificateAuthority {
  commonName: string;
  certPem: string;
  keyPem: string;
  /** What issuing needs; not serialisable. */
  readonly signer: {
    cert: X509.X509Certificate;
    keys: KeyPair;
    /** The CA's subject key identifier (hex), which every issued certificate names as its AKI. */
    keyId: string;
  };
}

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export type CertificateUsage = 'server' | 'client' | 'server-and-client';

export interface IssueOptions {
  commonName: string;
  /** Subject O= values; Kubernetes reads them as a client certificate's groups. */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertificateUsage;
  validityDays?: number;
}

export interface CreateCaOptions {
  validityDays?: number;
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

function pem(der: ArrayBuffer | Buffer, label: string): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return pem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Positive 128-bit serial numbers (RFC 5280: at most 20 octets, non-negative, non-zero). */
function randomSerials(count: number): Buffer[] {
  const bytes = randomBytes(16 * count);
  return Array.from({ length: count }, (_, i) => {
    const serial = bytes.subarray(i * 16, i * 16 + 16);
    serial[0] = (serial[0]! & 0x7f) | 0x01;
    return serial;
  });
}

const randomSerial = () => randomSerials(1)[0]!.toString('hex');

function subjectName(commonName: string, organizations: string[] = []) {
  return [...organizations.map((o) => ({ O: [o] })), { CN: [commonName] }];
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

function checkNames(opts: IssueOptions): void {
  const bad = (opts.ipAddresses ?? []).find((ip) => !isIPv4(ip) && !isIPv6(ip));
  if (bad !== undefined)
    throw new Error(`certificate for "${opts.commonName}": "${bad}" is not an IP address`);
  if (opts.usage !== 'client' && (opts.dnsNames ?? []).length + (opts.ipAddresses ?? []).length === 0) {
    // Go has refused to match a host name against the CN since 1.15: a SAN-less serving cert is useless.
    throw new Error(`serving certificate for "${opts.commonName}" needs at least one DNS name or IP address`);
  }
}

const EXT_KEY_USAGES: Record<CertificateUsage, string[]> = {
  server: [SERVER_AUTH],
  client: [CLIENT_AUTH],
  'server-and-client': [SERVER_AUTH, CLIENT_AUTH],
};

function leafConstraints(x509: typeof X509, usage: CertificateUsage): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(DIGITAL_SIGNATURE | KEY_ENCIPHERMENT, true),
    new x509.ExtendedKeyUsageExtension(EXT_KEY_USAGES[usage]),
  ];
}

function sanExtension(
  x509: typeof X509,
  dnsNames: string[] = [],
  ipAddresses: string[] = [],
): X509.Extension[] {
  const names = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  return names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

export async function createCA(
  commonName: string,
  opts: CreateCaOptions = {},
): Promise<CertificateAuthority> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subjectName(commonName),
    ...validity(opts.validityDays ?? 3650),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(KEY_CERT_SIGN | CRL_SIGN | DIGITAL_SIGNATURE, true),
      ski,
    ],
  });
  return {
    commonName,
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    signer: { cert, keys, keyId: ski.keyId },
  };
}

export async function issueCertificate(
  ca: CertificateAuthority,
  opts: IssueOptions,
): Promise<CertificateAndKey> {
  checkNames(opts);
  const x509 = await loadX509();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectName(opts.commonName, opts.organizations),
    issuer: ca.signer.cert.subjectName,
    ...validity(opts.validityDays ?? 365),
    publicKey: keys.publicKey,
    signingKey: ca.signer.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      ...leafConstraints(x509, opts.usage),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.AuthorityKeyIdentifierExtension(ca.signer.keyId),
      ...sanExtension(x509, opts.dnsNames, opts.ipAddresses),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * A serving certificate for a server reached on this machine (`localhost`, `127.0.0.1`): the demo's,
 * the benchmarks' and the tests' servers.
 */
export function issueLoopbackServerCertificate(
  ca: CertificateAuthority,
  commonName: string,
): Promise<CertificateAndKey> {
  return issueCertificate(ca, {
    commonName,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
}

/**
 * Many certificates from one CA that share one key pair, for the simulated kubelets: a cluster of
 * 5,000 nodes needs 5,000 serving certificates at start-up, and building each through the ASN.1
 * library costs milliseconds. Here the constant parts (issuer, public key, the extensions other than
 * the SAN) are encoded once by @peculiar/x509, and each certificate is assembled from them in DER and
 * signed with node:crypto, which costs about a tenth of a millisecond. The result has the shape that
 * `issueCertificate` makes (the tests parse and verify both).
 */
export async function issueCertificatesSharingKey(
  ca: CertificateAuthority,
  requests: IssueOptions[],
): Promise<CertificateAndKey[]> {
  for (const r of requests) checkNames(r);
  const x509 = await loadX509();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (for P-256, the last 65 bytes).
  const keyId = createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest('hex');
  const caKey = KeyObject.from(ca.signer.keys.privateKey);
  const issuer = Buffer.from(ca.signer.cert.subjectName.toArrayBuffer());
  const extensionsFor = new Map<CertificateUsage, Buffer>();
  const constantExtensions = (usage: CertificateUsage) => {
    let found = extensionsFor.get(usage);
    if (!found) {
      const list = [
        ...leafConstraints(x509, usage),
        new x509.SubjectKeyIdentifierExtension(keyId),
        new x509.AuthorityKeyIdentifierExtension(ca.signer.keyId),
      ];
      found = Buffer.concat(list.map((e) => Buffer.from(e.rawData)));
      extensionsFor.set(usage, found);
    }
    return found;
  };
  const serials = randomSerials(requests.length);
  const validities = new Map<number, Buffer>();
  const validityFor = (days: number) => {
    let found = validities.get(days);
    if (!found) {
      const v = validity(days);
      found = der.seq(der.time(v.notBefore), der.time(v.notAfter));
      validities.set(days, found);
    }
    return found;
  };
  return requests.map((opts, i) => {
    const tbs = der.seq(
      der.VERSION_3,
      der.tlv(0x02, serials[i]!),
      der.ECDSA_WITH_SHA256,
      issuer,
      validityFor(opts.validityDays ?? 365),
      der.name(opts.commonName, opts.organizations ?? []),
      spki,
      der.tlv(
        0xa3,
        der.seq(
          constantExtensions(opts.usage),
          der.subjectAltName(opts.dnsNames ?? [], opts.ipAddresses ?? []),
        ),
      ),
    );
    const signature = sign('sha256', tbs, { key: caKey, dsaEncoding: 'der' });
    const cert = der.seq(tbs, der.ECDSA_WITH_SHA256, der.tlv(0x03, Buffer.from([0]), signature));
    return { certPem: pem(cert, 'CERTIFICATE'), keyPem };
  });
}

/** The few DER encodings (X.690) that `issueCertificatesSharingKey` assembles by hand. */
const der = {
  tlv(tag: number, ...content: Buffer[]): Buffer {
    const body = content.length === 1 ? content[0]! : Buffer.concat(content);
    const n = body.length;
    const head =
      n < 0x80
        ? [tag, n]
        : n < 0x100
          ? [tag, 0x81, n]
          : n < 0x10000
            ? [tag, 0x82, n >> 8, n & 0xff]
            : [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    return Buffer.concat([Buffer.from(head), body]);
  },
  seq: (...content: Buffer[]) => der.tlv(0x30, ...content),
  // [0] EXPLICIT INTEGER 2
  VERSION_3: Buffer.from('a003020102', 'hex'),
  // SEQUENCE { OID 1.2.840.10045.4.3.2 }
  ECDSA_WITH_SHA256: Buffer.from('300a06082a8648ce3d040302', 'hex'),
  time(d: Date): Buffer {
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    const digits = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return d.getUTCFullYear() < 2050
      ? der.tlv(0x17, Buffer.from(`${digits.slice(2)}Z`))
      : der.tlv(0x18, Buffer.from(`${digits}Z`));
  },
  name(commonName: string, organizations: string[]): Buffer {
    const rdn = (oid: string, value: string) =>
      der.tlv(0x31, der.seq(Buffer.from(oid, 'hex'), der.tlv(0x0c, Buffer.from(value, 'utf8'))));
    // OIDs 2.5.4.10 (O) and 2.5.4.3 (CN)
    return der.seq(...organizations.map((o) => rdn('060355040a', o)), rdn('0603550403', commonName));
  },
  subjectAltName(dnsNames: string[], ipAddresses: string[]): Buffer {
    const names = [
      ...dnsNames.map((d) => der.tlv(0x82, Buffer.from(d, 'ascii'))),
      ...ipAddresses.map((ip) => der.tlv(0x87, ipBytes(ip))),
    ];
    // OID 2.5.29.17
    return der.seq(Buffer.from('0603551d11', 'hex'), der.tlv(0x04, der.seq(...names)));
  },
};

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/**
 * A self-signed serving certificate for the given host names and IP addresses, as metrics-server makes
 * for `localhost`/`127.0.0.1` when it is given none (CN `localhost@<unix time>`). It is its own CA
 * (CA:TRUE) so that a client can pin it as the trust anchor, e.g. an APIService `caBundle`.
 */
export async function selfSignedServingCertificate(hostnames: string[]): Promise<CertificateAndKey> {
  if (hostnames.length === 0) throw new Error('selfSignedServingCertificate needs at least one host name');
  const x509 = await loadX509();
  const isIp = (h: string) => isIPv4(h) || isIPv6(h);
  const keys = await generateKeys();
  const commonName = `${hostnames.find((h) => !isIp(h)) ?? hostnames[0]}@${Math.floor(Date.now() / 1000)}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subjectName(commonName),
    ...validity(365),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | KEY_CERT_SIGN, true),
      new x509.ExtendedKeyUsageExtension([SERVER_AUTH]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...sanExtension(
        x509,
        hostnames.filter((h) => !isIp(h)),
        hostnames.filter(isIp),
      ),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}
