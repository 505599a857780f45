/**
 * `npm run bench`: the figures of DESIGN.md's performance table, each beside the floor measured in the
 * same run, with the machine they ran on. Every part runs in its own process on loopback against a
 * private redis-server, and everything the run starts is stopped when it ends.
 *
 * `npm run bench -- --help` prints the commands and flags (USAGE, bench/flags.ts).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DecoderFigures } from './decoders.ts';
import { type EventsFigures, eventsBench } from './events-bench.ts';
import { eventsJson, eventsReport } from './events-report.ts';
import { benchFlags, USAGE } from './flags.ts';
import { spawnChild } from './ipc.ts';
import { describeMachine } from './machine.ts';
import { report, toJson } from './report.ts';
import { nodeArgsFor, startBenchRun } from './run.ts';
import { type ScrapeFigures, scrapeBench } from './scrape-bench.ts';
import { type ServeFigures, serveBench } from './serve-bench.ts';
import { type StartupFigures, startupBench } from './startup.ts';
import { startupJson, startupReport } from './startup-report.ts';

const values = benchFlags(process.argv.slice(2));
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

// --events alone: the events benchmark only.
// --startup alone: the start-up benchmark only.
const only = values.events || values.startup;
const sizes = (values.nodes ?? (only ? [] : ['100', '1000', '5000'])).map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`--nodes: want whole numbers ≥ 1, got ${values.nodes?.join(', ')}`);
const shardSize = Number(values['shard-size']);
if (!Number.isInteger(shardSize) || shardSize < 0)
  throw new Error(
    `--shard-size: want a whole number ≥ 0 (0: one scraper process), got ${values['shard-size']}`,
  );
const shardInstancesFlag = values['shard-instances'] === undefined ? null : Number(values['shard-instances']);
if (shardInstancesFlag !== null && !(Number.isInteger(shardInstancesFlag) && shardInstancesFlag >= 1))
  throw new Error(`--shard-instances: want a whole number ≥ 1, got ${values['shard-instances']}`);
if (shardInstancesFlag !== null && shardSize === 0) throw new Error('--shard-instances needs --shard-size');
const podsPerNode = Number(values['pods-per-node']);
const warmCycles = Number(values['warm-cycles']);
const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : null;
const nodeArgs = nodeArgsFor(profDir);
const { progress, m, dir, server, redis, cleanup } = await startBenchRun();

const scrape: ScrapeFigures[] = [];
let serve: ServeFigures | null = null;
let decoders: DecoderFigures | null = null;
let startup: StartupFigures | null = null;
try {
  // First, on a machine nothing else of this run loads yet: fresh processes are sensitive to it.
  if (values.startup || (!only && !values['no-startup'])) {
    startup = await startupBench({
      redisUrl: server.url,
      dir,
      rounds: Number(values['startup-rounds']),
      progress,
    });
  }
  if (!values['no-decoders'] && !only) {
    progress(
      `decoders: throughput on the simulator's payloads (${podsPerNode} pods per node) and the fixtures…`,
    );
    const child = spawnChild('decoders.ts', [], nodeArgs('decoders'));
    try {
      await child.ready;
      const { id: _id, ...figures } = await child.ask<DecoderFigures & { id: number }>('measure', {
        podsPerNode,
      });
      decoders = figures;
    } finally {
      await child.stop();
    }
    for (const r of decoders.rows) {
      progress(
        `  /${r.endpoint} (${r.payloads}): ${Object.entries(r.runs)
          .map(([name, run]) => `${name} ${run.mbPerSecond.toFixed(1)} MB/s`)
          .join(', ')}`,
      );
    }
  }
  for (const [i, nodes] of sizes.entries()) {
    const last = i === sizes.length - 1;
    const figures = await scrapeBench({
      nodes,
      podsPerNode,
      // About 150 pods per namespace, as a team's namespace holds: the HPA query reads one of them.
      namespaces: Math.max(5, Math.round((nodes * podsPerNode) / 150)),
      warmCycles,
      redisUrl: server.url,
      redis,
      dir,
      keepSim: last && !values['no-serve'],
      progress,
      nodeArgs,
      profileDir: profDir,
      shardSize,
      // One instance per shard unless told: each then holds only its own shard's connections.
      shardInstances: shardInstancesFlag ?? Math.ceil(nodes / Math.max(1, shardSize)),
    });
    scrape.push(figures);
    if (figures.sim) {
      try {
        serve = await serveBench({
          scrape: figures,
          redisUrl: server.url,
          redis,
          dir,
          seconds: Number(values['serve-seconds']),
          progress,
          serveNodeArgs: nodeArgs('serve'),
        });
      } finally {
        await figures.sim.stop();
      }
    }
  }
  const events: EventsFigures | null =
    values['no-events'] || (values.startup && !values.events)
      ? null
      : await eventsBench({
          rate: Number(values['events-rate']),
          seconds: Number(values['events-seconds']),
          warmupSeconds: 10,
          redisUrl: server.url,
          redis,
          dir,
          progress,
          nodeArgs: nodeArgs('events'),
        });
  if (scrape.length > 0) process.stdout.write(`\n${report(m, scrape, serve, decoders)}\n`);
  if (scrape.length === 0) process.stdout.write(`\nMachine: ${describeMachine(m)}\n`);
  if (events) process.stdout.write(`\n${eventsReport(events)}\n`);
  if (startup) process.stdout.write(`\n${startupReport(startup)}\n`);
  if (values.json) {
    const json = {
      ...toJson(m, scrape, serve, decoders),
      ...(events ? { events: eventsJson(events) } : {}),
      ...(startup ? { startup: startupJson(startup) } : {}),
    };
    await writeFile(values.json, `${JSON.stringify(json, null, 2)}\n`);
    progress(`figures written to ${values.json}`);
  }
} finally {
  await cleanup();
}
