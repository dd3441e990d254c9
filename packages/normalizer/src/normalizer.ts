/**
 * Raw records -> memory events.
 *
 * The engine's page is a folio over its lifetime in the captured machine:
 * from `mm_page_alloc` to `mm_page_free`. The normalizer gives it a dense id
 * and links what the trace says about it:
 * - a user fault (`page_fault_user`) followed by the movable allocation it
 *   caused on the same thread links (address space, virtual page) to the pfn;
 * - `mm_filemap_add_to_page_cache` links the pfn to (dev, ino, index);
 * - `writeback_dirty_folio` (a write to a file page) and `mm_lru_activate`
 *   (the page referenced again) are accesses found through those links.
 * Accesses to pages allocated before the trace began get an implicit page,
 * flagged `unlinked`, and are counted.
 *
 * Threads share an address space; tracefs shows thread ids only, so threads
 * are joined to one address space when `rss_stat` (curr=1) shows the same
 * `mm_id` for both. `sched_process_exec` starts a new address space.
 *
 * The traced kernel's own page migrations (NUMA-balancing promotions, demotions
 * in reclaim, compaction) are not workload behaviour: a migrate_pages() call
 * (mm/migrate.c) shows on its task as `mm_migrate_pages_start`, then per folio
 * an `mm_page_alloc` of the destination and an `mm_page_free` of the source,
 * then `mm_migrate_pages`. Inside such a bracket the page keeps its id and moves
 * to the destination pfn; nothing is emitted.
 */

import {
  AccessSource,
  type AnomalyStat,
  type EventBatch,
  EventFlag,
  EventKind,
  type PageIdentity,
  PageKind,
  createEventBatch,
} from '@tierlab/memory-tier-api';
import { GfpClass, LruFlag, MigrateReason, type RawBatch, Tracepoint } from '@tierlab/trace-core';

export interface NormalizerOptions {
  /** Keep only these processes and their descendants (rebuilt from sched_process_fork). */
  readonly pids?: readonly number[];
  /** Keep only threads whose comm is one of these (and their descendants). */
  readonly comms?: readonly string[];
  /** Rows per emitted batch (default 4096). */
  readonly batchSize?: number;
  /**
   * How DAMON `damon_aggregated` regions are read: physical addresses (`paddr`,
   * the default: what a paddr kdamond records) or virtual addresses of the
   * targets named in `damonTargets` (target_id -> pid).
   */
  readonly damonAddress?: 'paddr' | 'vaddr';
  readonly damonTargets?: Readonly<Record<number, number>>;
  /**
   * Pages that DAMON regions or access samples touch but the trace never showed
   * allocated: `auto` (default) makes implicit pages for them only when the trace
   * has no page allocations at all (a DAMON-only or lackey capture), else ignores them (counted).
   */
  readonly implicitSamplePages?: 'auto' | 'always' | 'never';
  /** A workload overlay: memory policy bindings and device accesses added to the real trace. */
  readonly overlay?: ResolvedOverlay;
  /**
   * How a page-cache page is identified across the real kernel's reclaim:
   * `lifetime` (default): one page per pfn lifetime, so the replay follows the
   * kernel's evictions; `inode`: one page per (dev, ino, index) until it is
   * truncated, so evictions the kernel made in reclaim (mm_filemap_delete_from_page_cache
   * inside a reclaim window, or by kswapd) are left to the engine's reclaim model,
   * and the kernel's refaults become accesses to the same page. For checking the model
   * against the kernel (the fidelity lab).
   */
  readonly fileIdentity?: 'lifetime' | 'inode';
  /** `inode` mode: called for every eviction the real kernel made, with the reclaim window it was in (-1: kswapd). */
  readonly onRealEviction?: (page: number, timeNs: number, window: number) => void;
  /** `inode` mode: called for every refault the real kernel took (a page added again after a real eviction). */
  readonly onRealRefault?: (page: number, timeNs: number) => void;
  /** Called when a reclaim window of the real kernel begins and ends. */
  readonly onReclaimWindow?: (window: number, tid: number, beginNs: number, endNs: number) => void;
  /**
   * Called for every migration of a tracked page that the traced kernel made itself
   * (a migrate_pages() bracket): `reason` is its {@link MigrateReason}, `toPfn` -1 when
   * the kernel's destination is not in the trace (compaction). The page keeps its id.
   */
  readonly onKernelMigration?: (page: number, timeNs: number, reason: number, fromPfn: number, toPfn: number) => void;
}

/** An overlay with node names resolved to ids and addresses to page numbers. */
export interface ResolvedOverlay {
  /** mbind(MPOL_BIND): pages of `pid` in [startVpn, endVpn) go to `node`. */
  readonly bindings: readonly { readonly pid: number; readonly startVpn: number; readonly endVpn: number; readonly node: number }[];
  /** A device touches the live pages of `pid` in [startVpn, endVpn) at `atNs`, then every `everyNs`, `repeat` times. */
  readonly deviceAccesses: readonly {
    readonly pid: number;
    readonly startVpn: number;
    readonly endVpn: number;
    readonly atNs: number;
    readonly everyNs: number;
    readonly repeat: number;
    readonly write: boolean;
    readonly count: number;
    readonly node: number;
  }[];
}

export interface NormalizerStats {
  records: number;
  /** Records of threads outside --pid/--comm (dropped on purpose). */
  recordsFiltered: number;
  /** Records of events that carry no page event (rss_stat, vmscan, writeback totals...). */
  recordsInformational: number;
  allocs: number;
  allocsAnon: number;
  allocsFile: number;
  allocsKernel: number;
  /** Movable allocations never linked to a fault or a file (kept as anon, flagged). */
  allocsUnidentified: number;
  faults: number;
  /** Faults that allocated a page (linked to its pfn). */
  faultsLinkedAlloc: number;
  /** Faults on a page the trace had already linked. */
  faultsExisting: number;
  /** Faults on a page the trace never showed allocated (implicit page). */
  faultsUnlinked: number;
  /** Read faults on never-touched anonymous memory followed by a write fault on the same page: the zero page, then its copy (one page). */
  zeroPageReads: number;
  filemapAdds: number;
  /** Page-cache insertions whose pfn was allocated in the trace. */
  filemapAddsLinked: number;
  frees: number;
  /** Frees of pfns the trace never showed allocated (or filtered out). */
  freesUnknown: number;
  activations: number;
  activationsUnknown: number;
  dirtied: number;
  dirtiedUnknown: number;
  lostMarkers: number;
  lostEvents: number;
  /** Records whose time went backwards (clamped to the previous time). */
  timeReordered: number;
  /** Threads joined to another thread's address space by mm_id. */
  threadsJoined: number;
  /** Access samples (lackey) and DAMON regions read. */
  samples: number;
  damonRegions: number;
  /** DAMON regions with nr_accesses > 0, and the page accesses they became. */
  damonRegionsAccessed: number;
  damonPageAccesses: number;
  /** Pages of samples or regions that the trace never showed allocated: made implicit, or ignored. */
  samplePagesImplicit: number;
  samplePagesIgnored: number;
  /** Reclaim windows of the real kernel (mm_vmscan_*_reclaim_begin/end), and, in `inode` mode, its evictions and refaults. */
  reclaimWindows: number;
  realEvictions: number;
  /** Base pages of those evictions (a large folio is 2^order pages). */
  realEvictedPages: number;
  realRefaults: number;
  truncations: number;
  /** Overlay: pages an mbind binding applied to, and device accesses added. */
  overlayBoundPages: number;
  overlayDeviceAccesses: number;
  /**
   * The traced kernel's own migrations: migrate_pages() calls (mm_migrate_pages_start
   * .. mm_migrate_pages on one task), and the pages they moved, counted in base pages
   * as the kernel's nr_succeeded counts them. Relinked pages keep their id at the new
   * pfn; none of it is replayed (the policy under test places pages itself).
   */
  kernelMigrationCalls: number;
  /** Sum of mm_migrate_pages nr_succeeded, whatever the task. */
  kernelMigrationsReported: number;
  /** Relinked with reason numa_misplaced (promotions on NUMA hint faults), demotion (reclaim), any other. */
  kernelPromotionsRelinked: number;
  kernelDemotionsRelinked: number;
  kernelOtherMigrationsRelinked: number;
  /** Compaction: the destination comes from compaction's own free pages (no mm_page_alloc): the page lives on at an unknown pfn. */
  kernelMigrationsPfnUnknown: number;
  /** Sources the normalizer does not track (other processes' pages, pages from before the trace): paired and dropped. */
  kernelMigrationsUntracked: number;
  /** Destinations freed inside the call: migrations that failed (the source stays). */
  kernelMigrationsFailed: number;
  /** Destinations never paired with a source by the call's end (forgotten), and sources freed with no destination queued (freed). */
  kernelMigrationDestinationsUnpaired: number;
  kernelMigrationSourcesUnpaired: number;
  /** Pairs whose source and destination orders differ (relinked all the same). */
  kernelMigrationOrderMismatches: number;
  /** Events emitted to the engine. */
  eventsOut: number;
  /** Live base pages now, and at peak: the footprint capacities are resolved against. */
  livePages: number;
  peakLivePages: number;
  firstTimeNs: number;
  lastTimeNs: number;
}

