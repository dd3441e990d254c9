/**
 * Memory events: what the normalizer hands the engine, in columnar batches.
 *
 * One batch holds up to a few thousand events as parallel typed arrays; no
 * object is made per event. A batch is only valid during the call it is
 * passed to: consumers copy what they keep.
 */

/** Event kinds (the `kind` column). */
export const EventKind = {
  /** A page (folio of `nrPages` base pages) comes into use: alloc_pages(). */
  alloc: 1,
  /** The page is freed: free_pages(). */
  free: 2,
  /** The page is accessed; `flags` says read or write and where we saw it. */
  access: 3,
  /** The trace lost events here (`count` of them, 0 when the tracer did not say). */
  lost: 4,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Page kinds, the kernel's split of what a page holds. */
export const PageKind = {
  /** Anonymous memory of a process (heap, stack, private mappings). */
  anon: 0,
  /** Page cache: a page of a file, identified by (device, inode, index). */
  file: 1,
  /** Kernel memory: slab, page tables, buffers (identified by pfn only). */
  kernel: 2,
  /** Memory a device works on (device-private or device-coherent). */
  device: 3,
} as const;
export type PageKind = (typeof PageKind)[keyof typeof PageKind];
export const pageKindNames = ['anon', 'file', 'kernel', 'device'] as const;

/**
 * The `flags` column. Bits 0..1: page kind (alloc events). Bit 2: write.
 * Bits 3..5: access source. Bit 6: the page's identity could not be linked
 * (e.g. a fault on a page that was allocated before the trace began).
 */
export const EventFlag = {
  kindMask: 0b11,
  write: 1 << 2,
  sourceShift: 3,
  sourceMask: 0b111 << 3,
  unlinked: 1 << 6,
} as const;

/** Where an access was seen (flags bits 3..5). */
export const AccessSource = {
  /** A user page fault (exceptions:page_fault_user). */
  fault: 0,
  /** The page was referenced again: LRU activation (pagemap:mm_lru_activate). */
  activate: 1,
  /** The page was filled by I/O into the page cache (filemap:mm_filemap_add_to_page_cache). */
  ioFill: 2,
  /** A file page was dirtied by a write (writeback:writeback_dirty_folio). */
  dirty: 3,
  /** A sampled or aggregated access (DAMON regions, PEBS-like samples, lackey). */
  sample: 4,
  /** A device (GPU, accelerator) accessed the page. */
  device: 5,
} as const;
export type AccessSource = (typeof AccessSource)[keyof typeof AccessSource];
export const accessSourceNames = ['fault', 'activate', 'io-fill', 'dirty', 'sample', 'device'] as const;

/** Columnar batch of memory events, ordered by time. */
export interface EventBatch {
  /** Number of valid rows. */
  length: number;
  /** {@link EventKind} */
  readonly kind: Uint8Array;
  /** Nanoseconds since the start of the trace, non-decreasing. */
  readonly time: Float64Array;
  /** Dense page id, stable for the page's lifetime (alloc to free). */
  readonly page: Int32Array;
  /** Base (4 KiB) pages in the folio: 2^order. */
  readonly nrPages: Uint16Array;
  /** {@link EventFlag} bits. */
  readonly flags: Uint8Array;
  /** Process the event is attributed to (thread-group id when known, else thread id; -1 none). */
  readonly pid: Int32Array;
  /** How many accesses the row stands for (1 for a trace event; more for aggregated samples); lost: events lost. */
  readonly count: Uint32Array;
  /**
   * alloc: the node a memory policy binds the page to (mbind(MPOL_BIND) from a
   * workload overlay), -1 for none. access with source `device`: the node of the
   * device that accesses. -1 otherwise.
   */
  readonly node: Int8Array;
}

/** Allocate an empty batch with room for `capacity` rows. */
export function createEventBatch(capacity: number): EventBatch {
  return {
    length: 0,
    kind: new Uint8Array(capacity),
    time: new Float64Array(capacity),
    page: new Int32Array(capacity),
    nrPages: new Uint16Array(capacity),
    flags: new Uint8Array(capacity),
    pid: new Int32Array(capacity),
    count: new Uint32Array(capacity),
    node: new Int8Array(capacity).fill(-1),
  };
}

/** The page identities the normalizer knows; a policy may look them up (not in the hot path). */
export interface PageIdentity {
  readonly kind: PageKind;
  /** Thread-group (or thread) id of the owner, -1 when none. */
  readonly pid: number;
  /** Physical frame number in the captured machine, -1 when never seen. */
  readonly pfn: number;
  /** anon: virtual page number (address >> 12), -1 when unknown. */
  readonly vpn: number;
  /** file: device as `major:minor`, inode and page index; absent otherwise. */
  readonly file?: { readonly dev: string; readonly ino: number; readonly index: number };
}
