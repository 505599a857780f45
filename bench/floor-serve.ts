/**
 * The serve function's floor: node:https answering every request with one Redis GET of a pre-rendered
 * body (the HPA query's own answer), through the same Redis client options, on the same certificate.
 * Nothing a real server could skip is left to skip.
 *
 * With a stream key, it is also the all-pods floor: `GET <all pods path>` streams the all-pods answer's
 * own bytes, kept in Redis as a list of chunks, read a batch of chunks per round trip with the next
 * batch asked for while the last one is written, and written as the socket drains (chunked encoding,
 * as the serve function streams it).
 *
 *   node bench/floor-serve.ts <redis url> <key> <cert file> <key file> [<stream key> <stream path>]
 *
 * A request whose Accept header starts with Kubernetes' protobuf type gets `<key>:protobuf` instead, when
 * it is set (the HPA query's protobuf answer).
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, createRedis } from '../shared/store/redis.ts';
import { answer } from './ipc.ts';

const [redisUrl, key, certFile, keyFile, streamKey, streamPath] = process.argv.slice(2);
if (!redisUrl || !key || !certFile || !keyFile)
  throw new Error('usage: floor-serve.ts <redis url> <key> <cert> <key> [<stream key> <stream path>]');
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
/** Chunks per round trip of the stream: about the serve function's batch (5,000 pods, ≈ 1.6 MB). */
const STREAM_BATCH = 24;

const redis = createRedis({ mode: 'single', url: redisUrl }, { commandTimeoutMs: 1000 });
await connect(redis);

/** Writes the list `streamKey` to `res`, one batch of chunks per LRANGE, the next read ahead. */
async function stream(res: ServerResponse, list: string): Promise<void> {
  const batch = (from: number) => redis.lrangeBuffer(list, from, from + STREAM_BATCH - 1);
  let next = batch(0);
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  for (let from = 0; ; from += STREAM_BATCH) {
    const chunks = await next;
    if (chunks.length === 0) break;
    next = batch(from + STREAM_BATCH);
    for (const c of chunks) {
      if (!res.write(c)) await new Promise((resolve) => res.once('drain', resolve));
    }
  }
  res.end();
}

const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile), keepAlive: true, keepAliveTimeout: 90_000 },
  (req, res) => {
    if (streamKey && req.url === streamPath) {
      stream(res, streamKey).catch(() => res.destroy());
      return;
    }
    const protobuf = req.headers.accept?.startsWith(PROTOBUF) === true;
    redis.getBuffer(protobuf ? `${key}:protobuf` : key).then(
      (body) => {
        if (body === null) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'content-type': protobuf ? PROTOBUF : 'application/json',
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
