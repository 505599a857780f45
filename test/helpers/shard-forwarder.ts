/**
 * A tiny round-robin HTTP forwarder, standing for the Service (or Knative's activator, OpenFaaS' gateway)
 * in front of several scrape instances: each request goes to the next backend in turn, as is. A test can
 * hold back or fail the shards it names (by the shard index in the body), to see what the coordinator
 * does with a shard that never answers or fails.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ShardFault = 'hang' | 'fail';

export interface Forwarder {
  url: string;
  /** Requests forwarded to each backend, by its URL. */
  counts: Map<string, number>;
  /** Faults by shard index (0-based): `hang` never answers, `fail` answers 502. */
  faults: Map<number, ShardFault>;
  /** Requests a fault was applied to. */
  faulted: number;
  /** Shard requests forwarded and not answered yet: to which backend, since when (ms). */
  inFlight: Set<{ backend: string; shard: number; since: number }>;
  setBackends(urls: string[]): void;
  close(): Promise<void>;
}

export async function startForwarder(backends: string[]): Promise<Forwarder> {
  let list = [...backends];
  let next = 0;
  const held = new Set<import('node:http').ServerResponse>();
  const f: Forwarder = {
    url: '',
    counts: new Map(),
    faults: new Map(),
    faulted: 0,
    inFlight: new Set(),
    setBackends(urls) {
      list = [...urls];
    },
    async close() {
      for (const res of held) res.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let index = -1;
      try {
        index = (JSON.parse(body.toString('utf8')) as { shard?: { index?: number } }).shard?.index ?? -1;
      } catch {
        // Not a shard request: forwarded as it is.
      }
      const fault = f.faults.get(index);
      if (fault) {
        f.faulted++;
        if (fault === 'fail')
          res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
        else held.add(res);
        return;
      }
      const backend = list[next++ % list.length]!;
      f.counts.set(backend, (f.counts.get(backend) ?? 0) + 1);
      const flight = { backend, shard: index, since: Date.now() };
      if (index >= 0) f.inFlight.add(flight);
      res.on('close', () => f.inFlight.delete(flight));
      const out = request(
        new URL(req.url ?? '/', backend),
        { method: req.method, headers: { ...req.headers, host: new URL(backend).host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `forwarding to ${backend}: ${err.message}` }));
      });
      out.end(body);
    });
  });
  server.keepAliveTimeout = 90_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  f.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return f;
}
