/**
 * A real scraper (createScraper, as `npm run scrape` builds it) against a simulated cluster: the
 * kubelets' CA and a kubeconfig written into a directory of its own, and the flags that reach the
 * simulated kubelets over real HTTPS.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScraper, type Scraper } from '../../functions/scrape/scraper.ts';
import { loadScrapeConfig } from '../../shared/config/index.ts';
import { createLogger } from '../../shared/log.ts';
import type { Sim } from '../../sim/index.ts';

/** A new directory holding the simulated kubelets' CA and the scraper's kubeconfig. */
export async function simScraperDir(sim: Sim, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'kubelet-ca.crt'), sim.kubeletCaPem);
  await sim.writeKubeconfig(join(dir, 'scraper.kubeconfig'), 'scraper');
  return dir;
}

/** A scraper of the simulated cluster into `redisUrl` (a 60 s resolution), its log lines into `lines`. */
export function simScraper(redisUrl: string, dir: string, extra: string[], lines: string[] = []): Scraper {
  const config = loadScrapeConfig(
    [
      `--redis-url=${redisUrl}`,
      `--kubeconfig=${join(dir, 'scraper.kubeconfig')}`,
      `--kubelet-certificate-authority=${join(dir, 'kubelet-ca.crt')}`,
      '--kubelet-use-node-status-port',
      '--kubelet-preferred-address-types=InternalIP',
      '--metric-resolution=60s',
      '--kubelet-request-timeout=2s',
      ...extra,
    ],
    {},
  );
  return createScraper(config, createLogger({ write: (l) => lines.push(l) }));
}
