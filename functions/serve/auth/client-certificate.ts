/**
 * Client certificates signed by the cluster's client CA (`--client-ca-file`, or `client-ca-file` in
 * kube-system/extension-apiserver-authentication): the user is the certificate's common name, its
 * groups the organizations, as kube-apiserver's x509 authenticator reads them.
 */
import { type CaBundle, verifyChain } from './certificates.ts';
import type { Authenticator } from './credentials.ts';

export function clientCertificateAuthenticator(ca: () => CaBundle | null): Authenticator {
  return {
    name: 'x509',
    authenticate(r) {
      const bundle = ca();
      const peer = r.peer;
      if (bundle === null || peer === null) return null;
      if (!peer.authorized) return { error: 'x509: certificate signed by unknown authority' };
      const problem = verifyChain(peer.chain, bundle);
      if (problem !== null) return { error: problem };
      const { commonName, organizations } = peer.subject;
      if (commonName === '') return null;
      return { user: { name: commonName, uid: '', groups: organizations, extra: {} } };
    },
  };
}
