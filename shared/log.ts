/**
 * Structured logs, one line per event: a message and key/value pairs, klog-like text by default
 * (`I1125 14:08:45.123456] "Scrape cycle finished" nodes=3 failed=0 duration="41ms"`) or JSON with
 * `--log-format json`. Verbosity follows klog: info at level 0 always, `debug(v, …)` only when `--v` ≥ v.
 */
export type LogFormat = 'text' | 'json';
export type Fields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** Only written when the configured verbosity is at least `v`. */
  debug(v: number, msg: string, fields?: Fields): void;
  enabled(v: number): boolean;
  with(fields: Fields): Logger;
}

export interface LoggerOptions {
  verbosity?: number;
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function klogTime(d: Date): string {
  return (
    `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:` +
    `${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`
  );
}

function textValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return JSON.stringify(v);
}

function jsonValue(v: unknown): unknown {
  return v instanceof Error ? v.message : v;
}

export function createLogger(o: LoggerOptions = {}, bound: Fields = {}): Logger {
  const verbosity = o.verbosity ?? 0;
  const format = o.format ?? 'text';
  const write = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = o.now ?? (() => new Date());
  const emit = (severity: 'I' | 'W' | 'E', v: number, msg: string, fields?: Fields) => {
    const all = { ...bound, ...fields };
    const d = now();
    if (format === 'json') {
      const rec: Record<string, unknown> = {
        ts: d.toISOString(),
        level: { I: 'info', W: 'warn', E: 'error' }[severity],
      };
      if (v > 0) rec.v = v;
      rec.msg = msg;
      for (const k in all) rec[k] = jsonValue(all[k]);
      write(JSON.stringify(rec));
      return;
    }
    let line = `${severity}${klogTime(d)}] ${JSON.stringify(msg)}`;
    for (const k in all) line += ` ${k}=${textValue(all[k])}`;
    write(line);
  };
  return {
    info: (msg, f) => emit('I', 0, msg, f),
    warn: (msg, f) => emit('W', 0, msg, f),
    error: (msg, f) => emit('E', 0, msg, f),
    debug: (v, msg, f) => {
      if (verbosity >= v) emit('I', v, msg, f);
    },
    enabled: (v) => verbosity >= v,
    with: (fields) => createLogger(o, { ...bound, ...fields }),
  };
}
