/**
 * A Redis failover under load, as DESIGN.md's fault table states it ("both functions follow the new
 * master by themselves; serve is back within 5 s, no wrong answer is ever served"): the simulated cluster,
 * the real scraper program on its own ticker (`--loop`), two serve replicas answering continuously, and a
 * Redis topology whose master fails (SIGKILL, or a failover that leaves it up). Every answer is judged
 * (answers.ts) and timed; the figures are what the tests assert (failoverContract) and print.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { graceMs, leaseMs } from '../../functions/scrape/cycle.ts';
import { decodeEntry } from '../../shared/store/entry.ts';
import { CYCLE_FIELD, cycleChannel } from '../../shared/store/keys.ts';
import { type Sim, startSim } from '../../sim/index.ts';
import { type Program, startProgram, waitFor } from '../../sim/processes.ts';
import { type Expected, judge, type ListPath, type Verdict } from './answers.ts';
import { startServeAsMaster } from './serve.ts';
import { completePods } from './served.ts';

/** metrics-server's smallest resolution: cycles come as often as they may. */
export const RESOLUTION_MS = 10_000;
const KUBELET_TIMEOUT_MS = 2000;
/** What the contract allows from the kill until a replica answers correct data again. */
export const RECOVERY_MS = 5000;
/** Set-up waits are generous (the machine is shared and loaded); only the contract is strict. */
const SETUP_MS = 90_000;

const V1BETA1 = '/apis/metrics.k8s.io/v1beta1';

/** The Redis topology under test, as the scenario drives it. */
export interface Topology {
  /** The flags that point both functions at it (`--redis-sentinels…`, `--redis-cluster-nodes…`). */
  flags: string[];
  /** `ms:{cycle}` as the topology serves it now (0 when unset); throws while it cannot be read. */
  latestCycle(): Promise<number>;
  /** Makes the master that serves the node list fail (SIGKILL, or a failover it takes part in); says how. */
  fail(): Promise<string>;
  /** Waits until the topology has failed over by itself; returns the new master's address. */
  failedOver(): Promise<string>;
  /** `ms:{cycle}` and the node list's hash as the new master(s) hold them (read on them directly). */
  onNewMaster(): Promise<{ latestCycle: number; nodes: Record<string, string> }>;
  /** How many connections are subscribed to `channel` on the servers up now, all together. */
  subscribers(channel: string): Promise<number>;
}

export interface Answer {
  replica: string;
  path: string;
  sentAt: number;
  receivedAt: number;
  verdict: Verdict;
}

/** What one replica went through, from the kill on. */
export interface ReplicaFigures {
  replica: string;
  /** From the kill until it answered every path correctly and kept doing so (the contract's 5 s). */
  recoveryMs: number;
  /** The longest time between two correct answers of one path, over the whole run. */
  longestGapMs: number;
  answers: number;
  unavailable: number;
  /** The longest any one answer took (a request held while the client waits for the new master). */
  slowestMs: number;
  /** When /readyz first failed after the kill, and when it was ready again (ms after the kill). */
  unreadyAtMs: number | null;
  readyAgainMs: number | null;
}

export interface FailoverRun {
  /** What failed (Topology.fail). */
  killed: string;
  newMaster: string;
  /** When the topology itself had failed over (ms after the kill), as the test saw it. */
  failedOverMs: number;
  /** `ms:{cycle}` before the kill, and the first cycle after it (read on the new master). */
  cycleBeforeKill: number;
  nextCycle: number;
  newMasterState: { latestCycle: number; nodesCycle: number; nodes: string[] };
  /** When it failed (ms, this clock). */
  killAt: number;
  /** Subscribers to the cycle announcements once both replicas served the new cycle: 2 when both follow. */
  subscribers: number;
  figures: ReplicaFigures[];
  wrong: Answer[];
  answers: number;
  /** How long the load ran (ms): from the warm-up's end to the end. */
  loadMs: number;
  scraperLines: string[];
  /** The scraper process was still running at the end. */
  scraperAlive: boolean;
  nodes: string[];
}

