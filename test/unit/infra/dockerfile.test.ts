/**
 * The Dockerfile, checked without a container engine (none runs here): its instructions are parsed,
 * what it copies must exist and survive .dockerignore, and each target's image is laid out in a
 * temporary folder exactly as its COPY instructions (and `npm ci --omit=dev`) would lay it out, then its
 * ENTRYPOINT is run there with --help on Node 24: if the image lacked a file or a production
 * dependency, the program could not even load.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { eventsSpec, helpText, scrapeSpec, serveSpec } from '../../../shared/config/index.ts';
import { repoPath, repoRoot } from './manifests.ts';

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  from: string;
  name: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const i = { op: op.toUpperCase(), args: rest.join(' ') };
    if (i.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = i.args.split('=');
      args.set(k!, v);
    } else if (i.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      assert.ok(m, `FROM ${i.args}`);
      stages.push({ from: m[1]!, name: m[2] ?? String(stages.length), instructions: [] });
    } else stages.at(-1)?.instructions.push(i);
  }
  return { args, stages };
}

/** .dockerignore as Docker reads it: each pattern matches a path or a parent of it; the last match wins. */
function dockerignore(text: string): (path: string) => boolean {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exclude = !l.startsWith('!');
      const glob = (exclude ? l : l.slice(1)).replace(/^\/+/, '');
      const re = glob
        .split('**/')
        .map((part) =>
          part
            .split('**')
            .map((p) =>
              p
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
            )
            .join('.*'),
        )
        .join('(?:.*/)?');
      return { exclude, re: new RegExp(`^${re}$`) };
    });
  return (path) => {
    const parents = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const p of patterns) if (parents.some((x) => p.re.test(x))) excluded = p.exclude;
    return excluded;
  };
}

