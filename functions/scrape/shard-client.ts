/**
 * The coordinator's side of POST /shard: each shard sent to --shard-url (the scrape function's own
 * Service, so the platform picks the instance), authenticated with the shared secret, its answer checked
 * against the contract. Connections are kept alive between cycles (fetch's pool), so a cycle does not
 * pay a connection per shard.
 */
import type { ShardTransport } from './coordinator.ts';
import type { ShardSecret } from './shard-auth.ts';
import { SHARD_PATH, type ShardAnswer, shardAnswerSchema } from './shard-contract.ts';
import type { OutgoingShard } from './shards.ts';

export function remoteShards(url: string, secret: ShardSecret): ShardTransport {
  // Relative to the URL's path: behind OpenFaaS' gateway it is /function/<name>/shard.
  const target = new URL(SHARD_PATH.slice(1), url.endsWith('/') ? url : `${url}/`).toString();
  return {
    where: url,
    concurrent: true,
    async run(shard: OutgoingShard, timeoutMs: number, signal: AbortSignal): Promise<ShardAnswer> {
      // Written piece by piece as the connection takes them (shards.ts: the body is never held whole),
      // with the body's Content-Length (not chunked).
      const out = shard.body(timeoutMs);
      const res = await fetch(target, {
        method: 'POST',
        headers: {
          authorization: secret.header(),
          'content-type': 'application/json',
          'content-length': String(out.length),
        },
        body: (async function* () {
          let sent = 0;
          for (const piece of out.pieces) {
            sent += piece.length;
            yield piece;
          }
          // Never so, unless shards.ts counts wrong: then the request must fail here, not be cut short.
          if (sent !== out.length) throw new Error(`the shard body was ${sent} bytes, not ${out.length}`);
        })(),
        duplex: 'half',
        signal,
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (res.status !== 200) {
        const error = (body as { error?: unknown } | undefined)?.error;
        throw new Error(
          `HTTP ${res.status} from ${target}: ${typeof error === 'string' ? error : text.slice(0, 200)}`,
        );
      }
      const answer = shardAnswerSchema.safeParse(body);
      if (!answer.success) {
        throw new Error(
          `the answer from ${target} is not a shard answer: ${answer.error.issues[0]?.message}`,
        );
      }
      return answer.data;
    },
  };
}
