/** The figures as a table for people and as JSON for machines (the shape issue #5 names, and more). */
import { type DecoderFigures, describeDecoders } from './decoders.ts';
import { describeMachine, type Machine } from './machine.ts';
import { medianBy, type ScrapeFigures } from './scrape-bench.ts';
import type { ServeFigures } from './serve-bench.ts';

const f = (n: number, digits = 2) => n.toFixed(digits);
const ratio = (a: number, b: number) => (b > 0 ? `${f(a / b, 2)}×` : '–');

/** The figures of one size that the table, the targets and the JSON share (medians of the warm cycles). */
export function summarize(s: ScrapeFigures) {
  const warmWallMs = medianBy(s.warm, (c) => c.wallMs);
  const cpuMsPerNode = medianBy(s.warm, (c) => c.cpuMs) / s.nodes;
  const floorCpuMsPerNode = medianBy(s.floorWarm, (c) => c.cpuMs) / s.nodes;
  const ioFloorCpuMsPerNode = medianBy(s.ioFloorWarm, (c) => c.cpuMs) / s.nodes;
  const peakRssMiB = Math.max(s.first.peakRssMiB, ...s.warm.map((c) => c.peakRssMiB), s.cold.peakRssMiB);
  return {
    nodes: s.nodes,
    pods: s.pods,
    warmWallMs,
    coldWallMs: s.cold.wallMs,
    firstWallMs: s.first.wallMs,
    cpuMsPerNode,
    floorCpuMsPerNode,
    ioFloorCpuMsPerNode,
    floorWallMs: medianBy(s.floorWarm, (c) => c.wallMs),
    ioFloorWallMs: medianBy(s.ioFloorWarm, (c) => c.wallMs),
    bodyBytesPerNode: medianBy(s.ioFloorWarm, (c) => c.bytes) / s.nodes,
    floorFirstWallMs: s.floorFirst.wallMs,
    coldCpuMsPerNode: s.cold.cpuMs / s.nodes,
    floorFirstCpuMsPerNode: s.floorFirst.cpuMs / s.nodes,
    // Sharded: each cycle's peakRssMiB is already its largest instance's.
    peakRssMiB,
    // The floor process' peak over its run (its first cycle's full handshakes included, as the scraper's).
    floorPeakRssMiB: Math.max(...[s.floorFirst, ...s.floorWarm, ...s.ioFloorWarm].map((c) => c.peakRssMiB)),
    redisBytesPerContainerPoint: s.redis.bytesPerContainerPoint,
    simCpuMsPerNode: medianBy(s.warm, (c) => c.simCpuMs) / s.nodes,
    redisCpuMsPerNode: medianBy(s.warm, (c) => c.redisCpuMs) / s.nodes,
    sharded: s.shardSize > 0 ? summarizeShards(s) : null,
    loadAverage: medianBy(s.warm, (c) => c.loadAverage ?? 0),
    // Every measured process' CPU in a warm cycle (scrapers, simulator, Redis; the router too): what
    // the machine's cores had to do, so a cycle cannot take less than this divided by the cores.
    allCpuMs: medianBy(s.warm, (c) => c.cpuMs + c.simCpuMs + c.redisCpuMs + (c.routerCpuMs ?? 0)),
  };
}

/**
 * A sharded run's own figures: how many processes scraped, each one's peak RSS over the run (the
 * coordinator, then each shard instance), and the warm cycle's CPU split between them.
 */
