/**
 * The contract of `POST /shard` (docs/scaling.md): what a cycle's coordinator sends an instance of the
 * scrape function to have one shard of the cycle's nodes scraped, and what that instance answers. The
 * request carries everything the shard needs, so a shard never lists the API server: the shard's nodes
 * (with their addresses and kubelet ports), the Running pods on them (their metadata, for the served
 * entries), and the cycle it belongs to (its start names the staging keys it writes into, its expiry the
 * points). The answer carries the shard's figures and what the coordinator needs to publish the cycle:
 * how many fields the shard staged in each served hash, until when, and the pods with metrics by labels
 * (each namespace's label index is written whole by the coordinator), and its kubelet requests' figures.
 * The shard saves its kubelets' new TLS sessions itself. Answers: 200 with the answer; 400 (a body that is
 * not a shard request), 401 (no or a wrong secret: nothing is scraped), 413 (a body over
 * SHARD_MAX_BODY_BYTES), 503 (Redis failed: the shard's writes may be partial; its nodes cost the cycle),
 * each but 200 with `{"error": "…"}`. The request is authenticated by
 * `Authorization: Bearer <the shared secret of --shard-secret-file>` (shard-auth.ts).
 */
import { z } from 'zod';

export const SHARD_PATH = '/shard';

/** The largest request body accepted: a shard of several thousand nodes and their pods, with room. */
export const SHARD_MAX_BODY_BYTES = 256 << 20;

const labels = z.record(z.string(), z.string());

export const shardNodeSchema = z.object({
  name: z.string().min(1),
  labels,
  annotations: labels,
  addresses: z.array(z.object({ type: z.string(), address: z.string() })),
  /** status.daemonEndpoints.kubeletEndpoint.Port; 0 when unset. */
  kubeletPort: z.number().int().min(0).max(65535),
});

export const shardPodSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  labels,
});

const ms = z.number().int().nonnegative();

export const shardRequestSchema = z.object({
  /** The cycle's start (Redis clock, ms): names its staging keys. */
  cycle: ms,
  /** Who coordinates the cycle (its lock holder), for logs. */
  coordinator: z.string(),
  /** Until when the points scraped in this cycle are served (Redis clock, ms). */
  expiresAt: ms,
  resolutionMs: z.number().int().positive(),
  /** This shard's place among the cycle's shards. */
  shard: z.object({ index: z.number().int().nonnegative(), of: z.number().int().positive() }),
  /** How long the coordinator waits for the answer: the shard stops writing once this has passed. */
  timeoutMs: z.number().int().positive(),
  nodes: z.array(shardNodeSchema).min(1),
  /** The Running pods on the shard's nodes (by the API server's spec.nodeName). */
  pods: z.array(shardPodSchema),
});

/** A served hash's part staged by one shard: how many fields it wrote there, and until when they live. */
const stagedPart = z.object({ size: z.number().int().nonnegative(), expireAt: ms });

export const shardAnswerSchema = z.object({
  shard: z.number().int().nonnegative(),
  nodes: z.number().int().nonnegative(),
  scraped: z.number().int().nonnegative(),
  failed: z.array(z.object({ node: z.string(), error: z.string() })),
  points: z.object({
    nodes: z.number().int().nonnegative(),
    pods: z.number().int().nonnegative(),
    containers: z.number().int().nonnegative(),
  }),
  durationMs: z.number().nonnegative(),
  /** Each kubelet request's figures (shared/metrics.ts), for the cycle's record. */
  requests: z.array(
    z.object({
      node: z.string(),
      durationSeconds: z.number().nonnegative(),
      startedAt: z.number(),
      success: z.boolean(),
    }),
  ),
  /** Who scraped the shard (host/pid), for logs. */
  instance: z.string(),
  staged: z.object({
    /** What names the shard's parts of pod items (keys.podItems), one per namespace it wrote items in. */
    part: z.string().regex(/^[0-9a-z.]+$/),
    nodes: stagedPart,
    namespaces: z.array(
      stagedPart.extend({
        namespace: z.string(),
        /** Labels JSON text → the names of this shard's pods with metrics that carry them. */
        labelIndex: z.array(z.tuple([z.string(), z.array(z.string())])),
        /** The length of the shard's part of this namespace's pod items (0: it wrote none). */
        itemBytes: z.number().int().nonnegative(),
      }),
    ),
  }),
});

export type ShardRequest = z.infer<typeof shardRequestSchema>;
export type ShardAnswer = z.infer<typeof shardAnswerSchema>;
