/**
 * A lean HTTP/1.1 client over TLS for load generation: one request at a time per keep-alive connection,
 * a response read by Content-Length or chunked framing without building a body. Node's own http client
 * costs several times more CPU per request, and on two cores the load generator must not starve the
 * server it measures.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface Target {
  host: string;
  port: number;
  /** Client certificate and key (PEM), e.g. the aggregator's front-proxy client. */
  cert?: string;
  key?: string;
  headers: Record<string, string>;
}

export interface Response {
  status: number;
  bytes: number;
}

type Phase = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'last-crlf' | 'idle';

export class Connection {
  readonly #socket: TLSSocket;
  readonly #target: Target;
  #phase: Phase = 'idle';
  #head: Buffer | null = null;
  #line = '';
  #remaining = 0;
  #status = 0;
  #bytes = 0;
  #done: ((r: Response) => void) | null = null;
  #fail: ((e: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(socket: TLSSocket, target: Target) {
    this.#socket = socket;
    this.#target = target;
    socket.on('data', (b: Buffer) => this.#onData(b));
    const failed = (e: Error) => {
      this.#error = e;
      this.#fail?.(e);
      this.#done = null;
      this.#fail = null;
    };
    socket.on('error', failed);
    socket.on('close', () => failed(new Error('connection closed')));
  }

  static open(target: Target): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(
        {
          host: target.host,
          port: target.port,
          rejectUnauthorized: false,
          ...(target.cert ? { cert: target.cert, key: target.key } : {}),
        },
        () => {
          socket.off('error', reject);
          resolve(new Connection(socket, target));
        },
      );
      socket.once('error', reject);
    });
  }

  get(path: string): Promise<Response> {
    if (this.#error) return Promise.reject(this.#error);
    let head = `GET ${path} HTTP/1.1\r\nHost: ${this.#target.host}:${this.#target.port}\r\n`;
    for (const [k, v] of Object.entries(this.#target.headers)) head += `${k}: ${v}\r\n`;
    this.#phase = 'head';
    this.#bytes = 0;
    return new Promise((resolve, reject) => {
      this.#done = resolve;
      this.#fail = reject;
      this.#socket.write(`${head}\r\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #finish(): void {
    this.#phase = 'idle';
    const done = this.#done;
    this.#done = null;
    this.#fail = null;
    done?.({ status: this.#status, bytes: this.#bytes });
  }

  #onData(b: Buffer): void {
    let i = 0;
    while (i < b.length) {
      switch (this.#phase) {
        case 'idle':
          return;
        case 'head': {
          const all: Buffer = this.#head ? Buffer.concat([this.#head, b.subarray(i)]) : b.subarray(i);
          const end = all.indexOf('\r\n\r\n');
          if (end < 0) {
            this.#head = Buffer.from(all);
            return;
          }
          this.#head = null;
          const text = all.toString('latin1', 0, end);
          this.#status = Number(text.slice(9, 12));
          if (/\r\ntransfer-encoding:\s*chunked/i.test(text)) {
            this.#phase = 'chunk-size';
            this.#line = '';
          } else {
            const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text);
            this.#remaining = cl ? Number(cl[1]) : 0;
            this.#phase = 'length';
            if (this.#remaining === 0) this.#finish();
          }
          b = all;
          i = end + 4;
          break;
        }
        case 'length': {
          const n = Math.min(this.#remaining, b.length - i);
          this.#remaining -= n;
          this.#bytes += n;
          i += n;
          if (this.#remaining === 0) this.#finish();
          break;
        }
        case 'chunk-size': {
          const nl = b.indexOf(10, i);
          if (nl < 0) {
            this.#line += b.toString('latin1', i);
            return;
          }
          this.#line += b.toString('latin1', i, nl);
          i = nl + 1;
          const size = Number.parseInt(this.#line.trim(), 16);
          this.#line = '';
          if (size === 0) {
            this.#phase = 'last-crlf';
            this.#remaining = 2;
          } else {
            this.#phase = 'chunk-data';
            this.#remaining = size;
          }
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.#remaining, b.length - i);
          this.#remaining -= n;
          this.#bytes += n;
          i += n;
          if (this.#remaining === 0) {
            this.#phase = 'chunk-crlf';
            this.#remaining = 2;
          }
          break;
        }
        case 'chunk-crlf':
        case 'last-crlf': {
          const n = Math.min(this.#remaining, b.length - i);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) {
            if (this.#phase === 'last-crlf') this.#finish();
            else this.#phase = 'chunk-size';
          }
          break;
        }
      }
    }
  }
}
