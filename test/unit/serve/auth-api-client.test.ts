/**
 * The fetch-based API client (what the Worker reviews tokens and access with), against a real HTTP
 * server on loopback: what it sends, what it makes of each kind of answer, its deadline, and that every
 * call is handed to `keepAlive` while it runs.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApiError, fetchApiClient } from '../../../functions/serve/auth/api-client.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base = '';
const seen: Seen[] = [];
let answer: (req: Seen, res: ServerResponse) => void = (_req, res) => res.end('{}');

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (status: number, body: unknown) => (_req: Seen, res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('fetchApiClient', () => {
  test('POSTs JSON with the given headers and resolves with the JSON answer', async () => {
    answer = json(201, { kind: 'TokenReview', status: { authenticated: true } });
    const api = fetchApiClient({ server: `${base}/prefix/`, headers: { authorization: 'Bearer s3cret' } });
    assert.equal(api.server, `${base}/prefix`);
    const got = await api.post('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 't' } });
    assert.deepEqual(got, { kind: 'TokenReview', status: { authenticated: true } });
    const req = seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/prefix/apis/authentication.k8s.io/v1/tokenreviews');
    assert.equal(req.headers.authorization, 'Bearer s3cret');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers.accept, 'application/json');
    assert.deepEqual(JSON.parse(req.body), { spec: { token: 't' } });
  });

  test("a refusal is an ApiError with the status and the Status' message, never the request body", async () => {
    answer = json(403, {
      kind: 'Status',
      message: 'tokenreviews.authentication.k8s.io is forbidden: User "x" cannot create resource',
    });
    const api = fetchApiClient({ server: base, headers: {} });
    await assert.rejects(
      api.post('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'tok-123' } }),
      (err) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.status, 403);
        assert.equal(
          err.message,
          `POST ${base}/apis/authentication.k8s.io/v1/tokenreviews: 403 Forbidden: tokenreviews.authentication.k8s.io is forbidden: User "x" cannot create resource`,
        );
        assert.ok(!err.message.includes('tok-123'));
        return true;
      },
    );
  });

  test('an answer that is not JSON is an ApiError quoting one line of it', async () => {
    answer = (_req, res) => res.writeHead(200).end('<html>\n  proxy   error\n</html>');
    await assert.rejects(fetchApiClient({ server: base, headers: {} }).get('/x'), {
      name: 'ApiError',
      message: `GET ${base}/x: the answer is not JSON: <html> proxy error </html>`,
    });
  });

  test('no answer within the deadline, or nobody listening: an ApiError with status 0', async () => {
    answer = () => undefined; // never answers
    const slow = fetchApiClient({ server: base, headers: {}, timeoutMs: 200 });
    await assert.rejects(slow.get('/hang'), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 0);
      assert.equal(err.message, `GET ${base}/hang: no answer within 0.2s`);
      return true;
    });
    server.closeAllConnections();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(fetchApiClient({ server: `http://127.0.0.1:${port}`, headers: {} }).get('/x'), {
      name: 'ApiError',
      status: 0,
    });
  });

  test('every call is handed to keepAlive while it runs, and settles there even when it fails', async () => {
    answer = json(500, { kind: 'Status', message: 'etcd is down' });
    const kept: Promise<unknown>[] = [];
    const api = fetchApiClient({ server: base, headers: {}, keepAlive: (p) => kept.push(p) });
    await assert.rejects(api.get('/a'), /500 Internal Server Error: etcd is down/);
    answer = json(200, { ok: true });
    await api.post('/b', {});
    assert.equal(kept.length, 2);
    assert.deepEqual(await Promise.all(kept), [undefined, { ok: true }]);
  });
});