const NO_PAGE = -1;

/**
 * One migrate_pages() call under way on a task: the destinations it allocated
 * and has not yet paired with a source, oldest first. 6.1 migrates one folio at
 * a time (allocate, move, free the source); 6.3+ batches (every allocation, then
 * the frees in the same order): pairing in order covers both.
 */
interface MigrationBracket {
  open: boolean;
  reason: number;
  destPfn: number[];
  destPages: number[];
  /** Index of the oldest unpaired destination. */
  head: number;
  /**
   * A promotion's one source: the page its hint fault hit, NO_PAGE when not known
   * (then any tracked page freed is a source), SOURCE_TAKEN once it has moved.
   */
  source: number;
}

const SOURCE_TAKEN = -2;

/** Per-thread pending state: a fault waiting for its allocation, an allocation waiting for its identity. */
interface ThreadState {
  faultVpn: number;
  faultWrite: boolean;
  faultTime: number;
  /** Page id of an allocation not yet emitted, or NO_PAGE. */
  pendingPage: number;
}

export class Normalizer {
  readonly stats: NormalizerStats = {
    records: 0,
    recordsFiltered: 0,
    recordsInformational: 0,
    allocs: 0,
    allocsAnon: 0,
    allocsFile: 0,
    allocsKernel: 0,
    allocsUnidentified: 0,
    faults: 0,
    faultsLinkedAlloc: 0,
    faultsExisting: 0,
    faultsUnlinked: 0,
    zeroPageReads: 0,
    filemapAdds: 0,
    filemapAddsLinked: 0,
    frees: 0,
    freesUnknown: 0,
    activations: 0,
    activationsUnknown: 0,
    dirtied: 0,
    dirtiedUnknown: 0,
    lostMarkers: 0,
    lostEvents: 0,
    timeReordered: 0,
    threadsJoined: 0,
    samples: 0,
    damonRegions: 0,
    damonRegionsAccessed: 0,
    damonPageAccesses: 0,
    samplePagesImplicit: 0,
    samplePagesIgnored: 0,
    reclaimWindows: 0,
    realEvictions: 0,
    realEvictedPages: 0,
    realRefaults: 0,
    truncations: 0,
    overlayBoundPages: 0,
    overlayDeviceAccesses: 0,
    kernelMigrationCalls: 0,
    kernelMigrationsReported: 0,
    kernelPromotionsRelinked: 0,
    kernelDemotionsRelinked: 0,
    kernelOtherMigrationsRelinked: 0,
    kernelMigrationsPfnUnknown: 0,
    kernelMigrationsUntracked: 0,
    kernelMigrationsFailed: 0,
    kernelMigrationDestinationsUnpaired: 0,
    kernelMigrationSourcesUnpaired: 0,
    kernelMigrationOrderMismatches: 0,
    eventsOut: 0,
    livePages: 0,
    peakLivePages: 0,
    firstTimeNs: Number.NaN,
    lastTimeNs: Number.NaN,
  };

  private readonly out: EventBatch;
  private readonly sink: (batch: EventBatch) => void;
  private t0 = Number.NaN;
  private lastTime = 0;

  // Page table (identity), indexed by dense page id; grows by doubling.
  private cap = 0;
  private kind = new Uint8Array(0);
  private nr = new Uint16Array(0);
  private owner = new Int32Array(0);
  private pfnOf = new Float64Array(0);
  private vpnOf = new Float64Array(0);
  private asidOfPage = new Int32Array(0);
  private fileKeyOf = new Float64Array(0);
  private fileIndexOf = new Float64Array(0);
  /** 1: allocated and emitted, 2: allocated, emission pending, 0: free. */
  private state = new Uint8Array(0);
  private pendingWrite = new Uint8Array(0);
  private allocTime = new Float64Array(0);
  /** Thread whose pending allocation the page is. */
  private pendingTid = new Int32Array(0);
  private nextId = 0;
  private freeIds: number[] = [];

  private readonly pfnMap = new Map<number, number>();
  private readonly vpnMaps = new Map<number, Map<number, number>>();
  private readonly fileMaps = new Map<number, Map<number, number>>();
  private readonly devIds = new Map<number, number>();
  private readonly devNames: number[] = [];

  // Processes.
  private readonly threads = new Map<number, ThreadState>();
  private readonly asidOfTid = new Map<number, number>();
  private readonly asidOwner: number[] = [];
  private readonly asidOfMm = new Map<number, number>();
  /** The mm_id each thread last showed (rss_stat curr=1): mm_id is a pointer hash, reused once the mm is freed. */
  private readonly mmOfTid = new Map<number, number>();
  /** Parent thread of each thread forked in the trace (sched_process_fork). */
  private readonly parentOf = new Map<number, number>();
  private readonly selected: Set<number> | null;
  private readonly damonAddress: 'paddr' | 'vaddr';
  private readonly damonTargets: Readonly<Record<number, number>>;
  private readonly implicitSamplePages: 'auto' | 'always' | 'never';
  private readonly overlay: ResolvedOverlay | null;
  private readonly inodeMode: boolean;
  private readonly options: NormalizerOptions;
  /** Dynamic event ids classified: 1 reclaim begin, 2 reclaim end, 0 other. */
  private dynamicClass = new Int8Array(0);
  private dynamicChecked = 0;
  /** Threads inside a reclaim window: tid -> [window index, begin time]. */
  private readonly reclaimOf = new Map<number, [number, number]>();
  /** pfns the real kernel evicted in `inode` mode: their mm_page_free is expected and ignored. */
  private readonly releasedPfns = new Set<number>();
  /** Lifetime mode: (file, index) keys the real kernel evicted, to count its refaults. */
  private readonly evictedKeys = new Map<number, Set<number>>();
  private kswapdComms = new Int8Array(0);
  /** migrate_pages() brackets by task (kept for reuse once closed), and how many are open. */
  private readonly brackets = new Map<number, MigrationBracket>();
  private openBrackets = 0;
  /** Device bursts not yet run: [time, access index, remaining], ordered by time. */
  private deviceQueue: { at: number; index: number; left: number }[] = [];
  private bound = new Int8Array(0);
  private readonly commFilter: Set<string> | null;
  private commMatchCache = new Int8Array(0);
  private commChecked = 0;

