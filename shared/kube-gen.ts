/**
 * What @kubernetes/client-node's dist/config.js imports from its generated API (./gen/index.js), and
 * nothing else: shared/kube.ts has config.js load this instead, so that KubeConfig does not bring the
 * ≈ 3,000 generated modules with it. The same bindings, re-exported from the files gen/index.js takes
 * them from (a test checks the names against config.js's own import line).
 */
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
