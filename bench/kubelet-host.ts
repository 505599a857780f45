/**
 * A share of the simulated cluster's kubelets, in a process of its own (`bench/kubelet-workers.ts`
 * starts it): the real `startKubelets` over the nodes it is sent, with their pods, serving certificates
 * and the cluster's users, so each answers exactly as it would in the simulator's own process. Its
 * clock is the one `advance` sends: it stands still while a cycle is measured.
 *
 *   node bench/kubelet-host.ts   (everything comes over IPC: add…, start, advance, fault, usage)
 */

import type { CertificateAndKey } from '../shared/pki.ts';
import { SimAuth, type UserSpec } from '../sim/auth.ts';
import type { GeneratedCluster } from '../sim/generate.ts';
import { type KubeletFleet, startKubelets } from '../sim/kubelet.ts';
import {
  createSimCluster,
  type KubeletFaultInput,
  type SimCluster,
  type SimNode,
  type SimPod,
} from '../sim/model.ts';
import { answer, cpuMs, peakRssMiB } from './ipc.ts';

export interface KubeletShareStart {
  namespaces: GeneratedCluster['namespaces'];
  specials: GeneratedCluster['specials'];
  seed: string | number;
  housekeepingMs: number;
  startMs: number;
  clientCaPem: string;
  users: UserSpec[];
  portBase: number | undefined;
  history: number | undefined;
  /** The kubelets' clock at start; null: Date.now (the simulator's own clock was not fixed). */
  clock: number | null;
}

/**
 * Idle connections stay open this long: on a loaded machine the benchmark's cycles can start more than
 * the simulator's default 90 s apart, and a kubelet that closes a connection just as the scraper reuses
 * it fails that node's request ("socket hang up"). A real kubelet keeps idle connections far longer.
 */
const KEEP_ALIVE_MS = 15 * 60_000;

const nodes: SimNode[] = [];
const pods: SimPod[] = [];
const certificates = new Map<string, CertificateAndKey>();
let cluster: SimCluster | null = null;
let fleet: KubeletFleet | null = null;
let clock: number | null = null;

answer(
  async (r) => {
    switch (r.cmd) {
      case 'add': {
        // In chunks, so that no one message holds thousands of nodes' pods.
        nodes.push(...(r.nodes as SimNode[]));
        pods.push(...(r.pods as SimPod[]));
        for (const [name, cert] of r.certificates as [string, CertificateAndKey][])
          certificates.set(name, cert);
        return {};
      }
      case 'start': {
        const o = r.options as KubeletShareStart;
        clock = o.clock;
        cluster = createSimCluster({
          nodes: nodes.length,
          seed: o.seed,
          housekeepingMs: o.housekeepingMs,
          startMs: o.startMs,
          generated: { namespaces: o.namespaces, nodes, pods, specials: o.specials },
        });
        fleet = await startKubelets({
          cluster,
          certificates,
          clientCaPem: o.clientCaPem,
          auth: new SimAuth(o.users),
          portBase: o.portBase,
          history: o.history,
          keepAliveMs: KEEP_ALIVE_MS,
          ...(clock === null ? {} : { now: () => clock! }),
        });
        certificates.clear();
        return { ports: [...fleet.ports], pods: pods.length };
      }
      case 'advance': {
        const t = performance.now();
        if (clock !== null) clock = r.clock as number;
        fleet!.prerender(r.endpoint as 'resource' | 'summary', r.gzip === true);
        return { ms: performance.now() - t };
      }
      case 'fault':
        cluster!.setFault(r.node as string, r.fault as KubeletFaultInput);
        return {};
      case 'usage':
        return { cpuMs: cpuMs(), rssMiB: process.memoryUsage().rss / 2 ** 20, peakRssMiB: peakRssMiB() };
      default:
        throw new Error(`unknown command ${r.cmd}`);
    }
  },
  async () => {
    await fleet?.close();
  },
);
