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
