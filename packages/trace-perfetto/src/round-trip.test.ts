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

describe('the migrate tracepoints through Perfetto and back', () => {
  // The kernel's TP_printk text (include/trace/events/migrate.h, 6.1 and 6.3+) among real lines of py_named_threads.tracefs.
  const lines = [
    '  alloc worker 0-24485   [001] d....  2727.892092: page_fault_user: address=0x7fb15c0bbf78 ip=0x7fb15c4bd8ea error_code=0x6',
    '  alloc worker 0-24485   [001] .....  2727.892093: mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=numa_misplaced',
    '  alloc worker 0-24485   [001] .....  2727.892094: mm_page_alloc: page=0000000048d466a3 pfn=0x1197e3 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP',
    '  alloc worker 0-24485   [001] .....  2727.892095: mm_page_free: page=00000000e8b32b44 pfn=0x1c743c order=0',
    '  alloc worker 0-24485   [001] .....  2727.892096: mm_migrate_pages: nr_succeeded=1 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_ASYNC reason=numa_misplaced',
    '         kswapd0-47      [000] .....  2727.892100: mm_migrate_pages_start: mode=MIGRATE_SYNC_LIGHT reason=demotion',
    '         kswapd0-47      [000] .....  2727.892101: mm_migrate_pages: nr_succeeded=12 nr_failed=3 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_ASYNC reason=demotion',
    '         kswapd0-47      [000] .....  2727.892102: mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=some_future_reason',
  ];
  for (const genericEvents of ['descriptors', 'legacy'] as const) {
    it(`keeps mode, reason and the counts (${genericEvents})`, async () => {
      const source = path.join(dir, `migrate-${genericEvents}.txt`);
      writeFileSync(source, `${lines.join('\n')}\n`);
      const out = path.join(dir, `migrate-${genericEvents}.pftrace`);
      await writePerfettoFromRaw(openTextTrace(source).batches(), out, genericEvents === 'legacy' ? { genericEvents } : {});
      const result = await compareRecords(openTextTrace(source).batches(), openPerfetto(out).batches());
      expect(result.mismatches).toEqual([]);
      expect(result.records).toBe(lines.length);
    });
  }
});
