/**
 * From the nodes' states and the API server's view of the cluster to the served hashes: which objects
 * exist, which have metrics, and the pre-rendered item of each. Streamed: `add` renders what one node's
 * state contributes and hands each entry to a sink at once (the cycle sends it to Redis), keeping only a
 * small record per Running pod; `finish` returns what only the end of the cycle knows. No I/O here.
 */
import {
  containerItem,
  formatTime,
  labelsJson,
  type PodItemTemplate,
  podItem,
  podItemTemplate,
  renderNodeItem,
} from '../../shared/metrics-api.ts';
import { encodeEntry } from '../../shared/store/entry.ts';
import type { EntryHead, OrderedItems, StagedHash } from '../../shared/store/writer.ts';
import { cpuRate, earliestContainer, type NodeState, rate, rateWindowNs } from './storage.ts';

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  /** Matches --node-selector: scraped and listed. Others are only known to exist (a GET says so). */
  selected: boolean;
}

/** A Running pod as the API server lists it (metadata only). */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

export interface RenderInput {
  /** This cycle's start, Redis clock. */
  now: number;
  /** Until when objects known this cycle exist, if nothing refreshes them. */
  expiresAt: number;
  /** In the order listed: between two nodes reporting a pod at the same time, the first listed wins. */
  nodes: NodeInfo[];
  pods: PodInfo[];
  /**
   * The sink holds every item of these pods (an unsharded cycle): items go to it alone (podItemBytes),
   * and finish gives each namespace's served pods in name order with their entries' heads
   * (StagedHash.ordered), for the sink to write their entries and its part in that order.
   */
  ordered?: boolean;
}

/** Where `add` sends each rendered entry (the cycle's Redis staging); a later entry for a name replaces it. */
export interface RenderSink {
  podEntry(namespace: string, name: string, value: string): void;
  /** A pod's entry with its item; where the sink put the item's bytes (CycleStaging.podItem). */
  podItem(namespace: string, name: string, head: EntryHead, item: string): [offset: number, length: number];
  /** A pod's item without its entry (RenderInput.ordered); where the sink put its bytes. */
  podItemBytes(namespace: string, item: string): [offset: number, length: number];
  nodeEntry(name: string, value: string): void;
}

export interface Rendered {
  /** What is left to write: the entries without metrics, the label indexes, the sizes and expiries. */
  nodes: StagedHash;
  namespaces: Map<string, StagedHash>;
  /** Servable points, for logs and metrics_server_storage_points. */
  points: { nodes: number; pods: number; containers: number };
}

interface NodeSlot {
  info: NodeInfo;
  /** Position in the list (ties between nodes reporting the same pod go to the first). */
  index: number;
  /** The labels as JSON text, once computed. */
  labels: string | null;
  /** An entry with metrics was sent; until when it is served. */
  written: boolean;
  expiresAt: number;
}

/** A Running pod, and the entry with metrics sent for it so far (the newest among the nodes that report it). */
interface PodSlot {
  info: PodInfo;
  /** The labels as JSON text (the label index's key), computed once per cycle. */
  labels: string | null;
  /** The sent entry's node (its list index), or -1 when none was sent. */
  node: number;
  timestamp: number;
  expiresAt: number;
  containers: number;
  /** Where the sink put the sent item's bytes. */
  offset: number;
  length: number;
}

/**
 * Each pod's item template, kept as long as its PodInfo object lives: an informer (a long-lived scraper)
 * hands the same object every cycle until the pod changes, so an unchanged pod's name, namespace and
 * labels are rendered once, not every cycle; a list per cycle (--once) makes new objects, rendered anew.
 * Kept on the object itself, under a symbol of this module: a WeakMap lookup per pod per cycle cost more,
 * and each of its entries is an ephemeron that every full collection marks apart. An object that cannot
 * take a property (frozen) has its template made again each time.
 */
const TEMPLATE = Symbol('podItemTemplate');

type WithTemplate = PodInfo & { [TEMPLATE]?: PodItemTemplate };

