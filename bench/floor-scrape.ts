/**
 * The scraper's floors: the least work any scraper must do. The program fetches the same kubelet
 * payloads over the same kind of connections (node:https, a keep-alive Agent, the same TLS verification
 * and bearer token, the same concurrency) and reads each body into text, as the scraper's kubelet client
 * does; then, in `decode` mode (the floor the scraper's CPU is held to), parses it with the same decoder,
 * and in `io` mode (the I/O floor) does nothing more. No API server lists, no Redis, no rates, no
 * rendering. Both modes run in one process on one Agent, so they share the same kept-alive connections;
 * their difference is what decoding costs.
 *
 *   node bench/floor-scrape.ts   (mode, URLs, token, CA and concurrency come with each `cycle` request)
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { BodyText } from '../functions/scrape/body-text.ts';
import { decode } from '../functions/scrape/decode/index.ts';
import { KeepAliveAgent } from '../functions/scrape/kubelet.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

export type FloorMode = 'decode' | 'io';

let agent: https.Agent | null = null;
/** Body bytes received in the current cycle. */
let received = 0;

/** Fetches one body as text; in `decode` mode decodes it. Resolves with the pods decoded (0 in `io`). */
function fetchBody(url: string, headers: Record<string, string>, mode: FloorMode): Promise<number> {
  const requestTime = Date.now();
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent: agent!, headers }, (res) => {
      // As the scraper's kubelet client reads it (functions/scrape/body-text.ts).
      const text = new BodyText();
      res.on('data', (c: Buffer) => text.add(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${url}: status ${res.statusCode}`));
          return;
        }
        received += text.size;
        const body = text.text();
        resolve(mode === 'decode' ? decode('resource', body, requestTime).pods.length : 0);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

answer(async (r) => {
  if (r.cmd !== 'cycle') throw new Error(`unknown command ${r.cmd}`);
  const urls = r.urls as string[];
  const concurrency = r.concurrency as number;
  const mode = (r.mode ?? 'decode') as FloorMode;
  // The scraper's agent class (a kept-alive socket does not keep its first request and body alive),
  // and no session cache (Node's holds each session as a view of a 64 KiB buffer): warm cycles reuse
  // the kept connections, and the floor's peak RSS is what the connections and the cycle's bodies cost.
  agent ??= new KeepAliveAgent({ keepAlive: true, maxCachedSessions: 0, ca: readFileSync(r.ca as string) });
  const headers = {
    Authorization: `Bearer ${r.token as string}`,
    Accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
  };
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let next = 0;
  let pods = 0;
  received = 0;
  const worker = async () => {
    while (next < urls.length) pods += await fetchBody(urls[next++]!, headers, mode);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  return {
    mode,
    wallMs: performance.now() - t0,
    cpuMs: cpuMs() - cpu0,
    pods,
    bytes: received,
    peakRssMiB: peakRssMiB(),
  };
});