const dockerfile = parseDockerfile(readFileSync(repoPath('Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(repoPath('.dockerignore'), 'utf8'));
const stage = (name: string) => {
  const s = dockerfile.stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name}`);
  return s;
};
/** The target's stage and every stage it builds on, base first. */
function chain(target: string): Stage[] {
  const s = stage(target);
  const parent = dockerfile.stages.find((x) => x.name === s.from);
  return parent ? [...chain(parent.name), s] : [s];
}
const image = (s: Stage) => s.from.replace(/^\$\{(\w+)\}$/, (_, k: string) => dockerfile.args.get(k) ?? '');
const copies = (s: Stage) =>
  s.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const parts = i.args.split(/\s+/);
      const from = parts.find((p) => p.startsWith('--from='))?.slice(7);
      const paths = parts.filter((p) => !p.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });

/** Files under `dir` (relative to the repo) that the build context keeps. */
function contextFiles(path: string): string[] {
  const full = repoPath(path);
  if (!statSync(full).isDirectory()) return ignored(path) ? [] : [path];
  return readdirDeep(full)
    .map((f) => relative(repoRoot, f))
    .filter((f) => !ignored(f));
}
function readdirDeep(dir: string): string[] {
  return execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

const targets = { scrape: scrapeSpec, serve: serveSpec, events: eventsSpec } as const;

describe('the Dockerfile', () => {
  test('builds every image from Node 24 (an official node:24 image)', () => {
    for (const s of dockerfile.stages) {
      const from = dockerfile.stages.some((x) => x.name === s.from) ? null : image(s);
      if (from !== null) assert.match(from, /^node:24(-[a-z0-9.-]+)?$/, `stage ${s.name} FROM ${from}`);
    }
  });

  test('has the targets scrape, serve and events, each running its function as non-root', () => {
    for (const target of Object.keys(targets)) {
      const stages = chain(target);
      const user = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'USER')).at(-1)?.args;
      assert.ok(user, `${target} sets USER`);
      const uid = Number(user.split(':')[0]);
      assert.ok(Number.isInteger(uid) && uid > 0, `${target} runs as numeric non-root uid: ${user}`);
      const entry = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'ENTRYPOINT')).at(-1)?.args;
      assert.deepEqual(JSON.parse(entry ?? 'null'), ['node', `functions/${target}/main.ts`]);
    }
  });

  test("each image runs its program with the Node flags of package.json's script for it", () => {
    const scripts = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')).scripts as Record<
      string,
      string
    >;
    for (const target of Object.keys(targets)) {
      const [node, ...rest] = (scripts[target] ?? '').split(/\s+/);
      assert.equal(node, 'node');
      assert.equal(rest.at(-1), `functions/${target}/main.ts`);
      const flags = rest.slice(0, -1).join(' ');
      const env = chain(target)
        .flatMap((s) => s.instructions.filter((i) => i.op === 'ENV' && i.args.startsWith('NODE_OPTIONS=')))
        .at(-1)?.args;
      assert.equal(env?.slice('NODE_OPTIONS='.length) ?? '', flags, `${target}: NODE_OPTIONS`);
    }
  });

  test('installs production dependencies only, as locked', () => {
    const runs = stage('deps')
      .instructions.filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    assert.ok(
      runs.some((r) => /npm ci\b.*--omit=dev/.test(r)),
      runs.join('\n'),
    );
  });

  test('copies only what exists in the repository and is kept by .dockerignore', () => {
    for (const s of dockerfile.stages) {
      for (const c of copies(s)) {
        if (c.from !== undefined) {
          assert.ok(
            dockerfile.stages.some((x) => x.name === c.from),
            `COPY --from=${c.from}`,
          );
          continue;
        }
        for (const src of c.sources) {
          const path = src.replace(/\/$/, '');
          assert.ok(existsSync(repoPath(path)), `${path} exists`);
          assert.ok(!ignored(path), `${path} is not excluded by .dockerignore`);
        }
      }
    }
    // And the context leaves out what no image needs.
    for (const path of [
      'node_modules/hono/package.json',
      'test/helpers/redis.ts',
      'sim/index.ts',
      '.git/HEAD',
      'infra',
    ])
      assert.ok(ignored(path), `${path} is excluded`);
  });

  describe("each target's image, laid out as the Dockerfile builds it", () => {
    const root = mkdtempSync(join(tmpdir(), 'image-'));
    after(() => rmSync(root, { recursive: true, force: true }));

    /** `npm ci --omit=dev`: the non-dev packages of the lock file (linked, not copied). */
    function productionNodeModules(dest: string): void {
      const lock = JSON.parse(readFileSync(repoPath('package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      for (const [key, p] of Object.entries(lock.packages)) {
        if (!/^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) || p.dev) continue;
        const to = join(dest, key);
        mkdirSync(dirname(to), { recursive: true });
        symlinkSync(repoPath(key), to);
      }
    }

    /** The target's /app, laid out once as its COPY instructions (and `npm ci --omit=dev`) build it. */
    const layouts = new Map<string, string>();
    function layOut(target: string): string {
      const done = layouts.get(target);
      if (done !== undefined) return done;
      const app = join(root, target, 'app');
      mkdirSync(app, { recursive: true });
      for (const s of chain(target)) {
        const workdir = s.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args;
        if (workdir !== undefined) assert.equal(workdir, '/app');
        for (const c of copies(s)) {
          if (c.from === 'deps') {
            assert.deepEqual(c.sources, ['/app/node_modules']);
            productionNodeModules(app);
            continue;
          }
          for (const src of c.sources) {
            for (const file of contextFiles(src.replace(/\/$/, ''))) {
              const dest =
                c.dest.endsWith('/') || c.sources.length > 1 || file !== src
                  ? join(app, c.dest, relative(src, file) || file)
                  : join(app, c.dest);
              mkdirSync(dirname(dest), { recursive: true });
              cpSync(repoPath(file), dest);
            }
          }
        }
      }
      layouts.set(target, app);
      return app;
    }

    /** The image's environment (its ENV instructions, /app/ standing for the layout), and PATH. */
    function imageEnv(target: string, app: string): Record<string, string> {
      // `node` on the PATH is this Node 24, as in the image.
      const env: Record<string, string> = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
      for (const i of chain(target).flatMap((s) => s.instructions.filter((x) => x.op === 'ENV'))) {
        const m = /^(\w+)=(.*)$/.exec(i.args);
        assert.ok(m, `ENV ${i.args}: KEY=value`);
        env[m[1]!] = m[2]!.replace(/^\/app\//, `${app}/`);
      }
      return env;
    }

    for (const [target, spec] of Object.entries(targets)) {
      test(`${target}: the ENTRYPOINT starts on Node 24 with only what the image holds, and --help lists every flag`, () => {
        const app = layOut(target);
        // Development-only packages are absent, as in the image.
        assert.ok(!existsSync(join(app, 'node_modules/typescript')));
        assert.ok(existsSync(join(app, `functions/${target}/main.ts`)));
        const out = execFileSync(process.execPath, [`functions/${target}/main.ts`, '--help'], {
          cwd: app,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
        });
        assert.equal(out, helpText(spec, target));
        for (const f of spec.flags) assert.ok(out.includes(`--${f.name}`), `--${f.name}`);
      });

      test(`${target}: the compile cache its build fills serves every module a start loads`, () => {
        const stages = chain(target);
        const all = stages.flatMap((s) => s.instructions);
        const cacheDir = all
          .filter((i) => i.op === 'ENV' && i.args.startsWith('NODE_COMPILE_CACHE='))
          .at(-1)
          ?.args.slice('NODE_COMPILE_CACHE='.length);
        assert.ok(cacheDir?.startsWith('/app/'), `NODE_COMPILE_CACHE under /app: ${cacheDir}`);
        // Made as root for the user the functions run as: Node keeps one cache per uid, filled as that user.
        const user = all.filter((i) => i.op === 'USER').at(-1)?.args;
        const made = all.findIndex(
          (i) =>
            i.op === 'RUN' &&
            i.args.includes(`mkdir -m 0755 ${cacheDir}`) &&
            i.args.includes(`chown ${user} ${cacheDir}`),
        );
        assert.ok(
          made >= 0 && made < all.findIndex((i) => i.op === 'USER'),
          `the cache directory, owned by ${user}, made before USER`,
        );
        // Filled in the target's own stage, once its program is copied, as that user, with its NODE_OPTIONS:
        // first the ENTRYPOINT's own --help (its whole static graph), then what it loads on first use.
        const own = stage(target).instructions;
        const fill = own.findIndex(
          (i) => i.op === 'RUN' && i.args.startsWith(`node functions/${target}/main.ts --help > /dev/null`),
        );
        const copied = own.findIndex((i) => i.op === 'COPY' && i.args.startsWith(`functions/${target} `));
        assert.ok(
          fill > copied && copied >= 0,
          `${target}: RUN node functions/${target}/main.ts --help after its COPY`,
        );
        assert.ok(
          own.slice(fill).every((i) => i.op !== 'ENV'),
          'no ENV after the fill: the cache is keyed by the Node flags it was filled with',
        );
        const commands = own[fill]!.args.split(' && ');

        const app = layOut(target);
        const env = imageEnv(target, app);
        const cache = env.NODE_COMPILE_CACHE!;
        rmSync(cache, { recursive: true, force: true });
        mkdirSync(cache);
        // The RUN as Docker runs it (a shell), then each of its commands again, as a start would load them.
        execFileSync('/bin/sh', ['-c', own[fill]!.args], { cwd: app, env, stdio: 'ignore' });
        let stderr = '';
        for (const command of commands) {
          const r = spawnSync('/bin/sh', ['-c', command.replace(/\s*>\s*\/dev\/null$/, '')], {
            cwd: app,
            env: { ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
            encoding: 'utf8',
          });
          assert.equal(r.status, 0, `${command}: ${r.stderr.slice(-2000)}`);
          stderr += r.stderr;
        }
        // Node's own account (NODE_DEBUG_NATIVE) of each module it looked up: each stripped TypeScript
        // file's source, and each module's compiled code (ESM or CommonJS), found or not.
        const file = (url: string) => relative(app, url.startsWith('file:') ? new URL(url).pathname : url);
        const stripped = [
          ...stderr.matchAll(
            /(?:retrieving transpile cache for StrippedTypeScript (\S+?)\.\.\.(\w+)|no transpile cache for StrippedTypeScript (\S+))/g,
          ),
        ].map((m) => ({ file: file(m[1] ?? m[3]!), result: m[2] ?? 'none' }));
        const compiled = [...stderr.matchAll(/V8 code cache for (?:ESM|CommonJS) (\S+) was (\w+)/g)].map(
          (m) => ({ file: file(m[1]!), result: m[2]! }),
        );
        assert.ok(
          stripped.some((l) => l.file === `functions/${target}/main.ts`),
          `the entry looked up in the cache:\n${stderr.slice(0, 2000)}`,
        );
        assert.ok(
          compiled.some((l) => l.file.includes('@kubernetes/client-node/dist/config.js')),
          "client-node's KubeConfig looked up in the cache",
        );
        assert.ok(stripped.length >= 20, `${stripped.length} TypeScript modules looked up`);
        assert.deepEqual(
          stripped.filter((l) => l.result !== 'success'),
          [],
          "every TypeScript module's stripped source comes from the cache",
        );
        assert.deepEqual(
          compiled.filter((l) => l.result !== 'accepted'),
          [],
          "every module's compiled code comes from the cache",
        );
      });
    }
  });
});
