/**
 * Raw records: what a reader makes of the bytes, before any linking.
 * Columnar, reused between batches: a batch is valid only until the reader
 * yields the next one.
 *
 * Known tracepoints get fixed ids ({@link Tracepoint}); any other event name
 * gets an id >= Tracepoint.firstDynamic from the reader's name table. Fields
 * a..e hold the event's numbers as documented on each tracepoint; 64-bit
 * values above 2^53 are not expected in these fields (user addresses are
 * 47-bit, pfns and inodes far smaller).
 */

export const Tracepoint = {
  /** exceptions:page_fault_user. a=address, b=error_code (0x1 prot, 0x2 write, 0x4 user, 0x10 ifetch). */
  pageFaultUser: 1,
  /** kmem:mm_page_alloc. a=pfn, b=order, c=gfp class bits ({@link GfpClass}), d=migratetype. */
  mmPageAlloc: 2,
  /** kmem:mm_page_free. a=pfn, b=order. */
  mmPageFree: 3,
  /** kmem:rss_stat. a=mm_id, b=curr (1: the current task's mm), c=member (MM_FILEPAGES=0, MM_ANONPAGES=1, MM_SWAPENTS=2, MM_SHMEMPAGES=3), d=size bytes. */
  rssStat: 4,
  /** filemap:mm_filemap_add_to_page_cache. a=pfn, b=order, c=dev (major << 20 | minor), d=ino, e=index (ofs >> 12). */
  mmFilemapAdd: 5,
  /** filemap:mm_filemap_delete_from_page_cache. Same fields as mmFilemapAdd. */
  mmFilemapDelete: 6,
  /** pagemap:mm_lru_insertion. a=pfn, b=lru (0 inactive_anon, 1 active_anon, 2 inactive_file, 3 active_file, 4 unevictable), c=flags ({@link LruFlag}). */
  mmLruInsertion: 7,
  /** pagemap:mm_lru_activate. a=pfn. */
  mmLruActivate: 8,
  /** sched:sched_process_fork. a=parent pid, b=child pid; comm is the parent's, the child's comm is in `strings` at index c. */
  schedProcessFork: 9,
  /** sched:sched_process_exec. a=pid, b=old_pid; the filename is in `strings` at index c. */
  schedProcessExec: 10,
  /** sched:sched_process_exit. a=pid. */
  schedProcessExit: 11,
  /** damon:damon_aggregated. a=region start, b=region end (exclusive), c=nr_accesses, d=age, e=target_id. */
  damonAggregated: 12,
  /** writeback:writeback_dirty_folio. a=ino, b=index, c=dev (major << 20 | minor). */
  writebackDirtyFolio: 13,
  /**
   * migrate:mm_migrate_pages, the end of one migrate_pages() call (mm/migrate.c).
   * a=succeeded, b=failed (base pages), c=reason ({@link MigrateReason}; -1 for a name this table lacks).
   */
  mmMigratePages: 14,
  /**
   * A loss marker, not an event: `CPU:n [LOST k EVENTS]`, `[k EVENTS DROPPED]`,
   * PERF_RECORD_LOST. a=events lost (NaN when the marker gives no count).
   */
  lost: 15,
  /**
   * Aggregated memory accesses to one virtual page in a time slice (valgrind
   * lackey): a=virtual page number (address >> 12), b=loads, c=stores
   * (a modify counts as both). The record's time is the end of the slice.
   */
  memAccess: 16,
  /**
   * migrate:mm_migrate_pages_start, the start of one migrate_pages() call: the task's
   * mm_page_alloc / mm_page_free up to its mm_migrate_pages are the migration's
   * destination and source pages. a=mode ({@link MigrateMode}), b=reason ({@link MigrateReason});
   * -1 for a name the tables lack.
   */
  mmMigratePagesStart: 17,
  /** First id of names the reader met that have no fixed id (fields not decoded, counted by name). */
  firstDynamic: 32,
} as const;
export type Tracepoint = (typeof Tracepoint)[keyof typeof Tracepoint];

/** Event names of the fixed ids, as the kernel names them (without group). */
export const tracepointNames: Readonly<Record<number, string>> = {
  1: 'page_fault_user',
  2: 'mm_page_alloc',
  3: 'mm_page_free',
  4: 'rss_stat',
  5: 'mm_filemap_add_to_page_cache',
  6: 'mm_filemap_delete_from_page_cache',
  7: 'mm_lru_insertion',
  8: 'mm_lru_activate',
  9: 'sched_process_fork',
  10: 'sched_process_exec',
  11: 'sched_process_exit',
  12: 'damon_aggregated',
  13: 'writeback_dirty_folio',
  14: 'mm_migrate_pages',
  16: 'mem_access',
  17: 'mm_migrate_pages_start',
};

