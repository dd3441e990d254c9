/**
 * How the kernel's fields of each fixed tracepoint map to RawBatch columns
 * a..e, by field name (names as in the tracepoint's tracefs `format` file).
 * Used to read generic events (both encodings) and to write the tracepoints
 * Perfetto has no message for.
 */

import { LruFlag, Tracepoint } from '@tierlab/trace-core';
import { FieldType } from './schema.js';

/** How a field's value becomes a column value. */
export const Convert = {
  /** The number as is. */
  number: 0,
  /** A gfp mask → GfpClass bits. */
  gfp: 1,
  /** pagemap flags (PAGEMAP_*) → LruFlag bits. */
  lruFlags: 2,
  /** A bdi name `MAJOR:MINOR` → dev (major << 20 | minor), else NaN. */
  bdiDev: 3,
  /** A string → its index in `strings`. */
  string: 4,
} as const;
export type Convert = (typeof Convert)[keyof typeof Convert];

/** Column index: 0..4 for a..e. */
export type Column = 0 | 1 | 2 | 3 | 4;

export interface FieldSpec {
  readonly name: string;
  readonly column: Column;
  readonly convert: Convert;
  /** Descriptor type the writer gives it (what Perfetto infers from the kernel type). */
  readonly type: number;
}

export interface TracepointFields {
  /** The tracepoint's group (tracefs events/GROUP/NAME). */
  readonly group: string;
  readonly fields: readonly FieldSpec[];
}

const u64 = FieldType.uint64;
const i64 = FieldType.int64;
const str = FieldType.string;
const f = (name: string, column: Column, type: number, convert: Convert = Convert.number): FieldSpec => ({ name, column, convert, type });

/** By fixed Tracepoint id; the order of `fields` is the order the writer numbers them (1, 2, ...). */
export const tracepointFields: Readonly<Record<number, TracepointFields>> = {
  // arch/x86/include/asm/trace/exceptions.h
  [Tracepoint.pageFaultUser]: { group: 'exceptions', fields: [f('address', 0, u64), f('error_code', 1, u64)] },
  // include/trace/events/kmem.h
  [Tracepoint.mmPageAlloc]: {
    group: 'kmem',
    fields: [f('pfn', 0, u64), f('order', 1, u64), f('gfp_flags', 2, u64, Convert.gfp), f('migratetype', 3, i64)],
  },
  [Tracepoint.mmPageFree]: { group: 'kmem', fields: [f('pfn', 0, u64), f('order', 1, u64)] },
  [Tracepoint.rssStat]: {
    group: 'kmem',
    fields: [f('mm_id', 0, u64), f('curr', 1, u64), f('member', 2, i64), f('size', 3, i64)],
  },
  // include/trace/events/filemap.h
  [Tracepoint.mmFilemapAdd]: {
    group: 'filemap',
    fields: [f('pfn', 0, u64), f('i_ino', 3, u64), f('index', 4, u64), f('s_dev', 2, u64), f('order', 1, u64)],
  },
  [Tracepoint.mmFilemapDelete]: {
    group: 'filemap',
    fields: [f('pfn', 0, u64), f('i_ino', 3, u64), f('index', 4, u64), f('s_dev', 2, u64), f('order', 1, u64)],
  },
  // include/trace/events/pagemap.h
  [Tracepoint.mmLruInsertion]: {
    group: 'pagemap',
    fields: [f('pfn', 0, u64), f('lru', 1, i64), f('flags', 2, u64, Convert.lruFlags)],
  },
  [Tracepoint.mmLruActivate]: { group: 'pagemap', fields: [f('pfn', 0, u64)] },
  // include/trace/events/sched.h
  [Tracepoint.schedProcessFork]: {
    group: 'sched',
    fields: [f('parent_pid', 0, i64), f('child_comm', 2, str, Convert.string), f('child_pid', 1, i64)],
  },
  [Tracepoint.schedProcessExec]: {
    group: 'sched',
    fields: [f('filename', 2, str, Convert.string), f('pid', 0, i64), f('old_pid', 1, i64)],
  },
  [Tracepoint.schedProcessExit]: { group: 'sched', fields: [f('pid', 0, i64)] },
  // include/trace/events/damon.h
  [Tracepoint.damonAggregated]: {
    group: 'damon',
    fields: [f('target_id', 4, u64), f('start', 0, u64), f('end', 1, u64), f('nr_accesses', 2, u64), f('age', 3, u64)],
  },
  // include/trace/events/writeback.h (`name` is the bdi's name, char[32])
  [Tracepoint.writebackDirtyFolio]: {
    group: 'writeback',
    fields: [f('name', 2, str, Convert.bdiDev), f('ino', 0, u64), f('index', 1, u64)],
  },
  // include/trace/events/migrate.h
  [Tracepoint.mmMigratePages]: { group: 'migrate', fields: [f('succeeded', 0, u64), f('failed', 1, u64), f('reason', 2, i64)] },
  [Tracepoint.mmMigratePagesStart]: { group: 'migrate', fields: [f('mode', 0, u64), f('reason', 1, i64)] },
};

// include/trace/events/pagemap.h
const PAGEMAP_MAPPED = 0x1;
const PAGEMAP_ANONYMOUS = 0x2;
const PAGEMAP_FILE = 0x4;
const PAGEMAP_SWAPCACHE = 0x8;
const PAGEMAP_SWAPBACKED = 0x10;
const PAGEMAP_MAPPEDDISK = 0x20;
const PAGEMAP_BUFFERS = 0x40;

/** mm_lru_insertion's numeric `flags` → {@link LruFlag} bits (the letters the kernel prints). */
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

/** {@link LruFlag} bits → the kernel's numeric flags (PAGEMAP_FILE when not anonymous, as trace_pagemap_flags() sets it). */
export function pagemapOfLruFlags(bits: number): number {
  let flags = bits & LruFlag.anonymous ? PAGEMAP_ANONYMOUS : PAGEMAP_FILE;
  if (bits & LruFlag.mapped) flags |= PAGEMAP_MAPPED;
  if (bits & LruFlag.swapCache) flags |= PAGEMAP_SWAPCACHE;
  if (bits & LruFlag.swapBacked) flags |= PAGEMAP_SWAPBACKED;
  if (bits & LruFlag.mappedDisk) flags |= PAGEMAP_MAPPEDDISK;
  if (bits & LruFlag.buffers) flags |= PAGEMAP_BUFFERS;
  return flags;
}

const MINOR_SPAN = 1048576;

/** A bdi name `MAJOR:MINOR` → major << 20 | minor; NaN for any other name. */
export function devOfBdiName(name: string): number {
  const m = /^(\d+):(\d+)$/.exec(name);
  return m === null ? Number.NaN : Number(m[1]) * MINOR_SPAN + Number(m[2]);
}

/** dev → `MAJOR:MINOR`; NaN (a bdi with another name) → `(unknown)`. */
export function bdiNameOfDev(dev: number): string {
  if (!Number.isFinite(dev)) return '(unknown)';
  return `${Math.floor(dev / MINOR_SPAN)}:${dev % MINOR_SPAN}`;
}