function summarizeShards(s: ScrapeFigures) {
  const cycles = [s.first, ...s.warm, s.cold];
  const warm = s.warm.map((c) => c.instances ?? []);
  // The long-lived processes' peaks (first and warm cycles); the fresh ones' (cold cycle) apart.
  const peaks = (list: (typeof warm)[number][]) =>
    (list[0] ?? []).map((inst, i) => ({
      role: inst.role,
      peakRssMiB: Math.max(...list.map((l) => l[i]?.peakRssMiB ?? 0)),
    }));
  const perNode = (f: (c: (typeof warm)[number]) => number) => medianBy(warm, f) / s.nodes;
  return {
    shardSize: s.shardSize,
    /** Processes that scraped a shard in a warm cycle (the coordinator only hands them out). */
    instances: Math.max(...warm.map((l) => l.filter((i) => i.role === 'shard' && i.shards > 0).length)),
    warmPeaks: peaks([s.first.instances ?? [], ...warm]),
    coldPeaks: peaks([s.cold.instances ?? []]),
    peakRssMiB: Math.max(...cycles.flatMap((c) => (c.instances ?? []).map((i) => i.peakRssMiB))),
    coordinatorCpuMsPerNode: perNode((l) => l.find((i) => i.role === 'coordinator')?.cpuMs ?? 0),
    shardsCpuMsPerNode: perNode((l) => l.filter((i) => i.role === 'shard').reduce((t, i) => t + i.cpuMs, 0)),
    routerCpuMsPerNode: medianBy(s.warm, (c) => c.routerCpuMs ?? 0) / s.nodes,
    /** The largest shard instance's peak RSS (long-lived or fresh), and the floor of one shard's memory. */
    shardPeakRssMiB: Math.max(
      ...cycles.flatMap((c) =>
        (c.instances ?? []).filter((i) => i.role === 'shard').map((i) => i.peakRssMiB),
      ),
    ),
    shardFloorPeakRssMiB: Math.max(...(s.shardFloor ?? []).map((c) => c.peakRssMiB)),
  };
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
/** A load's throughput as a percentage of its floor server's. */
const share = (load: { rps: number }, floor: { rps: number }) => (100 * load.rps) / floor.rps;

export function report(
  m: Machine,
  scrape: ScrapeFigures[],
  serve: ServeFigures | null,
  decoders: DecoderFigures | null,
): string {
  const out: string[] = [`Machine: ${describeMachine(m)}`, ''];
  const rows = scrape.map(summarize);
  out.push(
    'Scrape (warm: a long-lived scraper reusing connections; cold: a fresh process; medians of the warm cycles)',
  );
  out.push(
    table(
      [
        'nodes',
        'pods',
        'warm cycle',
        'cold cycle',
        'first cycle',
        'CPU/node warm',
        'floor CPU/node',
        'vs floor',
        'CPU/node cold',
        'peak RSS',
        'Redis/container point',
        'simulator CPU/node',
      ],
      rows.map((r) => [
        String(r.nodes),
        String(r.pods),
        `${f(r.warmWallMs / 1000)} s`,
        `${f(r.coldWallMs / 1000)} s`,
        `${f(r.firstWallMs / 1000)} s`,
        `${f(r.cpuMsPerNode, 3)} ms`,
        `${f(r.floorCpuMsPerNode, 3)} ms`,
        ratio(r.cpuMsPerNode, r.floorCpuMsPerNode),
        `${f(r.coldCpuMsPerNode, 3)} ms`,
        `${f(r.peakRssMiB, 0)} MiB`,
        `${f(r.redisBytesPerContainerPoint, 0)} B`,
        `${f(r.simCpuMsPerNode, 3)} ms`,
      ]),
    ),
  );
  const shardedRows = rows.filter((r) => r.sharded);
  if (shardedRows.length > 0) {
    out.push(
      '',
      'Sharded (a coordinator and shard instances, each its own process; CPU/node is all of them together, peak RSS the largest; the router stands in for the platform)',
      table(
        [
          'nodes',
          'shard size',
          'instances',
          'warm cycle',
          'cold cycle',
          'CPU/node',
          'coordinator CPU/node',
          'shards CPU/node',
          'router CPU/node',
          'largest instance',
          'simulator CPU/node',
        ],
        shardedRows.map((r) => [
          String(r.nodes),
          String(r.sharded!.shardSize),
          String(r.sharded!.instances),
          `${f(r.warmWallMs / 1000)} s`,
          `${f(r.coldWallMs / 1000)} s`,
          `${f(r.cpuMsPerNode, 3)} ms`,
          `${f(r.sharded!.coordinatorCpuMsPerNode, 3)} ms`,
          `${f(r.sharded!.shardsCpuMsPerNode, 3)} ms`,
          `${f(r.sharded!.routerCpuMsPerNode, 3)} ms`,
          `${f(r.sharded!.peakRssMiB, 0)} MiB`,
          `${f(r.simCpuMsPerNode, 3)} ms`,
        ]),
      ),
    );
    const describePeaks = (p: { role: string; peakRssMiB: number }[]) =>
      p
        .map(
          (i, n) =>
            `${i.role === 'coordinator' ? 'coordinator' : `shard instance ${n - 1}`} ${f(i.peakRssMiB, 0)}`,
        )
        .join(', ');
    for (const r of shardedRows) {
      out.push(
        `Peak RSS of every instance at ${r.nodes} nodes (MiB), long-lived: ${describePeaks(r.sharded!.warmPeaks)}`,
        `  fresh (cold cycle): ${describePeaks(r.sharded!.coldPeaks)}`,
      );
    }
  }
  out.push(
    '',
    'Floors, warm, side by side (floor: fetch and decode on the same connections, nothing else; I/O floor: fetch and read the body only)',
    table(
      [
        'nodes',
        'scraper CPU/node',
        'floor CPU/node',
        'scraper vs floor',
        'I/O floor CPU/node',
        'scraper vs I/O floor',
        'floor vs I/O floor',
        'decoding/node (floor − I/O)',
        'body/node',
      ],
      rows.map((r) => [
        String(r.nodes),
        `${f(r.cpuMsPerNode, 3)} ms`,
        `${f(r.floorCpuMsPerNode, 3)} ms`,
        ratio(r.cpuMsPerNode, r.floorCpuMsPerNode),
        `${f(r.ioFloorCpuMsPerNode, 3)} ms`,
        ratio(r.cpuMsPerNode, r.ioFloorCpuMsPerNode),
        ratio(r.floorCpuMsPerNode, r.ioFloorCpuMsPerNode),
        `${f(r.floorCpuMsPerNode - r.ioFloorCpuMsPerNode, 3)} ms`,
        `${f(r.bodyBytesPerNode / 1024, 1)} KiB`,
      ]),
    ),
  );
  out.push(
    '',
    `I/O floor wall time, warm: ${rows.map((r) => `${r.nodes}: ${f(r.ioFloorWallMs / 1000)} s`).join(', ')}`,
    `Floor wall time (fetch + decode only), warm: ${rows.map((r) => `${r.nodes}: ${f(r.floorWallMs / 1000)} s (scraper ${ratio(r.warmWallMs, r.floorWallMs)})`).join(', ')}`,
    `Floor first cycle (full TLS handshakes): ${rows.map((r) => `${r.nodes}: ${f(r.floorFirstWallMs / 1000)} s, ${f(r.floorFirstCpuMsPerNode, 3)} ms CPU/node`).join(', ')}`,
    `Memory floor (peak RSS of the floor process: the kept connections, bodies and decoding, nothing else): ${rows
      .map(
        (r) =>
          `${r.nodes}: ${f(r.floorPeakRssMiB, 0)} MiB (${r.sharded ? 'largest instance' : 'scraper'} ${f(r.peakRssMiB, 0)} MiB, ${ratio(r.peakRssMiB, r.floorPeakRssMiB)})${
            r.sharded
              ? `; one shard's ${r.sharded.shardSize} nodes: ${f(r.sharded.shardFloorPeakRssMiB, 0)} MiB (largest shard instance ${f(r.sharded.shardPeakRssMiB, 0)} MiB, ${ratio(r.sharded.shardPeakRssMiB, r.sharded.shardFloorPeakRssMiB)})`
              : ''
          }`,
      )
      .join(', ')}`,
    `Redis CPU per node per warm cycle: ${rows.map((r) => `${r.nodes}: ${f(r.redisCpuMsPerNode, 3)} ms`).join(', ')}`,
    `CPU of every measured process in a warm cycle (scrapers, simulator, Redis), and that over the ${m.cores} cores: ${rows.map((r) => `${r.nodes}: ${f(r.allCpuMs / 1000)} s, ${f(r.allCpuMs / 1000 / m.cores)} s (load average ${f(r.loadAverage, 1)} as warm cycles ended)`).join(', ')}`,
  );
  const largest = scrape.at(-1);
  if (largest) {
    out.push(
      `Redis memory at ${largest.nodes} nodes: ${f(largest.redis.bytes / 2 ** 20, 1)} MiB for ${largest.redis.containerPoints} container points; by key: ${Object.entries(
        largest.redis.byKind,
      )
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([k, v]) => `${k} ${f(v.bytes / 2 ** 20, 1)} MiB (${v.keys} keys)`)
        .join(', ')}`,
    );
  }
  if (decoders) out.push('', describeDecoders(decoders));
  if (serve) {
    out.push(
      '',
      `Serve (${serve.pods} pods; ${serve.connections} keep-alive HTTPS connections; load generator in its own process)`,
    );
    const row = (
      name: string,
      l: ServeFigures['hpa']['serve'],
      floor: ServeFigures['hpa']['floor'] | null,
    ) => [
      name,
      `${f(l.p50Ms)} ms`,
      `${f(l.p99Ms)} ms`,
      f(l.rps, 0),
      floor ? f(floor.rps, 0) : '–',
      floor ? `${f(share(l, floor), 0)} %` : '–',
      `${f(l.serverCpuPercent, 0)} %`,
      `${f(l.loadCpuPercent, 0)} %`,
    ];
    out.push(
      table(
        ['request', 'p50', 'p99', 'req/s', 'floor req/s', 'of floor', 'server CPU', 'load generator CPU'],
        [
          row(`HPA query (${serve.hpa.query})`, serve.hpa.serve, serve.hpa.floor),
          [
            `  floor server (one Redis GET)`,
            `${f(serve.hpa.floor.p50Ms)} ms`,
            `${f(serve.hpa.floor.p99Ms)} ms`,
            f(serve.hpa.floor.rps, 0),
            '',
            '',
            `${f(serve.hpa.floor.serverCpuPercent, 0)} %`,
            `${f(serve.hpa.floor.loadCpuPercent, 0)} %`,
          ],
          row(`HPA query at ${serve.hpa.rate} requests/s`, serve.hpa.serveAtRate, null),
          row(`  floor server at ${serve.hpa.rate} requests/s`, serve.hpa.floorAtRate, null),
          row(
            `HPA query in protobuf (${serve.hpa.protobuf.bytesPerResponse} bytes; JSON ${serve.hpa.serve.bytesPerResponse})`,
            serve.hpa.protobuf,
            serve.hpa.protobuf.floor,
          ),
          row('/version (no store read)', serve.noStore, null),
          row(
            `node list (${serve.nodes} nodes, ${serve.nodeList.connections} connections)`,
            serve.nodeList,
            null,
          ),
        ],
      ),
    );
    out.push(
      `All pods (${serve.allPods.pods} pods, ${f(serve.allPods.bytes / 2 ** 20, 1)} MiB of JSON): ${f(serve.allPods.seconds, 2)} s (best of ${serve.allPods.runs}; median ${f(serve.allPods.medianSeconds, 2)} s), serve peak RSS ${f(serve.allPods.peakRssMiB, 0)} MiB (${f(serve.allPods.rssBeforeMiB, 0)} MiB before)`,
      `  floor (the same bytes streamed from Redis): ${f(serve.allPods.floorSeconds, 2)} s (median ${f(serve.allPods.floorMedianSeconds, 2)} s): ${ratio(serve.allPods.seconds, serve.allPods.floorSeconds)}`,
    );
  }
  out.push('', 'Targets (DESIGN.md):');
  const big = rows.find((r) => r.nodes === 5000) ?? rows.at(-1);
  if (big) {
    const n = big.nodes;
    out.push(
      `  cycle ≤ 5 s warm at ${n} nodes: ${f(big.warmWallMs / 1000)} s — ${mark(big.warmWallMs <= 5000)}`,
      `  cold cycle ≤ 10 s at ${n} nodes: ${f(big.coldWallMs / 1000)} s — ${mark(big.coldWallMs <= 10_000)}`,
      `  CPU ≤ 1 ms/node and ≤ 2× floor: ${f(big.cpuMsPerNode, 3)} ms, ${ratio(big.cpuMsPerNode, big.floorCpuMsPerNode)} — ${mark(big.cpuMsPerNode <= 1 && big.cpuMsPerNode <= 2 * big.floorCpuMsPerNode)}`,
      `  peak RSS ≤ 256 MiB at ${n} nodes: ${f(big.peakRssMiB, 0)} MiB — ${mark(big.peakRssMiB <= 256)}`,
    );
  }
  for (const r of shardedRows) {
    out.push(
      `  sharded, ${r.nodes} nodes in shards of ${r.sharded!.shardSize}: cycle ≤ 15 s: ${f(r.warmWallMs / 1000)} s warm — ${mark(r.warmWallMs <= 15_000)}; every instance ≤ 256 MiB: largest ${f(r.sharded!.peakRssMiB, 0)} MiB — ${mark(r.sharded!.peakRssMiB <= 256)}`,
    );
  }
  if (serve) {
    const pct = share(serve.hpa.serve, serve.hpa.floor);
    out.push(
      `  HPA query ≥ 70 % of floor throughput (64 connections, as fast as answered): ${f(pct, 0)} % — ${mark(pct >= 70)}`,
      `  HPA query p99 ≤ 5 ms (64 connections): ${f(serve.hpa.serveAtRate.p99Ms)} ms at ${serve.hpa.rate} requests/s — ${mark(serve.hpa.serveAtRate.p99Ms <= 5)}; ${f(serve.hpa.serve.p99Ms)} ms at saturation (floor: ${f(serve.hpa.floor.p99Ms)} ms)`,
      `  all pods (${serve.allPods.pods}) ≤ 1 s, bounded memory: ${f(serve.allPods.seconds, 2)} s, peak RSS ${f(serve.allPods.peakRssMiB, 0)} MiB — ${mark(serve.allPods.seconds <= 1)}`,
    );
  }
  out.push(...issue12Targets(rows, serve));
  return out.join('\n');
}

/**
 * Issue 12's targets, stricter than DESIGN.md's and all ratios to floors measured in the same run: the
 * warm scraper's CPU per node ≤ 1.5× the floor at every unsharded size, a cold cycle's CPU ≤ 1.5× a warm
 * one's, the HPA query at ≥ 80 % of the floor server with its p99 at the steady rate no higher than the
 * floor's, and all pods within 1.5× a floor streaming the same bytes.
 */
export function issue12Targets(
  rows: Pick<
    ReturnType<typeof summarize>,
    'nodes' | 'sharded' | 'cpuMsPerNode' | 'floorCpuMsPerNode' | 'coldCpuMsPerNode'
  >[],
  serve: {
    hpa: Pick<ServeFigures['hpa'], 'serve' | 'floor' | 'serveAtRate' | 'floorAtRate' | 'rate'>;
    allPods: Pick<ServeFigures['allPods'], 'seconds' | 'floorSeconds'>;
  } | null,
): string[] {
  const out = ['', 'Targets (issue 12, ratios to floors of this run):'];
  for (const r of rows.filter((r) => r.sharded === null)) {
    const cpu = r.cpuMsPerNode / r.floorCpuMsPerNode;
    const cold = r.coldCpuMsPerNode / r.cpuMsPerNode;
    out.push(
      `  ${r.nodes} nodes: warm CPU ≤ 1.5× floor: ${f(cpu)}× — ${mark(cpu <= 1.5)}; cold CPU ≤ 1.5× warm: ${f(cold)}× — ${mark(cold <= 1.5)}`,
    );
  }
  if (serve) {
    const pct = share(serve.hpa.serve, serve.hpa.floor);
    const p99 = serve.hpa.serveAtRate.p99Ms;
    const floorP99 = serve.hpa.floorAtRate.p99Ms;
    const allPods = serve.allPods.seconds / serve.allPods.floorSeconds;
    out.push(
      `  HPA query ≥ 80 % of floor throughput: ${f(pct, 0)} % — ${mark(pct >= 80)}; p99 at ${serve.hpa.rate} requests/s ≤ the floor's: ${f(p99)} against ${f(floorP99)} ms — ${mark(p99 <= floorP99)}`,
      `  all pods ≤ 1.5× its floor: ${f(allPods)}× — ${mark(allPods <= 1.5)}`,
    );
  }
  return out;
}

export function toJson(
  m: Machine,
  scrape: ScrapeFigures[],
  serve: ServeFigures | null,
  decoders: DecoderFigures | null,
) {
  return {
    machine: describeMachine(m),
    machineDetail: m,
    scrape: scrape.map((s) => {
      const r = summarize(s);
      return {
        nodes: r.nodes,
        pods: r.pods,
        wallSeconds: r.warmWallMs / 1000,
        coldWallSeconds: r.coldWallMs / 1000,
        firstWallSeconds: r.firstWallMs / 1000,
        cpuMsPerNode: r.cpuMsPerNode,
        floorCpuMsPerNode: r.floorCpuMsPerNode,
        ioFloorCpuMsPerNode: r.ioFloorCpuMsPerNode,
        cpuVsFloor: r.cpuMsPerNode / r.floorCpuMsPerNode,
        cpuVsIoFloor: r.cpuMsPerNode / r.ioFloorCpuMsPerNode,
        coldCpuMsPerNode: r.coldCpuMsPerNode,
        floorWallSeconds: r.floorWallMs / 1000,
        ioFloorWallSeconds: r.ioFloorWallMs / 1000,
        bodyBytesPerNode: r.bodyBytesPerNode,
        peakRssMiB: r.peakRssMiB,
        floorPeakRssMiB: r.floorPeakRssMiB,
        redisBytesPerContainerPoint: r.redisBytesPerContainerPoint,
        redisBytesByKey: s.redis.byKind,
        simulatorCpuMsPerNode: r.simCpuMsPerNode,
        redisCpuMsPerNode: r.redisCpuMsPerNode,
        allProcessesCpuSeconds: r.allCpuMs / 1000,
        loadAverage: r.loadAverage,
        // A sharded run: peakRssMiB above is the largest of any instance's.
        ...(r.sharded
          ? {
              shardSize: r.sharded.shardSize,
              instances: r.sharded.instances,
              instancePeakRssMiB: { longLived: r.sharded.warmPeaks, fresh: r.sharded.coldPeaks },
              coordinatorCpuMsPerNode: r.sharded.coordinatorCpuMsPerNode,
              shardsCpuMsPerNode: r.sharded.shardsCpuMsPerNode,
              routerCpuMsPerNode: r.sharded.routerCpuMsPerNode,
              shardPeakRssMiB: r.sharded.shardPeakRssMiB,
              shardFloorPeakRssMiB: r.sharded.shardFloorPeakRssMiB,
            }
          : {}),
        cycles: {
          first: s.first,
          warm: s.warm,
          cold: s.cold,
          floorFirst: s.floorFirst,
          floorWarm: s.floorWarm,
          ioFloorWarm: s.ioFloorWarm,
          ...(s.shardFloor ? { shardFloor: s.shardFloor } : {}),
        },
      };
    }),
    decoders,
    serve: serve
      ? {
          pods: serve.pods,
          connections: serve.connections,
          hpaQuery: {
            query: serve.hpa.query,
            p50Ms: serve.hpa.serve.p50Ms,
            p99Ms: serve.hpa.serve.p99Ms,
            rps: serve.hpa.serve.rps,
            floorRps: serve.hpa.floor.rps,
            floorP50Ms: serve.hpa.floor.p50Ms,
            floorP99Ms: serve.hpa.floor.p99Ms,
            steadyRate: serve.hpa.rate,
            p50MsAtRate: serve.hpa.serveAtRate.p50Ms,
            p99MsAtRate: serve.hpa.serveAtRate.p99Ms,
            floorP99MsAtRate: serve.hpa.floorAtRate.p99Ms,
            serverCpuPercent: serve.hpa.serve.serverCpuPercent,
            loadGeneratorCpuPercent: serve.hpa.serve.loadCpuPercent,
            floorP50MsAtRate: serve.hpa.floorAtRate.p50Ms,
            protobuf: {
              bytes: serve.hpa.protobuf.bytesPerResponse,
              jsonBytes: serve.hpa.serve.bytesPerResponse,
              rps: serve.hpa.protobuf.rps,
              p50Ms: serve.hpa.protobuf.p50Ms,
              p99Ms: serve.hpa.protobuf.p99Ms,
              floorRps: serve.hpa.protobuf.floor.rps,
              serverCpuPercent: serve.hpa.protobuf.serverCpuPercent,
            },
          },
          nodeList: { nodes: serve.nodes, ...serve.nodeList },
          noStoreRequest: {
            path: '/version',
            p50Ms: serve.noStore.p50Ms,
            p99Ms: serve.noStore.p99Ms,
            rps: serve.noStore.rps,
          },
          allPods: serve.allPods,
        }
      : null,
  };
}
