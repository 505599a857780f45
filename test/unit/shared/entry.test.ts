import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEntry, decodeItem, encodeEntry } from '../../../shared/store/entry.ts';

const NOW = 1_760_000_000_000;

test('decodeItem reads what decodeEntry reads, the item as the bytes written (UTF-8 included)', () => {
  for (const item of ['{"a":1}', '{"labels":{"app":"wéb ✓"}}', '{"x":"\\t"}']) {
    const value = encodeEntry({ expiresAt: NOW + 1, timestamp: NOW - 5, labels: '{"k":"v"}', item });
    const e = decodeEntry('p', value)!;
    const b = decodeItem('p', Buffer.from(value), NOW)!;
    assert.equal(b.timestamp, e.timestamp);
    assert.equal(Buffer.from(b.item).toString('utf8'), e.item);
  }
});

test('decodeItem drops what a list never serves: expired, without metrics, not an entry', () => {
  const entry = (expiresAt: number, item: string) =>
    Buffer.from(encodeEntry({ expiresAt, timestamp: NOW - 5, labels: '{}', item }));
  assert.equal(decodeItem('p', entry(NOW, '{"a":1}'), NOW), null, 'expiring now');
  assert.equal(decodeItem('p', entry(NOW + 1, ''), NOW), null, 'no servable metrics');
  for (const value of ['1234', 'garbage', 'x\ty\tz\t{}', `${NOW + 1}\tnope\t{}\t{}`, `${NOW + 1}\t1\t{}`])
    assert.equal(decodeItem('p', Buffer.from(value), NOW), null, value);
});
