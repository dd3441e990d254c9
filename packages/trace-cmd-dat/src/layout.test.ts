import { sharedTrace, sharedTraces } from '@tierlab/test-support';
import { GfpClass, MigrateReason, Tracepoint, classifyGfpNames, createRawBatch, migrateModeNames, migrateReasonNames } from '@tierlab/trace-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommTable, parseSavedCmdlines } from './comms.js';
import { Decoder } from './decoder.js';
import { fieldOf } from './event-format.js';
import { type OpenedFile, openRandomAccess } from './file.js';
import { GfpClassifier } from './gfp.js';
import { type TraceDatLayout, readLayout } from './layout.js';
import { evaluateConstant, flagColumns, printFlags, printTable } from './print-fmt.js';

const tracesDir = sharedTraces();

describe('constant C expressions of print fmt tables', () => {
  it('evaluates casts, shifts, and, or, not', () => {
    expect(evaluateConstant('(( gfp_t)((((1UL))) << (10)))')).toBe(1024n);
    expect(evaluateConstant('( unsigned long)(((( gfp_t)(((((1UL))) << (10))|((((1UL))) << (11)))) | (( gfp_t)((((1UL))) << (6)))))')).toBe(0xc40n);
    expect(evaluateConstant('(0x0f & ~(( gfp_t)0x3)) | (( gfp_t)0)')).toBe(0xcn);
    expect(evaluateConstant('(unsigned int)-1')).toBe(0xffffffffn);
    expect(evaluateConstant('REC->pfn')).toBeNull();
  });
});

describe('saved cmdlines', () => {
  it('reads "PID COMM" lines, names with spaces kept, and stops at a malformed line like sscanf does', () => {
    const names = parseSavedCmdlines('77 kdamond.0\n25502 alloc worker 0\n   12 kworker/u8:0-ev\nbad line\n99 never');
    expect([...names]).toEqual([
      [77, 'kdamond.0'],
      [25502, 'alloc worker 0'],
      [12, 'kworker/u8:0-ev'],
    ]);
  });
});

