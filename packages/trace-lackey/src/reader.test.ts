import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tracepoint, openTrace, readHead } from '@tierlab/trace-core';
import { readMeta, sharedTrace, sharedTraces } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { openLackey, sniffLackey } from './reader.js';

const shared = sharedTraces();

async function readAll(path: string, options = {}) {
  const reader = openLackey(path, options);
  const pages = new Set<number>();
  let loads = 0;
  let stores = 0;
  let records = 0;
  let lastTime = 0;
  let ordered = true;
  for await (const b of reader.batches()) {
    for (let i = 0; i < b.length; i++) {
      expect(b.event[i]).toBe(Tracepoint.memAccess);
      if (b.time[i]! < lastTime) ordered = false;
      lastTime = b.time[i]!;
      pages.add(b.a[i]!);
      loads += b.b[i]!;
      stores += b.c[i]!;
      records++;
    }
  }
  return { stats: reader.stats, pages, loads, stores, records, ordered };
}

describe.skipIf(shared === null)('lackey reader on the shared captures', () => {
  for (const name of ['lua_tables', 'sqlite_tiny']) {
    it(`${name}: counts every record of the .meta and aggregates per page`, async () => {
      const meta = readMeta(sharedTrace(`${name}.lackey.meta`));
      const counts = Object.fromEntries(
        [...readMetaBlock(sharedTrace(`${name}.lackey.meta`), 'record_counts')].map(([k, v]) => [k, v]),
      );
      const r = await readAll(sharedTrace(`${name}.lackey.txt.zst`));
      expect(r.stats.eventCounts.lackey_instruction).toBe(counts['I (instruction)']);
      expect(r.stats.eventCounts.lackey_load).toBe(counts['L (load)']);
      expect(r.stats.eventCounts.lackey_store).toBe(counts['S (store)']);
      expect(r.stats.eventCounts.lackey_modify).toBe(counts['M (modify)']);
      expect(r.stats.headerLines).toBe(counts['==PID== lines']);
      expect(r.stats.lines).toBe(Number(meta.values[`lines[${name}.lackey.txt]`]));
      // Every access is counted once per page it touches (a modify is a load and a store).
      expect(r.loads).toBeGreaterThanOrEqual(counts['L (load)']! + counts['M (modify)']!);
      expect(r.stores).toBeGreaterThanOrEqual(counts['S (store)']! + counts['M (modify)']!);
      expect(r.loads - counts['L (load)']! - counts['M (modify)']!).toBeLessThan(100);
      // The data pages the .meta counted (distinct 4 KiB pages of L/S/M addresses).
      const text = readFileSync(sharedTrace(`${name}.lackey.meta`), 'utf8');
      const expected = Number(/distinct_4KiB_pages_touched \(data \/ instr\): (\d+) \/ \d+/.exec(text)![1]);
      expect(r.pages.size).toBe(expected);
      expect(r.ordered).toBe(true);
      // Aggregation: far fewer records than accesses.
      expect(r.records).toBeLessThan((counts['L (load)']! + counts['S (store)']!) / 50);
    });
  }

  it('sniffs lackey output and nothing else', async () => {
    const head = await firstBytes(sharedTrace('lua_tables.lackey.txt.zst'));
    expect(sniffLackey(head)).toBe(true);
    expect(sniffLackey(readHead(sharedTrace('MANIFEST.md'), 512))).toBe(false);
  });

  it('reports a malformed line with its number and excerpt', async () => {
    const text = (await firstBytes(sharedTrace('lua_tables.lackey.txt.zst'))).toString('latin1').split('\n').slice(0, 40);
    text[20] = ' S 1fff0006zz,8';
    const file = join(mkdtempSync(join(tmpdir(), 'lackey-')), 'bad.lackey.txt');
    writeFileSync(file, `${text.join('\n')}\n`);
    await expect(readAll(file)).rejects.toThrow(/bad\.lackey\.txt:21:.*expected a hex address and ',size', got ' S 1fff0006zz,8'/);
  });
});

function readMetaBlock(path: string, block: string): Map<string, number> {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out = new Map<string, number>();
  let inside = false;
  for (const line of lines) {
    if (line.startsWith(`${block}:`)) {
      inside = true;
      continue;
    }
    if (inside) {
      const m = /^ {2}(.+?)\s{2,}(\d+)\s*$/.exec(line);
      if (!m) break;
      out.set(m[1]!, Number(m[2]));
    }
  }
  return out;
}

async function firstBytes(path: string): Promise<Buffer> {
  for await (const chunk of openTrace(path)) return Buffer.from(chunk);
  return Buffer.alloc(0);
}
