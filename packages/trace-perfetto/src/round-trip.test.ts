import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { openTextTrace } from '@tierlab/trace-text';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPerfetto } from './reader.js';
import { sniffPerfetto } from './sniff.js';
import { captureFile, compareRecords, haveTraces, noTracesReason } from './test-data.js';
import { writePerfettoFromRaw } from './writer.js';
import type { PerfettoWriterOptions } from './writer.js';

// Real captures, read by @tierlab/trace-text, written as Perfetto traces and
// read back: every record must come back with the same columns (`line` is 0,
// a Perfetto trace has no lines).

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trace-perfetto-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cases: ReadonlyArray<readonly [capture: string, options: PerfettoWriterOptions]> = [
  ['gcc_lua.tracefs.txt.zst', {}],
  ['gcc_lua_lossy.tracefs.txt.zst', { genericEvents: 'legacy', compressPackets: true }],
  ['py_named_threads.tracefs.txt.zst', { compressPackets: true }],
  ['py_named_threads.perf-script-F.txt.zst', {}],
  ['py_named_threads_lossy.perf-script.txt.zst', { genericEvents: 'legacy' }],
  ['sqlite_orders.perf-script.txt.zst', { compressPackets: true }],
  ['sqlite_orders.damon.tracefs.txt.zst', { genericEvents: 'legacy' }],
];

describe.skipIf(!haveTraces)(haveTraces ? 'text captures through Perfetto and back' : `text captures through Perfetto and back (skipped: ${noTracesReason})`, () => {
  for (const [capture, options] of cases) {
    const how = `${options.genericEvents ?? 'descriptors'}${options.compressPackets ? ', compressed_packets' : ''}`;
    it(`${capture} (${how}) gives the text reader's records`, async () => {
      const source = captureFile(capture);
      const out = path.join(dir, capture.replace(/\.txt\.zst$/, '.pftrace'));
      const text = openTextTrace(source);
      await writePerfettoFromRaw(text.batches(), out, options);
      expect(sniffPerfetto(readFileSync(out).subarray(0, 4096))).toBe(true);

      const expected = openTextTrace(source);
      const actual = openPerfetto(out);
      const result = await compareRecords(expected.batches(), actual.batches());
      expect(result.mismatches).toEqual([]);
      expect(result.nonZeroLines).toBe(0);
      expect(result.records).toBeGreaterThan(10_000);

      const t = expected.stats;
      const p = actual.stats;
      expect(p.eventCounts).toEqual(t.eventCounts);
      expect(p.lostMarkers).toBe(t.lostMarkers);
      expect(p.lostEvents).toBe(t.lostEvents);
      expect(p.firstTimeNs).toBe(t.firstTimeNs);
      expect(p.lastTimeNs).toBe(t.lastTimeNs);
      expect(p.format).toBe('perfetto');
      expect(p.eventsSkipped).toBe(0);
      expect(p.inexactValues).toBe(0);
      if (options.compressPackets) expect(p.compressedPackets).toBeGreaterThan(0);
      if (options.genericEvents === 'legacy') expect(p.genericDescriptors).toBe(0);
      else if (p.eventCounts.mm_lru_insertion !== undefined || p.eventCounts.damon_aggregated !== undefined) {
        expect(p.genericDescriptors).toBeGreaterThan(0);
      }
      // Far smaller than the text (the legacy form repeats field names in every generic event).
      if (options.genericEvents !== 'legacy') expect(statSync(out).size).toBeLessThan(t.bytesRead / 2);
    });
  }

  it('reads a gzip-wrapped written trace the same', async () => {
    const source = captureFile('sqlite_orders.damon.perf-script.txt.zst');
    const plain = path.join(dir, 'damon.pftrace');
    await writePerfettoFromRaw(openTextTrace(source).batches(), plain);
    const gz = path.join(dir, 'damon.pftrace.gz');
    writeFileSync(gz, gzipSync(readFileSync(plain)));
    const result = await compareRecords(openTextTrace(source).batches(), openPerfetto(gz).batches());
    expect(result.mismatches).toEqual([]);
    expect(result.records).toBe(11_561);
  });

  it('yields the same records whatever the batch size', async () => {
    const source = captureFile('sqlite_orders.damon.tracefs.txt.zst');
    const out = path.join(dir, 'damon-small-batches.pftrace');
    await writePerfettoFromRaw(openTextTrace(source).batches(), out);
    const result = await compareRecords(openPerfetto(out, { batchSize: 7 }).batches(), openPerfetto(out, { batchSize: 100_000 }).batches());
    expect(result.mismatches).toEqual([]);
    expect(result.records).toBe(11_559);
  });
});