describe.skipIf(tracesDir === null)(tracesDir === null ? 'layout (skipped: ../shared/traces not found)' : 'layout of the shared trace.dat captures', () => {
  const layouts: Partial<Record<'v6' | 'v7', TraceDatLayout>> = {};
  const opened: OpenedFile[] = [];
  beforeAll(async () => {
    for (const [version, name] of [
      ['v6', 'git_lua.trace.v6.dat.zst'],
      ['v7', 'git_lua.trace.dat.zst'],
    ] as const) {
      const file = await openRandomAccess(sharedTrace(name), 'auto', () => {});
      opened.push(file);
      layouts[version] = readLayout(file.file);
    }
  });
  afterAll(() => {
    for (const file of opened) file.dispose();
  });

  for (const version of ['v6', 'v7'] as const) {
    it(`${version}: header, the instance tc20462 with 2 CPUs, formats and cmdlines`, () => {
      const layout = layouts[version]!;
      expect(layout.version).toBe(version === 'v6' ? 6 : 7);
      expect(layout.littleEndian).toBe(true);
      expect(layout.pageSize).toBe(4096);
      expect(layout.compression).toBe(version === 'v6' ? 'none' : 'zstd');
      expect(layout.buffers.map((b) => [b.name, b.compressed, b.cpus.map((c) => c.cpu)])).toEqual([['tc20462', version === 'v7', [0, 1]]]);
      expect(layout.headerPage).toContain('commit;\toffset:8;\tsize:8;');
      expect(layout.formats.find((f) => f.name === 'mm_page_alloc')?.system).toBe('kmem');
      expect(layout.formats.filter((f) => f.system !== 'ftrace')).toHaveLength(80);
      expect(parseSavedCmdlines(layout.cmdlines).get(77)).toBe('kdamond.0');
      expect(layout.timeOffset).toBe(0);
      expect(layout.overrun).toBe(0);
    });
  }

  it('v6 and v7 embed the same event formats and cmdlines', () => {
    expect(layouts.v6!.formats).toEqual(layouts.v7!.formats);
    expect(layouts.v6!.cmdlines).toBe(layouts.v7!.cmdlines);
  });

  it("reads this 6.18 kernel's __GFP_* values from mm_page_alloc's print fmt", () => {
    const format = layouts.v7!.formats.find((f) => f.name === 'mm_page_alloc')!;
    expect(fieldOf(format, 'gfp_flags')).toMatchObject({ offset: 24, size: 8, signed: false });
    const table = printTable(format.printFmt, '__print_flags', 'gfp_flags')!;
    expect(table.delimiter).toBe('|');
    const value = (name: string) => table.entries.find((e) => e.name === name)?.value;
    expect(value('__GFP_MOVABLE')).toBe(1n << 3n);
    expect(value('__GFP_ZERO')).toBe(1n << 8n);
    expect(value('__GFP_WRITE')).toBe(1n << 12n);
    expect(value('__GFP_COMP')).toBe(1n << 18n);
    expect(value('__GFP_ACCOUNT')).toBe(1n << 22n);
    expect(value('GFP_KERNEL')).toBe((1n << 10n) | (1n << 11n) | (1n << 6n) | (1n << 7n));
    // Names as the report prints them (git_lua text: GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP).
    const mask = value('GFP_HIGHUSER_MOVABLE')! | value('__GFP_ZERO')! | value('__GFP_COMP')!;
    const names = printFlags(mask, table);
    expect(names).toEqual(['GFP_HIGHUSER_MOVABLE', '__GFP_ZERO', '__GFP_COMP']);
    expect(classifyGfpNames(names)).toBe(GfpClass.movable | GfpClass.highmem | GfpClass.zero);
    const classifier = new GfpClassifier(table);
    expect(classifier.classify(Number(mask), 0)).toBe(GfpClass.movable | GfpClass.highmem | GfpClass.zero);
    expect(classifier.classify(Number(value('GFP_KERNEL')! | value('__GFP_ACCOUNT')!), 0)).toBe(GfpClass.kernel | GfpClass.account);
    expect(printFlags((1n << 30n) | (1n << 8n), table)).toEqual(['__GFP_ZERO', '0x40000000']);
  });

  it("reads mm_lru_insertion's flag columns and rss_stat's member names from their print fmts", () => {
    const lru = layouts.v7!.formats.find((f) => f.name === 'mm_lru_insertion')!;
    expect(flagColumns(lru.printFmt, 'flags').map((c) => [c.mask, c.yes, c.no])).toEqual([
      [0x1, 'M', ' '],
      [0x2, 'a', 'f'],
      [0x8, 's', ' '],
      [0x10, 'b', ' '],
      [0x20, 'd', ' '],
      [0x40, 'B', ' '],
    ]);
    const rss = layouts.v7!.formats.find((f) => f.name === 'rss_stat')!;
    const table = printTable(rss.printFmt, '__print_symbolic', 'member')!;
    expect(table.entries.map((e) => [Number(e.value), e.name])).toEqual([
      [0, 'MM_FILEPAGES'],
      [1, 'MM_ANONPAGES'],
      [2, 'MM_SWAPENTS'],
      [3, 'MM_SHMEMPAGES'],
    ]);
  });

  it("mm_migrate_pages: this 6.18 kernel's reason and mode names are trace-core's ids, and its record decodes to succeeded, failed, reason", () => {
    const format = layouts.v7!.formats.find((f) => f.name === 'mm_migrate_pages')!;
    const reasons = printTable(format.printFmt, '__print_symbolic', 'reason')!;
    expect(reasons.entries.map((e) => [Number(e.value), e.name])).toEqual(migrateReasonNames.map((name, id) => [id, name]));
    const modes = printTable(format.printFmt, '__print_symbolic', 'mode')!;
    // MIGRATE_SYNC_NO_COPY was gone by 6.18.
    expect(modes.entries.map((e) => [Number(e.value), e.name])).toEqual(migrateModeNames.slice(0, 3).map((name, id) => [id, name]));

    // A record laid out by the embedded format: common_type, then the fields at their offsets.
    const size = Math.max(...format.fields.map((f) => f.offset + f.size));
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, format.id, true);
    view.setBigUint64(fieldOf(format, 'succeeded')!.offset, 12n, true);
    view.setBigUint64(fieldOf(format, 'failed')!.offset, 3n, true);
    view.setInt32(fieldOf(format, 'reason')!.offset, MigrateReason.demotion, true);
    const batch = createRawBatch(1);
    const decoder = new Decoder({
      formats: layouts.v7!.formats,
      littleEndian: true,
      batch,
      comms: new CommTable(new Map(), () => 0),
      intern: () => 0,
      fail: (message) => {
        throw new Error(message);
      },
    });
    expect(decoder.resolve(format.id)).toBe(Tracepoint.mmMigratePages);
    decoder.decode(format.id, view, bytes, 0, size, 0);
    expect([batch.a[0], batch.b[0], batch.c[0]]).toEqual([12, 3, MigrateReason.demotion]);
  });
});
