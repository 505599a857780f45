/**
 * The scrape benchmark alone, for issue 12's two scrape ratios: the scraper's CPU per node per warm cycle
 * against the floor's (same connections, payloads, decoders and concurrency, nothing else), and a cold
 * cycle (a fresh process) against a warm one, CPU and wall time. The same runs as `npm run bench`'s
 * scrape part (bench/scrape-bench.ts), without the decoders', serve and events benchmarks.
 *
 *   node bench/scrape-cpu.ts [--nodes N …] [--warm-cycles N] [--pods-per-node N] [--json FILE] [--cpu-prof DIR]
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeArgsFor, startBenchRun } from './run.ts';
import { medianBy, scrapeBench } from './scrape-bench.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', multiple: true, default: ['1000', '5000'] },
    'pods-per-node': { type: 'string', default: '30' },
    'warm-cycles': { type: 'string', default: '5' },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const podsPerNode = Number(values['pods-per-node']);
const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : null;
const nodeArgs = nodeArgsFor(profDir);
const { progress, m, redis, server, dir, cleanup } = await startBenchRun();
const rows: Record<string, number>[] = [];
try {
  for (const nodes of values.nodes.map(Number)) {
    const f = await scrapeBench({
      nodes,
      podsPerNode,
      namespaces: Math.max(5, Math.round((nodes * podsPerNode) / 150)),
      warmCycles: Number(values['warm-cycles']),
      redisUrl: server.url,
      redis,
      dir,
      keepSim: false,
      progress,
      nodeArgs,
      profileDir: profDir,
      // Unsharded: the ratio to the floor is one scraper's.
      shardSize: 0,
      shardInstances: 0,
    });
    const cpu = medianBy(f.warm, (c) => c.cpuMs) / nodes;
    const wall = medianBy(f.warm, (c) => c.wallMs) / 1000;
    const floor = medianBy(f.floorWarm, (c) => c.cpuMs) / nodes;
    const ioFloor = medianBy(f.ioFloorWarm, (c) => c.cpuMs) / nodes;
    // Each warm cycle against the floor's cycle run right after it (bench/scrape-bench.ts interleaves them).
    const pairs = f.warm.map((c, i) => c.cpuMs / f.floorWarm[i]!.cpuMs);
    const pairRatio = [...pairs].sort((a, b) => a - b)[Math.floor(pairs.length / 2)]!;
    const coldCpu = f.cold.cpuMs / nodes;
    const coldWall = f.cold.wallMs / 1000;
    const row = {
      nodes,
      cpuMsPerNode: cpu,
      floorCpuMsPerNode: floor,
      cpuVsFloor: cpu / floor,
      cpuVsFloorPairs: pairRatio,
      ioFloorCpuMsPerNode: ioFloor,
      wallSeconds: wall,
      coldCpuMsPerNode: coldCpu,
      coldWallSeconds: coldWall,
      coldVsWarmCpu: coldCpu / cpu,
      coldVsWarmWall: coldWall / wall,
      warmCpuMsPerNode: f.warm.map((c) => c.cpuMs / nodes) as unknown as number,
      floorWarmCpuMsPerNode: f.floorWarm.map((c) => c.cpuMs / nodes) as unknown as number,
    };
    rows.push(row);
    progress(
      `[${nodes} nodes] warm ${cpu.toFixed(3)} ms CPU/node (cycles ${f.warm.map((c) => (c.cpuMs / nodes).toFixed(3)).join(', ')}), ` +
        `floor ${floor.toFixed(3)} ms (${(cpu / floor).toFixed(2)}×; cycle by cycle ${pairs.map((r) => r.toFixed(2)).join(', ')}, median ${pairRatio.toFixed(2)}×), I/O floor ${ioFloor.toFixed(3)} ms; ` +
        `cold ${coldCpu.toFixed(3)} ms CPU/node (${(coldCpu / cpu).toFixed(2)}× warm), ` +
        `wall ${coldWall.toFixed(2)} s cold vs ${wall.toFixed(2)} s warm (${(coldWall / wall).toFixed(2)}×)`,
    );
  }
  if (values.json) await writeFile(values.json, `${JSON.stringify({ machine: m, rows }, null, 2)}\n`);
} finally {
  await cleanup();
}
