/** The scrape and events trigger servers as the tests start them: on loopback, port 0, no cluster. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A kubeconfig pointing nowhere, in `dir`: a trigger server needs no API server until a cycle or a pass
 * runs, and none runs in these tests.
 */
export async function nowhereKubeconfig(dir: string): Promise<string> {
  const path = join(dir, 'nowhere.kubeconfig');
  await writeFile(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]',
      'users: [{name: u, user: {token: unused}}]',
      'contexts: [{name: c, context: {cluster: c, user: u}}]',
      'current-context: c',
      '',
    ].join('\n'),
  );
  return path;
}

/**
 * The flags of a trigger server on a free port of 127.0.0.1 (it logs its URL as `address`), with what
 * each program needs to start; `extra` beats these.
 */
export function triggerArgs(fn: 'scrape' | 'events', o: { kubeconfig: string; redisUrl: string }): string[] {
  return [
    '--port=0',
    '--bind-address=127.0.0.1',
    `--redis-url=${o.redisUrl}`,
    `--kubeconfig=${o.kubeconfig}`,
    ...(fn === 'events' ? ['--sink=stdout'] : []),
  ];
}
