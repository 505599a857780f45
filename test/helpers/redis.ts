/**
 * A private Redis database for one test file, on the real server at 127.0.0.1:6379 (REDIS_TEST_URL to
 * change it): test files run in parallel, so each leases a database index 1–15 through a key in db 0
 * and empties it first.
 */
import { Redis } from 'ioredis';

const BASE = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const LEASE_MS = 10 * 60_000;

export interface TestDb {
  /** redis://…/N for programs under test (their --redis-url). */
  url: string;
  db: number;
  /** A client on that database, for the test's own reads and writes. */
  redis: Redis;
  release(): Promise<void>;
}

export async function leaseTestDb(): Promise<TestDb> {
  const admin = new Redis(BASE, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  const owner = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    for (let attempt = 0; attempt < 600; attempt++) {
      for (let db = 1; db <= 15; db++) {
        if ((await admin.set(`ms-test:lease:${db}`, owner, 'PX', LEASE_MS, 'NX')) !== 'OK') continue;
        const url = `${BASE.replace(/\/\d*$/, '')}/${db}`;
        const redis = new Redis(url, { maxRetriesPerRequest: 1 });
        await redis.flushdb();
        return {
          url,
          db,
          redis,
          async release() {
            await redis.flushdb();
            redis.disconnect();
            const a = new Redis(BASE, { maxRetriesPerRequest: 1 });
            if ((await a.get(`ms-test:lease:${db}`)) === owner) await a.del(`ms-test:lease:${db}`);
            a.disconnect();
          },
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no free Redis test database (1–15) within 60 s');
  } finally {
    admin.disconnect();
  }
}

/** One piece of what a database holds: a key's name, or a field, member or value inside it. */
export interface StoredPart {
  key: string;
  /** `key`, or where in the key: `field`, `value of <field>`, `value`, `member`, `entry <id>`. */
  where: string;
  bytes: Buffer;
}

/**
 * Everything the database holds, part by part (SCAN, then each key read whole by its type): what a test
 * searches for names that must be gone, and measures to see that nothing grows.
 */
export async function storedParts(redis: Redis): Promise<StoredPart[]> {
  const parts: StoredPart[] = [];
  let cursor = '0';
  do {
    const [next, names] = await redis.scanBuffer(cursor, 'COUNT', '1000');
    cursor = String(next);
    for (const name of names) {
      const key = name.toString('utf8');
      parts.push({ key, where: 'key', bytes: name });
      const type = await redis.type(name);
      const add = (where: string, bytes: Buffer) => parts.push({ key, where, bytes });
      if (type === 'string') add('value', (await redis.getBuffer(name)) ?? Buffer.alloc(0));
      else if (type === 'hash') {
        const all = (await redis.callBuffer('HGETALL', name)) as Buffer[];
        for (let i = 0; i < all.length; i += 2) {
          add('field', all[i]!);
          add(`value of ${all[i]!.toString('utf8')}`, all[i + 1]!);
        }
      } else if (type === 'set') for (const m of await redis.smembersBuffer(name)) add('member', m);
      else if (type === 'list') for (const m of await redis.lrangeBuffer(name, 0, -1)) add('member', m);
      else if (type === 'zset') for (const m of await redis.zrangeBuffer(name, '0', '-1')) add('member', m);
      else if (type === 'stream') {
        for (const [id, fields] of await redis.xrangeBuffer(name, '-', '+')) {
          for (const f of fields) add(`entry ${id.toString('utf8')}`, f);
        }
      } else throw new Error(`storedParts: key ${key} has type ${type}, which this helper cannot read`);
    }
  } while (cursor !== '0');
  return parts;
}

/**
 * Where each of `names` still appears in the database (in a key, field, member or value, byte for byte:
 * a name percent-encoded into a key, keys.ts's encodeName, is found only if it needed no escaping).
 */
export async function whereNamed(redis: Redis, names: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of await storedParts(redis)) {
    for (const name of names) {
      if (p.bytes.includes(name))
        found.push(`"${name}" in ${p.where === 'key' ? 'key' : p.where} of ${p.key}`);
    }
  }
  return found;
}
