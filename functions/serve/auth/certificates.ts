/**
 * Client certificates: CA bundles, and whether a peer's chain leads to one of a bundle's authorities.
 *
 * The TLS server asks every client for a certificate and verifies it against the union of the
 * request-header CA and the client CA (node:tls' `authorized`), but that alone cannot say WHICH
 * authority vouched for it, and the two mean very different things: the front proxy may assert any
 * user, a client certificate only its own name. So each chain is checked again here, per bundle:
 * signatures link by link up to a certificate of that bundle, the leaf is in its validity period and
 * usable for client authentication. The check is against the bundles in force now (they are reloaded),
 * so a CA taken out of the bundle stops being believed even on a long-lived connection.
 */
import { createHash, X509Certificate } from 'node:crypto';

export interface CaBundle {
  /** The PEM text, as handed to node:tls. */
  readonly pem: string;
  readonly certificates: readonly X509Certificate[];
  /** sha256 of the PEM text: whether a reload changed anything. */
  readonly digest: string;
}

export class CaBundleError extends Error {
  override name = 'CaBundleError';
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Parses a PEM bundle; `source` names where it came from (a flag and file, a ConfigMap key). */
export function parseCaBundle(pem: string, source: string): CaBundle {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new CaBundleError(`${source}: no PEM certificate in it`);
  const certificates = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CaBundleError(
        `${source}: certificate ${i + 1} cannot be parsed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  });
  return {
    pem: `${blocks.join('\n')}\n`,
    certificates,
    digest: createHash('sha256').update(pem).digest('hex'),
  };
}

/** Both bundles for node:tls' `ca`: a client verifying against either gets through the handshake. */
export function unionPem(bundles: readonly (CaBundle | null)[]): string | undefined {
  const pems = bundles.filter((b): b is CaBundle => b !== null).map((b) => b.pem);
  return pems.length === 0 ? undefined : pems.join('');
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** A peer's certificates, leaf first, then the issuers it presented or node:tls completed. */
export type PeerChain = readonly X509Certificate[];

/** What a chain's checks need from its leaf, read once: each X509Certificate getter calls into C++. */
interface LeafFacts {
  notBefore: number;
  notAfter: number;
  validity: string;
  clientAuth: boolean;
  /** Whether the chain leads to a bundle's authority, by the bundle's digest. */
  signedBy: Map<string, boolean>;
}

/**
 * Kept per chain (one per connection), so a keep-alive connection reads its leaf and checks signatures
 * once per CA bundle, not once per request. Signature checks cost tens of microseconds each.
 */
const factsOf = new WeakMap<PeerChain, LeafFacts>();

function leafFacts(chain: PeerChain, leaf: X509Certificate): LeafFacts {
  let facts = factsOf.get(chain);
  if (facts === undefined) {
    // keyUsage here is the extended key usage list; absent means any use (as Go's verifier reads it).
    const usages = leaf.keyUsage;
    facts = {
      notBefore: leaf.validFromDate.getTime(),
      notAfter: leaf.validToDate.getTime(),
      validity: `${leaf.validFrom} – ${leaf.validTo}`,
      clientAuth:
        usages === undefined || usages.includes(CLIENT_AUTH) || usages.includes(ANY_EXTENDED_KEY_USAGE),
      signedBy: new Map(),
    };
    factsOf.set(chain, facts);
  }
  return facts;
}

/** Why `chain` does not lead to an authority of `bundle`, or null when it does. */
export function verifyChain(chain: PeerChain, bundle: CaBundle, nowMs = Date.now()): string | null {
  const leaf = chain[0];
  if (leaf === undefined) return 'no client certificate';
  const facts = leafFacts(chain, leaf);
  if (nowMs < facts.notBefore || nowMs > facts.notAfter) {
    return `x509: certificate has expired or is not yet valid: current time ${new Date(nowMs).toISOString()} is outside ${facts.validity}`;
  }
  if (!facts.clientAuth) return 'x509: certificate specifies an incompatible key usage';
  let signed = facts.signedBy.get(bundle.digest);
  if (signed === undefined) {
    signed = leadsTo(chain, bundle);
    facts.signedBy.set(bundle.digest, signed);
  }
  return signed ? null : 'x509: certificate signed by unknown authority';
}

function leadsTo(chain: PeerChain, bundle: CaBundle): boolean {
  for (let k = 0; k < chain.length; k++) {
    const cert = chain[k]!;
    const anchor = bundle.certificates.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (anchor !== undefined) return true;
    const issuer = chain[k + 1];
    // Go on only through an issuer that really signed this certificate and may sign certificates.
    if (
      issuer === undefined ||
      issuer.fingerprint256 === cert.fingerprint256 ||
      !issuer.ca ||
      !cert.checkIssued(issuer) ||
      !cert.verify(issuer.publicKey)
    )
      break;
  }
  return false;
}

/** The subject's common name and organizations, as node:tls parsed them. */
export interface Subject {
  commonName: string;
  organizations: string[];
}

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

export function subjectOf(subject: { CN?: string | string[]; O?: string | string[] } | undefined): Subject {
  // Go's pkix.Name.CommonName is the last CN attribute.
  const cns = asList(subject?.CN);
  return { commonName: cns.at(-1) ?? '', organizations: asList(subject?.O) };
}