  constructor(options: NormalizerOptions, sink: (batch: EventBatch) => void) {
    this.out = createEventBatch(options.batchSize ?? 4096);
    this.sink = sink;
    const filtering = (options.pids?.length ?? 0) > 0 || (options.comms?.length ?? 0) > 0;
    this.selected = filtering ? new Set(options.pids ?? []) : null;
    this.commFilter = (options.comms?.length ?? 0) > 0 ? new Set(options.comms) : null;
    this.damonAddress = options.damonAddress ?? 'paddr';
    this.damonTargets = options.damonTargets ?? {};
    this.implicitSamplePages = options.implicitSamplePages ?? 'auto';
    this.overlay = options.overlay ?? null;
    this.inodeMode = options.fileIdentity === 'inode';
    this.options = options;
    if (this.overlay !== null) {
      this.deviceQueue = this.overlay.deviceAccesses
        .map((d, index) => ({ at: d.atNs, index, left: Math.max(1, d.repeat) }))
        .sort((x, y) => x.at - y.at || x.index - y.index);
    }
    this.grow(1024);
  }

  /** Identity of a live page id, or null. */
  identity(page: number): PageIdentity | null {
    if (page < 0 || page >= this.nextId || this.state[page] === 0) return null;
    const fileKey = this.fileKeyOf[page]!;
    const kind = this.kind[page]! as PageKind;
    const base = {
      kind,
      pid: this.owner[page]!,
      pfn: this.pfnOf[page]!,
      vpn: this.vpnOf[page]!,
    };
    if (fileKey < 0) return base;
    const devId = Math.floor(fileKey / 2 ** 32);
    const dev = this.devNames[devId] ?? 0;
    return {
      ...base,
      file: { dev: `${Math.floor(dev / 2 ** 20)}:${dev % 2 ** 20}`, ino: fileKey % 2 ** 32, index: this.fileIndexOf[page]! },
    };
  }

