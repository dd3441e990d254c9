import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { MigrateMode, MigrateReason, Tracepoint } from '@tierlab/trace-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTextTrace } from './reader.js';

// The migrate tracepoints as the kernel prints them (TP_printk of include/trace/events/migrate.h:
// 4.x without the thp counts, 5.x-6.2 with them, 6.3+ with nr_split), among real lines of
// py_named_threads.tracefs.txt.zst.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trace-text-migrate-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lines = [
  '  alloc worker 0-24485   [001] d....  2727.892092: page_fault_user: address=0x7fb15c0bbf78 ip=0x7fb15c4bd8ea error_code=0x6',
  '  alloc worker 0-24485   [001] .....  2727.892093: mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=numa_misplaced',
  '  alloc worker 0-24485   [001] .....  2727.892094: mm_page_alloc: page=0000000048d466a3 pfn=0x1197e3 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP',
  '  alloc worker 0-24485   [001] .....  2727.892095: mm_page_free: page=00000000e8b32b44 pfn=0x1c743c order=0',
  '  alloc worker 0-24485   [001] .....  2727.892096: mm_migrate_pages: nr_succeeded=1 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_ASYNC reason=numa_misplaced',
  '         kswapd0-47      [000] .....  2727.892100: mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=demotion',
  '         kswapd0-47      [000] .....  2727.892101: mm_migrate_pages: nr_succeeded=12 nr_failed=3 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_ASYNC reason=demotion',
  '            bash-24482   [001] .....  2727.892102: mm_migrate_pages_start: mode=MIGRATE_SYNC reason=syscall_or_cpuset',
  '            bash-24482   [001] .....  2727.892103: mm_migrate_pages: nr_succeeded=7 nr_failed=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset',
  '            bash-24482   [001] .....  2727.892104: mm_migrate_pages_start: mode=MIGRATE_SYNC_LIGHT reason=cma',
  '            bash-24482   [001] .....  2727.892105: mm_migrate_pages_start: mode=MIGRATE_SYNC_LIGHT reason=0xa',
  '            bash-24482   [001] .....  2727.892106: mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=some_future_reason',
  '            bash-24482   [001] .....  2727.892107: mm_migrate_pages: nr_succeeded=0 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_ASYNC reason=compaction',
];

let fileCount = 0;
function writeTrace(text: readonly string[]): string {
  const file = path.join(dir, `trace-${++fileCount}.txt`);
  writeFileSync(file, `${text.join('\n')}\n`, 'latin1');
  return file;
}

interface Row {
  event: number;
  tid: number;
  a: number;
  b: number;
  c: number;
}

async function read(file: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of openTextTrace(file).batches()) {
    for (let i = 0; i < batch.length; i++) rows.push({ event: batch.event[i]!, tid: batch.tid[i]!, a: batch.a[i]!, b: batch.b[i]!, c: batch.c[i]! });
  }
  return rows;
}

describe('migrate tracepoints in text', () => {
  it('mm_migrate_pages_start: mode and reason ids; mm_migrate_pages: counts by field name and the reason id', async () => {
    const rows = await read(writeTrace(lines));
    expect(rows).toHaveLength(lines.length);
    const migrate = rows.filter((r) => r.event === Tracepoint.mmMigratePages || r.event === Tracepoint.mmMigratePagesStart);
    expect(migrate).toEqual([
      { event: Tracepoint.mmMigratePagesStart, tid: 24485, a: MigrateMode.async, b: MigrateReason.numaMisplaced, c: 0 },
      { event: Tracepoint.mmMigratePages, tid: 24485, a: 1, b: 0, c: MigrateReason.numaMisplaced },
      { event: Tracepoint.mmMigratePagesStart, tid: 47, a: MigrateMode.async, b: MigrateReason.demotion, c: 0 },
      { event: Tracepoint.mmMigratePages, tid: 47, a: 12, b: 3, c: MigrateReason.demotion },
      { event: Tracepoint.mmMigratePagesStart, tid: 24482, a: MigrateMode.sync, b: MigrateReason.syscall, c: 0 },
      // 4.x: no thp counts.
      { event: Tracepoint.mmMigratePages, tid: 24482, a: 7, b: 0, c: MigrateReason.syscall },
      // MR_CMA's old name, a value the kernel's table lacks (printed in hex), a name ours lacks.
      { event: Tracepoint.mmMigratePagesStart, tid: 24482, a: MigrateMode.syncLight, b: MigrateReason.contigRange, c: 0 },
      { event: Tracepoint.mmMigratePagesStart, tid: 24482, a: MigrateMode.syncLight, b: 10, c: 0 },
      { event: Tracepoint.mmMigratePagesStart, tid: 24482, a: MigrateMode.async, b: -1, c: 0 },
      { event: Tracepoint.mmMigratePages, tid: 24482, a: 0, b: 0, c: MigrateReason.compaction },
    ]);
    expect(rows[2]).toMatchObject({ event: Tracepoint.mmPageAlloc, a: 0x1197e3 });
  });

  it('counts the records by event name', async () => {
    const reader = openTextTrace(writeTrace(lines));
    for await (const _ of reader.batches());
    expect(reader.stats.eventCounts.mm_migrate_pages_start).toBe(6);
    expect(reader.stats.eventCounts.mm_migrate_pages).toBe(4);
  });

  it('a mm_migrate_pages without reason= is a syntax error at its line', async () => {
    const broken = [...lines];
    broken[6] = broken[6]!.replace(' reason=demotion', '');
    let error: unknown;
    try {
      await read(writeTrace(broken));
    } catch (e) {
      error = e;
    }
    expect(isTierlabError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line: 7, expected: "'nr_succeeded=N nr_failed=N … reason=REASON'" });
  });
});
