/**
 * `node shared/compile-cache.ts [MODULE…]`: loads what a function loads on first use rather than at start,
 * so that Node's compile cache (NODE_COMPILE_CACHE) holds it too. The Dockerfile runs it after each
 * function's `--help` (which loads the static module graph) while it builds the image; the image's cache
 * is read-only once it runs, so what is not loaded here is stripped and compiled again at every start.
 *
 * It always loads @kubernetes/client-node's KubeConfig (shared/kube.ts: every function's first use), then
 * each MODULE given (paths from the working directory: the events image names its sinks, whose modules
 * and SDKs are required when a `--sink` names them). Nothing is run: loading a module only defines it.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { kubeClient } from './kube.ts';

kubeClient();
// Required, as the functions load them on first use: Node keys a required file's cache entry by its path
// and an imported one's by its URL, so an `import()` here would fill entries a start never reads.
const load = createRequire(import.meta.url);
for (const path of process.argv.slice(2)) load(resolve(path));
