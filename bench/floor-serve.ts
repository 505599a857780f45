/**
 * The serve function's floor: node:https answering every request with one Redis GET of a pre-rendered
 * body (the HPA query's own answer), through the same Redis client options, on the same certificate.
 * Nothing a real server could skip is left to skip.
 *
 *   node bench/floor-serve.ts <redis url> <key> <cert file> <key file>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, createRedis } from '../shared/store/redis.ts';
import { answer } from './ipc.ts';

const [redisUrl, key, certFile, keyFile] = process.argv.slice(2);
if (!redisUrl || !key || !certFile || !keyFile)
  throw new Error('usage: floor-serve.ts <redis url> <key> <cert> <key>');
const redis = createRedis({ mode: 'single', url: redisUrl }, { commandTimeoutMs: 1000 });
await connect(redis);
const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile), keepAlive: true, keepAliveTimeout: 90_000 },
  (_req, res) => {
    redis.getBuffer(key).then(
      (body) => {
        if (body === null) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-cache, private',
          'content-length': body.length,
        });
        res.end(body);
      },
      () => res.writeHead(503).end(),
    );
  },
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
answer(
  async (r) => {
    if (r.cmd === 'info') return { port };
    throw new Error(`unknown command ${r.cmd}`);
  },
  async () => {
    server.closeAllConnections();
    server.close();
    redis.disconnect();
  },
);
