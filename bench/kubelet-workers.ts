/**
 * The simulator's kubelets in worker processes (`bench/kubelet-host.ts`), each serving a contiguous
 * share of the nodes: what `startSim` is given as its `startKubelets` by the benchmark's simulator host.
 * The cluster's model stays in the simulator's process (the API server lists it); each worker gets its
 * nodes, their pods, their serving certificates and the users, and builds the same model of them, so
 * its kubelets answer byte for byte what they would answer in one process. At 10,000 nodes one process
 * would hold 10,000 listening sockets and as many connections (its file descriptor limit is 20,000
 * here) and do every kubelet's TLS on one thread.
 *
 * What the workers do not follow: pods or nodes added or removed after the start (the benchmark's
 * cluster does not change); faults are forwarded. `served()` is empty (the benchmark records nothing).
 */
import type { KubeletFleet, KubeletFleetOptions } from '../sim/kubelet.ts';
import type { SimPod } from '../sim/model.ts';
import { type Child, spawnChild } from './ipc.ts';
import type { KubeletShareStart } from './kubelet-host.ts';

/**
 * Kubelets per worker process: its listening sockets plus one connection from each scraper instance
 * that scrapes them stay well under the 20,000 descriptors a process may open here.
 */
export const KUBELETS_PER_WORKER = 1000;
/** Nodes (with their pods and certificates) per IPC message to a worker. */
const NODES_PER_MESSAGE = 250;

export interface KubeletUsage {
  /** CPU of every worker together, ms. */
  cpuMs: number;
  /** Each worker's RSS now and its peak, MiB. */
  workers: { pid: number; rssMiB: number; peakRssMiB: number }[];
}

export interface KubeletWorkers {
  /** For `startSim({ startKubelets })`: starts the workers and hands back the fleet they make up. */
  start(opts: KubeletFleetOptions): Promise<KubeletFleet>;
  /** Moves every worker's clock to the simulator's and renders each payload ahead (`prerender`). */
  advance(endpoint: 'resource' | 'summary', gzip: boolean): Promise<void>;
  usage(): Promise<KubeletUsage>;
  /** How many worker processes there are (0 before `start`). */
  count(): number;
}

export function kubeletWorkers(perWorker = KUBELETS_PER_WORKER): KubeletWorkers {
  const children: Child[] = [];
  let clock: (() => number) | undefined;
  const all = <T>(f: (c: Child) => Promise<T>) => Promise.all(children.map(f));

  const startOne = async (opts: KubeletFleetOptions, names: string[]): Promise<[string, number][]> => {
    const child = spawnChild('kubelet-host.ts', [], [], {}, 'advanced');
    children.push(child);
    await child.ready;
    for (let i = 0; i < names.length; i += NODES_PER_MESSAGE) {
      const share = names.slice(i, i + NODES_PER_MESSAGE);
      const pods: SimPod[] = share.flatMap((n) => opts.cluster.podsOnNode(n));
      await child.ask('add', {
        nodes: share.map((n) => opts.cluster.node(n)!),
        pods,
        certificates: share.map((n) => {
          const cert = opts.certificates.get(n);
          if (!cert) throw new Error(`kubelet workers: no serving certificate for node "${n}"`);
          return [n, cert];
        }),
      });
    }
    const options: KubeletShareStart = {
      namespaces: opts.cluster.namespaces(),
      specials: opts.cluster.specials,
      seed: opts.cluster.seed,
      housekeepingMs: opts.cluster.housekeepingMs,
      startMs: opts.cluster.startMs,
      clientCaPem: opts.clientCaPem,
      users: opts.auth.users.map(({ name, token, groups, role }) => ({ name, token, groups, role })),
      portBase: opts.portBase,
      history: opts.history,
      clock: clock ? clock() : null,
    };
    const { ports } = await child.ask<{ ports: [string, number][] }>('start', { options });
    return ports;
  };

  return {
    async start(opts) {
      clock = opts.now;
      const names = opts.cluster.nodes().map((n) => n.name);
      const shares: string[][] = [];
      for (let i = 0; i < names.length; i += perWorker) shares.push(names.slice(i, i + perWorker));
      let started: [string, number][][];
      try {
        started = await Promise.all(shares.map((share) => startOne(opts, share)));
      } catch (err) {
        await all((c) => c.stop(2000));
        throw err;
      }
      const ports = new Map<string, number>();
      const owner = new Map<string, Child>();
      for (const [i, list] of started.entries()) {
        for (const [name, port] of list) {
          ports.set(name, port);
          owner.set(name, children[i]!);
          opts.cluster.setKubeletPort(name, port);
        }
      }
      if (ports.size !== names.length)
        throw new Error(`kubelet workers: ${ports.size} of ${names.length} kubelets started`);
      const unsubscribe = opts.cluster.onChange((e) => {
        if (e.type !== 'FAULT') return;
        owner
          .get(e.name)
          ?.ask('fault', { node: e.name, fault: e.fault })
          .catch((err: unknown) =>
            opts.logger?.error('Kubelet worker did not take a fault', { node: e.name, err }),
          );
      });
      return {
        ports,
        served: () => [],
        clearServed: () => {},
        prerender: () => {
          throw new Error('kubelets in worker processes: call advance(), which waits for every worker');
        },
        close: async () => {
          unsubscribe();
          await all((c) => c.stop(5000));
        },
      };
    },
    async advance(endpoint, gzip) {
      const now = clock ? clock() : Date.now();
      await all((c) => c.ask('advance', { clock: now, endpoint, gzip }));
    },
    async usage() {
      const each = await all(async (c) => ({
        pid: c.pid,
        ...(await c.ask<{ cpuMs: number; rssMiB: number; peakRssMiB: number }>('usage')),
      }));
      return {
        cpuMs: each.reduce((sum, u) => sum + u.cpuMs, 0),
        workers: each.map(({ pid, rssMiB, peakRssMiB }) => ({ pid, rssMiB, peakRssMiB })),
      };
    },
    count: () => children.length,
  };
}
