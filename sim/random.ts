/**
 * A small seeded PRNG (mulberry32 over an FNV-1a hash of the seed), so that a cluster built from the
 * same seed is the same cluster on every machine and run, and Kubernetes-style generated names.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  between(min: number, max: number): number;
  int(min: number, maxInclusive: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Log-uniform in [min, max): most values small, a few large, like real containers' CPU. */
  logBetween(min: number, max: number): number;
}

export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createRng(seed: string | number): Rng {
  let state = hashString(String(seed));
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    between: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor((max - min + 1) * next()),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    logBetween: (min, max) => Math.exp(Math.log(min) + (Math.log(max) - Math.log(min)) * next()),
  };
  return rng;
}

/** The alphabet Kubernetes uses for generated name suffixes (`utilrand.String`): no vowels, no 0/1/3. */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SAFE_ALPHABET[Math.floor(rng.next() * SAFE_ALPHABET.length)];
  return s;
}

export function randomHex(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += Math.floor(rng.next() * 16).toString(16);
  return s;
}

/** A version-4-shaped UUID drawn from the PRNG (deterministic, unlike crypto.randomUUID). */
export function randomUid(rng: Rng): string {
  const word = () =>
    Math.floor(rng.next() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  const a = word();
  const b = word();
  const c = word();
  const d = word();
  const variant = '89ab'[c.charCodeAt(0) & 3]!;
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}
