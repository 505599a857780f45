/** `npm run bench`'s flags and its usage text (bench/main.ts). */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: npm run bench -- [flags]

  npm run bench                       100, 1,000 and 5,000 nodes × 30 pods, then the serve function
  npm run bench -- --nodes 1000       one size (the serve benchmark runs on it)
  npm run bench -- --json out.json    also write the figures as JSON
  npm run bench -- --no-serve         the scrape benchmark only
  npm run bench -- --cpu-prof DIR     CPU profiles of the scraper, serve and events processes into DIR
  npm run bench -- --no-decoders      without the decoders' throughput (measured in-process first)
  npm run bench -- --events           the events benchmark only (1,000 events/s into three sinks;
                                      --events-rate N, --events-seconds S)
  npm run bench -- --startup          the start-up and idle cost only (--startup-rounds N, default 3);
                                      part of the default run, --no-startup leaves it out
  npm run bench -- --nodes 10000 --shard-size 1000
                                      sharded: a coordinator and shard instances (one per shard, or
                                      --shard-instances N), each its own process, each measured
  npm run bench -- --no-events        without the events benchmark

  --pods-per-node N (30), --warm-cycles N (5: the warm cycles each size runs, their median reported),
  --serve-seconds S (8: each serve load round), -h / --help this text
`;

export const BENCH_OPTIONS = {
  nodes: { type: 'string', multiple: true },
  'pods-per-node': { type: 'string', default: '30' },
  json: { type: 'string' },
  // Five: the first warm cycle or two still run colder code on a smaller heap; the median is steady state.
  'warm-cycles': { type: 'string', default: '5' },
  'no-serve': { type: 'boolean', default: false },
  'no-decoders': { type: 'boolean', default: false },
  'serve-seconds': { type: 'string', default: '8' },
  'cpu-prof': { type: 'string' },
  events: { type: 'boolean', default: false },
  'events-rate': { type: 'string', default: '1000' },
  'events-seconds': { type: 'string', default: '60' },
  startup: { type: 'boolean', default: false },
  'no-startup': { type: 'boolean', default: false },
  'startup-rounds': { type: 'string', default: '3' },
  'shard-size': { type: 'string', default: '0' },
  'shard-instances': { type: 'string' },
  'no-events': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The flags, or USAGE with what was wrong (exit 2). */
export function benchFlags(args: string[]) {
  try {
    return parseArgs({ args, options: BENCH_OPTIONS }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
