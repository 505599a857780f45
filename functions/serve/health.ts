/**
 * `/healthz`, `/livez`, `/readyz`, each with `?verbose`, `?exclude=<check>` and `/<endpoint>/<check>`,
 * written exactly as k8s.io/apiserver's healthz package writes them (probes and people read the text).
 *
 * What they mean here: live = the process serves requests (never Redis, never scraping, which is another
 * function's job); ready = Redis answered a PING within the last second or so, and the process is not
 * shutting down. Readiness deliberately does not depend on having data (metrics-server's "no metrics to
 * serve" pod stuck at 0/1 Ready): with Redis reachable, an empty store answers empty lists and 404s,
 * which kubectl turns into "metrics not available yet".
 */
import type { Hono } from 'hono';
import type { Logger } from '../../shared/log.ts';
import { goQuote } from '../../shared/selectors/text.ts';

export interface HealthCheck {
  readonly name: string;
  /** null when healthy, else why not (for the log and the single-check endpoint). */
  check(): string | null | Promise<string | null>;
}

export const pingCheck: HealthCheck = { name: 'ping', check: () => null };

export function shutdownCheck(shuttingDown: () => boolean): HealthCheck {
  return { name: 'shutdown', check: () => (shuttingDown() ? 'process is shutting down' : null) };
}

export interface StoreProbeOptions {
  /** How long a successful PING vouches for Redis before a probe asks again. */
  freshMs?: number;
  now?: () => number;
  log?: Logger;
}

/**
 * The `redis` readiness check. A probe reuses a PING younger than `freshMs` instead of adding a round
 * trip; concurrent probes share one PING; a request that found Redis down (`failed`) voids the cached
 * success, so readiness follows within one probe. Logs each transition once, not every failure.
 */
export class StoreProbe implements HealthCheck {
  readonly name = 'redis';
  readonly #ping: () => Promise<void>;
  readonly #freshMs: number;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  #lastOk = 0;
  #down = false;
  #inFlight: Promise<string | null> | null = null;

  constructor(ping: () => Promise<void>, o: StoreProbeOptions = {}) {
    this.#ping = ping;
    this.#freshMs = o.freshMs ?? 1000;
    this.#now = o.now ?? Date.now;
    this.#log = o.log;
  }

  check(): string | null | Promise<string | null> {
    if (this.#lastOk !== 0 && this.#now() - this.#lastOk < this.#freshMs) return null;
    return this.refresh();
  }

  /** PINGs now (or joins the PING in flight). */
  refresh(): Promise<string | null> {
    this.#inFlight ??= this.#ping()
      .then(
        () => {
          this.#lastOk = this.#now();
          if (this.#down) this.#log?.info('Redis is reachable again');
          this.#down = false;
          return null;
        },
        (err: unknown) => {
          this.failed(err);
          return err instanceof Error ? err.message : String(err);
        },
      )
      .finally(() => {
        this.#inFlight = null;
      });
    return this.#inFlight;
  }

  /** Redis failed a request or a PING: not ready until a PING succeeds again. */
  failed(err: unknown): void {
    this.#lastOk = 0;
    if (!this.#down)
      this.#log?.warn('Redis is unreachable', { err: err instanceof Error ? err.message : String(err) });
    this.#down = true;
  }
}

export type HealthEndpoints = Record<'healthz' | 'livez' | 'readyz', readonly HealthCheck[]>;

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } as const;

const text = (body: string, status = 200) => new Response(body, { status, headers: TEXT });

async function run(check: HealthCheck): Promise<string | null> {
  try {
    return await check.check();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Go's `%q` of each name, comma-joined (healthz's formatQuoted). */
const quoted = (names: Iterable<string>) => [...names].map(goQuote).join(',');

/** The endpoint's own handler (`handleRootHealth`). */
export function rootHealth(endpoint: string, checks: readonly HealthCheck[], log: Logger) {
  return async (request: Request): Promise<Response> => {
    const query = new URL(request.url).searchParams;
    const excluded = new Set(query.getAll('exclude'));
    const unknownExcluded = new Set(excluded);
    const results = await Promise.all(checks.map((c) => (excluded.has(c.name) ? null : run(c))));
    let output = '';
    const failed: string[] = [];
    checks.forEach((c, i) => {
      if (excluded.has(c.name)) {
        unknownExcluded.delete(c.name);
        output += `[+]${c.name} excluded: ok\n`;
        return;
      }
      const reason = results[i];
      if (reason == null) {
        output += `[+]${c.name} ok\n`;
      } else {
        // The reason stays out of the body: these endpoints are open to anonymous callers.
        output += `[-]${c.name} failed: reason withheld\n`;
        failed.push(`${c.name}: ${reason}`);
      }
    });
    if (unknownExcluded.size > 0) {
      output += `warn: some health checks cannot be excluded: no matches for ${quoted([...unknownExcluded].sort())}\n`;
    }
    if (failed.length > 0) {
      log.debug(2, `${endpoint} check failed`, { failed });
      return text(`${output}${endpoint} check failed\n`, 500);
    }
    return text(query.has('verbose') ? `${output}${endpoint} check passed\n` : 'ok');
  };
}

/** `/<endpoint>/<check>` (`adaptCheckToHandler`): the reason is shown here, as upstream does. */
export function singleHealth(check: HealthCheck) {
  return async (): Promise<Response> => {
    const reason = await run(check);
    return reason == null ? text('ok') : text(`internal server error: ${reason}\n`, 500);
  };
}

/** Routes every endpoint and check; returns the paths for the index. */
export function installHealth(app: Hono, endpoints: HealthEndpoints, log: Logger): string[] {
  const paths: string[] = [];
  for (const [endpoint, checks] of Object.entries(endpoints)) {
    const root = rootHealth(endpoint, checks, log);
    app.get(`/${endpoint}`, (c) => root(c.req.raw));
    paths.push(`/${endpoint}`);
    for (const check of checks) {
      app.get(`/${endpoint}/${check.name}`, singleHealth(check));
      paths.push(`/${endpoint}/${check.name}`);
    }
  }
  return paths;
}