function templateOf(info: PodInfo): PodItemTemplate {
  const o = info as WithTemplate;
  let t = o[TEMPLATE];
  if (t === undefined) {
    t = podItemTemplate(info.name, info.namespace, labelsJson(info.labels));
    // Not enumerable: the object reads and compares as the API server's (JSON, deepEqual) as before.
    if (Object.isExtensible(o)) Object.defineProperty(o, TEMPLATE, { value: t });
  }
  return t;
}

/** A pod's labels as JSON text, computed once per PodInfo (templateOf). */
function podLabels(slot: PodSlot): string {
  if (slot.labels === null) slot.labels = templateOf(slot.info).labels;
  return slot.labels;
}

/** An object's labels as JSON text, computed once per cycle. */
function labelsOf(slot: { info: { labels: Record<string, string> }; labels: string | null }): string {
  if (slot.labels === null) slot.labels = labelsJson(slot.info.labels);
  return slot.labels;
}

/**
 * The served hashes built node by node: `add` renders what one node's state (scraped, or kept from an
 * earlier cycle) contributes and sends it to the sink; `finish` gives the rest. Each node is added once.
 */
export class CycleRender {
  readonly #input: RenderInput;
  readonly #sink: RenderSink;
  readonly #nodes = new Map<string, NodeSlot>();
  readonly #pods = new Map<string, Map<string, PodSlot>>();

  constructor(input: RenderInput, sink: RenderSink) {
    this.#input = input;
    this.#sink = sink;
    input.nodes.forEach((info, index) => {
      this.#nodes.set(info.name, { info, index, labels: null, written: false, expiresAt: 0 });
    });
    for (const info of input.pods) {
      let byName = this.#pods.get(info.namespace);
      if (byName === undefined) {
        byName = new Map();
        this.#pods.set(info.namespace, byName);
      }
      byName.set(info.name, {
        info,
        labels: null,
        node: -1,
        timestamp: 0,
        expiresAt: 0,
        containers: 0,
        offset: 0,
        length: 0,
      });
    }
  }