/** Continuous requests to every replica, each answer judged; /readyz polled beside them. */
class Load {
  readonly answers: Answer[] = [];
  readonly readiness: { replica: string; at: number; ok: boolean }[] = [];
  #running = true;
  readonly #loops: Promise<void>[] = [];

  constructor(
    replicas: {
      name: string;
      get: (
        path: string,
      ) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
    }[],
    paths: { path: string; list: ListPath }[],
    expected: () => Expected,
  ) {
    for (const r of replicas) {
      this.#loops.push(
        (async () => {
          while (this.#running) {
            for (const p of paths) {
              const sentAt = Date.now();
              let verdict: Verdict;
              try {
                verdict = judge(p.list, await r.get(p.path), sentAt, expected());
              } catch (err) {
                verdict = {
                  kind: 'wrong',
                  why: `request failed: ${err instanceof Error ? err.message : String(err)}`,
                };
              }
              this.answers.push({ replica: r.name, path: p.path, sentAt, receivedAt: Date.now(), verdict });
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          }
        })(),
      );
      this.#loops.push(
        (async () => {
          while (this.#running) {
            const ok = await r.get('/readyz').then(
              (x) => x.status === 200,
              () => false,
            );
            this.readiness.push({ replica: r.name, at: Date.now(), ok });
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
      );
    }
  }

  /** Whether `replica` answered every path correctly with data the kubelets served after `t`. */
  servedSince(replica: string, paths: string[], t: number): boolean {
    return paths.every((path) =>
      this.answers.some(
        (a) =>
          a.replica === replica && a.path === path && a.verdict.kind === 'correct' && a.verdict.cycle > t,
      ),
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

/** The figures of one replica (see ReplicaFigures), from its answers and readiness. */
export function replicaFigures(
  replica: string,
  answers: readonly Answer[],
  readiness: readonly { replica: string; at: number; ok: boolean }[],
  killAt: number,
): ReplicaFigures {
  const mine = answers.filter((a) => a.replica === replica);
  let recoveryMs = 0;
  let longestGapMs = 0;
  for (const path of new Set(mine.map((a) => a.path))) {
    const seq = mine.filter((a) => a.path === path).sort((a, b) => a.sentAt - b.sentAt);
    // Recovered: the first correct answer after the last one that was not, among those after the kill.
    const after = seq.filter((a) => a.receivedAt > killAt);
    const lastBad = after.findLastIndex((a) => a.verdict.kind !== 'correct');
    const recovered = after.slice(lastBad + 1).find((a) => a.verdict.kind === 'correct');
    recoveryMs = Math.max(recoveryMs, recovered ? recovered.receivedAt - killAt : Number.POSITIVE_INFINITY);
    const correct = seq.filter((a) => a.verdict.kind === 'correct').map((a) => a.receivedAt);
    for (let i = 1; i < correct.length; i++)
      longestGapMs = Math.max(longestGapMs, correct[i]! - correct[i - 1]!);
  }
  const probes = readiness.filter((r) => r.replica === replica && r.at > killAt);
  const unready = probes.find((r) => !r.ok);
  const readyAgain = unready ? probes.find((r) => r.ok && r.at > unready.at) : undefined;
  return {
    replica,
    recoveryMs,
    longestGapMs,
    answers: mine.length,
    unavailable: mine.filter((a) => a.verdict.kind === 'unavailable').length,
    slowestMs: Math.max(0, ...mine.map((a) => a.receivedAt - a.sentAt)),
    unreadyAtMs: unready ? unready.at - killAt : null,
    readyAgainMs: readyAgain ? readyAgain.at - killAt : null,
  };
}

/**
 * Runs the scenario against `topology`: two cycles of warm-up, load on both replicas, the kill a moment
 * after a cycle lands (so the failover is over before the next cycle is due: a cycle caught by a failover
 * fails and is the cycle lease's to retake), until the scraper's next cycle is on the new master and both
 * replicas have served it, then a little more.
 */
export async function failoverUnderLoad(
  topology: Topology,
  log: (line: string) => void,
): Promise<FailoverRun> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-failover-'));
  let sim: Sim | undefined;
  let scraper: Program | undefined;
  const replicas: Awaited<ReturnType<typeof startServeAsMaster>>[] = [];
  let load: Load | undefined;
  const scraperLines: string[] = [];
  try {
    sim = await startSim({
      nodes: 3,
      podsPerNode: 5,
      housekeepingMs: 1000,
      seed: 'redis-failover',
      specialPods: false,
    });
    await writeFile(join(dir, 'kubelet-ca.crt'), sim.kubeletCaPem);
    await sim.writeKubeconfig(join(dir, 'scraper.kubeconfig'), 'scraper');
    scraper = startProgram(
      'scrape',
      [
        ...topology.flags,
        '--loop',
        '--port=0',
        '--bind-address=127.0.0.1',
        `--kubeconfig=${join(dir, 'scraper.kubeconfig')}`,
        `--kubelet-certificate-authority=${join(dir, 'kubelet-ca.crt')}`,
        '--kubelet-use-node-status-port',
        '--kubelet-preferred-address-types=InternalIP',
        `--metric-resolution=${RESOLUTION_MS / 1000}s`,
        `--kubelet-request-timeout=${KUBELET_TIMEOUT_MS / 1000}s`,
      ],
      (l) => scraperLines.push(l),
    );
    for (let i = 0; i < 2; i++) replicas.push(await startServeAsMaster(topology.flags));

    // Warm-up: two cycles, after which every node and pod has a rate.
    const first = await waitFor(
      'the first cycle',
      SETUP_MS,
      async () => (await topology.latestCycle()) || false,
      200,
    );
    const second = await waitFor(
      'the second cycle',
      SETUP_MS,
      async () => {
        const c = await topology.latestCycle();
        return c > first ? c : false;
      },
      200,
    );
    const pods = completePods(sim, RESOLUTION_MS);
    const expected: Expected = {
      sim,
      resolutionMs: RESOLUTION_MS,
      graceMs: graceMs(KUBELET_TIMEOUT_MS, leaseMs(RESOLUTION_MS)),
      pods,
    };
    const namespace = pods[0]!.split('/')[0]!;
    const paths = [
      { path: `${V1BETA1}/nodes`, list: { kind: 'nodes' } as const },
      { path: `${V1BETA1}/namespaces/${namespace}/pods`, list: { kind: 'pods', namespace } as const },
      { path: `${V1BETA1}/pods`, list: { kind: 'pods', namespace: null } as const },
    ];
    const loadFrom = Date.now();
    load = new Load(
      replicas.map((r, i) => ({ name: `replica-${i + 1}`, get: r.get })),
      paths,
      () => expected,
    );
    const names = replicas.map((_, i) => `replica-${i + 1}`);
    await waitFor('both replicas to answer correctly before the kill', SETUP_MS, async () =>
      names.every((n) =>
        load!.servedSince(
          n,
          paths.map((p) => p.path),
          0,
        ),
      ),
    );
    // The kill: early in a resolution, so the failover is over before the next cycle is due.
    let cycleBeforeKill = second;
    if (Date.now() - second > RESOLUTION_MS / 3) {
      cycleBeforeKill = await waitFor(
        'a cycle to kill after',
        SETUP_MS,
        async () => {
          const c = await topology.latestCycle();
          return c > second ? c : false;
        },
        50,
      );
    }
    const killAt = Date.now();
    const killed = await topology.fail();
    log(killed);
    const newMaster = await topology.failedOver();
    const failedOverMs = Date.now() - killAt;
    log(`failed over to ${newMaster} after ${failedOverMs}ms`);
    // The scraper's next cycle, on the new master, and both replicas serving it.
    const nextCycle = await waitFor(
      'the next cycle on the new master',
      SETUP_MS,
      async () => {
        const c = await topology.latestCycle();
        return c > cycleBeforeKill ? c : false;
      },
      200,
    );
    await waitFor('both replicas to serve the cycle after the kill', SETUP_MS, async () =>
      names.every((n) =>
        load!.servedSince(
          n,
          paths.map((p) => p.path),
          killAt,
        ),
      ),
    );
    // Both replicas follow the announcements again, on the new master(s): subscribed there.
    const subscribers = await waitFor(
      'both replicas to subscribe again',
      SETUP_MS,
      async () => {
        const n = await topology.subscribers(cycleChannel(0));
        return n >= replicas.length ? n : false;
      },
      200,
    );
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    const held = await topology.onNewMaster();
    const newMasterState = {
      latestCycle: held.latestCycle,
      nodesCycle: Number(held.nodes[CYCLE_FIELD]),
      // Nodes with metrics, by name.
      nodes: Object.entries(held.nodes)
        .filter(([name, value]) => name !== CYCLE_FIELD && decodeEntry(name, value)?.item)
        .map(([name]) => name)
        .sort(),
    };
    const figures = names.map((n) => replicaFigures(n, load!.answers, load!.readiness, killAt));
    return {
      killed,
      newMaster,
      failedOverMs,
      cycleBeforeKill,
      nextCycle,
      newMasterState,
      killAt,
      subscribers,
      figures,
      wrong: load.answers.filter((a) => a.verdict.kind === 'wrong'),
      answers: load.answers.length,
      loadMs: Date.now() - loadFrom,
      scraperLines,
      scraperAlive: scraper.child.exitCode === null && scraper.child.signalCode === null,
      nodes: sim.cluster.nodes().map((n) => n.name),
    };
  } finally {
    await load?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await scraper?.stop();
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line per replica, for the test's output and docs/behaviour.md. */
export function describeFigures(run: FailoverRun): string[] {
  const rate = Math.round(run.answers / (run.loadMs / 1000));
  const header = `${run.answers} answers in ${(run.loadMs / 1000).toFixed(1)}s (${rate}/s), ${run.wrong.length} wrong`;
  return [
    header,
    ...run.figures.map(
      (f) =>
        `${f.replica}: correct again ${f.recoveryMs}ms after the kill, longest gap ${f.longestGapMs}ms, ` +
        `${f.unavailable}/${f.answers} answers 503, slowest answer ${f.slowestMs}ms, readiness ` +
        (f.unreadyAtMs === null
          ? 'never failed'
          : `failed at ${f.unreadyAtMs}ms, back at ${f.readyAgainMs}ms`),
    ),
  ];
}

/**
 * The fault table's promise, as tests of one run: no wrong answer, both replicas back within 5 s and
 * following the announcements again, the scraper's next cycle on the new master.
 */
export function failoverContract(get: () => FailoverRun): void {
  test('no wrong answer is ever served: every 200 is right, every other answer a 503 Status', () => {
    const run = get();
    assert.ok(run.answers > 100, `${run.answers} answers`);
    const wrong = run.wrong.map(
      (a) => `${a.replica} ${a.path} +${a.sentAt - run.killAt}ms: ${(a.verdict as { why: string }).why}`,
    );
    assert.deepEqual(wrong.slice(0, 5), []);
  });

  test(`both serve replicas answer correct data again within ${RECOVERY_MS / 1000} s, and follow the announcements again`, () => {
    const run = get();
    for (const f of run.figures)
      assert.ok(f.recoveryMs <= RECOVERY_MS, `${f.replica} recovered after ${f.recoveryMs}ms`);
    assert.equal(run.subscribers, 2, 'both replicas subscribed where the scraper announces');
  });

  test("the scraper's next cycle lands on the new master", () => {
    const run = get();
    assert.ok(run.scraperAlive, run.scraperLines.join('\n'));
    // The cycle due one resolution after the last one before the failure, not a later one.
    assert.ok(run.nextCycle > run.killAt, 'a cycle that started after the failure');
    const after = run.nextCycle - run.cycleBeforeKill;
    assert.ok(
      after < 1.5 * RESOLUTION_MS,
      `the next cycle started ${after}ms after the one before the failure`,
    );
    const s = run.newMasterState;
    assert.ok(s.latestCycle >= run.nextCycle, `ms:{cycle} on the new master: ${s.latestCycle}`);
    assert.equal(s.nodesCycle, s.latestCycle, 'the node list on the new master is that cycle’s');
    assert.deepEqual(s.nodes, [...run.nodes].sort(), 'with every node');
  });
}
