/**
 * The shared secret that authenticates `POST /shard` (--shard-secret-file, a mounted Secret): the
 * coordinator sends it as a bearer token, every instance compares what it receives in constant time
 * (SHA-256 digests of both, compared with timingSafeEqual: neither the secret's bytes nor its length
 * leak through timing). Read at start; a rotated Secret takes effect when the instance restarts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../shared/config/index.ts';
import { readPassword } from '../../shared/store/redis.ts';

/** Shorter secrets are refused at start: the secret is all that stands between the endpoint and anyone. */
export const MIN_SECRET_BYTES = 16;

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class ShardSecret {
  readonly #secret: string;
  readonly #digest: Buffer;

  constructor(secret: string) {
    this.#secret = secret;
    this.#digest = digest(secret);
  }

  /** Reads --shard-secret-file; throws ConfigError naming the flag when unreadable, empty or too short. */
  static read(path: string): ShardSecret {
    const secret = readPassword('shard-secret-file', path);
    if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
      throw new ConfigError(`--shard-secret-file ${path} holds fewer than ${MIN_SECRET_BYTES} bytes`);
    }
    return new ShardSecret(secret);
  }

  /** The Authorization header's value a shard request carries. */
  header(): string {
    return `Bearer ${this.#secret}`;
  }

  /** Whether a request's Authorization header carries the secret (constant time). */
  verify(authorization: string | undefined): boolean {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!m) return false;
    return timingSafeEqual(digest(m[1]!), this.#digest);
  }
}
