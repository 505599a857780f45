/**
 * JSON to the API server for the three things delegated auth asks of it: TokenReview,
 * SubjectAccessReview and the extension-apiserver-authentication ConfigMap. Each call has a deadline
 * (10 s, apiserver's webhook timeout) and fails with an ApiError whose text names the call and the
 * cause, never a request body: a TokenReview carries the caller's token.
 *
 * Runtime-neutral: this module uses only Web APIs, so the guard, the reviews and their caches run the
 * same on Node and on Workers. `fetchApiClient` is the client Workers use; Node's, which needs a
 * kubeconfig's CA and client certificates (node:https), is kube-api-client.ts.
 */

export class ApiError extends Error {
  override name = 'ApiError';
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

export interface ApiClient {
  /** The API server's URL, for log lines. */
  readonly server: string;
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

export const API_TIMEOUT_MS = 10_000;

/** A Status body's message, else a one-line excerpt of at most 200 characters. */
function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (parsed.kind === 'Status' && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** `what` (e.g. `POST https://host/apis/…`) answered `status` with `text`: its JSON, or an ApiError. */
export function apiAnswer(what: string, status: number, statusText: string, text: string): unknown {
  if (status < 200 || status > 299) {
    throw new ApiError(`${what}: ${status} ${statusText}: ${errorText(text)}`, status);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`${what}: the answer is not JSON: ${errorText(text)}`, status);
  }
}

export interface FetchApiClientOptions {
  /** The API server's URL (`https://host:port`, a path prefix allowed). */
  server: string;
  /** Headers of every call, e.g. `authorization: Bearer <token>`. */
  headers: Readonly<Record<string, string>>;
  timeoutMs?: number;
  /** The fetch to call; the global one by default. */
  fetch?: typeof fetch;
  /**
   * Called with every call in flight. A review is shared by every request that needs it and may run in
   * the background (the caches refresh ahead), so a runtime that ends a request's work with its
   * response (Workers) must be told to keep the call alive (`ctx.waitUntil`).
   */
  keepAlive?: (call: Promise<unknown>) => void;
}

/** An ApiClient over `fetch`, for runtimes without node:https (Workers). */
export function fetchApiClient(o: FetchApiClientOptions): ApiClient {
  const server = o.server.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? API_TIMEOUT_MS;
  const send = o.fetch ?? fetch;

  async function exchange(method: 'GET' | 'POST', path: string, body: unknown): Promise<unknown> {
    const url = new URL(`${server}${path}`);
    const what = `${method} ${url.origin}${url.pathname}`;
    const headers: Record<string, string> = { ...o.headers, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      // One deadline for the whole exchange, the body included.
      const signal = AbortSignal.timeout(timeoutMs);
      res = await send(url, {
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const cause = timedOut
        ? `no answer within ${timeoutMs / 1000}s`
        : err instanceof Error
          ? err.message
          : String(err);
      throw new ApiError(`${what}: ${cause}`, 0);
    }
    return apiAnswer(what, res.status, res.statusText, text);
  }

  const call = (method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> => {
    const p = exchange(method, path, body);
    o.keepAlive?.(p.catch(() => undefined));
    return p;
  };
  return { server, get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) };
}
