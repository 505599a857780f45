/**
 * How a sharded cycle is cut, and what each shard is sent. The selected nodes are sorted by name and cut
 * into shards of --shard-size, so a node stays in its shard from cycle to cycle (it moves only when nodes
 * sorted before it come or go), and each pod goes to the shard of its node.
 *
 * The coordinator holds a whole cycle's pods (300,000 at 10,000 nodes) from the first page of the pod list
 * until every shard has answered, so it keeps them compact: as the list is read page by page, each pod
 * becomes its name (as JSON text) and the numbers of its namespace and of its label set, each distinct
 * namespace and label set kept once, as JSON text (PodsByNode); no pod object outlives its page. Pods of
 * one ReplicaSet, DaemonSet or Job share their labels, so the label sets are far fewer than the pods
 * (45,000 for 300,000 pods in the simulator: about 60 of the 133 bytes of a pod's JSON are its labels).
 * A shard's request is never held whole either: its length is counted from those parts, and its bytes
 * are written from them as the request is sent, in pieces of about SHARD_PIECE_BYTES (OutgoingShard.body),
 * so what a fan-out holds is the compact pods plus a piece per shard in flight, not every shard's body
 * (90–100 MiB of Buffers at 10,000 nodes when they were built ahead). The bytes are the contract's JSON,
 * exactly as JSON.stringify gives the request. Only a shard run in this process, or one that failed (its
 * nodes are rendered from their kept states, with their pods), reads its pods back as objects.
 */
import type { NodeObject, PodMeta, PodOnNode } from '../../shared/kube.ts';
import type { ShardRequest } from './shard-contract.ts';

const byName = (a: NodeObject, b: NodeObject) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The nodes in shards of at most `size`, sorted by name: the same cut every cycle for the same nodes. */
export function cutShards(nodes: readonly NodeObject[], size: number): NodeObject[][] {
  const sorted = [...nodes].sort(byName);
  const shards: NodeObject[][] = [];
  for (let i = 0; i < sorted.length; i += size) shards.push(sorted.slice(i, i + size));
  return shards;
}

/** A request is written in pieces of about this many bytes (a piece ends after the node whose pods pass it). */
export const SHARD_PIECE_BYTES = 64 * 1024;

/** `{"namespace":…,"name":…,"labels":…}`: the bytes of a pod's JSON beside its three values. */
const POD_FRAME_BYTES = '{"namespace":,"name":,"labels":}'.length;

/**
 * The pods listed on one node, in list order: three entries each (its name as JSON text, the number of
 * its namespace and of its label set in the PodsByNode that listed it).
 */
export interface NodePods {
  readonly node: string;
  readonly list: (string | number)[];
}

/**
 * A cycle's Running pods by spec.nodeName, compact (the module's comment): each pod its name as JSON text
 * and the numbers of its namespace and label set, each distinct one kept once as JSON text.
 */
export class PodsByNode {
  readonly #namespaces = new Map<string, number>();
  readonly #namespaceJson: string[] = [];
  readonly #namespaceBytes: number[] = [];
  readonly #labels = new Map<string, number>();
  /** A label set's JSON text is its key in #labels. */
  readonly #labelsJson: string[] = [];
  readonly #labelsBytes: number[] = [];
  readonly #byNode = new Map<string, NodePods>();
  #count = 0;

  add(p: PodOnNode): void {
    let ns = this.#namespaces.get(p.namespace);
    if (ns === undefined) {
      const json = JSON.stringify(p.namespace);
      ns = this.#namespaceJson.push(json) - 1;
      this.#namespaceBytes.push(Buffer.byteLength(json));
      this.#namespaces.set(p.namespace, ns);
    }
    const labelsJson = JSON.stringify(p.labels);
    let labels = this.#labels.get(labelsJson);
    if (labels === undefined) {
      labels = this.#labelsJson.push(labelsJson) - 1;
      this.#labelsBytes.push(Buffer.byteLength(labelsJson));
      this.#labels.set(labelsJson, labels);
    }
    let on = this.#byNode.get(p.nodeName);
    if (on === undefined) {
      on = { node: p.nodeName, list: [] };
      this.#byNode.set(p.nodeName, on);
    }
    on.list.push(JSON.stringify(p.name), ns, labels);
    this.#count++;
  }

  /** The pods added so far. */
  get count(): number {
    return this.#count;
  }

  /** A node's pods (none: an empty list), no longer among the rest. */
  take(node: string): NodePods {
    const on = this.#byNode.get(node) ?? { node, list: [] };
    this.#byNode.delete(node);
    return on;
  }

