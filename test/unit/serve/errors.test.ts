import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { negotiate } from '../../../functions/serve/negotiate.ts';
import { API_VERSIONS, appWith, FakeReader, NODE_A, NODE_C } from './fake-reader.ts';

async function call(path: string, init: RequestInit = {}, reader = new FakeReader()) {
  const { app } = appWith(reader);
  const r = await app.request(path, init);
  return { status: r.status, headers: r.headers, body: await r.text(), reader };
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version}`, () => {
    describe('content negotiation', () => {
      for (const accept of [
        'application/json',
        'application/*',
        '*/*',
        '*',
        'text/html;q=0.9, application/json;q=0.5',
        'APPLICATION/JSON',
      ]) {
        test(`Accept: ${accept} gets JSON`, async () => {
          const r = await call(`${api.base}/nodes`, { headers: { accept } });
          assert.equal(r.status, 200);
          assert.equal(r.headers.get('content-type'), 'application/json');
          assert.equal(r.body, api.nodeList(NODE_A, NODE_C));
        });
      }

      test('no Accept header gets JSON', () => {
        assert.deepEqual(negotiate(undefined, true), { as: 'json' });
        assert.deepEqual(negotiate('', true), { as: 'json' });
      });

      test('the first acceptable clause by q wins, whatever the header order', () => {
        assert.deepEqual(
          negotiate('application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io', true),
          { as: 'Table', version: 'v1' },
        );
        assert.deepEqual(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io;q=0.1, */*', true), {
          as: 'json',
        });
      });

      test('a transformation the endpoint cannot do is skipped for the next clause', () => {
        assert.deepEqual(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io, application/json', false), {
          as: 'json',
        });
        assert.equal(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io', false), null);
        assert.equal(negotiate('application/json;as=Table;v=v2;g=meta.k8s.io', true), null);
        assert.equal(negotiate('application/json;as=Table', true), null);
        assert.equal(negotiate('application/json;as=Other;v=v1;g=meta.k8s.io', true), null);
        assert.equal(negotiate('application/json;stream=other', true), null);
      });

      for (const accept of [
        'application/yaml',
        'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io',
        'text/html',
        '*/json',
        'application/json;q=0',
      ]) {
        test(`Accept: ${accept} is a 406 listing JSON and protobuf, as indented JSON`, async () => {
          const r = await call(`${api.base}/nodes`, { headers: { accept } });
          assert.equal(r.status, 406);
          assert.equal(
            r.body,
            [
              '{',
              '  "kind": "Status",',
              '  "apiVersion": "v1",',
              '  "metadata": {},',
              '  "status": "Failure",',
              '  "message": "only the following media types are accepted: application/json, application/vnd.kubernetes.protobuf",',
              '  "reason": "NotAcceptable",',
              '  "code": 406',
              '}',
            ].join('\n'),
          );
          assert.deepEqual(r.reader.calls, [], 'rejected before reading the store');
        });
      }

      test('discovery documents have no Table form: a Table-only Accept is a 406', async () => {
        const r = await call('/apis', {
          headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
        });
        assert.equal(r.status, 406);
      });

      test('discovery is JSON only: a protobuf-only Accept is a 406 listing application/json', async () => {
        const r = await call('/apis', { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
        assert.equal(r.status, 406);
        assert.match(r.body, /"only the following media types are accepted: application\/json"/);
      });

      test('discovery asked as kubectl asks for objects (protobuf, then anything) is JSON', async () => {
        const r = await call('/apis', { headers: { accept: 'application/vnd.kubernetes.protobuf, */*' } });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'application/json');
      });
    });

    describe('unknown paths and methods', () => {
      const NOT_FOUND =
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
        '"message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}';

      for (const path of [
        '/api',
        '/apis/metrics.k8s.io/v2',
        '/apis/metrics.k8s.io/v1/watch/nodes',
        `${api.base}/watch/nodes`,
        `${api.base}/namespaces/default`,
        `${api.base}/namespaces/default/pods/nginx/status`,
        `${api.base}/services`,
      ]) {
        test(`${path} is a 404 Status`, async () => {
          const r = await call(path);
          assert.equal(r.status, 404);
          assert.equal(r.body, NOT_FOUND);
        });
      }

      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        test(`${method} on a resource is a 405 Status`, async () => {
          const r = await call(`${api.base}/namespaces/default/pods/nginx`, { method });
          assert.equal(r.status, 405);
          assert.equal(
            r.body,
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",' +
              '"message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed",' +
              '"details":{},"code":405}',
          );
          assert.deepEqual(r.reader.calls, []);
        });
      }

      test('POST on discovery and health paths is a 405 too', async () => {
        for (const path of ['/apis', api.base, '/readyz', '/version', '/']) {
          assert.equal((await call(path, { method: 'POST' })).status, 405, path);
        }
      });

      test('HEAD is answered like GET, without a body', async () => {
        const r = await call(`${api.base}/nodes`, { method: 'HEAD' });
        assert.equal(r.status, 200);
        assert.equal(r.body, '');
      });
    });

    describe('when Redis is down', () => {
      const down = () => {
        const reader = new FakeReader();
        reader.down = true;
        return reader;
      };

      for (const path of [
        `${api.base}/nodes`,
        `${api.base}/nodes/node-a`,
        `${api.base}/pods`,
        `${api.base}/namespaces/default/pods`,
        `${api.base}/namespaces/default/pods/nginx`,
      ]) {
        test(`${path} is a 503 ServiceUnavailable Status with a retry hint, never a crash`, async () => {
          const r = await call(path, {}, down());
          assert.equal(r.status, 503);
          assert.equal(r.headers.get('retry-after'), '1');
          assert.deepEqual(JSON.parse(r.body), {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'the metrics store (Redis) is unavailable, try again later',
            reason: 'ServiceUnavailable',
            details: { retryAfterSeconds: 1 },
            code: 503,
          });
          assert.ok(!r.body.includes('ECONNREFUSED'), 'the cause (addresses) stays in the log');
        });
      }

      test('bad queries are still answered as 400/405 first (no store read needed)', async () => {
        assert.equal((await call(`${api.base}/nodes?watch=1`, {}, down())).status, 405);
        assert.equal((await call(`${api.base}/nodes?labelSelector=(((`, {}, down())).status, 400);
      });
    });

    describe('a bug in a handler', () => {
      test('is a 500 Status with the error text and no reason, as apiserver writes a non-Status error', async () => {
        const reader = new FakeReader();
        reader.broken = new Error('failed listing nodes: boom');
        const r = await call(`${api.base}/nodes`, {}, reader);
        assert.equal(r.status, 500);
        assert.equal(
          r.body,
          '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"failed listing nodes: boom","code":500}',
        );
      });
    });
  });
}