/** GFP classes the normalizer needs, from the `gfp_flags=` string. */
export const GfpClass = {
  /** __GFP_MOVABLE or a composite containing it (GFP_HIGHUSER_MOVABLE): user or page-cache memory. */
  movable: 1,
  /** __GFP_HIGHMEM or GFP_HIGHUSER*. */
  highmem: 2,
  /** __GFP_ZERO: a zeroed page (anonymous first touch). */
  zero: 4,
  /** __GFP_WRITE: page cache for a write. */
  write: 8,
  /** __GFP_ACCOUNT or GFP_KERNEL_ACCOUNT: charged to a memcg. */
  account: 16,
  /** GFP_KERNEL / GFP_NOFS / GFP_NOIO / GFP_ATOMIC / GFP_NOWAIT without movable: kernel memory. */
  kernel: 32,
} as const;

/** mm_lru_insertion `flags=` characters (include/trace/events/pagemap.h). */
export const LruFlag = {
  /** 'M' PAGEMAP_MAPPED */
  mapped: 1,
  /** 'a' PAGEMAP_ANONYMOUS ('f' when file) */
  anonymous: 2,
  /** 's' PAGEMAP_SWAPCACHE */
  swapCache: 4,
  /** 'b' PAGEMAP_SWAPBACKED */
  swapBacked: 8,
  /** 'd' PAGEMAP_MAPPEDDISK */
  mappedDisk: 16,
  /** 'B' PAGEMAP_BUFFERS */
  buffers: 32,
} as const;

export interface RawBatch {
  length: number;
  /** {@link Tracepoint} id, or a dynamic id (see `eventNames`). */
  readonly event: Uint16Array;
  /** Nanoseconds since boot (the tracer's clock). */
  readonly time: Float64Array;
  readonly cpu: Int16Array;
  /** Thread id (the number after comm). */
  readonly tid: Int32Array;
  /** Thread-group id when the format shows it (perf script -F pid,tid), else -1. */
  readonly pid: Int32Array;
  /** Interned comm id, index into `strings`; -1 for loss markers (no task). */
  readonly comm: Int32Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly c: Float64Array;
  readonly d: Float64Array;
  readonly e: Float64Array;
  /** 1-based line (text) of each record, or 0 where lines do not apply; for locating anomalies. */
  readonly line: Float64Array;
  /** Interned strings (comms, exec filenames), shared across batches and growing. */
  readonly strings: string[];
  /** Event name of every id (fixed and dynamic), shared across batches and growing. */
  readonly eventNames: string[];
}

export function createRawBatch(capacity: number, strings: string[] = [], eventNames: string[] = []): RawBatch {
  if (eventNames.length === 0) {
    for (let id = 0; id < Tracepoint.firstDynamic; id++) eventNames.push(tracepointNames[id] ?? '');
  }
  return {
    length: 0,
    event: new Uint16Array(capacity),
    time: new Float64Array(capacity),
    cpu: new Int16Array(capacity),
    tid: new Int32Array(capacity),
    pid: new Int32Array(capacity),
    comm: new Int32Array(capacity),
    a: new Float64Array(capacity),
    b: new Float64Array(capacity),
    c: new Float64Array(capacity),
    d: new Float64Array(capacity),
    e: new Float64Array(capacity),
    line: new Float64Array(capacity),
    strings,
    eventNames,
  };
}

/** What a reader counted: events by name, loss, lines it skipped. */
export interface ReaderStats {
  /** The format it read, e.g. `tracefs`, `trace-cmd-report`, `perf-script`, `perf-script-F`. */
  format: string;
  /** Records per event name. */
  readonly eventCounts: Record<string, number>;
  /** Loss markers met, and the events they say were lost (markers without a count add 0). */
  lostMarkers: number;
  lostEvents: number;
  /** Header and comment lines (tracefs `#` lines, trace-cmd `cpus=`). */
  headerLines: number;
  /** Lines that were neither (counted, not an error: e.g. perf warnings in the text). */
  otherLines: number;
  /** From a tracefs header `# entries-in-buffer/entries-written: X/Y`: Y - X events the buffer overwrote. */
  bufferOverwritten: number;
  /** Records out of time order by more than the reorder window. */
  outOfOrder: number;
  bytesRead: number;
  lines: number;
  firstTimeNs: number;
  lastTimeNs: number;
}

export function createReaderStats(format: string): ReaderStats {
  return {
    format,
    eventCounts: {},
    lostMarkers: 0,
    lostEvents: 0,
    headerLines: 0,
    otherLines: 0,
    bufferOverwritten: 0,
    outOfOrder: 0,
    bytesRead: 0,
    lines: 0,
    firstTimeNs: Number.NaN,
    lastTimeNs: Number.NaN,
  };
}
