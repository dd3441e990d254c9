/**
 * The ftrace events tierlab reads through trace processor, and how their
 * args (keys = field names, as Perfetto's ftrace parser stores them, with or
 * without an `args.` prefix) map to RawBatch columns a..e, as raw-batch.ts
 * documents them and @tierlab/trace-perfetto reads them.
 */

import { LruFlag, Tracepoint } from '@tierlab/trace-core';
import { classifyGfpMask } from '@tierlab/trace-perfetto';

export const Convert = { number: 0, gfp: 1, lruFlags: 2, string: 3 } as const;
export type Convert = (typeof Convert)[keyof typeof Convert];

export interface ArgSpec {
  /** Column: 0..4 = a..e. */
  readonly column: 0 | 1 | 2 | 3 | 4;
  readonly convert: Convert;
}

const n = (column: ArgSpec['column']): ArgSpec => ({ column, convert: Convert.number });

/** By Tracepoint id: arg name → column. */
export const argSpecs: Readonly<Record<number, Readonly<Record<string, ArgSpec>>>> = {
  [Tracepoint.pageFaultUser]: { address: n(0), error_code: n(1) },
  [Tracepoint.mmPageAlloc]: { pfn: n(0), order: n(1), gfp_flags: { column: 2, convert: Convert.gfp }, migratetype: n(3) },
  [Tracepoint.mmPageFree]: { pfn: n(0), order: n(1) },
  [Tracepoint.rssStat]: { mm_id: n(0), curr: n(1), member: n(2), size: n(3) },
  [Tracepoint.mmFilemapAdd]: { pfn: n(0), order: n(1), s_dev: n(2), i_ino: n(3), index: n(4) },
  [Tracepoint.mmFilemapDelete]: { pfn: n(0), order: n(1), s_dev: n(2), i_ino: n(3), index: n(4) },
  [Tracepoint.mmLruInsertion]: { pfn: n(0), lru: n(1), flags: { column: 2, convert: Convert.lruFlags } },
  [Tracepoint.mmLruActivate]: { pfn: n(0) },
  [Tracepoint.schedProcessFork]: { parent_pid: n(0), child_pid: n(1), child_comm: { column: 2, convert: Convert.string } },
  [Tracepoint.schedProcessExec]: { pid: n(0), old_pid: n(1), filename: { column: 2, convert: Convert.string } },
  [Tracepoint.schedProcessExit]: { pid: n(0) },
  [Tracepoint.mmMigratePages]: { succeeded: n(0), failed: n(1), reason: n(2) },
  [Tracepoint.mmMigratePagesStart]: { mode: n(0), reason: n(1) },
};

/** Fixed ids by the event name trace processor gives (`name` column, no group). */
export const tracepointIdByName: Readonly<Record<string, number>> = {
  page_fault_user: Tracepoint.pageFaultUser,
  mm_page_alloc: Tracepoint.mmPageAlloc,
  mm_page_free: Tracepoint.mmPageFree,
  rss_stat: Tracepoint.rssStat,
  mm_filemap_add_to_page_cache: Tracepoint.mmFilemapAdd,
  mm_filemap_delete_from_page_cache: Tracepoint.mmFilemapDelete,
  mm_lru_insertion: Tracepoint.mmLruInsertion,
  mm_lru_activate: Tracepoint.mmLruActivate,
  sched_process_fork: Tracepoint.schedProcessFork,
  sched_process_exec: Tracepoint.schedProcessExec,
  sched_process_exit: Tracepoint.schedProcessExit,
  mm_migrate_pages: Tracepoint.mmMigratePages,
  mm_migrate_pages_start: Tracepoint.mmMigratePagesStart,
};

/** SQL condition on the event name column selecting the events above (and every mm_lru_* / sched_process_*). */
export function eventFilterSql(column: string): string {
  const names = Object.keys(tracepointIdByName)
    .map((s) => `'${s}'`)
    .join(', ');
  return `(${column} IN (${names}) OR ${column} GLOB 'mm_lru_*' OR ${column} GLOB 'sched_process_*')`;
}

const PAGEMAP_MAPPED = 0x1;
const PAGEMAP_ANONYMOUS = 0x2;
const PAGEMAP_SWAPCACHE = 0x8;
const PAGEMAP_SWAPBACKED = 0x10;
const PAGEMAP_MAPPEDDISK = 0x20;
const PAGEMAP_BUFFERS = 0x40;

/** mm_lru_insertion's numeric PAGEMAP_* `flags` → LruFlag bits. */
export function lruFlagsOfPagemap(flags: number): number {
  let bits = 0;
  if (flags & PAGEMAP_MAPPED) bits |= LruFlag.mapped;
  if (flags & PAGEMAP_ANONYMOUS) bits |= LruFlag.anonymous;
  if (flags & PAGEMAP_SWAPCACHE) bits |= LruFlag.swapCache;
  if (flags & PAGEMAP_SWAPBACKED) bits |= LruFlag.swapBacked;
  if (flags & PAGEMAP_MAPPEDDISK) bits |= LruFlag.mappedDisk;
  if (flags & PAGEMAP_BUFFERS) bits |= LruFlag.buffers;
  return bits;
}

export function convertNumber(convert: Convert, value: number): number {
  if (convert === Convert.gfp) return classifyGfpMask(value);
  if (convert === Convert.lruFlags) return lruFlagsOfPagemap(value);
  return value;
}