  /** Feed one raw batch; emits zero or more event batches to the sink. */
  push(raw: RawBatch): void {
    const n = raw.length;
    const stats = this.stats;
    const ev = raw.event;
    const tids = raw.tid;
    const times = raw.time;
    const A = raw.a;
    const B = raw.b;
    const C = raw.c;
    const D = raw.d;
    const E = raw.e;
    if (this.commFilter !== null && this.commChecked < raw.strings.length) this.refreshCommCache(raw);
    if (this.dynamicChecked < raw.eventNames.length) this.classifyDynamic(raw);
    for (let i = 0; i < n; i++) {
      stats.records++;
      const event = ev[i]!;
      const tid = tids[i]!;
      const pid = raw.pid[i]!;
      let t = times[i]!;
      if (Number.isNaN(this.t0)) {
        this.t0 = t;
        stats.firstTimeNs = t;
      }
      stats.lastTimeNs = t;
      t -= this.t0;
      if (t < this.lastTime) {
        stats.timeReordered++;
        t = this.lastTime;
      }
      if (this.deviceQueue.length > 0 && this.deviceQueue[0]!.at <= t) this.runDeviceBursts(t);
      this.lastTime = t;

      const isSelected = this.isSelected(raw, i, tid, pid);
      // Process tree and address spaces are tracked for every thread.
      if (event === Tracepoint.schedProcessFork) {
        const parent = A[i]!;
        const child = B[i]!;
        this.parentOf.set(child, parent);
        if (this.selected !== null && (this.selected.has(parent) || this.selected.has(tid))) this.selected.add(child);
        this.flushThread(tid, t);
        this.countInformational(isSelected);
        continue;
      }
      if (event === Tracepoint.schedProcessExec || event === Tracepoint.schedProcessExit) {
        this.flushThread(tid, t);
        this.forgetMm(tid);
        if (event === Tracepoint.schedProcessExec) {
          this.newAddressSpace(tid);
          if (this.commFilter !== null) this.checkComm(raw, i, tid);
        }
        this.countInformational(isSelected);
        continue;
      }
      if (event === Tracepoint.rssStat) {
        if (B[i] === 1) this.noteMm(tid, A[i]!);
        this.countInformational(isSelected);
        continue;
      }
      if (event === Tracepoint.lost) {
        stats.lostMarkers++;
        const lost = A[i]!;
        if (!Number.isNaN(lost)) stats.lostEvents += lost;
        this.emit(EventKind.lost, t, NO_PAGE, 0, 0, -1, Number.isNaN(lost) ? 0 : lost);
        continue;
      }

      if (event === Tracepoint.mmMigratePagesStart) {
        this.openBracket(tid, B[i]!, t, isSelected);
        this.countInformational(isSelected);
        continue;
      }
      if (event === Tracepoint.mmMigratePages) {
        stats.kernelMigrationsReported += A[i]!;
        this.closeBracket(tid);
        this.countInformational(isSelected);
        continue;
      }
      if (this.openBrackets > 0 && (event === Tracepoint.mmPageAlloc || event === Tracepoint.mmPageFree)) {
        const bracket = this.brackets.get(tid);
        if (bracket?.open === true && (event === Tracepoint.mmPageAlloc ? this.migrationDestination(bracket, A[i]!, B[i]!, C[i]!, t) : this.migrationFree(bracket, A[i]!, t))) {
          continue;
        }
      }

      switch (event) {
        case Tracepoint.pageFaultUser: {
          if (!isSelected) {
            stats.recordsFiltered++;
            break;
          }
          stats.faults++;
          const ts = this.thread(tid);
          const vpn = Math.floor(A[i]! / 4096);
          const write = (B[i]! & 2) !== 0;
          if (ts.faultVpn === vpn && !ts.faultWrite && write && ts.pendingPage === NO_PAGE && this.vpnMaps.get(this.asidOf(tid, pid))?.has(vpn) !== true) {
            // A read fault that allocated nothing, then a write fault on the same page: the read mapped
            // the shared zero page (do_anonymous_page()), the write copies it (wp_page_copy()). One page, the write's.
            stats.zeroPageReads++;
            ts.faultVpn = -1;
          }
          this.flushThreadState(ts, tid, pid, t);
          ts.faultVpn = vpn;
          ts.faultWrite = write;
          ts.faultTime = t;
          break;
        }
        case Tracepoint.mmPageAlloc: {
          const pfn = A[i]!;
          const order = B[i]!;
          const gfp = C[i]!;
          if (!isSelected) {
            stats.recordsFiltered++;
            break;
          }
          stats.allocs++;
          // A pfn still mapped means we missed its free (lost events): end that page first.
          const stale = this.pfnMap.get(pfn);
          if (stale !== undefined) this.freePage(stale, t);
          const nrPages = 2 ** order;
          const id = this.newPage(pfn, nrPages, t);
          this.owner[id] = this.processOf(tid, pid);
          if ((gfp & GfpClass.movable) === 0) {
            this.kind[id] = PageKind.kernel;
            stats.allocsKernel++;
            this.emitAlloc(id, t, 0);
            break;
          }
          const ts = this.thread(tid);
          if (ts.pendingPage !== NO_PAGE) this.resolvePending(ts.pendingPage, PageKind.anon, true, t);
          if (ts.faultVpn >= 0) {
            // The fault's page: link (address space, vpn) -> this page.
            const asid = this.asidOf(tid, pid);
            this.kind[id] = PageKind.anon;
            this.linkVpn(id, asid, ts.faultVpn);
            this.pendingWrite[id] = ts.faultWrite ? 1 : 0;
            ts.faultVpn = -1;
            stats.faultsLinkedAlloc++;
          } else {
            this.kind[id] = PageKind.anon;
            this.pendingWrite[id] = 0;
          }
          // Emission waits for the next event of this thread: a page-cache insertion makes it a file page.
          this.state[id] = 2;
          ts.pendingPage = id;
          this.pendingTid[id] = tid;
          break;
        }
        case Tracepoint.mmFilemapAdd: {
          const pfn = A[i]!;
          if (!isSelected) {
            // Still link a page we know (allocated by a selected thread).
            const id = this.pfnMap.get(pfn);
            if (id === undefined) {
              stats.recordsFiltered++;
              break;
            }
          }
          stats.filemapAdds++;
          const fileKey = this.fileKey(C[i]!, D[i]!);
          const index = E[i]!;
          if (this.inodeMode) {
            const existing = this.fileMaps.get(fileKey)?.get(index);
            if (existing !== undefined && this.state[existing] !== 0 && this.pfnOf[existing]! < 0) {
              // The real kernel evicted this page earlier and reads it again: the same page for the model.
              stats.realRefaults++;
              const ghost = this.pfnMap.get(pfn);
              if (ghost !== undefined && ghost !== existing) this.dropGhost(ghost, t);
              this.pfnMap.set(pfn, existing);
              this.pfnOf[existing] = pfn;
              if (this.options.onRealRefault) this.options.onRealRefault(existing, t);
              this.emitAccess(existing, t, AccessSource.ioFill, true, 0);
              break;
            }
          }
          if (!this.inodeMode && this.evictedKeys.get(fileKey)?.delete(index) === true) stats.realRefaults++;
          let id = this.pfnMap.get(pfn);
          if (id !== undefined) {
            stats.filemapAddsLinked++;
            this.linkFile(id, fileKey, index);
            if (this.state[id] === 2) {
              const ts = this.threads.get(tid);
              const fromFault = this.vpnOf[id]! >= 0;
              if (ts !== undefined && ts.pendingPage === id) ts.pendingPage = NO_PAGE;
              this.resolvePending(id, PageKind.file, false, t);
              if (fromFault) this.emitAccess(id, t, AccessSource.fault, this.pendingWrite[id] === 1, 0);
            } else {
              this.kind[id] = PageKind.file;
            }
            this.emitAccess(id, t, AccessSource.ioFill, true, 0);
          } else {
            // Allocated before the trace (or while events were lost): an implicit page.
            id = this.newPage(pfn, 2 ** B[i]!, t);
            this.kind[id] = PageKind.file;
            this.owner[id] = this.processOf(tid, pid);
            this.linkFile(id, fileKey, index);
            this.emitAlloc(id, t, EventFlag.unlinked);
            this.emitAccess(id, t, AccessSource.ioFill, true, EventFlag.unlinked);
          }
          break;
        }
        case Tracepoint.mmFilemapDelete: {
          const id = this.pfnMap.get(A[i]!);
          const window = this.reclaimWindowOf(raw, i, tid);
          if (window !== null && id !== undefined) {
            // Reclaim took it (not a truncation).
            stats.realEvictions++;
            stats.realEvictedPages += 2 ** B[i]!;
            if (!this.inodeMode && this.fileKeyOf[id]! >= 0) {
              const key = this.fileKeyOf[id]!;
              let set = this.evictedKeys.get(key);
              if (set === undefined) {
                set = new Set();
                this.evictedKeys.set(key, set);
              }
              set.add(this.fileIndexOf[id]!);
            }
            if (this.inodeMode) {
              this.pfnMap.delete(A[i]!);
              this.pfnOf[id] = -1;
              this.releasedPfns.add(A[i]!);
              if (this.options.onRealEviction) this.options.onRealEviction(id, t, window);
              this.countInformational(true);
              break;
            }
          } else if (id !== undefined) {
            stats.truncations++;
          }
          if (id !== undefined) this.unlinkFile(id);
          this.countInformational(isSelected || id !== undefined);
          break;
        }
        case Tracepoint.mmPageFree: {
          const pfn = A[i]!;
          if (this.releasedPfns.delete(pfn)) {
            this.countInformational(true);
            break;
          }
          const id = this.pfnMap.get(pfn);
          if (id === undefined) {
            if (isSelected) stats.freesUnknown++;
            else stats.recordsFiltered++;
            break;
          }
          stats.frees++;
          if (isSelected) this.flushThread(tid, t);
          this.freePage(id, t);
          break;
        }
        case Tracepoint.mmLruActivate: {
          const id = this.pfnMap.get(A[i]!);
          if (id === undefined) {
            if (isSelected) stats.activationsUnknown++;
            else stats.recordsFiltered++;
            break;
          }
          stats.activations++;
          if (this.state[id] === 2) this.resolvePending(id, this.kind[id]! as PageKind, false, t);
          this.emitAccess(id, t, AccessSource.activate, false, 0);
          break;
        }
        case Tracepoint.mmLruInsertion: {
          // Tells anon from file for a page whose identity is still pending.
          const id = this.pfnMap.get(A[i]!);
          if (id !== undefined && this.state[id] === 2) {
            const anon = (C[i]! & LruFlag.anonymous) !== 0;
            this.clearPendingOwner(id);
            this.resolvePending(id, anon ? PageKind.anon : PageKind.file, false, t);
          }
          this.countInformational(isSelected || id !== undefined);
          break;
        }
        case Tracepoint.writebackDirtyFolio: {
          const map = this.fileMaps.get(this.fileKey(C[i]!, A[i]!));
          const id = map?.get(B[i]!);
          if (id === undefined) {
            if (isSelected) stats.dirtiedUnknown++;
            else stats.recordsFiltered++;
            break;
          }
          stats.dirtied++;
          if (this.state[id] === 2) {
            this.clearPendingOwner(id);
            this.resolvePending(id, PageKind.file, false, t);
          }
          this.emitAccess(id, t, AccessSource.dirty, true, 0);
          break;
        }
        case Tracepoint.memAccess: {
          if (!isSelected) {
            stats.recordsFiltered++;
            break;
          }
          stats.samples++;
          const asid = this.asidOf(tid, pid);
          const id = this.vpnMaps.get(asid)?.get(A[i]!) ?? this.implicitVirtualPage(asid, tid, A[i]!, t);
          if (id === undefined) break;
          if (B[i]! > 0) this.emitAccess(id, t, AccessSource.sample, false, 0, B[i]!);
          if (C[i]! > 0) this.emitAccess(id, t, AccessSource.sample, true, 0, C[i]!);
          break;
        }
        case Tracepoint.damonAggregated: {
          // kdamond works for no process of the workload: its records are kept whatever the filter.
          stats.damonRegions++;
          const nrAccesses = C[i]!;
          if (nrAccesses > 0) this.damonRegion(A[i]!, B[i]!, nrAccesses, E[i]!, t);
          break;
        }
        default:
          if (event >= Tracepoint.firstDynamic) {
            const cls = this.dynamicClass[event]!;
            if (cls === 1) {
              this.reclaimOf.set(tid, [stats.reclaimWindows++, t]);
            } else if (cls === 2) {
              const w = this.reclaimOf.get(tid);
              if (w !== undefined) {
                this.reclaimOf.delete(tid);
                if (this.options.onReclaimWindow) this.options.onReclaimWindow(w[0], tid, w[1], t);
              }
            }
          }
          this.countInformational(isSelected);
          // Any other event of a thread ends its pending fault and allocation.
          if (isSelected) this.flushThread(tid, t);
      }
    }
  }

