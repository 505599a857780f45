/** What the benchmark reads from its private Redis: memory, CPU, and memory per kind of key. */
import type { Redis } from 'ioredis';

function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info);
  if (!m) throw new Error(`INFO has no ${field}`);
  return Number(m[1]);
}

export async function usedMemory(redis: Redis): Promise<number> {
  return infoField(await redis.info('memory'), 'used_memory');
}

/** Redis' own CPU (user + system), ms. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return (infoField(info, 'used_cpu_user') + infoField(info, 'used_cpu_sys')) * 1000;
}

/** Bytes per kind of key (the key's name up to its hash tag: `ms:state:`, `ms:pods:`, …), by MEMORY USAGE. */
export async function memoryByKind(redis: Redis): Promise<Record<string, { keys: number; bytes: number }>> {
  const out: Record<string, { keys: number; bytes: number }> = {};
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const sizes = await Promise.all(batch.map((k) => redis.memory('USAGE', k, 'SAMPLES', 0)));
    batch.forEach((k, i) => {
      const brace = k.indexOf('{');
      const kind = brace < 0 ? k : k.slice(0, brace) + (k.endsWith('}') ? '' : k.slice(k.indexOf('}') + 1));
      const e = out[kind] ?? { keys: 0, bytes: 0 };
      e.keys++;
      e.bytes += Number(sizes[i] ?? 0);
      out[kind] = e;
    });
  } while (cursor !== '0');
  return out;
}
