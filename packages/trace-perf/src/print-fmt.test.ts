import { sharedTrace, sharedTraces } from '@tierlab/test-support';
import { GfpClass, LruFlag, Tracepoint, openTrace } from '@tierlab/trace-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventTable, MAX_FIELDS, NumCode } from './events.js';
import { classifyGfpMask, defaultGfpTable } from './gfp.js';
import { featureBits, parseFileHeader, u64 } from './header.js';
import { conditionalLetters, evaluateConstant, printFlagsTable } from './print-fmt.js';
import { parseTracingData } from './tracing-data.js';
import type { EventFormat, TracingData } from './tracing-data.js';

describe('evaluateConstant', () => {
  it('evaluates the C constant expressions of print fmt flag tables', () => {
    expect(evaluateConstant('( unsigned long)(( gfp_t)((((1UL))) << (10)))')).toBe(1024n);
    expect(evaluateConstant('(( gfp_t)(((((1UL))) << (10))|((((1UL))) << (11))))')).toBe(3072n);
    expect(evaluateConstant('0x400u|0x800u')).toBe(0xc00n);
    expect(evaluateConstant('((1UL << 3) | 5) & ~(( gfp_t)1)')).toBe(12n);
    expect(evaluateConstant('~0UL')).toBe((1n << 64n) - 1n);
    expect(evaluateConstant('( gfp_t)~0')).toBe(0xffffffffn);
    expect(evaluateConstant('2 + 3 * 4 - (8 >> 1)')).toBe(10n);
  });

  it('refuses what it does not know', () => {
    expect(evaluateConstant('vmemmap_base + 1')).toBeNull();
    expect(evaluateConstant('(1 << 2')).toBeNull();
    expect(evaluateConstant('010')).toBeNull();
    expect(evaluateConstant('')).toBeNull();
  });
});

describe('classifyGfpMask', () => {
  const bit = (n: number): bigint => 1n << BigInt(n);
  const reclaim = bit(10) | bit(11);
  const user = reclaim | bit(6) | bit(7) | bit(20);
  it('classes masks as the text reader classes the names libtraceevent prints for them', () => {
    // GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP
    expect(classifyGfpMask(user | bit(1) | bit(3) | bit(8) | bit(18), defaultGfpTable)).toBe(
      GfpClass.movable | GfpClass.highmem | GfpClass.zero,
    );
    // GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_HARDWALL: movable drops kernel.
    expect(classifyGfpMask(reclaim | bit(6) | bit(1) | bit(3) | bit(13) | bit(16) | bit(18) | bit(20), defaultGfpTable)).toBe(
      GfpClass.movable | GfpClass.highmem,
    );
    // GFP_KERNEL_ACCOUNT|__GFP_ZERO
    expect(classifyGfpMask(reclaim | bit(6) | bit(7) | bit(22) | bit(8), defaultGfpTable)).toBe(
      GfpClass.kernel | GfpClass.account | GfpClass.zero,
    );
    // GFP_USER takes the bits GFP_KERNEL would have: not kernel.
    expect(classifyGfpMask(user, defaultGfpTable)).toBe(0);
    // GFP_NOWAIT; and bits no name covers.
    expect(classifyGfpMask(bit(11) | bit(13), defaultGfpTable)).toBe(GfpClass.kernel);
    expect(classifyGfpMask(bit(30), defaultGfpTable)).toBe(0);
    expect(classifyGfpMask(0n, defaultGfpTable)).toBe(0);
  });
});

const shared = sharedTraces();

describe.skipIf(shared === null)(`the tracing data of a real capture${shared === null ? ' (skipped: ../shared/traces not found)' : ''}`, () => {
  let tracing: TracingData;
  const format = (name: string): EventFormat => {
    const found = tracing.events.find((e) => e.name === name);
    if (found === undefined) throw new Error(`no format ${name}`);
    return found;
  };

  beforeAll(async () => {
    const parts: Uint8Array[] = [];
    for await (const chunk of openTrace(sharedTrace('py_named_threads_lossy.perf.data.zst'))) parts.push(chunk);
    const bytes = Buffer.concat(parts);
    const header = parseFileHeader(bytes)!;
    // HEADER_TRACING_DATA (bit 1) is the first entry of the feature index after the data section.
    expect(featureBits(header)[0]).toBe(1);
    const index = header.data.offset + header.data.size;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = u64(view, index);
    tracing = parseTracingData(bytes.subarray(offset, offset + u64(view, index + 8)));
  });

  it('has the formats of the recorded events, with fields', () => {
    expect(tracing.bigEndian).toBe(false);
    expect(tracing.longSize).toBe(8);
    const alloc = format('mm_page_alloc');
    expect(alloc.system).toBe('kmem');
    expect(alloc.fields.map((f) => [f.name, f.offset, f.size, f.signed])).toEqual([
      ['common_type', 0, 2, false],
      ['common_flags', 2, 1, false],
      ['common_preempt_count', 3, 1, false],
      ['common_pid', 4, 4, true],
      ['pfn', 8, 8, false],
      ['order', 16, 4, false],
      ['gfp_flags', 24, 8, false],
      ['migratetype', 32, 4, true],
    ]);
    const fork = format('sched_process_fork');
    expect(fork.fields.find((f) => f.name === 'child_comm')).toMatchObject({ dataLoc: true, size: 4 });
    const exit = format('sched_process_exit');
    expect(exit.fields.find((f) => f.name === 'comm')).toMatchObject({ array: true, size: 16, type: 'char[16]' });
  });

  it("mm_page_alloc's gfp flag table is the kernel's (the built-in fallback matches it)", () => {
    const table = printFlagsTable(format('mm_page_alloc').printFmt, 'gfp_flags');
    expect(table).not.toBeNull();
    expect(table!.map((f) => f.name)).toEqual(defaultGfpTable.map((f) => f.name));
    expect(table!.map((f) => f.value)).toEqual(defaultGfpTable.map((f) => f.value));
  });

  it("mm_lru_insertion's flag columns are pagemap.h's", () => {
    const columns = conditionalLetters(format('mm_lru_insertion').printFmt, 'flags');
    expect(columns).toEqual([
      { letter: 'M', mask: 0x1 },
      { letter: 'a', mask: 0x2 },
      { letter: 's', mask: 0x8 },
      { letter: 'b', mask: 0x10 },
      { letter: 'd', mask: 0x20 },
      { letter: 'B', mask: 0x40 },
    ]);
    expect(LruFlag.buffers).toBe(32);
  });

  it('mm_migrate_pages: a..c read succeeded, failed and the int reason at their offsets', () => {
    const migrate = format('mm_migrate_pages');
    const table = new EventTable(tracing.events);
    const slot = table.names.indexOf('mm_migrate_pages');
    expect(table.kind[slot]).toBe(Tracepoint.mmMigratePages);
    const at = (k: number) => [table.offset[slot * MAX_FIELDS + k], table.code[slot * MAX_FIELDS + k]];
    const offset = (name: string) => migrate.fields.find((f) => f.name === name)!.offset;
    expect([at(0), at(1), at(2)]).toEqual([
      [offset('succeeded'), NumCode.u64],
      [offset('failed'), NumCode.u64],
      [offset('reason'), NumCode.s32],
    ]);
  });
});