  /** Renders what `state` (the node's state after this cycle, scraped or kept) contributes, and sends it. */
  add(nodeName: string, state: NodeState): void {
    if (state.expiresAt <= this.#input.now) return;
    const node = this.#nodes.get(nodeName);
    if (node && state.node && node.info.selected) {
      const r = rate(state.node);
      if (r) {
        const labels = labelsOf(node);
        const item = renderNodeItem(
          { name: nodeName, labels: node.info.labels, ...r },
          state.scrapedAt,
          labels,
        );
        this.#sink.nodeEntry(
          nodeName,
          encodeEntry({ expiresAt: state.expiresAt, timestamp: r.timestamp, labels, item }),
        );
        node.written = true;
        node.expiresAt = state.expiresAt;
      }
    }
    const index = node ? node.index : this.#input.nodes.length;
    // The same for every pod of the node.
    const createdAt = formatTime(state.scrapedAt);
    let namespace = '';
    let byName: Map<string, PodSlot> | undefined;
    for (const p of state.pods) {
      // Pods are sorted by namespace: one lookup per namespace.
      if (byName === undefined || p.namespace !== namespace) {
        namespace = p.namespace;
        byName = this.#pods.get(namespace);
      }
      const slot = byName?.get(p.name);
      if (slot === undefined) continue;
      const earliest = earliestContainer(p);
      if (earliest < 0) continue;
      const first = p.containers[earliest]!.series;
      const timestamp = first.last.timestamp;
      // The same pod reported by two nodes (a pod recreated while its old node is unreachable): the newer
      // wins; between equals, the node listed first.
      if (
        slot.node >= 0 &&
        (slot.timestamp > timestamp || (slot.timestamp === timestamp && slot.node < index))
      ) {
        continue;
      }
      slot.node = index;
      slot.timestamp = timestamp;
      slot.expiresAt = state.expiresAt;
      slot.containers = p.containers.length;
      const template = templateOf(slot.info);
      const labels = template.labels;
      slot.labels = labels;
      // The item straight from the points, without the rate objects renderPodItem takes.
      let containers = '';
      for (const c of p.containers) {
        const s = c.series;
        const item = containerItem(c.name, cpuRate(s, rateWindowNs(s)), s.last.memory);
        containers += containers === '' ? item : `,${item}`;
      }
      const item = podItem(template, createdAt, timestamp, rateWindowNs(first), containers);
      // Named by the API server's object (kept across cycles) rather than the state's names: those are
      // cut from the kubelet's body, and would keep all of it alive until the pipeline is sent.
      const [offset, length] = this.#input.ordered
        ? this.#sink.podItemBytes(slot.info.namespace, item)
        : this.#sink.podItem(
            slot.info.namespace,
            slot.info.name,
            { expiresAt: state.expiresAt, timestamp, labels },
            item,
          );
      slot.offset = offset;
      slot.length = length;
    }
  }

  finish(): Rendered {
    const { expiresAt } = this.#input;
    const points = { nodes: 0, pods: 0, containers: 0 };
    const nodes: StagedHash = { fields: [], size: 0, expireAt: 0 };
    for (const n of this.#input.nodes) {
      const slot = this.#nodes.get(n.name)!;
      nodes.size++;
      if (slot.written) {
        points.nodes++;
        nodes.expireAt = Math.max(nodes.expireAt, slot.expiresAt);
      } else {
        const labels = slot.info === n ? labelsOf(slot) : labelsJson(n.labels);
        nodes.fields.push([n.name, encodeEntry({ expiresAt, timestamp: 0, labels, item: '' })]);
      }
      nodes.expireAt = Math.max(nodes.expireAt, expiresAt);
    }

    for (const byName of this.#pods.values()) {
      for (const slot of byName.values()) {
        if (slot.node < 0) continue;
        points.pods++;
        points.containers += slot.containers;
      }
    }
    const namespaces = new Map<string, StagedHash>();
    const orders = new Map<string, PodSlot[]>();
    for (const p of this.#input.pods) {
      let hash = namespaces.get(p.namespace);
      if (!hash) {
        hash = { fields: [], size: 0, expireAt: 0, labelIndex: new Map() };
        namespaces.set(p.namespace, hash);
      }
      const slot = this.#pods.get(p.namespace)!.get(p.name)!;
      hash.size++;
      if (slot.node >= 0) {
        const labels = slot.labels!;
        const names = hash.labelIndex!.get(labels);
        if (names) names.push(p.name);
        else hash.labelIndex!.set(labels, [p.name]);
        hash.expireAt = Math.max(hash.expireAt, slot.expiresAt, expiresAt);
        if (this.#input.ordered) {
          const served = orders.get(p.namespace);
          if (served) served.push(slot);
          else orders.set(p.namespace, [slot]);
        }
      } else {
        const labels = slot.info === p ? podLabels(slot) : labelsJson(p.labels);
        hash.fields.push([p.name, encodeEntry({ expiresAt, timestamp: 0, labels, item: '' })]);
        hash.expireAt = Math.max(hash.expireAt, expiresAt);
      }
    }
    for (const [ns, served] of orders) namespaces.get(ns)!.ordered = orderOf(served);
    return { nodes, namespaces, points };
  }
}

const byName = (a: PodSlot, b: PodSlot) =>
  a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0;

/** A namespace's served pods in name order (as readers sort entries), with their entries' heads. */
function orderOf(served: PodSlot[]): OrderedItems {
  // The API server lists in name order already, and an informer mostly keeps it: sorted only if needed.
  for (let i = 1; i < served.length; i++) {
    if (byName(served[i - 1]!, served[i]!) > 0) {
      served.sort(byName);
      break;
    }
  }
  const names: string[] = [];
  const heads: EntryHead[] = [];
  const spans = new Uint32Array(2 * served.length);
  served.forEach((slot, i) => {
    names.push(slot.info.name);
    heads.push({ expiresAt: slot.expiresAt, timestamp: slot.timestamp, labels: slot.labels! });
    spans[2 * i] = slot.offset;
    spans[2 * i + 1] = slot.length;
  });
  return { names, heads, spans };
}
