/**
 * The bench's summary of issue 12's targets (bench/report.ts): each is a ratio to a floor of the same
 * run, judged against the issue's bound (1.5×, 80 %, the floor's own p99), not DESIGN.md's looser ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issue12Targets } from '../../../bench/report.ts';

const row = (nodes: number, cpu: number, floor: number, cold: number) => ({
  nodes,
  sharded: null,
  cpuMsPerNode: cpu,
  floorCpuMsPerNode: floor,
  coldCpuMsPerNode: cold,
});
const load = (rps: number, p99Ms: number) => ({ rps, p99Ms }) as never;
const serve = (serveRps: number, floorRps: number, p99: number, floorP99: number, seconds: number) => ({
  hpa: {
    serve: load(serveRps, 0),
    floor: load(floorRps, 0),
    serveAtRate: load(1000, p99),
    floorAtRate: load(1000, floorP99),
    rate: 1000,
  },
  allPods: { seconds, floorSeconds: 0.2 },
});

test('each unsharded size is judged on warm CPU against its floor and cold CPU against warm', () => {
  const lines = issue12Targets([row(1000, 0.6, 0.4, 0.9), row(5000, 1.2, 0.4, 2.6)], null);
  assert.match(
    lines[2]!,
    /1000 nodes: warm CPU ≤ 1\.5× floor: 1\.50× — met; cold CPU ≤ 1\.5× warm: 1\.50× — met/,
  );
  assert.match(
    lines[3]!,
    /5000 nodes: warm CPU ≤ 1\.5× floor: 3\.00× — NOT met; cold CPU ≤ 1\.5× warm: 2\.17× — NOT met/,
  );
  assert.equal(lines.length, 4);
});

test('a sharded size is left to the scale-out targets', () => {
  const sharded = { ...row(10000, 3, 1, 6), sharded: {} as never };
  assert.equal(issue12Targets([sharded], null).length, 2);
});

test('the HPA query needs 80 % of the floor and a p99 no higher than the floor’s; all pods 1.5×', () => {
  const met = issue12Targets([], serve(8000, 10000, 1.2, 1.2, 0.3)).join('\n');
  assert.match(
    met,
    /HPA query ≥ 80 % of floor throughput: 80 % — met; p99 at 1000 requests\/s ≤ the floor's: 1\.20 against 1\.20 ms — met/,
  );
  assert.match(met, /all pods ≤ 1\.5× its floor: 1\.50× — met/);
  const missed = issue12Targets([], serve(7900, 10000, 1.3, 1.2, 0.31)).join('\n');
  assert.match(missed, /79 % — NOT met; .* 1\.30 against 1\.20 ms — NOT met/);
  assert.match(missed, /1\.55× — NOT met/);
});
