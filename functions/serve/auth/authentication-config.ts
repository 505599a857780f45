/**
 * Where the authenticators' trust comes from, as k8s.io/apiserver's DelegatingAuthenticationOptions
 * decides it:
 *
 * - the client CA: `--client-ca-file`, else `client-ca-file` of the ConfigMap
 *   kube-system/extension-apiserver-authentication (kube-apiserver publishes it);
 * - the front proxy: `--requestheader-client-ca-file` with the `--requestheader-*` flags, else the
 *   ConfigMap's `requestheader-client-ca-file` with its `requestheader-*` keys (header names falling
 *   back to the flags' when a key is absent); a non-empty `--requestheader-allowed-names` always wins.
 *
 * The ConfigMap is read only when a CA flag is missing, through the authentication kubeconfig (it needs
 * the `extension-apiserver-authentication-reader` Role in kube-system).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { type ApiClient, ApiError } from './api-client.ts';
import { type CaBundle, parseCaBundle } from './certificates.ts';
import type { RequestHeaderConfig } from './request-header.ts';

export const CONFIGMAP_NAMESPACE = 'kube-system';
export const CONFIGMAP_NAME = 'extension-apiserver-authentication';
const CONFIGMAP_REF = `configmap/${CONFIGMAP_NAME} in ${CONFIGMAP_NAMESPACE}`;

export interface AuthenticationFlags {
  clientCaFile: string;
  requestheaderClientCaFile: string;
  requestheaderAllowedNames: readonly string[];
  requestheaderUsernameHeaders: readonly string[];
  requestheaderGroupHeaders: readonly string[];
  requestheaderExtraHeadersPrefix: readonly string[];
}

export interface AuthenticationConfig {
  requestHeader: RequestHeaderConfig | null;
  clientCa: CaBundle | null;
  /** Where each came from, for the log: a flag and file, the ConfigMap, or 'none'. */
  sources: { requestHeader: string; clientCa: string };
}

/** The trust cannot be established: at start the program stops with this; on a reload it is logged. */
export class AuthenticationConfigError extends Error {
  override name = 'AuthenticationConfigError';
}

/** apiserver skips the lookup only when both CAs come from flags. */
export function needsConfigMap(f: AuthenticationFlags): boolean {
  return f.clientCaFile === '' || f.requestheaderClientCaFile === '';
}

const ConfigMapSchema = z.object({ data: z.record(z.string(), z.string()).nullish() });
const StringList = z.array(z.string());

function listKey(data: Readonly<Record<string, string>>, key: string): string[] | undefined {
  const text = data[key];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const list = StringList.safeParse(parsed);
  if (!list.success) {
    throw new AuthenticationConfigError(
      `${CONFIGMAP_REF}: ${key} is not a JSON list of strings: ${JSON.stringify(text.slice(0, 100))}`,
    );
  }
  return list.data;
}

/**
 * Combines the flags, the CA files' contents (read by the caller) and the ConfigMap's data (null when
 * it was not read or does not exist). Pure; throws AuthenticationConfigError naming the bad input.
 */
