import { describe, expect, it } from 'vitest';
import { ByteTable, hashRange, viewOf } from './byte-table.js';

describe('ByteTable', () => {
  it('finds what it stored, by bytes, across growth and equal hashes', () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => `name-${i}`).join(' '), 'latin1');
    const view = viewOf(bytes);
    const words: [number, number][] = [];
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 32) {
        words.push([start, i]);
        start = i + 1;
      }
    }
    const table = new ByteTable(16);
    // a constant hash forces every lookup through the byte comparison
    const hashOf = (k: number, s: number, e: number): number => (k % 2 === 0 ? 7 : hashRange(bytes, view, s, e));
    words.forEach(([s, e], k) => {
      expect(table.get(bytes, view, s, e, hashOf(k, s, e))).toBe(-1);
      table.set(bytes, s, e, hashOf(k, s, e), k);
    });
    words.forEach(([s, e], k) => {
      expect(table.get(bytes, view, s, e, hashOf(k, s, e))).toBe(k);
    });
    expect(table.size).toBe(words.length);
  });

  it('hashes short and long ranges from the bytes alone', () => {
    const a = Buffer.from('xx cc1 kworker/u8:0-ev', 'latin1');
    const b = Buffer.from('cc1 kworker/u8:0-ev', 'latin1');
    expect(hashRange(a, viewOf(a), 3, 6)).toBe(hashRange(b, viewOf(b), 0, 3));
    expect(hashRange(a, viewOf(a), 7, a.length)).toBe(hashRange(b, viewOf(b), 4, b.length));
  });
});
