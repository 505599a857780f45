/**
 * What stands in for the platform's routing in the sharded benchmark: the coordinator's `--shard-url`.
 * It sends each `POST /shard` to one shard instance, the same one for the same shard every cycle
 * (shard `index` modulo the instances), as a platform that routes consistently would, so each instance
 * keeps the connections and TLS sessions of its own nodes (DESIGN.md, Scale-out). The shard's place is
 * read from the start of the request body (`"shard":{"index":N`, the contract's field); the body itself
 * is passed on unchanged, with the answer. In its own process, so its CPU is its own (reported apart).
 *
 *   node bench/shard-router.ts   (`start` with the instances' URLs; `usage` with the requests per instance)
 */
import http from 'node:http';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

const SHARD_INDEX = /"shard":\s*\{\s*"index":\s*(\d+)/;
/** How far into the body the shard's place is looked for (it comes before the nodes and pods). */
const LOOK_BYTES = 64 * 1024;

let upstreams: URL[] = [];
/** Requests each instance was sent since the last `usage`. */
let sent: number[] = [];
let failures: string[] = [];
const agent = new http.Agent({ keepAlive: true });

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const m = SHARD_INDEX.exec(body.subarray(0, LOOK_BYTES).toString('latin1'));
    if (!m) {
      const why = `no "shard":{"index":N} in the first ${LOOK_BYTES} bytes of ${req.method} ${req.url}`;
      failures.push(why);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: why }));
      return;
    }
    const i = Number(m[1]) % upstreams.length;
    sent[i]!++;
    const target = new URL(req.url ?? '/', upstreams[i]);
    const { host: _host, connection: _connection, ...headers } = req.headers;
    const out = http.request(target, { method: req.method, headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', (err) => {
      failures.push(`instance ${i} (${upstreams[i]}): ${err.message}`);
      if (!res.headersSent)
        res
          .writeHead(502, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: err.message }));
      else res.destroy(err);
    });
    out.end(body);
  });
}

const server = http.createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, route);

answer(
  async (r) => {
    switch (r.cmd) {
      case 'start': {
        upstreams = (r.upstreams as string[]).map((u) => new URL(u));
        sent = upstreams.map(() => 0);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const { port } = server.address() as { port: number };
        return { url: `http://127.0.0.1:${port}` };
      }
      case 'usage': {
        const out = { cpuMs: cpuMs(), peakRssMiB: peakRssMiB(), sent, failures };
        sent = upstreams.map(() => 0);
        failures = [];
        return out;
      }
      default:
        throw new Error(`unknown command ${r.cmd}`);
    }
  },
  async () => {
    server.closeAllConnections();
    server.close();
    agent.destroy();
  },
);