  /** The bytes of these pods' JSON texts, without the commas between them. */
  bytes(pods: NodePods): number {
    const l = pods.list;
    let n = 0;
    for (let i = 0; i < l.length; i += 3) {
      n +=
        POD_FRAME_BYTES +
        Buffer.byteLength(l[i] as string) +
        this.#namespaceBytes[l[i + 1] as number]! +
        this.#labelsBytes[l[i + 2] as number]!;
    }
    return n;
  }

  /** Each pod's JSON text, as JSON.stringify gives the contract's pod, appended to `out`. */
  json(pods: NodePods, out: string[]): void {
    const l = pods.list;
    for (let i = 0; i < l.length; i += 3) {
      out.push(
        `{"namespace":${this.#namespaceJson[l[i + 1] as number]},"name":${l[i] as string},"labels":${this.#labelsJson[l[i + 2] as number]}}`,
      );
    }
  }

  /** The pods as objects (each its own labels object). */
  meta(pods: NodePods): PodMeta[] {
    const out: PodMeta[] = [];
    const l = pods.list;
    for (let i = 0; i < l.length; i += 3) {
      out.push({
        namespace: JSON.parse(this.#namespaceJson[l[i + 1] as number]!) as string,
        name: JSON.parse(l[i] as string) as string,
        labels: JSON.parse(this.#labelsJson[l[i + 2] as number]!) as Record<string, string>,
      });
    }
    return out;
  }

  /** The pods no shard took (of nodes no shard has, or none listed), with their nodes. */
  rest(): PodOnNode[] {
    const out: PodOnNode[] = [];
    for (const on of this.#byNode.values()) {
      for (const p of this.meta(on)) out.push({ ...p, nodeName: on.node });
    }
    return out;
  }
}

/** What every shard of a cycle is told alike (shard-contract.ts). */
export type ShardHead = Pick<ShardRequest, 'cycle' | 'coordinator' | 'expiresAt' | 'resolutionMs'>;

/** A request's body: its length in bytes, and its bytes in order, written as they are taken. */
export interface ShardBody {
  readonly length: number;
  readonly pieces: Iterable<Buffer>;
}

/** One shard of a cycle, ready to send. */
export interface OutgoingShard {
  readonly index: number;
  readonly of: number;
  readonly nodes: readonly NodeObject[];
  /** The request's body (the contract's JSON) with this time to answer in; again for each attempt. */
  body(timeoutMs: number): ShardBody;
  /** The same request as objects: a shard run here, or the pods of one that failed. */
  request(timeoutMs: number): ShardRequest;
}

/**
 * Each shard's request, its nodes' pods taken from `pods` (what is left there belongs to no shard).
 * The fields come in the contract's order, `shard` before the nodes and pods (a router may read it from
 * the start of the body).
 */
export function outgoingShards(head: ShardHead, cut: NodeObject[][], pods: PodsByNode): OutgoingShard[] {
  return cut.map((nodes, index) => {
    const shard = { index, of: cut.length };
    const nodesJson = `,"nodes":${JSON.stringify(nodes)},"pods":[`;
    const onNodes = nodes.map((n) => pods.take(n.name)).filter((on) => on.list.length > 0);
    const podCount = onNodes.reduce((n, on) => n + on.list.length / 3, 0);
    // The nodes, the pods and the commas between them, and the closing `]}`.
    const restBytes =
      Buffer.byteLength(nodesJson) +
      onNodes.reduce((n, on) => n + pods.bytes(on), 0) +
      Math.max(0, podCount - 1) +
      2;
    const start = (timeoutMs: number) => JSON.stringify({ ...head, shard, timeoutMs }).slice(0, -1);
    function* pieces(first: string): Generator<Buffer> {
      yield Buffer.from(first);
      yield Buffer.from(nodesJson);
      let piece: string[] = [];
      let size = 0;
      let comma = false;
      for (const on of onNodes) {
        const from = piece.length;
        pods.json(on, piece);
        for (let i = from; i < piece.length; i++) size += piece[i]!.length;
        if (size >= SHARD_PIECE_BYTES) {
          yield Buffer.from(`${comma ? ',' : ''}${piece.join(',')}`);
          comma = true;
          piece = [];
          size = 0;
        }
      }
      yield Buffer.from(`${comma && piece.length > 0 ? ',' : ''}${piece.join(',')}]}`);
    }
    return {
      index,
      of: cut.length,
      nodes,
      body(timeoutMs) {
        const first = start(timeoutMs);
        return { length: Buffer.byteLength(first) + restBytes, pieces: pieces(first) };
      },
      request(timeoutMs) {
        return {
          ...head,
          shard: { ...shard },
          timeoutMs,
          nodes: JSON.parse(JSON.stringify(nodes)) as ShardRequest['nodes'],
          pods: onNodes.flatMap((on) => pods.meta(on)),
        };
      },
    };
  });
}
