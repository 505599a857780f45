/**
 * A private InfluxDB 1.x (Debian's `influxdb`, 1.6.7) for one test file: `influxd run` on free loopback
 * ports with its data in a temporary folder, reporting and the internal monitor off, stopped and removed
 * by `stop()`. `.ci/run` installs the package when `influxd` is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../sim/processes.ts';

export interface Influxd {
  /** http://127.0.0.1:PORT */
  url: string;
  /** An InfluxQL statement through /query, its JSON answer. */
  query(q: string, db?: string): Promise<InfluxAnswer>;
  stop(): Promise<void>;
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface InfluxAnswer {
  results: { statement_id: number; error?: string; series?: InfluxSeries[] }[];
}

export function influxdInstalled(): boolean {
  return spawnSync('influxd', ['version'], { stdio: 'ignore' }).status === 0;
}

export async function startInfluxd(): Promise<Influxd> {
  if (!influxdInstalled()) {
    throw new Error('influxd is not installed: apt-get install -y influxdb (.ci/run does this)');
  }
  const dir = await mkdtemp(join(tmpdir(), 'influxd-'));
  const [http, rpc] = [await freePort(), await freePort()];
  const config = `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[retention]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
`;
  await writeFile(join(dir, 'influxdb.conf'), config);
  const child = spawn('influxd', ['run', '-config', join(dir, 'influxdb.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${http}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`influxd on port ${http}`, 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`influxd exited: ${stderr}`);
      return (await fetch(`${url}/ping`)).status === 204;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(q, db) {
      const body = new URLSearchParams({ q });
      if (db) body.set('db', db);
      const res = await fetch(`${url}/query`, { method: 'POST', body });
      return (await res.json()) as InfluxAnswer;
    },
    stop,
  };
}

/** The rows of a SELECT as objects (column → value), the series' tags included when grouped. */
export function rows(a: InfluxAnswer): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of a.results[0]?.series ?? []) {
    for (const v of s.values) {
      out.push({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) });
    }
  }
  return out;
}