  /** End of trace: resolve everything pending and emit the last batch. */
  finish(): void {
    const t = this.lastTime;
    for (const [tid, ts] of this.threads) this.flushThreadState(ts, tid, -1, t);
    for (const tid of this.brackets.keys()) this.closeBracket(tid);
    this.flushOut();
  }

  // ---- the traced kernel's own migrations ----

  /**
   * mm_migrate_pages_start on `tid`. A promotion (numa_misplaced) is made by
   * migrate_misplaced_page() from the NUMA hint fault the thread has pending
   * (do_numa_page): that fault hit a mapped page, so it is flushed now as an
   * access to that page and cannot take the destination. Other reasons leave the
   * thread alone (a fault pending through direct reclaim still waits for its allocation).
   */
  private openBracket(tid: number, reason: number, t: number, isSelected: boolean): void {
    let bracket = this.brackets.get(tid);
    if (bracket === undefined) {
      bracket = { open: false, reason: -1, destPfn: [], destPages: [], head: 0, source: NO_PAGE };
      this.brackets.set(tid, bracket);
    }
    // A start without the previous call's end (lost events): end that one first.
    if (bracket.open) this.closeBracket(tid);
    bracket.source = NO_PAGE;
    if (isSelected && reason === MigrateReason.numaMisplaced) {
      // migrate_misplaced_page() moves the page do_numa_page() found at the fault address, no other.
      const ts = this.threads.get(tid);
      const page = ts === undefined || ts.faultVpn < 0 ? undefined : this.vpnMaps.get(this.asidOf(tid, -1))?.get(ts.faultVpn);
      if (page !== undefined && this.state[page] !== 0 && this.pfnOf[page]! >= 0) bracket.source = page;
      this.flushThread(tid, t);
    }
    bracket.open = true;
    bracket.reason = reason;
    bracket.destPfn.length = 0;
    bracket.destPages.length = 0;
    bracket.head = 0;
    this.openBrackets++;
  }

  /** mm_migrate_pages on `tid`: the call is over; destinations it never paired are forgotten. */
  private closeBracket(tid: number): void {
    const bracket = this.brackets.get(tid);
    if (bracket === undefined || !bracket.open) return;
    for (let k = bracket.head; k < bracket.destPages.length; k++) this.stats.kernelMigrationDestinationsUnpaired += bracket.destPages[k]!;
    bracket.open = false;
    this.openBrackets--;
    this.stats.kernelMigrationCalls++;
  }

  /**
   * mm_page_alloc inside a bracket: a movable allocation is the destination of
   * the next source (queued; true). Compaction takes its destinations from the
   * free pages it isolated (compaction_alloc(), no mm_page_alloc), so its brackets
   * queue nothing; nor is a kernel allocation (an interrupt's) a destination.
   */
  private migrationDestination(bracket: MigrationBracket, pfn: number, order: number, gfp: number, t: number): boolean {
    if (bracket.reason === MigrateReason.compaction || (gfp & GfpClass.movable) === 0) return false;
    // A pfn still mapped means we missed its free (lost events): end that page first.
    const stale = this.pfnMap.get(pfn);
    if (stale !== undefined) this.freePage(stale, t);
    bracket.destPfn.push(pfn);
    bracket.destPages.push(2 ** order);
    return true;
  }

  /**
   * mm_page_free inside a bracket; true when it is the migration's and handled:
   * - a queued destination: the migration failed and the kernel freed the new page;
   * - a tracked page's pfn: the source; the page moves to the oldest queued destination
   *   (compaction: to an unknown pfn) and lives on;
   * - an untracked pfn with a destination queued: another process's page moved (paired, dropped).
   * A tracked source with no destination queued is freed as outside a bracket (counted).
   * In a promotion whose page is known, only that page's free is the source: any other
   * free is not the migration's (it is handled as outside a bracket).
   */
  private migrationFree(bracket: MigrationBracket, pfn: number, t: number): boolean {
    const stats = this.stats;
    const destPfn = bracket.destPfn;
    for (let k = bracket.head; k < destPfn.length; k++) {
      if (destPfn[k] !== pfn) continue;
      stats.kernelMigrationsFailed += bracket.destPages[k]!;
      destPfn.splice(k, 1);
      bracket.destPages.splice(k, 1);
      return true;
    }
    // inode mode: a page the real kernel evicted is freed as expected.
    if (this.releasedPfns.has(pfn)) return false;
    const queued = bracket.head < destPfn.length;
    const id = this.pfnMap.get(pfn);
    if (bracket.source !== NO_PAGE) {
      if (id === undefined || id !== bracket.source) return false;
      bracket.source = SOURCE_TAKEN;
    }
    if (id === undefined) {
      if (!queued) return false;
      stats.kernelMigrationsUntracked += bracket.destPages[bracket.head]!;
      bracket.head++;
      return true;
    }
    // Kernel memory is not on an LRU list: these calls do not move it.
    if (this.kind[id] === PageKind.kernel) return false;
    const reason = bracket.reason;
    const nrPages = this.nr[id]!;
    let toPfn: number;
    if (reason === MigrateReason.compaction) {
      toPfn = -1;
      stats.kernelMigrationsPfnUnknown += nrPages;
    } else if (queued) {
      toPfn = destPfn[bracket.head]!;
      if (bracket.destPages[bracket.head] !== nrPages) stats.kernelMigrationOrderMismatches++;
      bracket.head++;
      if (reason === MigrateReason.numaMisplaced) stats.kernelPromotionsRelinked += nrPages;
      else if (reason === MigrateReason.demotion) stats.kernelDemotionsRelinked += nrPages;
      else stats.kernelOtherMigrationsRelinked += nrPages;
    } else {
      stats.kernelMigrationSourcesUnpaired += nrPages;
      return false;
    }
    this.pfnMap.delete(pfn);
    this.pfnOf[id] = toPfn;
    if (toPfn >= 0) this.pfnMap.set(toPfn, id);
    if (this.options.onKernelMigration) this.options.onKernelMigration(id, t, reason, pfn, toPfn);
    return true;
  }

