/** Checks shared by flag declarations: each returns what is allowed, naming the bad item. */
import { isIP } from 'node:net';
import type { Check } from './spec.ts';

/** An item of a list that must be one of `allowed`: names the bad item. */
export const member =
  (allowed: readonly string[]): Check<string> =>
  (v) =>
    allowed.includes(v) ? undefined : `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`;

export const ipAddress: Check<string> = (v) =>
  isIP(v) === 0 ? 'must be an IP address such as 0.0.0.0 or ::' : undefined;

/** `host:port`, with IPv6 hosts in brackets (`[::1]:6379`) and a port from 1 to 65535. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !(port >= 1 && port <= 65535)) return undefined;
  if (m?.[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

export const hostPort: Check<string> = (v) =>
  parseHostPort(v) === undefined
    ? `${JSON.stringify(v)} is not host:port with a port from 1 to 65535 (IPv6 as [::1]:6379)`
    : undefined;

/** An absolute http:// or https:// URL. */
export const httpUrl: Check<string> = (v) => {
  if (v === '') return undefined;
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return undefined;
  } catch {
    // Not a URL: said below.
  }
  return 'must be an http:// or https:// URL';
};
