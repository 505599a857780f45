import { spawnChild } from './ipc.ts';

const n = process.argv[2] ?? '10000';
const t = performance.now();
const sim = spawnChild(
  'sim-host.ts',
  [n, '30', String(Math.round((Number(n) * 30) / 150)), '/tmp/sb'],
  ['--max-old-space-size=8192'],
);
await sim.ready;
const info = await sim.ask<Record<string, unknown>>('info');
console.log(
  'startup',
  (performance.now() - t) / 1000,
  's',
  JSON.stringify({ ...info, kubelets: (info.kubelets as string[]).length, files: undefined }),
);
for (let i = 0; i < 2; i++) {
  const a = performance.now();
  await sim.ask('advance');
  console.log('advance ms', performance.now() - a);
}
console.log(JSON.stringify(await sim.ask('usage')));
await sim.stop();