  /** Counted anomalies, for the result. */
  anomalies(): AnomalyStat[] {
    const s = this.stats;
    const list: AnomalyStat[] = [];
    const add = (name: string, severity: AnomalyStat['severity'], value: number, description: string) => {
      if (value > 0) list.push({ name, severity, value, description });
    };
    add('lost_events', 'warning', s.lostEvents, 'events the tracer reported lost (ring buffer overrun); pages they touched are missing');
    add('lost_markers', 'warning', s.lostMarkers, 'loss markers in the trace');
    add('zero_page_reads', 'info', s.zeroPageReads, 'read faults that mapped the zero page before the write fault that copied it: one page, the write\'s');
    add('faults_unlinked', 'info', s.faultsUnlinked, 'faults on pages never seen allocated (allocated before the trace, file mappings, lost events): replayed as implicit pages');
    add('allocs_unidentified', 'info', s.allocsUnidentified, 'movable allocations linked to no fault and no file: replayed as anon');
    add('frees_unknown', 'info', s.freesUnknown, 'frees of pfns never seen allocated');
    add('activations_unknown', 'info', s.activationsUnknown, 'LRU activations of pfns never seen allocated');
    add('dirtied_unknown', 'info', s.dirtiedUnknown, 'file pages dirtied that the trace never showed in the page cache');
    add('time_reordered', 'info', s.timeReordered, 'records whose time went backwards (clamped)');
    add('sample_pages_implicit', 'info', s.samplePagesImplicit, 'pages known only from access samples or DAMON regions (no allocation in the trace): replayed as implicit pages');
    add('sample_pages_ignored', 'info', s.samplePagesIgnored, 'pages of access samples or DAMON regions that the trace never showed allocated, in a trace that has allocations: not replayed');
    const relinked = s.kernelPromotionsRelinked + s.kernelDemotionsRelinked + s.kernelOtherMigrationsRelinked;
    add(
      'kernel_migrations_relinked',
      'info',
      relinked,
      `the trace's own migrations (base pages): ${s.kernelPromotionsRelinked} promotions (numa_misplaced), ${s.kernelDemotionsRelinked} demotions, ${s.kernelOtherMigrationsRelinked} other relinked to their new pfn, not replayed (the kernel reported ${s.kernelMigrationsReported} in ${s.kernelMigrationCalls} calls)`,
    );
    add('kernel_migrations_pfn_unknown', 'info', s.kernelMigrationsPfnUnknown, "pages the trace's compaction moved to a pfn it does not show: kept alive, their later free cannot be matched");
    add('kernel_migrations_untracked', 'info', s.kernelMigrationsUntracked, "the trace's own migrations of pages not followed (other processes, allocated before the trace)");
    add('kernel_migrations_failed', 'info', s.kernelMigrationsFailed, "the trace's own migrations that failed (destination freed, the page stayed)");
    add('kernel_migration_destinations_unpaired', 'warning', s.kernelMigrationDestinationsUnpaired, 'destinations of the trace\'s own migrations that no source free matched by the end of the call: forgotten');
    add('kernel_migration_sources_unpaired', 'warning', s.kernelMigrationSourcesUnpaired, 'pages freed inside the trace\'s own migrations with no destination allocated: freed as the trace shows');
    add('kernel_migration_order_mismatches', 'warning', s.kernelMigrationOrderMismatches, 'migration sources and destinations paired in order whose sizes differ: relinked anyway');
    return list;
  }

  // ---- emission ----

  private emit(kind: number, t: number, page: number, nrPages: number, flags: number, pid: number, count: number, node = -1): void {
    const out = this.out;
    const k = out.length;
    out.node[k] = node;
    out.kind[k] = kind;
    out.time[k] = t;
    out.page[k] = page;
    out.nrPages[k] = nrPages;
    out.flags[k] = flags;
    out.pid[k] = pid;
    out.count[k] = count;
    out.length = k + 1;
    this.stats.eventsOut++;
    if (out.length === out.kind.length) this.flushOut();
  }

  private flushOut(): void {
    if (this.out.length === 0) return;
    this.sink(this.out);
    this.out.length = 0;
  }

  private emitAlloc(id: number, t: number, extraFlags: number): void {
    const s = this.stats;
    s.livePages += this.nr[id]!;
    if (s.livePages > s.peakLivePages) s.peakLivePages = s.livePages;
    this.state[id] = 1;
    const kind = this.kind[id]!;
    if (kind === PageKind.file) s.allocsFile++;
    else if (kind === PageKind.anon) s.allocsAnon++;
    const write = this.pendingWrite[id] === 1 ? EventFlag.write : 0;
    this.emit(EventKind.alloc, Math.max(t, this.allocTime[id]!), id, this.nr[id]!, kind | write | extraFlags, this.owner[id]!, 1, this.bound[id]!);
  }

  private emitAccess(id: number, t: number, source: number, write: boolean, extraFlags: number, count = 1): void {
    if (this.state[id] === 2) {
      // Touched (by another thread, or through a link) before its own thread moved on: emit the allocation first.
      this.clearPendingOwner(id);
      this.resolvePending(id, this.kind[id]! as PageKind, true, t);
    }
    const flags = this.kind[id]! | (write ? EventFlag.write : 0) | (source << EventFlag.sourceShift) | extraFlags;
    this.emit(EventKind.access, t, id, this.nr[id]!, flags, this.owner[id]!, count);
  }

  /** Emit a pending allocation with its kind now known (and the fault access that caused it, if any). */
  private resolvePending(id: number, kind: PageKind, unidentified: boolean, t: number): void {
    if (this.state[id] !== 2) return;
    const fromFault = this.vpnOf[id]! >= 0;
    this.kind[id] = kind;
    if (unidentified && !fromFault) this.stats.allocsUnidentified++;
    this.emitAlloc(id, t, unidentified && !fromFault ? EventFlag.unlinked : 0);
    if (fromFault && kind === PageKind.anon) this.emitAccess(id, t, AccessSource.fault, this.pendingWrite[id] === 1, 0);
  }

  /** The thread whose allocation `id` is pending no longer waits for it. */
  private clearPendingOwner(id: number): void {
    const ts = this.threads.get(this.pendingTid[id]!);
    if (ts !== undefined && ts.pendingPage === id) ts.pendingPage = NO_PAGE;
  }

  private flushThread(tid: number, t: number): void {
    const ts = this.threads.get(tid);
    if (ts !== undefined) this.flushThreadState(ts, tid, -1, t);
  }

  /** A thread moves on: its pending allocation is anon, its pending fault hit an existing page. */
  private flushThreadState(ts: ThreadState, tid: number, pid: number, t: number): void {
    if (ts.pendingPage !== NO_PAGE) {
      const id = ts.pendingPage;
      ts.pendingPage = NO_PAGE;
      this.resolvePending(id, PageKind.anon, true, t);
    }
    if (ts.faultVpn < 0) return;
    const vpn = ts.faultVpn;
    ts.faultVpn = -1;
    const asid = this.asidOf(tid, pid);
    const map = this.vpnMaps.get(asid);
    const existing = map?.get(vpn);
    if (existing !== undefined) {
      this.stats.faultsExisting++;
      this.emitAccess(existing, Math.max(t, ts.faultTime), AccessSource.fault, ts.faultWrite, 0);
      return;
    }
    // A page the trace never showed allocated: give it an implicit page.
    this.stats.faultsUnlinked++;
    const id = this.newPage(-1, 1, ts.faultTime);
    this.kind[id] = PageKind.anon;
    this.owner[id] = this.asidOwner[asid] ?? tid;
    this.linkVpn(id, asid, vpn);
    this.pendingWrite[id] = ts.faultWrite ? 1 : 0;
    this.emitAlloc(id, t, EventFlag.unlinked);
    this.emitAccess(id, t, AccessSource.fault, ts.faultWrite, EventFlag.unlinked);
  }

  // ---- the real kernel's reclaim (fidelity) ----

