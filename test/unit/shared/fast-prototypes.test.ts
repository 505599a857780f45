/**
 * The prototypes of primitives stay in V8's fast mode in every function's process, whatever its
 * libraries do while they load (shared/fast-prototypes.ts): a slow String.prototype made every string
 * method call in the decoders a generic property lookup. Checked in fresh processes with V8's own
 * `%HasFastProperties`, which needs `--allow-natives-syntax`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const here = (path: string): string => new URL(`../../../${path}`, import.meta.url).href;
const PROTOTYPES = ['String', 'Number', 'Boolean', 'Symbol', 'BigInt'];

/** Runs `code` (a module body) in a fresh process, then says which primitive prototypes are slow. */
function slowAfter(code: string): string[] {
  const check = `${code}
const slow = ${JSON.stringify(PROTOTYPES)}.filter((n) => !%HasFastProperties(globalThis[n].prototype));
process.stdout.write(JSON.stringify(slow));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', check], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

test('a class extending String leaves String.prototype slow, and fastenPrimitivePrototypes makes it fast', () => {
  const define = 'class Wrapped extends String {} void Wrapped;';
  assert.deepEqual(slowAfter(define), ['String'], 'the check sees the slow prototype');
  assert.deepEqual(
    slowAfter(`${define}
const { fastenPrimitivePrototypes } = await import(${JSON.stringify(here('shared/fast-prototypes.ts'))});
fastenPrimitivePrototypes();`),
    [],
  );
});

test('every function loads with fast primitive prototypes', () => {
  for (const module of [
    'functions/scrape/scraper.ts',
    'functions/serve/server.ts',
    'functions/events/events.ts',
  ]) {
    assert.deepEqual(slowAfter(`await import(${JSON.stringify(here(module))});`), [], module);
  }
});

test('and keeps them fast once it has loaded what it loads on first use: the Kubernetes client, the sinks', () => {
  const slow = slowAfter(`
await import(${JSON.stringify(here('functions/events/events.ts'))});
const { kubeClient } = await import(${JSON.stringify(here('shared/kube.ts'))});
kubeClient();
const { parseSinkUri } = await import(${JSON.stringify(here('functions/events/sinks/registry.ts'))});
for (const uri of ['s3:?bucket=b', 'kafka:?brokers=127.0.0.1:9092&topic=t', 'nats:nats://127.0.0.1:4222?subject=k']) {
  parseSinkUri(uri);
}`);
  assert.deepEqual(slow, []);
});
