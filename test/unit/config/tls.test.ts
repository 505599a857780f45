/**
 * --tls-min-version and --tls-cipher-suites in Go's names, as Node's TLS server options: Go's behaviour
 * is the contract (the suites choose TLS 1.0–1.2's; TLS 1.3's three are always on).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CIPHERS } from 'node:tls';
import { cipherSuite, isInsecureCipherSuite, tlsPolicy } from '../../../shared/config/index.ts';

describe('tlsPolicy', () => {
  test("without flags: TLS 1.2 and up, Node's default suites (Go's default minimum is 1.2 too)", () => {
    assert.deepEqual(tlsPolicy('VersionTLS12', []), { minVersion: 'TLSv1.2' });
  });

  test("each Go version name maps to Node's", () => {
    assert.equal(tlsPolicy('VersionTLS13', []).minVersion, 'TLSv1.3');
    assert.equal(tlsPolicy('VersionTLS11', []).minVersion, 'TLSv1.1');
    assert.equal(tlsPolicy('VersionTLS10', []).minVersion, 'TLSv1');
  });

  test('Go suite names become OpenSSL names, in order, each once; the older ChaCha spellings too', () => {
    assert.deepEqual(
      tlsPolicy('VersionTLS12', [
        'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
        'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
        'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
        'TLS_RSA_WITH_AES_128_CBC_SHA',
      ]),
      {
        minVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:AES128-SHA',
      },
    );
  });

  test("TLS 1.3 names in the list change nothing: TLS 1.3's suites stay all on", () => {
    assert.deepEqual(
      tlsPolicy('VersionTLS12', ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']),
      {
        minVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
      },
    );
  });

  test('only TLS 1.3 names: no suite is left for TLS 1.0–1.2, so only TLS 1.3 can be negotiated', () => {
    assert.deepEqual(tlsPolicy('VersionTLS12', ['TLS_AES_256_GCM_SHA384']), { minVersion: 'TLSv1.3' });
  });

  test('a minimum below TLS 1.2 lowers OpenSSL 3’s security level, as those handshakes need', () => {
    assert.deepEqual(tlsPolicy('VersionTLS11', []), {
      minVersion: 'TLSv1.1',
      ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=0`,
    });
    assert.deepEqual(tlsPolicy('VersionTLS10', ['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA']), {
      minVersion: 'TLSv1',
      ciphers: 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0',
    });
  });
});

describe('cipherSuite (the check of each --tls-cipher-suites item)', () => {
  test("accepts Go's names of suites this OpenSSL has, TLS 1.3's included", () => {
    for (const name of [
      'TLS_AES_128_GCM_SHA256',
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
      'TLS_RSA_WITH_AES_256_GCM_SHA384',
    ]) {
      assert.equal(cipherSuite(name), undefined, name);
    }
  });

  test('refuses OpenSSL spellings and unknown names, and names what it expects', () => {
    assert.equal(
      cipherSuite('ECDHE-RSA-AES128-GCM-SHA256'),
      '"ECDHE-RSA-AES128-GCM-SHA256" is not a cipher suite name of Go\'s crypto/tls (such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)',
    );
  });

  test('refuses the names every plain object inherits (valueOf, toString, __proto__) as unknown', () => {
    for (const name of ['valueOf', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      assert.match(cipherSuite(name) ?? '', /is not a cipher suite name of Go's crypto\/tls/, name);
      assert.equal(isInsecureCipherSuite(name), false, name);
    }
  });

  test("refuses Go's RC4 and 3DES suites, which this OpenSSL no longer has", () => {
    assert.match(cipherSuite('TLS_RSA_WITH_RC4_128_SHA') ?? '', /not available in this Node's OpenSSL/);
    assert.match(cipherSuite('TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA') ?? '', /not available/);
  });

  test("knows Go's insecure suites (served with kube-apiserver's warning)", () => {
    assert.equal(isInsecureCipherSuite('TLS_RSA_WITH_AES_128_GCM_SHA256'), true);
    assert.equal(isInsecureCipherSuite('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'), false);
  });
});
