/**
 * Sentinel's `+switch-master`, followed. A client whose master dies reconnects by itself and asks the
 * Sentinels where the master is now. But a failover can leave the old master up (`SENTINEL FAILOVER`
 * for an upgrade, a network partition): nothing closes the connections to it until the Sentinels turn it
 * into a replica, about ten seconds later, and whatever is written to it meanwhile is lost. So a client in
 * Sentinel mode listens for the Sentinels' announcement and, when it is connected to the master that was
 * switched away from, reconnects at once (asking the Sentinels again).
 *
 * ioredis' own `failoverDetector` does this too, but when the announcement lands while the client is in
 * the middle of a reconnect attempt it ends the client for good (status `end`, no more retries): a serve
 * replica would answer 503 until restarted. This one never touches a client that is not connected.
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Redis } from 'ioredis';

const CHANNEL = '+switch-master';

/** `<name> <old ip> <old port> <new ip> <new port>`, or null for another message. */
function parseSwitch(message: string): { name: string; host: string; port: number } | null {
  const [name, host, port] = message.split(' ');
  return name && host && port ? { name, host, port: Number(port) } : null;
}

/** The addresses `host` stands for (itself when it is one): Sentinels may announce hostnames. */
async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** Whether `client` is connected, to one of `addresses` at `port` (IPv4-mapped IPv6 read as IPv4). */
function connectedTo(client: Redis, addresses: string[], port: number): boolean {
  const s = client.stream;
  if (client.status !== 'ready' || !s || s.remotePort !== port) return false;
  const peer = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
  return addresses.some((a) => a.replace(/^::ffff:/, '') === peer);
}

/** A subscription to `+switch-master` on one Sentinel, with the client's Sentinel credentials and TLS. */
function subscribe(
  o: Redis['options'],
  sentinel: { host?: string; port?: number },
  onSwitch: (s: { name: string; host: string; port: number }) => void,
): Redis {
  const sub = new Redis({
    host: sentinel.host ?? '127.0.0.1',
    port: sentinel.port ?? 26379,
    ...(o.sentinelUsername ? { username: o.sentinelUsername } : {}),
    ...(o.sentinelPassword ? { password: o.sentinelPassword } : {}),
    ...(o.sentinelTLS ? { tls: o.sentinelTLS } : {}),
    connectTimeout: o.connectTimeout,
    // A Sentinel that is down is asked again every second at most.
    retryStrategy: (times) => Math.min(times * 100, 1000),
    maxRetriesPerRequest: null,
    lazyConnect: true,
  });
  sub.on('error', () => {}); // the client's own connection errors are what gets reported
  sub.on('message', (channel: string, message: string) => {
    const s = channel === CHANNEL ? parseSwitch(message) : null;
    if (s !== null) onSwitch(s);
  });
  // Subscribed on every (re)connection; a failed first attempt is retried by the retryStrategy.
  sub.on('ready', () => void sub.subscribe(CHANNEL).catch(() => {}));
  sub.connect().catch(() => {});
  return sub;
}

/**
 * Follows `+switch-master` for a Sentinel-mode `client`: from its first connection on, listening on each
 * of its Sentinels, until the client ends (and again if it is connected once more).
 */
export function followSwitchMaster(client: Redis): void {
  const o = client.options;
  const name = o.name;
  if (!o.sentinels || !name) return;
  /** The master most recently switched away from: a client that (re)connects to it reconnects again. */
  let old: { host: string; port: number } | null = null;
  const reconnectIfOld = async () => {
    const from = old;
    if (from === null || client.status !== 'ready') return;
    const addresses = await addressesOf(from.host).catch(() => []);
    // Checked again after the lookup, synchronously: only a connected client is ever disconnected.
    if (connectedTo(client, addresses, from.port)) client.disconnect(true);
  };
  let subscribers: Redis[] = [];
  client.on('ready', () => {
    if (subscribers.length === 0) {
      subscribers = (o.sentinels ?? []).map((sentinel) =>
        subscribe(o, sentinel, (s) => {
          if (s.name !== name) return;
          old = { host: s.host, port: s.port };
          void reconnectIfOld();
        }),
      );
    }
    // A reconnect attempt that began before the switch can still land on the old master.
    void reconnectIfOld();
  });
  client.on('end', () => {
    for (const sub of subscribers) sub.disconnect();
    subscribers = [];
  });
}
