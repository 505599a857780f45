/**
 * The kubeconfig delegated authentication and authorization talk through: a named file, else the
 * default one ($KUBECONFIG, ~/.kube/config, in-cluster), else none at all. Without one the serve
 * function can still authenticate certificates against CA files given as flags, but cannot review
 * bearer tokens or ask SubjectAccessReviews (apiserver's `RemoteKubeConfigFileOptional`).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../../shared/kube.ts';
import { AuthenticationConfigError } from './authentication-config.ts';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function defaultAvailable(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.KUBECONFIG) return true;
  if (existsSync(join(homedir(), '.kube', 'config'))) return true;
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_TOKEN);
}

/** `flag` names the flag the path came from, for the error. */
export function authKubeConfig(
  path: string,
  flag: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KubeConfig | null {
  if (path === '' && !defaultAvailable(env)) return null;
  try {
    return loadKubeConfig(path, flag);
  } catch (err) {
    throw new AuthenticationConfigError(err instanceof Error ? err.message : String(err));
  }
}
