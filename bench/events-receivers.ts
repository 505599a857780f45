/**
 * The events benchmark's three sinks, received in their own process (so what receiving costs is not
 * the function's): the webhook's HTTP server, a reader of the file the function's standard output goes
 * to, and a consumer of the Redis stream it writes. Each notes when every record arrived, on this
 * machine's clock: the webhook request's end, the moment its line was read from the file (inotify, with
 * a poll behind it), the stream entry's id (Redis' own clock, the time of the XADD).
 *
 *   node bench/events-receivers.ts <stdout file> <redis url> <stream>
 */

import { watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

const [file, redisUrl, stream] = process.argv.slice(2);
if (!file || !redisUrl || !stream)
  throw new Error('usage: events-receivers.ts <stdout file> <redis url> <stream>');

type Sink = 'stdout' | 'webhook' | 'redis';
const SINKS: Sink[] = ['stdout', 'webhook', 'redis'];
/** Per sink: the arrival time (ms) of each record, by the event version's resourceVersion. */
const arrivals = new Map<Sink, Map<number, number>>(SINKS.map((s) => [s, new Map()]));
const duplicates = new Map<Sink, number>(SINKS.map((s) => [s, 0]));

/** `<uid>/<resourceVersion>` → the resourceVersion. */
const rvOf = (id: string) => Number(id.slice(id.lastIndexOf('/') + 1));

function arrived(sink: Sink, id: string, atMs: number): void {
  const m = arrivals.get(sink)!;
  const rv = rvOf(id);
  if (m.has(rv)) duplicates.set(sink, duplicates.get(sink)! + 1);
  else m.set(rv, atMs);
}

// The webhook: a JSON array of records per POST, answered 200 once read.
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    try {
      for (const r of JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }[])
        arrived('webhook', r.id, at);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (err) {
      res.writeHead(400).end(String(err));
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const webhookPort = (server.address() as { port: number }).port;

// The stdout file: read as it grows; each line's id is at its start (`{"id":"…"`).
const handle = await open(file, 'r');
let offset = 0;
let partial = '';
let reading = false;
const ID = /^\{"id":"([^"]+)"/;
async function readNew(): Promise<void> {
  if (reading) return;
  reading = true;
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      const at = Date.now();
      const lines = (partial + buf.toString('utf8', 0, bytesRead)).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const m = ID.exec(line);
        if (m) arrived('stdout', m[1]!, at);
      }
    }
  } finally {
    reading = false;
  }
}
const watcher = watch(file, () => void readNew());
const poll = setInterval(() => void readNew(), 100);

// The Redis stream: consumed as it grows and trimmed behind, as a consumer would.
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
let last = '0-0';
let consuming = true;
const consumed = (async () => {
  while (consuming) {
    const entries = await redis.xrange(stream, `(${last}`, '+', 'COUNT', 5000);
    for (const [id, fields] of entries) {
      const at = Number(id.slice(0, id.indexOf('-')));
      const i = fields.indexOf('id');
      if (i >= 0) arrived('redis', fields[i + 1]!, at);
      last = id;
    }
    if (entries.length > 0) await redis.xtrim(stream, 'MINID', last);
    if (entries.length < 5000) await new Promise((r) => setTimeout(r, 100));
  }
})();

answer(
  async (r) => {
    switch (r.cmd) {
      case 'info':
        return { webhookPort };
      case 'usage':
        await readNew();
        return {
          cpuMs: cpuMs(),
          peakRssMiB: peakRssMiB(),
          counts: Object.fromEntries(SINKS.map((s) => [s, arrivals.get(s)!.size])),
          duplicates: Object.fromEntries(duplicates),
        };
      case 'arrivals':
        await readNew();
        return { arrivals: Object.fromEntries(SINKS.map((s) => [s, [...arrivals.get(s)!]])) };
      default:
        throw new Error(`unknown command ${r.cmd}`);
    }
  },
  async () => {
    consuming = false;
    await consumed.catch(() => undefined);
    clearInterval(poll);
    watcher.close();
    await handle.close();
    redis.disconnect();
    server.close();
  },
);
