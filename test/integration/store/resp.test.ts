/**
 * Commands written as RESP by the cycle's writer (shared/store/resp.ts), against the real Redis: whatever
 * the names, values and items (multi-byte UTF-8 whose byte length needs more digits than its length,
 * lone surrogates, empty strings, a buffer that must grow), Redis stores exactly what ioredis' own HSET
 * and SETRANGE of the same strings store, and the pipeline answers each command as before.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { encodeEntry, itemRef } from '../../../shared/store/entry.ts';
import { HsetBuilder, SetrangeBuilder, SetsBuilder } from '../../../shared/store/resp.ts';
import { leaseTestDb, type TestDb } from '../../helpers/redis.ts';

let db: TestDb;
before(async () => {
  db = await leaseTestDb();
});
after(() => db.release());

const hgetallBuffers = async (key: string) => {
  const flat = await db.redis.hgetallBuffer(key);
  return new Map(Object.entries(flat).map(([k, v]) => [k, v.toString('hex')]));
};

describe('HSET written as RESP', () => {
  test('stores what ioredis’ HSET of the same fields stores', async () => {
    const fields: [string, string][] = [
      ['plain', 'value'],
      ['', 'an empty name'],
      ['an empty value', ''],
      // 5 code units, 10 bytes: the length's one digit becomes two.
      ['é'.repeat(5), 'é'.repeat(50)],
      // 2 code units, 4 bytes each; and 9 → 27 bytes.
      ['🚀', '日本語日本語日本語'],
      ['lone surrogate \ud800 here', 'x\udfffy'],
      ['digits-99', 'a'.repeat(99)],
      ['digits-100', 'a'.repeat(100)],
      // Larger than the builder's first buffer: it grows, keeping what it holds.
      ['large', 'z'.repeat(300_000)],
      ['after the growth', 'ü'.repeat(3333)],
      ['plain', 'replaced: a later field of the same name wins, as in one HSET'],
    ];
    const h = new HsetBuilder('ours');
    for (const [name, value] of fields) h.add(name, value);
    assert.equal(h.fields, fields.length);
    const p = db.redis.pipeline();
    h.send(p);
    p.hset('theirs', ...fields.flat());
    const results = await p.exec();
    assert.deepEqual(results, [
      [null, fields.length - 1],
      [null, fields.length - 1],
    ]);
    const ours = await hgetallBuffers('ours');
    assert.deepEqual(ours, await hgetallBuffers('theirs'));
    assert.equal(ours.size, fields.length - 1);
  });

  test('an entry with a reference is stored as encodeEntry writes it', async () => {
    const h = new HsetBuilder('entries');
    const want: Record<string, string> = {};
    for (let i = 0; i < 300; i++) {
      const head = {
        expiresAt: 1_796_175_916_471 + i,
        timestamp: i % 3 === 0 ? 0 : 1_796_175_901_000 + i,
        labels: i % 2 ? '{}' : `{"team":"é${'x'.repeat(i)}"}`,
      };
      h.addEntryRef(`pod-${i}`, head, '1796175916471', i * 301, 290 + (i % 20));
      want[`pod-${i}`] = encodeEntry({ ...head, item: itemRef('1796175916471', i * 301, 290 + (i % 20)) });
    }
    const p = db.redis.pipeline();
    h.send(p);
    assert.deepEqual(await p.exec(), [[null, 300]]);
    assert.deepEqual(await db.redis.hgetall('entries'), want);
  });

  test('many builders in one pipeline, beside ordinary commands, each answered in order', async () => {
    const p = db.redis.pipeline();
    const want = new Map<string, Map<string, string>>();
    for (let k = 0; k < 20; k++) {
      const key = `key-${k}`;
      const h = new HsetBuilder(key, 64);
      const fields = new Map<string, string>();
      for (let i = 0; i < 50 * k; i++) {
        fields.set(`f-${i}`, `v-${'é'.repeat(i % 13)}-${i}`);
        h.add(`f-${i}`, fields.get(`f-${i}`)!);
      }
      want.set(key, fields);
      if (k > 0) h.send(p);
      p.pexpire(key, 60_000);
    }
    const results = await p.exec();
    assert.ok(results);
    for (const [err] of results) assert.equal(err, null);
    for (const [key, fields] of want) {
      assert.deepEqual(new Map(Object.entries(await db.redis.hgetall(key))), fields, key);
    }
  });

  test('SETRANGE of appended items stores what ioredis’ SETRANGE of their bytes stores, at each offset', async () => {
    const items = [
      '{"a":1}',
      'é'.repeat(5),
      '🚀 日本語',
      'lone \ud800',
      'x'.repeat(99),
      'y'.repeat(100),
      'z'.repeat(200_000),
      '',
      'the end',
    ];
    // Three sends, one after another at the offsets they reach, as a cycle's flushes do.
    const sends = [items.slice(0, 3), items.slice(3, 7), items.slice(7)];
    let offset = 0;
    for (const group of sends) {
      const b = new SetrangeBuilder('items-ours', 16);
      const lengths = group.map((t) => b.add(t));
      assert.deepEqual(
        lengths,
        group.map((t) => Buffer.byteLength(t)),
        'each item’s byte length',
      );
      const p = db.redis.pipeline();
      b.send(p, offset);
      p.setrange('items-theirs', offset, Buffer.from(group.join('')));
      const results = await p.exec();
      offset += b.bytes;
      assert.deepEqual(results, [
        [null, offset],
        [null, offset],
      ]);
    }
    const ours = await db.redis.getBuffer('items-ours');
    assert.ok(ours?.equals((await db.redis.getBuffer('items-theirs'))!));
    assert.equal(ours?.length, Buffer.byteLength(items.join('')));
  });
});

describe('SETs written as RESP', () => {
  test('each stores its value as ioredis’ SET … PX stores it, with its expiry, answered in order', async () => {
    const values = [
      Buffer.from([0, 1, 2, 13, 10, 255, 36, 42]), // bytes RESP frames with, and not UTF-8
      Buffer.alloc(0),
      Buffer.from('é'.repeat(40)),
      Buffer.alloc(70_000, 7), // past the builder's first buffer: it grows
    ];
    const b = new SetsBuilder();
    for (const [i, v] of values.entries()) b.add(`state-ours-${i}`, v, 60_000 + i);
    assert.equal(b.count, values.length);
    const p = db.redis.pipeline();
    p.set('before', 'x');
    for (let i = 0; i < b.count; i++) b.send(p, i);
    p.get('before');
    const results = await p.exec();
    assert.deepEqual(results, [[null, 'OK'], ...values.map(() => [null, 'OK']), [null, 'x']]);
    b.release();
    for (const [i, v] of values.entries()) {
      assert.ok((await db.redis.getBuffer(`state-ours-${i}`))?.equals(v), `value ${i}`);
      const ttl = await db.redis.pttl(`state-ours-${i}`);
      assert.ok(ttl > 50_000 && ttl <= 60_000 + i, `expiry ${i}: ${ttl}`);
    }
  });
});

describe('buffers used again', () => {
  // A command that timed out stays in ioredis' queue and is written again once the connection comes
  // back. Its builder's buffer went back to the pool when its pipeline settled, and the next builder
  // writes in it: written again as it is, the old command would carry the new one's bytes. A server that
  // never answers makes the command time out; closing its connection makes ioredis reconnect and resend.
  test('a builder whose buffer was given back is never built on nor sent', () => {
    const p = db.redis.pipeline();
    const h = new HsetBuilder('released');
    h.add('field', 'value');
    h.release();
    assert.throws(() => h.add('more', 'value'), /released/);
    assert.throws(() => h.send(p), /released/);
    const sets = new SetsBuilder();
    sets.add('state-released', Buffer.from('bytes'), 1000);
    sets.release();
    assert.throws(() => sets.send(p, 0), /released/);
    assert.equal(p.length, 0, 'nothing queued');
  });

  test('a command written again after it timed out is a PING, not what its buffer holds by then', async () => {
    const connections: { socket: Socket; received: Buffer[] }[] = [];
    const server = createServer((socket) => {
      const c = { socket, received: [] as Buffer[] };
      connections.push(c);
      socket.on('data', (d) => c.received.push(d));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    // As shared/store/redis.ts connects (RESP2, one retry, no offline queue), without the commands
    // ioredis sends on connecting, which this server would leave unanswered.
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      protocol: 2,
      enableReadyCheck: false,
      disableClientInfo: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 100,
      retryStrategy: () => 10,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const first = new HsetBuilder('staging-a');
      first.add('field', 'first value');
      const p = client.pipeline();
      first.send(p);
      const results = await p.exec();
      assert.match(String(results?.[0]?.[0]), /timed out/);
      first.release();
      // The same size of buffer: the pool hands back the one just released, written over in place.
      const second = new HsetBuilder('staging-b');
      second.add('field', 'other value');
      const sent = Buffer.concat(connections[0]!.received).toString('latin1');
      assert.match(sent, /first value/, 'the command as first sent');
      connections[0]!.socket.destroy();
      const deadline = Date.now() + 5000;
      while ((connections[1]?.received.length ?? 0) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const resent = Buffer.concat(connections[1]?.received ?? []).toString('latin1');
      assert.equal(resent, '*1\r\n$4\r\nPING\r\n');
      second.release();
    } finally {
      client.disconnect();
      for (const c of connections) c.socket.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