  /** The reclaim window the record's thread is in, -1 for kswapd, null when not reclaiming. */
  private reclaimWindowOf(raw: RawBatch, i: number, tid: number): number | null {
    const w = this.reclaimOf.get(tid);
    if (w !== undefined) return w[0];
    const comm = raw.comm[i]!;
    if (comm >= 0) {
      if (comm >= this.kswapdComms.length) {
        const next = new Int8Array(Math.max(raw.strings.length, 16) * 2);
        next.set(this.kswapdComms);
        for (let c = this.kswapdComms.length; c < next.length; c++) next[c] = -1;
        this.kswapdComms = next;
      }
      if (this.kswapdComms[comm] === -1) this.kswapdComms[comm] = (raw.strings[comm] ?? '').startsWith('kswapd') ? 1 : 0;
      if (this.kswapdComms[comm] === 1) return -1;
    }
    return null;
  }

  private classifyDynamic(raw: RawBatch): void {
    if (this.dynamicClass.length < raw.eventNames.length) {
      const next = new Int8Array(raw.eventNames.length * 2);
      next.set(this.dynamicClass);
      this.dynamicClass = next;
    }
    for (let id = this.dynamicChecked; id < raw.eventNames.length; id++) {
      const name = raw.eventNames[id] ?? '';
      this.dynamicClass[id] = /^mm_vmscan_(memcg_|direct_|memcg_softlimit_|node_)reclaim_begin$/.test(name)
        ? 1
        : /^mm_vmscan_(memcg_|direct_|memcg_softlimit_|node_)reclaim_end$/.test(name)
          ? 2
          : 0;
    }
    this.dynamicChecked = raw.eventNames.length;
  }

  /** An allocation the kernel made for a refault of a page the model still holds: it is not a new page. */
  private dropGhost(id: number, t: number): void {
    if (this.state[id] === 2) {
      this.clearPendingOwner(id);
      const pfn = this.pfnOf[id]!;
      if (pfn >= 0 && this.pfnMap.get(pfn) === id) this.pfnMap.delete(pfn);
      this.state[id] = 0;
      this.freeIds.push(id);
      this.stats.allocs--;
      return;
    }
    this.freePage(id, t);
  }

  // ---- samples and DAMON regions ----

  private implicitAllowed(): boolean {
    if (this.implicitSamplePages === 'always') return true;
    if (this.implicitSamplePages === 'never') return false;
    return this.stats.allocs === 0;
  }

  /** A sampled virtual page the trace never showed allocated. */
  private implicitVirtualPage(asid: number, tid: number, vpn: number, t: number): number | undefined {
    if (!this.implicitAllowed()) {
      this.stats.samplePagesIgnored++;
      return undefined;
    }
    this.stats.samplePagesImplicit++;
    const id = this.newPage(-1, 1, t);
    this.kind[id] = PageKind.anon;
    this.owner[id] = this.asidOwner[asid] ?? tid;
    this.linkVpn(id, asid, vpn);
    this.emitAlloc(id, t, EventFlag.unlinked);
    return id;
  }

  /**
   * damon_aggregated: `nrAccesses` of the aggregation interval's samplings
   * found the region accessed; every page of the region gets that many
   * accesses (source: sample). paddr regions are pfn ranges; vaddr regions
   * are virtual ranges of the target's address space.
   */
  private damonRegion(start: number, end: number, nrAccesses: number, target: number, t: number): void {
    const stats = this.stats;
    stats.damonRegionsAccessed++;
    const first = Math.ceil(start / 4096);
    const last = Math.floor((end - 1) / 4096);
    if (this.damonAddress === 'vaddr') {
      const pid = this.damonTargets[target];
      if (pid === undefined) {
        stats.samplePagesIgnored += last - first + 1;
        return;
      }
      const asid = this.asidOf(pid, -1);
      const map = this.vpnMaps.get(asid);
      for (let vpn = first; vpn <= last; vpn++) {
        const id = map?.get(vpn) ?? this.implicitVirtualPage(asid, pid, vpn, t);
        if (id === undefined) continue;
        stats.damonPageAccesses++;
        this.emitAccess(id, t, AccessSource.sample, false, 0, nrAccesses);
      }
      return;
    }
    const implicit = this.implicitAllowed();
    for (let pfn = first; pfn <= last; pfn++) {
      let id = this.pfnMap.get(pfn);
      if (id === undefined) {
        if (!implicit) {
          stats.samplePagesIgnored++;
          continue;
        }
        stats.samplePagesImplicit++;
        id = this.newPage(pfn, 1, t);
        this.kind[id] = PageKind.anon;
        this.owner[id] = -1;
        this.emitAlloc(id, t, EventFlag.unlinked);
      }
      stats.damonPageAccesses++;
      this.emitAccess(id, t, AccessSource.sample, false, 0, nrAccesses);
    }
  }

  // ---- pages ----

  private newPage(pfn: number, nrPages: number, t: number): number {
    let id: number;
    if (this.freeIds.length > 0) id = this.freeIds.pop()!;
    else {
      id = this.nextId++;
      if (id >= this.cap) this.grow(this.cap * 2);
    }
    this.state[id] = 2;
    this.nr[id] = nrPages;
    this.pfnOf[id] = pfn;
    this.vpnOf[id] = -1;
    this.asidOfPage[id] = -1;
    this.fileKeyOf[id] = -1;
    this.fileIndexOf[id] = -1;
    this.pendingWrite[id] = 0;
    this.allocTime[id] = t;
    this.owner[id] = -1;
    this.bound[id] = -1;
    if (pfn >= 0) this.pfnMap.set(pfn, id);
    return id;
  }

  private freePage(id: number, t: number): void {
    if (this.state[id] === 2) {
      this.clearPendingOwner(id);
      this.resolvePending(id, this.kind[id]! as PageKind, true, t);
    }
    const pfn = this.pfnOf[id]!;
    if (pfn >= 0 && this.pfnMap.get(pfn) === id) this.pfnMap.delete(pfn);
    const asid = this.asidOfPage[id]!;
    if (asid >= 0) {
      const map = this.vpnMaps.get(asid);
      if (map !== undefined && map.get(this.vpnOf[id]!) === id) map.delete(this.vpnOf[id]!);
    }
    this.unlinkFile(id);
    this.stats.livePages -= this.nr[id]!;
    this.emit(EventKind.free, t, id, this.nr[id]!, this.kind[id]!, this.owner[id]!, 1);
    this.state[id] = 0;
    this.freeIds.push(id);
  }

  private linkVpn(id: number, asid: number, vpn: number): void {
    let map = this.vpnMaps.get(asid);
    if (map === undefined) {
      map = new Map();
      this.vpnMaps.set(asid, map);
    }
    const old = map.get(vpn);
    if (old !== undefined && old !== id && this.asidOfPage[old] === asid) this.asidOfPage[old] = -1;
    map.set(vpn, id);
    this.vpnOf[id] = vpn;
    this.asidOfPage[id] = asid;
    if (this.overlay !== null && this.overlay.bindings.length > 0) {
      const pid = this.asidOwner[asid] ?? -1;
      for (const b of this.overlay.bindings) {
        if (b.pid === pid && vpn >= b.startVpn && vpn < b.endVpn) {
          this.bound[id] = b.node;
          this.stats.overlayBoundPages++;
          break;
        }
      }
    }
  }

