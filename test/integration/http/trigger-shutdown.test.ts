/**
 * The scrape and events trigger servers stop as the serve function does (shared/http/serving.ts): the
 * real programs, SIGTERM while keep-alive clients keep asking for /metrics (a Prometheus scraper's way):
 * readiness fails at once, requests are answered through --shutdown-delay-duration, then each
 * keep-alive connection is closed after its response and the program exits 0; nothing that was sent is
 * lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProgram, waitFor } from '../../../sim/processes.ts';
import { askWhole, assertGracefulStop, stopUnderLoad } from '../../helpers/graceful-stop.ts';
import { loggedUrl } from '../../helpers/process-watch.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { nowhereKubeconfig, triggerArgs } from '../../helpers/trigger-program.ts';

const DELAY_MS = 2000;
const CLIENTS = 4;

let db: TestDb;
let dir: string;
before(async () => {
  db = await leaseTestDb();
  dir = await mkdtemp(join(tmpdir(), 'trigger-shutdown-'));
});
after(async () => {
  await db?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** GET on `agent`: answered means a whole Prometheus text body (it ends with a newline). */
const getMetrics = (url: string, agent: Agent) =>
  askWhole(request, url, { agent }, (body) =>
    body.endsWith('\n') ? { ok: true } : { ok: false, refused: false, why: 'truncated' },
  );

/** /readyz as a kubelet probes it: a new connection each time. */
function readiness(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/readyz`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

describe('a trigger server stopped under load', () => {
  for (const fn of ['scrape', 'events'] as const) {
    test(`${fn}: unready at once, answered through the delay, then closed after each response; nothing lost`, {
      timeout: 60_000,
    }, async (t) => {
      const kubeconfig = await nowhereKubeconfig(dir);
      const lines: string[] = [];
      const program = startProgram(
        fn,
        [
          ...triggerArgs(fn, { kubeconfig, redisUrl: db.url }),
          `--shutdown-delay-duration=${DELAY_MS / 1000}s`,
        ],
        (l) => lines.push(l),
      );
      const base = await waitFor(`${fn} to be ready`, 20_000, async () => {
        const url = loggedUrl(lines, 'address')?.origin;
        return url && (await readiness(url).catch(() => 0)) === 200 ? url : undefined;
      }).catch((err: unknown) => {
        program.child.kill('SIGKILL');
        throw new Error(`${String(err)}; its log:\n${lines.join('\n')}`);
      });
      const agents = Array.from({ length: CLIENTS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
      const figures = await stopUnderLoad({
        program,
        clients: CLIENTS,
        ask: (i) => getMetrics(`${base}/metrics`, agents[i]!),
        readiness: () => readiness(base),
      });
      for (const a of agents) a.destroy();
      assertGracefulStop(
        t,
        figures,
        DELAY_MS,
        `${CLIENTS} keep-alive clients of the ${fn} function's /metrics`,
      );
    });
  }
});
