/**
 * Where the serve function's trust comes from: the CA flags, else kube-system/extension-apiserver-
 * authentication, combined as k8s.io/apiserver's DelegatingAuthenticationOptions combines them.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ApiError } from '../../../functions/serve/auth/api-client.ts';
import {
  AuthenticationConfigError,
  type AuthenticationFlags,
  authenticationConfig,
  needsConfigMap,
  readAuthenticationConfigMap,
  sameAuthentication,
} from '../../../functions/serve/auth/authentication-config.ts';
import { createCA } from '../../../shared/pki.ts';
import { FakeApi } from './auth-fakes.ts';

const FLAGS: AuthenticationFlags = {
  clientCaFile: '',
  requestheaderClientCaFile: '',
  requestheaderAllowedNames: [],
  requestheaderUsernameHeaders: ['X-Remote-User'],
  requestheaderGroupHeaders: ['X-Remote-Group'],
  requestheaderExtraHeadersPrefix: ['X-Remote-Extra-'],
};

let caA: string;
let caB: string;
before(async () => {
  [caA, caB] = await Promise.all([
    createCA('a').then((c) => c.certPem),
    createCA('b').then((c) => c.certPem),
  ]);
});

/** What kube-apiserver publishes. */
const published = () => ({
  'client-ca-file': caA,
  'requestheader-client-ca-file': caB,
  'requestheader-allowed-names': '["front-proxy-client"]',
  'requestheader-username-headers': '["X-Proxy-User"]',
  'requestheader-group-headers': '["X-Proxy-Group"]',
  'requestheader-extra-headers-prefix': '["X-Proxy-Extra-"]',
  'requestheader-uid-headers': '[]',
});

describe('the authentication configuration', () => {
  test('the ConfigMap is read unless both CAs are flags', () => {
    assert.equal(needsConfigMap(FLAGS), true);
    assert.equal(needsConfigMap({ ...FLAGS, clientCaFile: '/c' }), true);
    assert.equal(needsConfigMap({ ...FLAGS, requestheaderClientCaFile: '/r' }), true);
    assert.equal(needsConfigMap({ ...FLAGS, clientCaFile: '/c', requestheaderClientCaFile: '/r' }), false);
  });

  test('from the ConfigMap alone: both CAs, the allowed names and the header names it publishes', () => {
    const c = authenticationConfig(FLAGS, {}, published());
    assert.equal(c.clientCa?.pem.trim(), caA.trim());
    assert.equal(c.requestHeader?.ca.pem.trim(), caB.trim());
    assert.deepEqual(
      {
        allowedNames: c.requestHeader?.allowedNames,
        usernameHeaders: c.requestHeader?.usernameHeaders,
        groupHeaders: c.requestHeader?.groupHeaders,
        extraHeaderPrefixes: c.requestHeader?.extraHeaderPrefixes,
      },
      {
        allowedNames: ['front-proxy-client'],
        usernameHeaders: ['X-Proxy-User'],
        groupHeaders: ['X-Proxy-Group'],
        extraHeaderPrefixes: ['X-Proxy-Extra-'],
      },
    );
    assert.match(c.sources.requestHeader, /configmap\/extension-apiserver-authentication in kube-system/);
  });

  test('CA flags win over the ConfigMap; a request-header CA flag brings the header flags with it', () => {
    const c = authenticationConfig(
      { ...FLAGS, clientCaFile: '/etc/client.crt', requestheaderClientCaFile: '/etc/proxy.crt' },
      { clientCa: caB, requestHeaderCa: caA },
      published(),
    );
    assert.equal(c.clientCa?.pem.trim(), caB.trim());
    assert.equal(c.requestHeader?.ca.pem.trim(), caA.trim());
    assert.deepEqual(c.requestHeader?.usernameHeaders, ['X-Remote-User']);
    assert.deepEqual(c.requestHeader?.allowedNames, [], 'the flag’s (empty) list, not the ConfigMap’s');
    assert.equal(c.sources.clientCa, '--client-ca-file /etc/client.crt');
  });

  test('a non-empty --requestheader-allowed-names overrides the ConfigMap’s list', () => {
    const c = authenticationConfig({ ...FLAGS, requestheaderAllowedNames: ['my-proxy'] }, {}, published());
    assert.deepEqual(c.requestHeader?.allowedNames, ['my-proxy']);
  });

  test('a ConfigMap without header keys falls back to the flags’ header names', () => {
    const c = authenticationConfig(FLAGS, {}, { 'requestheader-client-ca-file': caB });
    assert.deepEqual(c.requestHeader?.usernameHeaders, ['X-Remote-User']);
    assert.deepEqual(c.requestHeader?.allowedNames, []);
  });

  test('nothing published and no flags: no front proxy, no client CA', () => {
    const c = authenticationConfig(FLAGS, {}, null);
    assert.deepEqual({ rh: c.requestHeader, ca: c.clientCa }, { rh: null, ca: null });
  });

  test('bad inputs are named: a list that is not JSON, a CA that is not PEM', () => {
    assert.throws(
      () =>
        authenticationConfig(
          FLAGS,
          {},
          { ...published(), 'requestheader-allowed-names': 'front-proxy-client' },
        ),
      (e: Error) =>
        e instanceof AuthenticationConfigError &&
        /requestheader-allowed-names is not a JSON list of strings: "front-proxy-client"/.test(e.message),
    );
    assert.throws(
      () => authenticationConfig({ ...FLAGS, clientCaFile: '/etc/c.crt' }, { clientCa: 'garbage' }, null),
      (e: Error) =>
        e instanceof AuthenticationConfigError &&
        e.message === '--client-ca-file /etc/c.crt: no PEM certificate in it',
    );
  });

  test('a changed CA or allowed name is a change; the same content is not', () => {
    const a = authenticationConfig(FLAGS, {}, published());
    assert.ok(sameAuthentication(a, authenticationConfig(FLAGS, {}, published())));
    assert.ok(
      !sameAuthentication(
        a,
        authenticationConfig(FLAGS, {}, { ...published(), 'requestheader-client-ca-file': caA }),
      ),
    );
    assert.ok(
      !sameAuthentication(
        a,
        authenticationConfig(FLAGS, {}, { ...published(), 'requestheader-allowed-names': '[]' }),
      ),
    );
  });
});

describe('reading kube-system/extension-apiserver-authentication', () => {
  test('GETs the ConfigMap and returns its data', async () => {
    const api = new FakeApi(() => ({ kind: 'ConfigMap', data: { a: 'b' } }));
    assert.deepEqual(await readAuthenticationConfigMap(api), { a: 'b' });
    assert.deepEqual(api.calls, [
      { method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication' },
    ]);
  });

  test('a missing ConfigMap is no data (apiserver goes on without it)', async () => {
    const api = new FakeApi(() => {
      throw new ApiError(
        'GET …: 404 Not Found: configmaps "extension-apiserver-authentication" not found',
        404,
      );
    });
    assert.equal(await readAuthenticationConfigMap(api), null);
  });

  test('a forbidden read says which RoleBinding fixes it', async () => {
    const api = new FakeApi(() => {
      throw new ApiError('GET …: 403 Forbidden: configmaps is forbidden', 403);
    });
    await assert.rejects(readAuthenticationConfigMap(api), (e: Error) => {
      assert.ok(e instanceof AuthenticationConfigError);
      assert.match(
        e.message,
        /unable to get configmap\/extension-apiserver-authentication in kube-system: .*403/,
      );
      assert.match(e.message, /--role=extension-apiserver-authentication-reader/);
      return true;
    });
  });
});