  /** Overlay device work due by `t`: every live page of the range, as device accesses. */
  private runDeviceBursts(t: number): void {
    const overlay = this.overlay!;
    while (this.deviceQueue.length > 0 && this.deviceQueue[0]!.at <= t) {
      const burst = this.deviceQueue.shift()!;
      const d = overlay.deviceAccesses[burst.index]!;
      const asid = this.asidOfTid.get(d.pid);
      const map = asid === undefined ? undefined : this.vpnMaps.get(asid);
      if (map !== undefined) {
        const at = Math.max(burst.at, this.lastTime);
        const vpns = [...map.keys()].filter((v) => v >= d.startVpn && v < d.endVpn).sort((x, y) => x - y);
        for (const vpn of vpns) {
          const id = map.get(vpn)!;
          if (this.state[id] === 0) continue;
          if (this.state[id] === 2) {
            this.clearPendingOwner(id);
            this.resolvePending(id, this.kind[id]! as PageKind, true, at);
          }
          const flags = this.kind[id]! | (d.write ? EventFlag.write : 0) | (AccessSource.device << EventFlag.sourceShift);
          this.emit(EventKind.access, at, id, this.nr[id]!, flags, this.owner[id]!, d.count, d.node);
          this.stats.overlayDeviceAccesses += d.count;
        }
      }
      if (burst.left > 1 && d.everyNs > 0) {
        const next = { at: burst.at + d.everyNs, index: burst.index, left: burst.left - 1 };
        let i = 0;
        while (i < this.deviceQueue.length && (this.deviceQueue[i]!.at < next.at || (this.deviceQueue[i]!.at === next.at && this.deviceQueue[i]!.index < next.index))) i++;
        this.deviceQueue.splice(i, 0, next);
      }
    }
  }

  private fileKey(dev: number, ino: number): number {
    let devId = this.devIds.get(dev);
    if (devId === undefined) {
      devId = this.devNames.length;
      this.devIds.set(dev, devId);
      this.devNames.push(dev);
    }
    return devId * 2 ** 32 + ino;
  }

  private linkFile(id: number, fileKey: number, index: number): void {
    let map = this.fileMaps.get(fileKey);
    if (map === undefined) {
      map = new Map();
      this.fileMaps.set(fileKey, map);
    }
    map.set(index, id);
    this.fileKeyOf[id] = fileKey;
    this.fileIndexOf[id] = index;
  }

  private unlinkFile(id: number): void {
    const key = this.fileKeyOf[id]!;
    if (key < 0) return;
    const map = this.fileMaps.get(key);
    const index = this.fileIndexOf[id]!;
    if (map !== undefined && map.get(index) === id) {
      map.delete(index);
      if (map.size === 0) this.fileMaps.delete(key);
    }
  }

  private grow(capacity: number): void {
    const copy = <T extends Int8Array | Uint8Array | Uint16Array | Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old as never);
      return next;
    };
    this.kind = copy(this.kind, (n) => new Uint8Array(n));
    this.nr = copy(this.nr, (n) => new Uint16Array(n));
    this.owner = copy(this.owner, (n) => new Int32Array(n));
    this.pfnOf = copy(this.pfnOf, (n) => new Float64Array(n));
    this.vpnOf = copy(this.vpnOf, (n) => new Float64Array(n));
    this.asidOfPage = copy(this.asidOfPage, (n) => new Int32Array(n));
    this.fileKeyOf = copy(this.fileKeyOf, (n) => new Float64Array(n));
    this.fileIndexOf = copy(this.fileIndexOf, (n) => new Float64Array(n));
    this.state = copy(this.state, (n) => new Uint8Array(n));
    this.pendingWrite = copy(this.pendingWrite, (n) => new Uint8Array(n));
    this.allocTime = copy(this.allocTime, (n) => new Float64Array(n));
    this.bound = copy(this.bound, (n) => new Int8Array(n));
    this.pendingTid = copy(this.pendingTid, (n) => new Int32Array(n));
    this.cap = capacity;
  }

  // ---- threads, processes, address spaces ----

  private thread(tid: number): ThreadState {
    let ts = this.threads.get(tid);
    if (ts === undefined) {
      ts = { faultVpn: -1, faultWrite: false, faultTime: 0, pendingPage: NO_PAGE };
      this.threads.set(tid, ts);
    }
    return ts;
  }

  /**
   * The address space of a thread: its own until rss_stat shows it shares an
   * mm with another thread. The pid column (perf script -F) is not used here,
   * so every text layout of one capture gives the same events.
   */
  private asidOf(tid: number, _pid: number): number {
    let asid = this.asidOfTid.get(tid);
    if (asid === undefined) {
      asid = this.asidOwner.length;
      this.asidOwner.push(tid);
      this.asidOfTid.set(tid, asid);
    }
    return asid;
  }

  private countInformational(selected: boolean): void {
    if (selected) this.stats.recordsInformational++;
    else this.stats.recordsFiltered++;
  }

  private processOf(tid: number, _pid: number): number {
    const asid = this.asidOfTid.get(tid);
    return asid === undefined ? tid : (this.asidOwner[asid] ?? tid);
  }

  private newAddressSpace(tid: number): void {
    const asid = this.asidOwner.length;
    this.asidOwner.push(tid);
    this.asidOfTid.set(tid, asid);
  }

  /** exec or exit: the thread's mm may be freed, and its pointer hash reused by a new mm. */
  private forgetMm(tid: number): void {
    const mm = this.mmOfTid.get(tid);
    if (mm === undefined) return;
    this.mmOfTid.delete(tid);
    let shared = false;
    for (const other of this.mmOfTid.values()) if (other === mm) shared = true;
    if (!shared) this.asidOfMm.delete(mm);
  }

  /** rss_stat curr=1: this thread runs on mm `mmId`; threads sharing an mm share an address space. */
  private noteMm(tid: number, mmId: number): void {
    this.mmOfTid.set(tid, mmId);
    const mine = this.asidOf(tid, -1);
    const known = this.asidOfMm.get(mmId);
    if (known === undefined) {
      this.asidOfMm.set(mmId, mine);
      return;
    }
    if (known === mine) return;
    // Join only a thread its parent shares the mm with (a new thread, clone(CLONE_VM));
    // otherwise the hash was reused by a new mm after the old one was freed.
    const parent = this.parentOf.get(tid);
    if (parent !== undefined && this.asidOfTid.get(parent) === known) {
      this.asidOfTid.set(tid, known);
      this.stats.threadsJoined++;
    } else {
      this.asidOfMm.set(mmId, mine);
    }
  }

  private isSelected(raw: RawBatch, i: number, tid: number, pid: number): boolean {
    const selected = this.selected;
    if (selected === null) return true;
    if (selected.has(tid) || (pid >= 0 && selected.has(pid))) return true;
    if (this.commFilter !== null && this.checkComm(raw, i, tid)) return true;
    return false;
  }

  private checkComm(raw: RawBatch, i: number, tid: number): boolean {
    const comm = raw.comm[i]!;
    if (comm >= this.commChecked) this.refreshCommCache(raw);
    if (this.commMatchCache[comm] === 1) {
      this.selected!.add(tid);
      return true;
    }
    return false;
  }

  private refreshCommCache(raw: RawBatch): void {
    if (this.commMatchCache.length < raw.strings.length) {
      const next = new Int8Array(Math.max(raw.strings.length, 16) * 2);
      next.set(this.commMatchCache);
      this.commMatchCache = next;
    }
    for (let s = this.commChecked; s < raw.strings.length; s++) {
      this.commMatchCache[s] = this.commFilter!.has(raw.strings[s]!) ? 1 : 0;
    }
    this.commChecked = raw.strings.length;
  }
}
