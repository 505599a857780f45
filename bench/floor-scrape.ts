/**
 * The scraper's floor: the least work any scraper must do. It fetches the same kubelet payloads over the
 * same kind of connections (node:https, a keep-alive Agent, the same TLS verification and bearer token,
 * the same concurrency) and parses them with the same decoders, and nothing else: no API server lists,
 * no Redis, no rates, no rendering. The scraper's CPU is reported as a ratio to this.
 *
 *   node bench/floor-scrape.ts   (URLs, token, CA and concurrency come with each `cycle` request)
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { decode } from '../functions/scrape/decode/index.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

let agent: https.Agent | null = null;

function fetchAndDecode(url: string, headers: Record<string, string>): Promise<number> {
  const requestTime = Date.now();
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent: agent!, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${url}: status ${res.statusCode}`));
          return;
        }
        const batch = decode('resource', Buffer.concat(chunks).toString('utf8'), requestTime);
        resolve(batch.pods.length);
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
  agent ??= new https.Agent({
    keepAlive: true,
    maxCachedSessions: 100_000,
    ca: readFileSync(r.ca as string),
  });
  const headers = {
    Authorization: `Bearer ${r.token as string}`,
    Accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
  };
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let next = 0;
  let pods = 0;
  const worker = async () => {
    while (next < urls.length) pods += await fetchAndDecode(urls[next++]!, headers);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  return { wallMs: performance.now() - t0, cpuMs: cpuMs() - cpu0, pods, peakRssMiB: peakRssMiB() };
});