export function authenticationConfig(
  f: AuthenticationFlags,
  files: { clientCa?: string; requestHeaderCa?: string },
  configMap: Readonly<Record<string, string>> | null,
): AuthenticationConfig {
  const data = configMap ?? {};
  const parse = (pem: string, source: string) => {
    try {
      return parseCaBundle(pem, source);
    } catch (err) {
      throw new AuthenticationConfigError(err instanceof Error ? err.message : String(err));
    }
  };

  let clientCa: CaBundle | null = null;
  let clientSource = 'none';
  if (f.clientCaFile !== '') {
    clientSource = `--client-ca-file ${f.clientCaFile}`;
    clientCa = parse(files.clientCa ?? '', clientSource);
  } else if (data['client-ca-file']) {
    clientSource = `${CONFIGMAP_REF} (client-ca-file)`;
    clientCa = parse(data['client-ca-file'], clientSource);
  }

  let requestHeader: RequestHeaderConfig | null = null;
  let headerSource = 'none';
  const flagNames = f.requestheaderAllowedNames.filter((n) => n !== '');
  if (f.requestheaderClientCaFile !== '') {
    headerSource = `--requestheader-client-ca-file ${f.requestheaderClientCaFile}`;
    requestHeader = {
      ca: parse(files.requestHeaderCa ?? '', headerSource),
      allowedNames: flagNames,
      usernameHeaders: f.requestheaderUsernameHeaders,
      groupHeaders: f.requestheaderGroupHeaders,
      extraHeaderPrefixes: f.requestheaderExtraHeadersPrefix,
    };
  } else if (data['requestheader-client-ca-file']) {
    headerSource = `${CONFIGMAP_REF} (requestheader-client-ca-file)`;
    requestHeader = {
      ca: parse(data['requestheader-client-ca-file'], headerSource),
      allowedNames: flagNames.length > 0 ? flagNames : (listKey(data, 'requestheader-allowed-names') ?? []),
      usernameHeaders: listKey(data, 'requestheader-username-headers') ?? f.requestheaderUsernameHeaders,
      groupHeaders: listKey(data, 'requestheader-group-headers') ?? f.requestheaderGroupHeaders,
      extraHeaderPrefixes:
        listKey(data, 'requestheader-extra-headers-prefix') ?? f.requestheaderExtraHeadersPrefix,
    };
  }
  return { requestHeader, clientCa, sources: { requestHeader: headerSource, clientCa: clientSource } };
}

async function readCaFile(flag: string, path: string): Promise<string | undefined> {
  if (path === '') return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new AuthenticationConfigError(
      `cannot read --${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The ConfigMap's data; null when it does not exist (apiserver then goes on without it). */
export async function readAuthenticationConfigMap(api: ApiClient): Promise<Record<string, string> | null> {
  let answer: unknown;
  try {
    answer = await api.get(`/api/v1/namespaces/${CONFIGMAP_NAMESPACE}/configmaps/${CONFIGMAP_NAME}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    const hint =
      err instanceof ApiError && err.status === 403
        ? `. Usually fixed by 'kubectl create rolebinding -n ${CONFIGMAP_NAMESPACE} ROLEBINDING_NAME --role=extension-apiserver-authentication-reader --serviceaccount=YOUR_NS:YOUR_SA'`
        : '';
    throw new AuthenticationConfigError(
      `unable to get ${CONFIGMAP_REF}: ${err instanceof Error ? err.message : String(err)}${hint}`,
    );
  }
  const parsed = ConfigMapSchema.safeParse(answer);
  if (!parsed.success)
    throw new AuthenticationConfigError(`unable to get ${CONFIGMAP_REF}: the answer is not a ConfigMap`);
  return parsed.data.data ?? {};
}

/**
 * Reads everything the configuration depends on, now: the CA files, and the ConfigMap when needed and
 * an API server is known. Throws AuthenticationConfigError.
 */
export async function loadAuthenticationConfig(
  f: AuthenticationFlags,
  api: ApiClient | null,
): Promise<AuthenticationConfig> {
  const [clientCa, requestHeaderCa] = await Promise.all([
    readCaFile('client-ca-file', f.clientCaFile),
    readCaFile('requestheader-client-ca-file', f.requestheaderClientCaFile),
  ]);
  const configMap = needsConfigMap(f) && api !== null ? await readAuthenticationConfigMap(api) : null;
  return authenticationConfig(f, { clientCa, requestHeaderCa }, configMap);
}

/** Whether two configurations would authenticate differently (what a reload must apply). */
export function sameAuthentication(a: AuthenticationConfig, b: AuthenticationConfig): boolean {
  return JSON.stringify(fingerprint(a)) === JSON.stringify(fingerprint(b));
}

function fingerprint(c: AuthenticationConfig) {
  const rh = c.requestHeader;
  return {
    client: c.clientCa?.digest ?? null,
    requestHeader: rh === null ? null : { ...rh, ca: rh.ca.digest },
  };
}
