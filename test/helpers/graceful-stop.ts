/**
 * A program stopped (SIGTERM) while keep-alive clients keep asking, as a Service's clients do during a
 * rollout: what each request got, when readiness was first seen failing, and the checks of the
 * contract (DESIGN.md's fault table, issue 11.5): not one request that was sent is lost, readiness
 * fails within the shutdown delay, requests are answered through it, and the listener closes only
 * after it.
 */
import assert from 'node:assert/strict';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { TestContext } from 'node:test';
import type { Program } from '../../sim/processes.ts';

/**
 * One request's fate: answered (whole and correct), refused (the listener was closed: nothing was sent,
 * the client tries another replica), or lost (a reset, a truncated or wrong answer, no answer).
 */
export type Outcome = { ok: true } | { ok: false; refused: boolean; why: string };

/** A request's error as an Outcome: only a refused connection carried no request. */
export const failed = (err: NodeJS.ErrnoException): Outcome => ({
  ok: false,
  refused: err.code === 'ECONNREFUSED',
  why: `${err.code ?? ''} ${err.message}`.trim(),
});

/**
 * One request (made by node:http's or node:https' `request`), its whole body read: `judge` says whether
 * a complete 200 answer is right; an error status, a body cut short, or no answer within 10 s is lost.
 */
export function askWhole(
  send: (url: string, o: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest,
  url: string,
  o: RequestOptions,
  judge: (body: string) => Outcome,
): Promise<Outcome> {
  const lost = (why: string): Outcome => ({ ok: false, refused: false, why });
  return new Promise((resolve) => {
    const req = send(url, { ...o, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('error', (err) => resolve(lost(`response: ${err.message}`)));
      res.on('close', () => {
        if (!res.complete) resolve(lost(`closed after ${body.length} bytes of the body`));
      });
      res.on('end', () => resolve(res.statusCode === 200 ? judge(body) : lost(`HTTP ${res.statusCode}`)));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(failed(err)));
    req.end();
  });
}

export interface StopFigures {
  code: number | NodeJS.Signals;
  answered: number;
  refused: number;
  failures: string[];
  sigterm: number;
  unreadyAt: number;
  lastAnsweredAt: number;
  firstRefusedAt: number;
  exitedAt: number;
}

/**
 * Starts `clients` loops, each sending `ask(i)` as soon as its last answer came, waits until each has
 * been answered a few times, then SIGTERMs the program while `readiness` (a kubelet-like probe on a
 * new connection each time, resolving a status) is asked every 50 ms until it has failed three times
 * in a row; resolves once the program exited and every loop ended.
 */
export async function stopUnderLoad(o: {
  program: Program;
  clients: number;
  ask: (client: number) => Promise<Outcome>;
  readiness: () => Promise<number>;
}): Promise<StopFigures> {
  const f: StopFigures = {
    code: 0,
    answered: 0,
    refused: 0,
    failures: [],
    sigterm: 0,
    unreadyAt: 0,
    lastAnsweredAt: 0,
    firstRefusedAt: 0,
    exitedAt: 0,
  };
  const exited = o.program.exited.then((code) => {
    f.exitedAt = Date.now();
    f.code = code;
  });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const loops = Array.from({ length: o.clients }, async (_, i) => {
    while (f.exitedAt === 0) {
      const r = await o.ask(i);
      if (r.ok) {
        f.answered++;
        f.lastAnsweredAt = Date.now();
      } else if (r.refused) {
        f.refused++;
        f.firstRefusedAt ||= Date.now();
        await sleep(20);
      } else f.failures.push(r.why);
    }
  });
  const warm = Date.now();
  while (f.answered < 10 * o.clients && f.exitedAt === 0) {
    if (Date.now() - warm > 20_000) throw new Error(`only ${f.answered} answers before SIGTERM`);
    await sleep(50);
  }
  assert.deepEqual(f.failures, [], 'no failure before SIGTERM');

  f.sigterm = Date.now();
  const probing = (async () => {
    let inARow = 0;
    while (inARow < 3 && f.exitedAt === 0) {
      const status = await o.readiness().catch(() => 0);
      if (status === 500) {
        f.unreadyAt ||= Date.now();
        inARow++;
      } else inARow = 0;
      await sleep(50);
    }
  })();
  o.program.child.kill('SIGTERM');
  await exited;
  await Promise.all([probing, ...loops]);
  return f;
}

/** Prints the figures, then holds them to the contract for a shutdown delay of `delayMs`. */
export function assertGracefulStop(t: TestContext, f: StopFigures, delayMs: number, clients: string): void {
  const after = (at: number) => (at === 0 ? 'never' : `${((at - f.sigterm) / 1000).toFixed(2)} s`);
  t.diagnostic(
    `${clients}: ${f.answered} requests answered, ${f.failures.length} failed, ` +
      `${f.refused} connections refused after the listener closed (no request sent); ` +
      `unready after ${after(f.unreadyAt)}, last answer after ${after(f.lastAnsweredAt)}, ` +
      `exit after ${after(f.exitedAt)} (--shutdown-delay-duration=${delayMs / 1000}s)`,
  );
  assert.deepEqual(f.failures, [], 'not one request that was sent was lost');
  assert.equal(f.code, 0, 'exits 0');
  assert.ok(f.unreadyAt > 0 && f.unreadyAt - f.sigterm < delayMs, 'readiness failed within the delay');
  assert.ok(f.lastAnsweredAt - f.sigterm >= delayMs, 'requests were answered through the whole delay');
  assert.ok(
    f.firstRefusedAt === 0 || f.firstRefusedAt - f.sigterm >= delayMs,
    'the listener stayed open through the delay',
  );
  assert.ok(f.exitedAt - f.sigterm >= delayMs, 'it did not exit before the delay was over');
}
