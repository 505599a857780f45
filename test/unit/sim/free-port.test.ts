/**
 * freePort (sim/processes.ts): a port the caller can bind next, taken below the kernel's ephemeral range,
 * so that no outgoing connection can be given it between the check and the bind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../sim/processes.ts';

const ephemeralFrom = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);

test('each port is below the ephemeral range and can be listened on', async () => {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port >= 10_000 && port < ephemeralFrom, `${port} below ${ephemeralFrom}`);
    const s = createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((r) => s.close(r));
  }
});
