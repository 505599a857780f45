/**
 * Issue 11.5: a serve replica stopped under load loses nothing. The real program, SIGTERM while
 * several keep-alive clients (the aggregator's way) hammer a namespace's pods: readiness fails at once,
 * requests keep being answered for --shutdown-delay-duration, then each keep-alive connection is
 * closed after its current response and the process exits. Not one request that was sent gets a reset,
 * an error status or a truncated body; a connection refused once the listener is closed carried no
 * request (the next replica gets it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PodMetricsList } from '../../../shared/metrics-api.ts';
import { encodeEntry } from '../../../shared/store/entry.ts';
import { keys } from '../../../shared/store/keys.ts';
import { startProgram, waitFor } from '../../../sim/processes.ts';
import { askWhole, assertGracefulStop, type Outcome, stopUnderLoad } from '../../helpers/graceful-stop.ts';
import { loggedUrl } from '../../helpers/process-watch.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';
import { masterCredentials } from '../../helpers/serve.ts';

const DELAY_MS = 3000;
const CLIENTS = 6;
const PODS = 1000;
const PATH = '/apis/metrics.k8s.io/v1beta1/namespaces/big/pods';

let db: TestDb;
let dir: string;

before(async () => {
  db = await leaseTestDb();
  dir = await mkdtemp(join(tmpdir(), 'serve-shutdown-'));
  // A namespace of 1,000 pods (about 250 kB of JSON): a body cut short would not parse or count.
  const [s, us] = await db.redis.time();
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  const fields: Record<string, string> = {};
  for (let i = 0; i < PODS; i++) {
    const name = `pod-${String(i).padStart(4, '0')}`;
    const item =
      `{"metadata":{"name":"${name}","namespace":"big","creationTimestamp":"2025-10-14T05:50:51Z","labels":{"app":"x"}},` +
      '"timestamp":"2025-10-14T05:50:41Z","window":"15s","containers":[{"name":"c","usage":{"cpu":"5m","memory":"3136Ki"}}]}';
    fields[name] = encodeEntry({ expiresAt: now + 600_000, timestamp: now, labels: '{"app":"x"}', item });
  }
  await db.redis.hset(keys.pods('big'), fields);
  await db.redis.hset(keys.namespaces, 'big', `${now + 600_000}\t${PODS}`);
});
after(async () => {
  await db?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** One GET on `agent`: answered means every pod, in a body that parses. */
const getPods = (url: string, agent: Agent) =>
  askWhole(request, url, { agent }, (body): Outcome => {
    try {
      const n = PodMetricsList.parse(JSON.parse(body)).items.length;
      return n === PODS ? { ok: true } : { ok: false, refused: false, why: `${n} pods of ${PODS}` };
    } catch (err) {
      return { ok: false, refused: false, why: `bad body (${body.length} bytes): ${String(err)}` };
    }
  });

/** /readyz as the kubelet asks it: a new connection each time, no client certificate. */
function readyz(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/readyz`, { agent: false, ca, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

test('SIGTERM under load: unready at once, answered through the delay, keep-alive connections closed after their response, not one request lost', {
  timeout: 90_000,
}, async (t) => {
  const certDir = await mkdtemp(join(dir, 'certs-'));
  const { client, flags } = await masterCredentials(certDir);
  const lines: string[] = [];
  const serve = startProgram(
    'serve',
    [
      // Port 0: a port picked free beforehand may be taken by another process meanwhile.
      '--secure-port=0',
      '--bind-address=127.0.0.1',
      `--redis-url=${db.url}`,
      `--cert-dir=${certDir}`,
      `--shutdown-delay-duration=${DELAY_MS / 1000}s`,
      ...flags,
    ],
    (l) => lines.push(l),
  );
  let ca = '';
  const base = await waitFor('serve to be ready', 20_000, async () => {
    // The URL is logged once it listens, after its self-signed certificate was written.
    const api = loggedUrl(lines, 'url')?.origin;
    if (!api) return undefined;
    ca ||= await readFile(join(certDir, 'apiserver.crt'), 'utf8');
    return (await readyz(api, ca).catch(() => 0)) === 200 ? api : undefined;
  }).catch((err: unknown) => {
    serve.child.kill('SIGKILL');
    throw new Error(`${String(err)}; its log:\n${lines.join('\n')}`);
  });
  const url = `${base}${PATH}`;

  // The aggregator's way: each client one keep-alive connection, a request as soon as the last one
  // was answered.
  const agents = Array.from(
    { length: CLIENTS },
    () => new Agent({ keepAlive: true, maxSockets: 1, ca, cert: client.certPem, key: client.keyPem }),
  );
  const figures = await stopUnderLoad({
    program: serve,
    clients: CLIENTS,
    ask: (i) => getPods(url, agents[i]!),
    readiness: () => readyz(base, ca),
  });
  for (const a of agents) a.destroy();
  assertGracefulStop(t, figures, DELAY_MS, `${CLIENTS} keep-alive clients`);
  assert.ok(
    lines.some((l) => l.includes('Closing the listeners')),
    'it logged the drain',
  );
});
