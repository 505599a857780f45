/**
 * How a sharded cycle is cut, and what each shard is sent. The selected nodes are sorted by name and cut
 * into shards of --shard-size, so a node stays in its shard from cycle to cycle (it moves only when nodes
 * sorted before it come or go), and each pod goes to the shard of its node.
 *
 * The coordinator holds a whole cycle's pods (300,000 at 10,000 nodes), so it keeps them compact: as the
 * pod list is read page by page, each pod becomes its JSON in a shard request at once and is appended to
 * its node's text (PodsByNode); no pod object outlives its page. Each shard's request is then assembled
 * from its nodes' texts into one Buffer (UTF-8, outside the JS heap but counted by V8, so that garbage
 * collection follows it: a Blob's bytes are not, and bodies of past cycles stayed in memory), and a
 * node's text is forgotten as its shard takes it, so the pods are never held twice. Only a shard run in this process, or one that failed
 * (its nodes are rendered from their kept states, with their pods), reads its pods back.
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

/**
 * A cycle's Running pods by spec.nodeName, each kept as its JSON in a shard request (the contract's
 * pod: namespace, name, labels), a node's pods comma-joined in the order listed.
 */
export class PodsByNode {
  readonly #json = new Map<string, string>();
  #count = 0;

  add(p: PodOnNode): void {
    const one = JSON.stringify({ namespace: p.namespace, name: p.name, labels: p.labels });
    const had = this.#json.get(p.nodeName);
    this.#json.set(p.nodeName, had === undefined ? one : `${had},${one}`);
    this.#count++;
  }

  /** The pods added so far. */
  get count(): number {
    return this.#count;
  }

  /** A node's pods as the elements of a JSON array ('' without any), forgotten here. */
  take(node: string): string {
    const json = this.#json.get(node) ?? '';
    this.#json.delete(node);
    return json;
  }

  /** The pods no shard took (of nodes no shard has, or none listed), with their nodes. */
  rest(): PodOnNode[] {
    const out: PodOnNode[] = [];
    for (const [nodeName, json] of this.#json) {
      for (const p of JSON.parse(`[${json}]`) as PodMeta[]) out.push({ ...p, nodeName });
    }
    return out;
  }
}

/** What every shard of a cycle is told alike (shard-contract.ts). */
export type ShardHead = Pick<ShardRequest, 'cycle' | 'coordinator' | 'expiresAt' | 'resolutionMs'>;

/** One shard of a cycle, ready to send. */
export interface OutgoingShard {
  readonly index: number;
  readonly of: number;
  readonly nodes: readonly NodeObject[];
  /** The request's body (the contract's JSON) with this time to answer in, in pieces to send in order. */
  body(timeoutMs: number): Buffer[];
  /** The same request as objects, read back from the body: a shard run here, or the pods of one that failed. */
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
    const parts: string[] = [`,"nodes":${JSON.stringify(nodes)},"pods":[`];
    let first = true;
    for (const n of nodes) {
      const json = pods.take(n.name);
      if (json === '') continue;
      parts.push(first ? json : `,${json}`);
      first = false;
    }
    parts.push(']}');
    const rest = Buffer.from(parts.join(''));
    const body = (timeoutMs: number) => {
      const start = JSON.stringify({ ...head, shard, timeoutMs });
      return [Buffer.from(start.slice(0, -1)), rest];
    };
    return {
      index,
      of: cut.length,
      nodes,
      body,
      request: (timeoutMs) => JSON.parse(Buffer.concat(body(timeoutMs)).toString('utf8')) as ShardRequest,
    };
  });
}
