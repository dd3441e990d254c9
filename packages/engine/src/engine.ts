/**
 * The replay engine: one policy on one machine.
 *
 * It owns the world (page placement, node occupancy, LRU lists, clocks),
 * charges every access the trace shows on the node that serves it, and lets
 * the policy see only what the kernel mechanism it models would see:
 * NUMA hint faults from a scanner emulation (kernel/sched/fair.c,
 * task_numa_work()), or every access when the policy asks for an oracle.
 *
 * Allocation follows the kernel's page allocator: the preferred node, then
 * the zonelist by distance, each at the low watermark (fast path); then
 * kswapd is woken on every node of the zonelist and the min watermark is
 * tried; then direct reclaim (mm/page_alloc.c: get_page_from_freelist(),
 * __alloc_pages_slowpath()).
 */

import {
  AccessSource,
  type AccessSample,
  type AllocHint,
  type Counter,
  ErrorCode,
  EventFlag,
  EventKind,
  type EventBatch,
  type FaultInfo,
  FaultKind,
  type IoInfo,
  type MetricName,
  type NodeId,
  type PageIdentity,
  PageKind,
  type PageRef,
  type PolicyContext,
  type ReclaimOptions,
  type ReclaimResult,
  type ResolvedMachine,
  type ResolvedNode,
  TierlabError,
  type TierPolicy,
  isTierlabError,
  metricNames,
} from '@tierlab/memory-tier-api';
import { NOT_RESIDENT, PageFlag, PageTable } from './page-table.js';
import { createRandom } from './random.js';
import { SeriesRecorder, type SeriesResult } from './series.js';

export interface EngineOptions {
  readonly machine: ResolvedMachine;
  readonly policy: TierPolicy;
  /** Seed of ctx.random(). */
  readonly seed?: number;
  /** Time-series interval, ms of trace time (default 100). */
  readonly intervalMs?: number;
  /** vm.dirty_expire_centisecs * 10: a dirty page is written back this long after it was dirtied (default 30000). */
  readonly dirtyExpireMs?: number;
  /** Identity lookups for ctx.pageIdentity (the normalizer's). */
  readonly identity?: (page: PageRef) => PageIdentity | null;
  /**
   * Oracle runs: the total accesses of each page lifetime, indexed by the
   * order of alloc events in the stream (from a first pass over the trace).
   */
  readonly lifetimeAccesses?: Float64Array;
  /** Anonymous pages can be swapped out (default true). Without swap, reclaim takes only file pages (get_scan_count()). */
  readonly swap?: boolean;
  /**
   * A memory cgroup limit on anon and file pages, in base pages: a charge that
   * would exceed it reclaims from the cgroup first (try_charge_memcg() ->
   * try_to_free_mem_cgroup_pages(), at least SWAP_CLUSTER_MAX pages, up to
   * MAX_RECLAIM_RETRIES times), whatever the node watermarks say.
   */
  readonly memcgLimitPages?: number;
  /** Observer for tools (not policies): called for every page reclaim evicts. */
  readonly onEvict?: (page: PageRef, timeNs: number) => void;
  /**
   * The CPU time (ns) a process has run by a trace time, non-decreasing in
   * the time. The NUMA scanner is paced by it, as task_tick_numa() paces
   * task_numa_work() by the task's sum_exec_runtime. Absent: the task is
   * taken as always running (CPU time = trace time), an assumption a
   * mostly-sleeping task makes the scanner overestimate.
   */
  readonly taskClock?: (pid: number, timeNs: number) => number;
  /**
   * kswapd as a background thread that reclaims at most this many pages per
   * second of trace time, working until its node is balanced, while the
   * workload goes on allocating (and falling back to other nodes) meanwhile.
   * Absent: a woken kswapd balances its node at once, after the event that
   * woke it.
   */
  readonly kswapdPagesPerSec?: number;
}

export interface NodeResult {
  readonly name: string;
  readonly kind: string;
  readonly tier: number;
  readonly capacityPages: number;
  readonly peakUsedPages: number;
  readonly finalUsedPages: number;
  readonly accesses: number;
  readonly allocatedPages: number;
}

export interface EngineResult {
  readonly policy: string;
  readonly metrics: Record<MetricName, number>;
  /** Counters the policy kept, by name. */
  readonly counters: Record<string, number>;
  readonly nodes: readonly NodeResult[];
  readonly series: SeriesResult;
  /** Warnings the policy raised, by code. */
  readonly warnings: Record<string, { count: number; first: string }>;
  /** Accesses the engine could not charge (page not live): must be 0. */
  readonly accessesToDeadPages: number;
}

/** Numbers of the NUMA-scanner emulation, with the kernel defaults (kernel/sched/fair.c). */
interface ScanConfig {
  delayNs: number;
  periodMinNs: number;
  periodMaxNs: number;
  scanPages: number;
  skipTopTier: boolean;
}

interface ProcScan {
  pid: number;
  head: number;
  cursor: number;
  /** Wall time of the next check (the earliest the task's CPU time can reach cpuStampNs). */
  nextScanNs: number;
  /** p->numa_scan_period, ns (scan_delay until the first tick, then task_scan_start()). */
  periodNs: number;
  /** p->node_stamp: the task's CPU time at which task_tick_numa() next queues task_numa_work(). */
  cpuStampNs: number;
  /** mm->numa_next_scan: wall time before which task_numa_work() returns at once. */
  wallNextNs: number;
  /** Mapped pages on the process's scan list (get_mm_rss() for task_nr_scan_windows()). */
  rssPages: number;
  /** Hint faults the kernel records for placement (task_numa_fault()); slow-tier faults are not recorded in memory-tiering mode. */
  faultsLocal: number;
  faultsRemote: number;
  /** The scanner wrapped since the last adaptation (mm->numa_scan_seq moved on: task_numa_placement() runs at the next fault). */
  wrapped: boolean;
  /** The first tick happened (numa_scan_period set by task_scan_start()). */
  started: boolean;
}

const NS_PER_MS = 1e6;
const SWAP_CLUSTER_MAX = 32;
/** kernel/sched/fair.c: MAX_SCAN_WINDOW (MB/s of PTEs scanned at most), NUMA_PERIOD_SLOTS, NUMA_PERIOD_THRESHOLD. */
const MAX_SCAN_WINDOW_MB = 2560;
const NUMA_PERIOD_SLOTS = 10;
const NUMA_PERIOD_THRESHOLD = 7;

export class Engine {
  readonly policy: TierPolicy;
  readonly machine: ResolvedMachine;
  private readonly nodes: readonly ResolvedNode[];
  private readonly pages: PageTable;
  private readonly used: Float64Array;
  private readonly peakUsed: Float64Array;
  private readonly nodeAccesses: Float64Array;
  private readonly nodeAllocated: Float64Array;
  private readonly metadataBytes: Float64Array;
  private readonly readLat: Float64Array;
  private readonly writeLat: Float64Array;
  private readonly topTier: Uint8Array;
  private readonly persistent: Uint8Array;
  private readonly isDevice: Uint8Array;
  private readonly deviceRemoteNs: number;
  private readonly zonelists: number[][];
  /** The zonelists of kernel (non-movable) allocations: without ZONE_MOVABLE-only nodes. */
  private readonly kernelZonelists: number[][];
  private readonly demotionTargets: Int32Array;
  private readonly localNode: number;
  private readonly m: Record<MetricName, number>;
  private readonly ctx: PolicyContext;
  private readonly counters = new Map<string, { value: number }>();
  private readonly warnings = new Map<string, { count: number; first: string }>();
  private readonly random: () => number;
  private readonly series: SeriesRecorder;
  private readonly identity: ((page: PageRef) => PageIdentity | null) | undefined;
  private readonly lifetimeAccesses: Float64Array | null;
  private readonly swap: boolean;
  private readonly memcgLimit: number;
  private memcgCharged = 0;
  private readonly onEvict: ((page: PageRef, timeNs: number) => void) | undefined;
  private readonly taskClock: ((pid: number, timeNs: number) => number) | null;
  private allocSeq = 0;
  private readonly dirtyExpireNs: number;
  private readonly pageBytes = 4096;

  private now = 0;
  private hook = 'init';
  private inReclaim: 'kswapd' | 'direct' = 'kswapd';
  private kswapdPending: Uint8Array;
  private readonly kswapdRate: number;
  private kswapdCredit: Float64Array;
  private kswapdLast: Float64Array;
  /** Time the workload spent in the model's fault paths (hint faults, migrations it waited for): kswapd runs on meanwhile. */
  private stallNs = 0;
  private kswapdStallLast: Float64Array;
  private anyKswapdPending = false;
  private deadAccesses = 0;

  // Observation.
  private readonly oracle: boolean;
  private readonly seeAccesses: boolean;
  private readonly scan: ScanConfig | null;
  private readonly procs: ProcScan[] = [];
  private readonly procIndex = new Map<number, number>();
  private nextScanNs = Number.POSITIVE_INFINITY;
  private readonly tickNs: number;
  private nextTickNs: number;

  // Dirty tracking: FIFO of (page, dirtySince) for writeback after dirty_expire.
  private dirtyQueuePage: Int32Array = new Int32Array(1024);
  private dirtyQueueTime: Float64Array = new Float64Array(1024);
  private dirtyHead = 0;
  private dirtyTail = 0;
  private dirtyAtRiskPages = 0;
  private dirtyAtRiskIntegral = 0;
  private lastDirtySampleNs = 0;

  // Reused hook arguments (no object per event).
  private readonly allocHint: { kind: PageKind; nrPages: number; localNode: number; pid: number; write: boolean; boundNode: number };
  private readonly faultInfo: {
    kind: FaultInfo['kind'];
    write: boolean;
    pageNode: number;
    cpuNode: number;
    latencyMs: number;
    pid: number;
  };
  private readonly sample: { page: number; write: boolean; count: number; pid: number; deviceNode: number; source: number };
  private readonly io: { direction: 'read' | 'write'; bytes: number } = { direction: 'read', bytes: 0 };

  constructor(options: EngineOptions) {
    this.policy = options.policy;
    this.machine = options.machine;
    this.nodes = options.machine.nodes;
    const n = this.nodes.length;
    if (n === 0 || n > 127) throw new TypeError('a machine needs 1 to 127 nodes');
    this.pages = new PageTable(n);
    this.used = new Float64Array(n);
    this.peakUsed = new Float64Array(n);
    this.nodeAccesses = new Float64Array(n);
    this.nodeAllocated = new Float64Array(n);
    this.metadataBytes = new Float64Array(n);
    this.kswapdPending = new Uint8Array(n);
    this.kswapdRate = options.kswapdPagesPerSec ?? 0;
    if (!(this.kswapdRate >= 0 && Number.isFinite(this.kswapdRate))) throw new TypeError(`kswapdPagesPerSec must be a positive number, got ${String(options.kswapdPagesPerSec)}`);
    this.kswapdCredit = new Float64Array(n);
    this.kswapdLast = new Float64Array(n);
    this.kswapdStallLast = new Float64Array(n);
    this.readLat = Float64Array.from(this.nodes, (x) => x.readLatencyNs);
    this.writeLat = Float64Array.from(this.nodes, (x) => x.writeLatencyNs);
    this.topTier = Uint8Array.from(this.nodes, (x) => (x.tier === 0 ? 1 : 0));
    this.persistent = Uint8Array.from(this.nodes, (x) => (x.persistent ? 1 : 0));
    this.isDevice = Uint8Array.from(this.nodes, (x) => (x.kind === 'device-private' || x.kind === 'device-coherent' ? 1 : 0));
    this.deviceRemoteNs = options.machine.costs.deviceRemoteAccessNs ?? 1000;
    this.localNode = Math.max(
      0,
      this.nodes.findIndex((x) => x.hasCpus === true),
    );
    this.zonelists = this.nodes.map((_, id) => this.buildZonelist(id));
    this.kernelZonelists = this.zonelists.map((list) => list.filter((node) => this.nodes[node]!.movableOnly !== true));
    this.demotionTargets = Int32Array.from(this.nodes, (_, id) => this.findDemotionTarget(id));
    this.m = Object.fromEntries(metricNames.map((k) => [k, 0])) as Record<MetricName, number>;
    this.random = createRandom(options.seed ?? 1);
    this.identity = options.identity;
    this.lifetimeAccesses = options.lifetimeAccesses ?? null;
    this.swap = options.swap ?? true;
    this.memcgLimit = options.memcgLimitPages ?? Number.POSITIVE_INFINITY;
    this.onEvict = options.onEvict;
    this.taskClock = options.taskClock ?? null;
    this.dirtyExpireNs = (options.dirtyExpireMs ?? 30_000) * NS_PER_MS;
    this.series = new SeriesRecorder((options.intervalMs ?? 100) * NS_PER_MS, this.nodes.length);
    this.allocHint = { kind: PageKind.anon, nrPages: 1, localNode: this.localNode, pid: -1, write: false, boundNode: -1 };
    this.faultInfo = {
      kind: FaultKind.numaHint,
      write: false,
      pageNode: 0,
      cpuNode: this.localNode,
      latencyMs: 0,
      pid: -1,
    };
    this.sample = { page: 0, write: false, count: 1, pid: -1, deviceNode: -1, source: 0 };

    const observe = this.policy.observe ?? {};
    this.oracle = observe.oracle === true;
    this.seeAccesses = this.oracle || observe.accesses === true;
    const hint = observe.numaHintFaults;
    this.scan =
      hint === undefined
        ? null
        : {
            delayNs: (hint.scanDelayMs ?? 1000) * NS_PER_MS,
            periodMinNs: (hint.scanPeriodMinMs ?? 1000) * NS_PER_MS,
            periodMaxNs: (hint.scanPeriodMaxMs ?? 60_000) * NS_PER_MS,
            scanPages: ((hint.scanSizeMb ?? 256) << 20) / this.pageBytes,
            skipTopTier: hint.skipTopTier ?? true,
          };
    this.tickNs = observe.tickMs !== undefined && observe.tickMs > 0 ? observe.tickMs * NS_PER_MS : 0;
    this.nextTickNs = this.tickNs > 0 ? this.tickNs : Number.POSITIVE_INFINITY;
    this.ctx = this.makeContext();
    if (this.policy.init) this.callHook('init', () => this.policy.init!(this.ctx));
  }

  /** Replay one batch of events. */
  push(batch: EventBatch): void {
    const { kind, time, page, nrPages, flags, pid, count, node } = batch;
    const n = batch.length;
    for (let i = 0; i < n; i++) {
      const t = time[i]!;
      if (t > this.now) this.advance(t);
      const k = kind[i]!;
      if (k === EventKind.access) this.access(page[i]!, flags[i]!, count[i]!, pid[i]!, node[i]!);
      else if (k === EventKind.alloc) this.alloc(page[i]!, nrPages[i]!, flags[i]!, pid[i]!, node[i]!);
      else if (k === EventKind.free) this.freeEvent(page[i]!);
      else if (k === EventKind.lost) this.series.lost(count[i]!);
      if (this.anyKswapdPending) this.runKswapd();
    }
  }

  /** End of the trace: close the last interval, collect the result. */
  finish(): EngineResult {
    this.noteDirty();
    if (this.policy.finish) this.callHook('finish', () => this.policy.finish!(this.ctx));
    this.series.close(this.now, this.used, this.dirtyAtRiskPages * this.pageBytes);
    const m = this.m;
    m.meanAccessCostNs = m.accesses > 0 ? m.accessCostNs / m.accesses : 0;
    m.fastTierAccessShare = m.accesses > 0 ? this.fastAccesses / m.accesses : 0;
    m.deviceLocalAccessShare = m.deviceAccesses > 0 ? this.deviceLocal / m.deviceAccesses : 0;
    m.dirtyBytesAtRiskMean = this.now > 0 ? (this.dirtyAtRiskIntegral / this.now) * this.pageBytes : 0;
    m.totalCostNs =
      m.accessCostNs +
      m.pageFaults * this.machine.costs.pageFaultNs +
      m.numaHintFaults * this.machine.costs.hintFaultNs +
      this.pathMigrationNs +
      m.directReclaimCostNs +
      m.workingsetRefault * this.machine.costs.majorFaultNs +
      m.policyChargedNs;
    const counters: Record<string, number> = {};
    for (const [name, c] of [...this.counters.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) counters[name] = c.value;
    const warnings: Record<string, { count: number; first: string }> = {};
    for (const [code, w] of [...this.warnings.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) warnings[code] = w;
    return {
      policy: this.policy.name,
      metrics: { ...m },
      counters,
      nodes: this.nodes.map((node, id) => ({
        name: node.name,
        kind: node.kind,
        tier: node.tier,
        capacityPages: node.capacityPages,
        peakUsedPages: this.peakUsed[id]!,
        finalUsedPages: this.used[id]!,
        accesses: this.nodeAccesses[id]!,
        allocatedPages: this.nodeAllocated[id]!,
      })),
      series: this.series.result(),
      warnings,
      accessesToDeadPages: this.deadAccesses,
    };
  }

  /**
   * Check the engine's own invariants; returns the violations (empty when sound).
   * Walks every page and list: for tests and debugging, not for the hot path.
   */
  verify(): string[] {
    const P = this.pages;
    const problems: string[] = [];
    const used = new Float64Array(this.nodes.length);
    const onLists = new Float64Array(this.nodes.length * 2);
    for (let id = 0; id < P.capacity; id++) {
      if ((P.flags[id]! & PageFlag.live) === 0) continue;
      const node = P.node[id]!;
      if (node >= 0) used[node] = used[node]! + P.nrPages[id]!;
    }
    for (let list = 0; list < this.nodes.length * 2; list++) {
      let seen = 0;
      let page = P.lruHead[list]!;
      let prev = -1;
      while (page !== -1) {
        if ((P.flags[page]! & PageFlag.live) === 0) problems.push(`list ${list}: page ${page} is not live`);
        if (P.node[page] !== list >> 1) problems.push(`list ${list}: page ${page} is on node ${P.node[page]}`);
        if (((P.flags[page]! & PageFlag.active) !== 0) !== ((list & 1) === 1)) problems.push(`list ${list}: page ${page} active flag disagrees`);
        if (P.lruPrev[page] !== prev) problems.push(`list ${list}: page ${page} prev link broken`);
        onLists[list] = onLists[list]! + P.nrPages[page]!;
        prev = page;
        page = P.lruNext[page]!;
        if (++seen > P.capacity) {
          problems.push(`list ${list}: cycle`);
          break;
        }
      }
      if (P.lruTail[list] !== prev) problems.push(`list ${list}: tail is ${P.lruTail[list]}, last is ${prev}`);
      if (onLists[list] !== P.lruPages[list]) problems.push(`list ${list}: holds ${onLists[list]} pages, counted ${P.lruPages[list]}`);
    }
    for (let node = 0; node < this.nodes.length; node++) {
      if (used[node] !== this.used[node]) problems.push(`node ${node}: pages say ${used[node]} used, counter says ${this.used[node]}`);
      if (onLists[node * 2]! + onLists[node * 2 + 1]! !== used[node]) problems.push(`node ${node}: LRU lists hold ${onLists[node * 2]! + onLists[node * 2 + 1]!}, used ${used[node]}`);
      if (this.free(node) < 0) problems.push(`node ${node}: over capacity by ${-this.free(node)} pages`);
      if (this.peakUsed[node]! > this.nodes[node]!.capacityPages) problems.push(`node ${node}: peak ${this.peakUsed[node]} above capacity`);
    }
    return problems;
  }

  private fastAccesses = 0;
  private deviceLocal = 0;
  private pathMigrationNs = 0;

  // ---- time ----

  private advance(t: number): void {
    // Interval boundaries, dirty expiry, scanner and ticks fire in time order before the event at t.
    this.series.advance(t, this.used, this.dirtyAtRiskPages * this.pageBytes);
    while (this.dirtyHead !== this.dirtyTail && this.dirtyQueueTime[this.dirtyHead]! + this.dirtyExpireNs <= t) {
      this.expireDirty(this.dirtyQueueTime[this.dirtyHead]! + this.dirtyExpireNs);
    }
    while (this.nextScanNs <= t || this.nextTickNs <= t) {
      if (this.nextScanNs <= this.nextTickNs) {
        this.setNow(this.nextScanNs);
        this.runScanner();
      } else {
        this.setNow(this.nextTickNs);
        this.nextTickNs += this.tickNs;
        this.callHook('onTick', () => this.policy.onTick!(this.ctx));
        if (this.anyKswapdPending) this.runKswapd();
      }
    }
    this.setNow(t);
  }

  private setNow(t: number): void {
    if (t <= this.now) return;
    this.noteDirty();
    this.now = t;
  }

  private noteDirty(): void {
    this.dirtyAtRiskIntegral += this.dirtyAtRiskPages * (this.now - this.lastDirtySampleNs);
    this.lastDirtySampleNs = this.now;
  }

  // ---- events ----

  private alloc(id: number, nr: number, flags: number, pid: number, boundNode: number): void {
    const P = this.pages;
    P.ensure(id);
    if ((P.flags[id]! & PageFlag.live) !== 0) {
      throw new TierlabError({
        code: ErrorCode.policyDecision,
        source: 'engine',
        message: `page ${id} allocated twice (the normalizer broke its contract)`,
      });
    }
    const kind = flags & EventFlag.kindMask;
    P.flags[id] = PageFlag.live;
    P.nrPages[id] = nr;
    P.kind[id] = kind;
    P.pid[id] = pid;
    P.node[id] = NOT_RESIDENT;
    P.lastAccess[id] = this.now;
    P.procOf[id] = -1;
    this.m.pgalloc += nr;
    P.future[id] = this.lifetimeAccesses !== null ? (this.lifetimeAccesses[this.allocSeq] ?? 0) : 0;
    this.allocSeq++;
    if (boundNode >= this.nodes.length) boundNode = -1;
    P.boundNode[id] = boundNode;
    this.place(id, nr, kind as PageKind, pid, (flags & EventFlag.write) !== 0);
  }

  /** alloc_pages(): the policy's preferred node, then the zonelist and reclaim, as the kernel does. */
  private place(id: number, nr: number, kind: PageKind, pid: number, write: boolean): void {
    this.pages.ensure(id);
    const bound = this.pages.boundNode[id]!;
    let preferred = bound >= 0 ? bound : this.localNode;
    // An explicit memory policy (mbind MPOL_BIND) is the kernel's, not the tiering policy's: it is obeyed.
    if (bound < 0 && this.policy.placePage) {
      const hint = this.allocHint;
      hint.kind = kind;
      hint.nrPages = nr;
      hint.pid = pid;
      hint.write = write;
      hint.boundNode = bound;
      this.hook = 'placePage';
      try {
        preferred = this.policy.placePage(this.ctx, id, hint as AllocHint);
      } catch (cause) {
        throw this.hookError('placePage', cause);
      }
      if (!Number.isInteger(preferred) || preferred < 0 || preferred >= this.nodes.length) {
        throw this.decisionError('placePage', `returned node ${String(preferred)}`, `a node id 0..${this.nodes.length - 1}`);
      }
      if (this.nodes[preferred]!.cpuAccess === 'faults') {
        throw this.decisionError(
          'placePage',
          `returned device-private node ${preferred}: alloc_pages() cannot allocate device-private memory (only migrate_vma can move pages there)`,
          'a CPU-addressable node',
        );
      }
    }
    // MPOL_BIND: only the bound node; otherwise the zonelist from the preferred node.
    if (kind !== PageKind.kernel) this.memcgCharge(nr);
    const node =
      kind === PageKind.kernel && this.kernelZonelists[preferred]!.length > 0
        ? this.allocateOn(preferred, nr, false, this.kernelZonelists[preferred]!)
        : this.allocateOn(preferred, nr, bound >= 0 && preferred === bound);
    if (this.isDevice[node] === 1 && bound !== node) this.m.implicitDeviceAllocations += nr;
    this.pages.node[id] = node;
    this.used[node] = this.used[node]! + nr;
    if (this.used[node]! > this.peakUsed[node]!) this.peakUsed[node] = this.used[node]!;
    this.nodeAllocated[node] = this.nodeAllocated[node]! + nr;
    this.pages.lruAdd(id, node, false);
    if (node !== preferred) this.m.allocFallback++;
    if (this.policy.onPlaced) {
      // Per allocation: called inline, no closure (see callHook for the rest).
      const saved = this.hook;
      this.hook = 'onPlaced';
      try {
        this.policy.onPlaced(this.ctx, id, node);
      } catch (cause) {
        throw this.hookError('onPlaced', cause);
      }
      this.hook = saved;
    }
  }

  /** Charge `nr` pages to the memory cgroup, reclaiming from it first when the charge would pass the limit. */
  private memcgCharge(nr: number): void {
    for (let retry = 0; this.memcgCharged + nr > this.memcgLimit && retry < 16; retry++) {
      this.m.memcgReclaims++;
      const wanted = Math.max(nr, SWAP_CLUSTER_MAX);
      let reclaimed = 0;
      for (let node = 0; node < this.nodes.length && reclaimed < wanted; node++) {
        if (this.used[node]! === 0) continue;
        const saved = this.inReclaim;
        this.inReclaim = 'direct';
        reclaimed += this.reclaim(node, wanted - reclaimed, { mode: 'direct' }).reclaimed;
        this.inReclaim = saved;
      }
      if (reclaimed === 0) break;
    }
    if (this.memcgCharged + nr > this.memcgLimit) this.warn('engine.memcg_over_limit', 'nothing left to reclaim in the memory cgroup: charged over its limit (the kernel would OOM-kill)');
    this.memcgCharged += nr;
  }

  /** Find room for `nr` pages starting at `preferred`; reclaims if it must. Returns the node. */
  private allocateOn(preferred: number, nr: number, bind = false, list?: number[]): number {
    const zonelist = list ?? (bind ? [preferred] : this.zonelists[preferred]!);
    // Fast path: low watermark, in zonelist order.
    for (const node of zonelist) if (this.free(node) - nr >= this.nodes[node]!.watermarks.low) return node;
    // Slow path: wake kswapd on every node of the zonelist (wake_all_kswapds()), retry at min.
    for (const node of zonelist) this.wakeKswapd(node);
    for (const node of zonelist) if (this.free(node) - nr >= this.nodes[node]!.watermarks.min) return node;
    // Direct reclaim on the zonelist, charged to the workload (__alloc_pages_direct_reclaim()).
    this.m.allocstall++;
    for (const node of zonelist) {
      const wanted = Math.max(SWAP_CLUSTER_MAX, nr + this.nodes[node]!.watermarks.min - this.free(node));
      this.pressure(node, wanted, 'direct');
      if (this.free(node) - nr >= this.nodes[node]!.watermarks.min) return node;
    }
    // Still nothing: evict below the watermarks rather than fail (the kernel would OOM-kill here).
    for (const node of zonelist) {
      this.reclaim(node, nr - this.free(node), { mode: 'direct' });
      if (this.free(node) >= nr) {
        this.warn('engine.oom_avoided', `no node had ${nr} free pages above min; evicted below the watermark`);
        return node;
      }
    }
    throw new TierlabError({
      code: ErrorCode.policyDecision,
      source: 'engine',
      policy: this.policy.name,
      hook: this.hook,
      message: `out of memory: no node can hold ${nr} pages even after reclaim (capacities too small for the trace)`,
    });
  }

  private access(id: number, flags: number, count: number, pid: number, accessor: number): void {
    const P = this.pages;
    if (!P.isLive(id)) {
      this.deadAccesses++;
      return;
    }
    const write = (flags & EventFlag.write) !== 0;
    const source = (flags & EventFlag.sourceMask) >> EventFlag.sourceShift;
    const m = this.m;
    P.future[id] = P.future[id]! - count;
    if (source === AccessSource.device) {
      this.deviceAccess(id, write, count, pid, accessor);
      return;
    }
    P.flags[id] = P.flags[id]! | PageFlag.young;
    if (source === AccessSource.fault) {
      m.pageFaults++;
      P.flags[id] = P.flags[id]! | PageFlag.mapped;
    } else if (source === AccessSource.sample && P.kind[id] === PageKind.anon) {
      // A sampled load or store (lackey, DAMON) is a CPU access through a mapping.
      P.flags[id] = P.flags[id]! | PageFlag.mapped;
    }
    let node = P.node[id]!;
    if (node === NOT_RESIDENT) {
      // Evicted earlier: a refault reads it back (workingset_refault).
      m.workingsetRefault++;
      this.place(id, P.nrPages[id]!, P.kind[id]! as PageKind, P.pid[id]!, write);
      node = P.node[id]!;
    }
    if (this.nodes[node]!.cpuAccess === 'faults') {
      // The CPU cannot reach device-private memory: it faults and the page comes back (migrate_to_ram()).
      this.devicePrivateFault(id, node, write, pid);
      node = P.node[id]!;
    }
    let pf = P.flags[id]!;
    if ((pf & PageFlag.protNone) !== 0) {
      P.flags[id] = pf & ~PageFlag.protNone;
      this.hintFault(id, node, write, pid);
      node = P.node[id]!;
      pf = P.flags[id]!;
    }
    // Charge the access on the node that serves it.
    const nr = P.nrPages[id]!;
    m.accesses += count;
    if (write) {
      m.writes += count;
      const cost = this.writeLat[node]! * count;
      m.accessCostNs += cost;
      this.series.cost(cost, count, this.topTier[node] === 1);
      if (this.persistent[node] === 1) {
        m.persistentWriteBytes += source === AccessSource.ioFill ? nr * this.pageBytes : 64 * count;
      }
      // A page-cache fill is clean (read from storage); writes and dirtying make a file page dirty.
      if (P.kind[id] === PageKind.file && (pf & PageFlag.dirty) === 0 && source !== AccessSource.ioFill) this.markDirty(id, node);
    } else {
      m.reads += count;
      const cost = this.readLat[node]! * count;
      m.accessCostNs += cost;
      this.series.cost(cost, count, this.topTier[node] === 1);
    }
    if (source === AccessSource.ioFill && this.policy.onIo) {
      const io = this.io;
      io.direction = 'read';
      io.bytes = nr * this.pageBytes;
      this.callHook('onIo', () => this.policy.onIo!(this.ctx, id, io as IoInfo));
    }
    if (this.topTier[node] === 1) this.fastAccesses += count;
    this.nodeAccesses[node] = this.nodeAccesses[node]! + count;
    if (this.isDevice[node] === 1) {
      m.cpuAccessesToDevice += count;
      m.cpuAccessToDeviceCostNs += (write ? this.writeLat[node]! : this.readLat[node]!) * count;
    }
    P.lastAccess[id] = this.now;
    // LRU: a second reference activates (mark_page_accessed()); an LRU activation in the trace activates.
    if (source === AccessSource.activate || ((pf & PageFlag.referenced) !== 0 && (pf & PageFlag.active) === 0)) {
      if ((pf & PageFlag.active) === 0) {
        P.lruRemove(id);
        P.lruAdd(id, node, true);
      }
      P.flags[id] = P.flags[id]! & (~PageFlag.referenced);
    } else {
      P.flags[id] = P.flags[id]! | PageFlag.referenced;
    }
    if (this.scan !== null && (pf & PageFlag.mapped) !== 0 && P.procOf[id] === -1) this.procAdd(id, P.pid[id]!);
    if (this.seeAccesses && this.policy.onAccessSample) {
      const s = this.sample;
      s.page = id;
      s.write = write;
      s.count = count;
      s.pid = pid;
      s.deviceNode = -1;
      s.source = source;
      this.hook = 'onAccessSample';
      // What the policy does here happens on the faulting task's path.
      const saved = this.inReclaim;
      this.inReclaim = 'direct';
      try {
        this.policy.onAccessSample(this.ctx, s as AccessSample);
      } catch (cause) {
        throw this.hookError('onAccessSample', cause);
      }
      this.inReclaim = saved;
    }
  }

  /** A device touches a page: the policy may move it first; then charge device-local or over-the-link cost. */
  private deviceAccess(id: number, write: boolean, count: number, pid: number, accessor: number): void {
    const P = this.pages;
    const m = this.m;
    if (accessor < 0 || accessor >= this.nodes.length || this.isDevice[accessor] !== 1) {
      this.warn('engine.device_access_without_device', 'a device access names no device node of this machine; charged as remote');
    }
    if (this.policy.onAccessSample) {
      const s = this.sample;
      s.page = id;
      s.write = write;
      s.count = count;
      s.pid = pid;
      s.deviceNode = accessor;
      s.source = AccessSource.device;
      this.hook = 'onAccessSample';
      const saved = this.inReclaim;
      this.inReclaim = 'direct';
      try {
        this.policy.onAccessSample(this.ctx, s as AccessSample);
      } catch (cause) {
        throw this.hookError('onAccessSample', cause);
      }
      this.inReclaim = saved;
    }
    let node = P.node[id]!;
    if (node === NOT_RESIDENT) {
      m.workingsetRefault++;
      this.place(id, P.nrPages[id]!, P.kind[id]! as PageKind, P.pid[id]!, write);
      node = P.node[id]!;
    }
    const local = node === accessor;
    const cost = (local ? (write ? this.writeLat[node]! : this.readLat[node]!) : this.deviceRemoteNs) * count;
    m.deviceAccesses += count;
    m.deviceAccessCostNs += cost;
    if (local) this.deviceLocal += count;
    if (write && P.kind[id] === PageKind.file && (P.flags[id]! & PageFlag.dirty) === 0) this.markDirty(id, node);
    if (write && this.persistent[node] === 1) m.persistentWriteBytes += 64 * count;
  }

  /** CPU touch of a device-private page: the policy's onFault, then migrate_to_ram() if it is still there. */
  private devicePrivateFault(id: number, node: number, write: boolean, pid: number): void {
    const P = this.pages;
    this.m.devicePrivateFaults++;
    if (this.policy.onFault) {
      const f = this.faultInfo;
      f.kind = FaultKind.devicePrivate;
      f.write = write;
      f.pageNode = node;
      f.cpuNode = this.localNode;
      f.latencyMs = 0;
      f.pid = pid;
      const saved = this.inReclaim;
      this.inReclaim = 'direct';
      this.callHook('onFault', () => this.policy.onFault!(this.ctx, id, f as FaultInfo));
      this.inReclaim = saved;
    }
    if (P.node[id] === node) {
      const target = this.allocateOn(this.localNode, P.nrPages[id]!);
      this.moveTo(id, target, 'other', 'direct');
    }
  }

  private hintFault(id: number, node: number, write: boolean, pid: number): void {
    const P = this.pages;
    this.m.numaHintFaults++;
    this.stallNs += this.machine.costs.hintFaultNs;
    const proc = P.procOf[id]!;
    if (!this.policy.onFault) {
      this.recordHintFault(proc, node);
      return;
    }
    const f = this.faultInfo;
    f.kind = FaultKind.numaHint;
    f.write = write;
    f.pageNode = node;
    f.cpuNode = this.localNode;
    f.latencyMs = this.now / NS_PER_MS - P.scanTimeMs[id]!;
    f.pid = pid;
    const saved = this.inReclaim;
    this.inReclaim = 'direct';
    this.callHook('onFault', () => this.policy.onFault!(this.ctx, id, f as FaultInfo));
    this.inReclaim = saved;
    // do_numa_page() reports the fault on the node the page is on afterwards (the target when it migrated).
    this.recordHintFault(proc, P.node[id]! >= 0 ? P.node[id]! : node);
  }

  /**
   * task_numa_fault(): the fault counts for the scan-period adaptation, except,
   * in memory-tiering-only mode, a fault on a slow-tier page (one promoted is
   * on the top tier by then, and counts as local).
   */
  private recordHintFault(proc: number, node: number): void {
    if (proc < 0) return;
    if (this.scan?.skipTopTier === true && this.topTier[node] !== 1) return;
    if (this.topTier[node] === 1) this.procs[proc]!.faultsLocal++;
    else this.procs[proc]!.faultsRemote++;
  }

  private freeEvent(id: number): void {
    const P = this.pages;
    if (!P.isLive(id)) {
      this.deadAccesses++;
      return;
    }
    if (this.policy.onFree) {
      const saved = this.hook;
      this.hook = 'onFree';
      try {
        this.policy.onFree(this.ctx, id);
      } catch (cause) {
        throw this.hookError('onFree', cause);
      }
      this.hook = saved;
    }
    const node = P.node[id]!;
    if (node >= 0) {
      if (P.kind[id] !== PageKind.kernel) this.memcgCharged -= P.nrPages[id]!;
      if ((P.flags[id]! & PageFlag.dirty) !== 0) this.clearDirty(id, node);
      P.lruRemove(id);
      this.used[node] = this.used[node]! - (P.nrPages[id]!);
    }
    if (P.procOf[id]! >= 0) this.procRemove(id);
    P.flags[id] = 0;
    P.node[id] = NOT_RESIDENT;
  }

  // ---- dirty data at risk ----

  private markDirty(id: number, node: number): void {
    const P = this.pages;
    P.flags[id] = P.flags[id]! | PageFlag.dirty;
    P.dirtySince[id] = this.now;
    if (this.persistent[node] === 0) {
      this.noteDirty();
      this.dirtyAtRiskPages += P.nrPages[id]!;
      if (this.dirtyAtRiskPages * this.pageBytes > this.m.dirtyBytesAtRiskPeak) {
        this.m.dirtyBytesAtRiskPeak = this.dirtyAtRiskPages * this.pageBytes;
      }
    }
    if (this.dirtyTail === this.dirtyQueuePage.length) this.compactDirtyQueue();
    this.dirtyQueuePage[this.dirtyTail] = id;
    this.dirtyQueueTime[this.dirtyTail] = this.now;
    this.dirtyTail++;
  }

  private clearDirty(id: number, node: number): void {
    const P = this.pages;
    P.flags[id] = P.flags[id]! & (~PageFlag.dirty);
    if (this.persistent[node] === 0) {
      this.noteDirty();
      this.dirtyAtRiskPages -= P.nrPages[id]!;
    }
  }

  /** The flusher writes back the oldest dirty page (wb_writeback() after dirty_expire_interval). */
  private expireDirty(at: number): void {
    const id = this.dirtyQueuePage[this.dirtyHead]!;
    const since = this.dirtyQueueTime[this.dirtyHead]!;
    this.dirtyHead++;
    const P = this.pages;
    if (!P.isLive(id) || (P.flags[id]! & PageFlag.dirty) === 0 || P.dirtySince[id] !== since) return;
    this.setNow(at);
    const node = P.node[id]!;
    if (node >= 0) this.clearDirty(id, node);
    else P.flags[id] = P.flags[id]! & (~PageFlag.dirty);
    this.writebackIo(id);
  }

  /** A dirty page written back (flusher or reclaim): the policy sees the I/O. */
  private writebackIo(id: number): void {
    if (!this.policy.onIo) return;
    const io = this.io;
    io.direction = 'write';
    io.bytes = this.pages.nrPages[id]! * this.pageBytes;
    this.callHook('onIo', () => this.policy.onIo!(this.ctx, id, io as IoInfo));
  }

  private compactDirtyQueue(): void {
    const live = this.dirtyTail - this.dirtyHead;
    if (live * 2 > this.dirtyQueuePage.length) {
      const pages = new Int32Array(this.dirtyQueuePage.length * 2);
      const times = new Float64Array(this.dirtyQueuePage.length * 2);
      pages.set(this.dirtyQueuePage.subarray(this.dirtyHead, this.dirtyTail));
      times.set(this.dirtyQueueTime.subarray(this.dirtyHead, this.dirtyTail));
      this.dirtyQueuePage = pages;
      this.dirtyQueueTime = times;
    } else {
      this.dirtyQueuePage.copyWithin(0, this.dirtyHead, this.dirtyTail);
      this.dirtyQueueTime.copyWithin(0, this.dirtyHead, this.dirtyTail);
    }
    this.dirtyTail = live;
    this.dirtyHead = 0;
  }

  // ---- reclaim ----

  private free(node: number): number {
    return this.nodes[node]!.capacityPages - this.used[node]! - Math.ceil(this.metadataBytes[node]! / this.pageBytes);
  }

  private wakeKswapd(node: number): void {
    if (this.kswapdPending[node] === 1) return;
    this.kswapdPending[node] = 1;
    this.anyKswapdPending = true;
    this.m.kswapdWakeups++;
    this.kswapdCredit[node] = 0;
    this.kswapdLast[node] = this.now;
    this.kswapdStallLast[node] = this.stallNs;
  }

  /** kswapd runs after the event that woke it: reclaim each woken node to its high (or promo) watermark (balance_pgdat()). */
  private runKswapd(): void {
    this.anyKswapdPending = false;
    for (let node = 0; node < this.nodes.length; node++) {
      if (this.kswapdPending[node] !== 1) continue;
      // kswapd_shrink_node(): each pass reclaims at least SWAP_CLUSTER_MAX pages, until the node is balanced.
      const marks = this.nodes[node]!.watermarks;
      const short = (this.policy.kswapdWatermark === 'promo' ? marks.promo : marks.high) - this.free(node);
      if (this.kswapdRate === 0) {
        this.kswapdPending[node] = 0;
        if (short > 0) this.pressure(node, Math.max(SWAP_CLUSTER_MAX, short), 'kswapd');
        continue;
      }
      if (short <= 0) {
        this.kswapdPending[node] = 0; // balanced: kswapd sleeps
        continue;
      }
      // A background thread: the pages it could have reclaimed since it last ran, a batch at a time.
      // The trace's time, plus the time the model's own faults would have cost the workload (the trace
      // cannot stretch for them): kswapd, on another CPU, works through both.
      const elapsed = this.now - this.kswapdLast[node]! + (this.stallNs - this.kswapdStallLast[node]!);
      this.kswapdCredit[node] = this.kswapdCredit[node]! + (elapsed * this.kswapdRate) / 1e9;
      this.kswapdLast[node] = this.now;
      this.kswapdStallLast[node] = this.stallNs;
      const batch = Math.min(Math.max(SWAP_CLUSTER_MAX, short), Math.floor(this.kswapdCredit[node]!));
      if (batch >= Math.min(SWAP_CLUSTER_MAX, short)) {
        const before = this.free(node);
        this.pressure(node, batch, 'kswapd');
        this.kswapdCredit[node] = this.kswapdCredit[node]! - Math.max(batch, this.free(node) - before);
        if (this.free(node) === before) {
          this.kswapdPending[node] = 0; // nothing reclaimable: kswapd gives up
          continue;
        }
      }
      this.anyKswapdPending = true;
    }
  }

  private pressure(node: number, wanted: number, mode: 'kswapd' | 'direct'): void {
    const saved = this.inReclaim;
    this.inReclaim = mode;
    if (this.policy.onPressure) {
      this.callHook('onPressure', () => this.policy.onPressure!(this.ctx, node, wanted, mode));
    } else {
      this.reclaim(node, wanted, { mode });
    }
    this.inReclaim = saved;
  }

  /**
   * shrink_node() in brief: age the active list when the inactive one is
   * short (shrink_active_list()), then take pages from the inactive tail;
   * referenced pages get a second chance on the active list, the rest are
   * demoted (when a target is given and has room above min) or evicted.
   */
  reclaim(node: number, nrPages: number, options: ReclaimOptions = {}): ReclaimResult {
    const P = this.pages;
    const mode = options.mode ?? this.inReclaim;
    const demoteTo = options.demoteTo ?? -1;
    const inactive = node * 2;
    const active = node * 2 + 1;
    let scanned = 0;
    let reclaimed = 0;
    let demoted = 0;
    let evicted = 0;
    const limit = (P.lruPages[inactive]! + P.lruPages[active]!) * 2 + SWAP_CLUSTER_MAX;
    while (reclaimed < nrPages && scanned < limit) {
      if (P.lruPages[inactive]! < P.lruPages[active]! || P.lruTail[inactive] === -1) {
        // Deactivate from the active tail; referenced pages rotate once.
        const victim = P.lruTail[active]!;
        if (victim === -1 && P.lruTail[inactive] === -1) break;
        if (victim !== -1) {
          P.lruRemove(victim);
          const f = P.flags[victim]!;
          if ((f & PageFlag.referenced) !== 0) {
            P.flags[victim] = f & ~PageFlag.referenced;
            P.lruAdd(victim, node, true);
          } else {
            P.lruAdd(victim, node, false);
          }
          scanned += P.nrPages[victim]!;
          continue;
        }
      }
      const page = P.lruTail[inactive]!;
      if (page === -1) break;
      const nr = P.nrPages[page]!;
      scanned += nr;
      const f = P.flags[page]!;
      if (
        (f & PageFlag.referenced) !== 0 ||
        P.kind[page] === PageKind.kernel ||
        (!this.swap && P.kind[page] === PageKind.anon && demoteTo < 0)
      ) {
        // Referenced: a second chance. Anon without swap, and kernel memory (slab, page tables: never
        // on the kernel's LRU): not reclaimable, kept on the active list.
        P.flags[page] = f & ~PageFlag.referenced;
        P.lruRemove(page);
        P.lruAdd(page, node, true);
        continue;
      }
      if (demoteTo >= 0 && this.free(demoteTo) - nr >= this.nodes[demoteTo]!.watermarks.min) {
        this.moveTo(page, demoteTo, 'demote', mode);
        if (this.free(demoteTo) < this.nodes[demoteTo]!.watermarks.low) this.wakeKswapd(demoteTo);
        demoted += nr;
      } else {
        this.evictPage(page, mode);
        evicted += nr;
      }
      reclaimed += nr;
    }
    const costs = this.machine.costs;
    const cost = scanned * costs.reclaimPerPageNs;
    if (mode === 'kswapd') this.m.kswapdCostNs += cost;
    else this.m.directReclaimCostNs += cost;
    this.m.pgscan += scanned;
    return { scanned, reclaimed, demoted, evicted };
  }

  private evictPage(page: number, mode: 'kswapd' | 'direct'): void {
    const P = this.pages;
    const node = P.node[page]!;
    if ((P.flags[page]! & PageFlag.dirty) !== 0) {
      const cost = this.machine.costs.writebackPageNs * P.nrPages[page]!;
      if (mode === 'kswapd') this.m.kswapdCostNs += cost;
      else this.m.directReclaimCostNs += cost;
      this.clearDirty(page, node);
      this.writebackIo(page);
    }
    P.lruRemove(page);
    this.used[node] = this.used[node]! - (P.nrPages[page]!);
    if (P.kind[page] !== PageKind.kernel) this.memcgCharged -= P.nrPages[page]!;
    P.node[page] = NOT_RESIDENT;
    if (this.onEvict) this.onEvict(page, this.now);
    P.flags[page] = P.flags[page]! & (~(PageFlag.referenced | PageFlag.active | PageFlag.protNone));
    this.m.pgsteal += P.nrPages[page]!;
    this.series.evicted(P.nrPages[page]!);
  }

  /** Move a resident page to another node, charging the copy. */
  private moveTo(page: number, target: number, reason: 'promote' | 'demote' | 'other', mode: 'kswapd' | 'direct'): void {
    const P = this.pages;
    const from = P.node[page]!;
    const nr = P.nrPages[page]!;
    const bytes = nr * this.pageBytes;
    const src = this.nodes[from]!;
    const dst = this.nodes[target]!;
    const bandwidth = Math.min(src.readBandwidthGBs, dst.writeBandwidthGBs);
    const costs = this.machine.costs;
    let cost = costs.migrationFixedNs + bytes / bandwidth;
    if ((P.flags[page]! & PageFlag.mapped) !== 0) cost += costs.tlbShootdownNs;
    const dirty = (P.flags[page]! & PageFlag.dirty) !== 0;
    if (dirty) this.clearDirty(page, from);
    const active = (P.flags[page]! & PageFlag.active) !== 0;
    P.lruRemove(page);
    this.used[from] = this.used[from]! - (nr);
    this.used[target] = this.used[target]! + nr;
    if (this.used[target]! > this.peakUsed[target]!) this.peakUsed[target] = this.used[target]!;
    P.node[page] = target;
    P.lruAdd(page, target, reason === 'promote' ? true : active && reason !== 'demote');
    if (dirty) {
      P.flags[page] = P.flags[page]! | PageFlag.dirty;
      if (this.persistent[target] === 0) {
        this.noteDirty();
        this.dirtyAtRiskPages += nr;
        if (this.dirtyAtRiskPages * this.pageBytes > this.m.dirtyBytesAtRiskPeak) this.m.dirtyBytesAtRiskPeak = this.dirtyAtRiskPages * this.pageBytes;
      }
    }
    if (this.persistent[target] === 1) this.m.persistentWriteBytes += bytes;
    const m = this.m;
    if (this.isDevice[target] === 1 && this.isDevice[from] !== 1) m.migratedBytesToDevice += bytes;
    if (this.isDevice[from] === 1 && this.isDevice[target] !== 1) m.migratedBytesFromDevice += bytes;
    m.pgmigrateSuccess += nr;
    m.migratedBytes += bytes;
    m.migrationCostNs += cost;
    if (mode === 'kswapd') m.kswapdCostNs += cost;
    else {
      this.pathMigrationNs += cost;
      this.stallNs += cost;
    }
    if (reason === 'promote') {
      m.pgpromoteSuccess += nr;
      this.series.promoted(nr);
    } else if (reason === 'demote') {
      if (mode === 'kswapd') m.pgdemoteKswapd += nr;
      else m.pgdemoteDirect += nr;
      this.series.demoted(nr);
    }
  }

  // ---- NUMA scanner emulation (task_numa_work()) ----

  private procAdd(id: number, pid: number): void {
    const P = this.pages;
    let index = this.procIndex.get(pid);
    if (index === undefined) {
      index = this.procs.length;
      const scan = this.scan!;
      // init_numa_balancing(): numa_scan_period = scan_delay; mm->numa_next_scan = now + scan_delay.
      this.procs.push({
        pid,
        head: -1,
        cursor: -1,
        nextScanNs: this.now + scan.delayNs,
        periodNs: scan.delayNs,
        cpuStampNs: (this.taskClock === null ? this.now : this.taskClock(pid, this.now)) + scan.delayNs,
        wallNextNs: this.now + scan.delayNs,
        rssPages: 0,
        faultsLocal: 0,
        faultsRemote: 0,
        wrapped: false,
        started: false,
      });
      this.procIndex.set(pid, index);
      if (this.procs[index]!.nextScanNs < this.nextScanNs) this.nextScanNs = this.procs[index]!.nextScanNs;
    }
    const proc = this.procs[index]!;
    // Append at the tail of the circular list (head.prev).
    if (proc.head === -1) {
      P.procNext[id] = id;
      P.procPrev[id] = id;
      proc.head = id;
    } else {
      const tail = P.procPrev[proc.head]!;
      P.procNext[tail] = id;
      P.procPrev[id] = tail;
      P.procNext[id] = proc.head;
      P.procPrev[proc.head] = id;
    }
    P.procOf[id] = index;
    proc.rssPages += P.nrPages[id]!;
  }

  private procRemove(id: number): void {
    const P = this.pages;
    const proc = this.procs[P.procOf[id]!]!;
    proc.rssPages -= P.nrPages[id]!;
    const next = P.procNext[id]!;
    const prev = P.procPrev[id]!;
    if (next === id) {
      proc.head = -1;
      proc.cursor = -1;
    } else {
      P.procNext[prev] = next;
      P.procPrev[next] = prev;
      if (proc.head === id) proc.head = next;
      if (proc.cursor === id) proc.cursor = next;
    }
    P.procOf[id] = -1;
  }

  /**
   * The scanner as task_tick_numa() and task_numa_work() (kernel/sched/fair.c)
   * drive it. task_tick_numa() runs on the task's ticks and queues the work
   * once the task's CPU time (sum_exec_runtime) passes node_stamp, then moves
   * node_stamp on by numa_scan_period; at the first such tick the period
   * becomes task_scan_start(). task_numa_work() returns at once before
   * mm->numa_next_scan (wall time), else sets it to now + numa_scan_period
   * and makes up to scan_size MB of the address space PROT_NONE (a range
   * counts against the budget when it had a PTE to update; at most 8x that
   * of address space is looked at), skipping top-tier pages in
   * memory-tiering-only mode. Without a task clock the task is taken as
   * always running (CPU time = trace time).
   */
  private runScanner(): void {
    const scan = this.scan!;
    const now = this.now;
    const clock = this.taskClock;
    let next = Number.POSITIVE_INFINITY;
    for (const proc of this.procs) {
      if (proc.nextScanNs <= now) {
        const cpu = clock === null ? now : clock(proc.pid, now);
        if (cpu >= proc.cpuStampNs) {
          const period = proc.periodNs;
          if (proc.periodNs === scan.delayNs && !proc.started) {
            proc.periodNs = this.taskScanMinNs(proc, scan);
            proc.started = true;
          }
          proc.cpuStampNs += period;
          if (now >= proc.wallNextNs) {
            if (proc.wrapped && proc.faultsLocal + proc.faultsRemote > 0) this.adaptPeriod(proc, scan);
            proc.wallNextNs = now + proc.periodNs;
            this.scanProc(proc, scan, now);
          }
        }
        // The earliest trace time at which the task's CPU time can reach its stamp.
        proc.nextScanNs = now + Math.max(proc.cpuStampNs - (clock === null ? now : clock(proc.pid, now)), 1);
      }
      if (proc.nextScanNs < next) next = proc.nextScanNs;
    }
    this.nextScanNs = next;
  }

  private scanProc(proc: ProcScan, scan: ScanConfig, now: number): void {
    const P = this.pages;
    let armed = 0;
    let budget = scan.scanPages;
    let looked = 0;
    let page = proc.cursor === -1 ? proc.head : proc.cursor;
    const start = page;
    while (page !== -1 && budget > 0 && looked < scan.scanPages * 8) {
      const nr = P.nrPages[page]!;
      looked += nr;
      const node = P.node[page]!;
      if (node >= 0 && !(scan.skipTopTier && this.topTier[node] === 1) && (P.flags[page]! & PageFlag.protNone) === 0) {
        P.flags[page] = P.flags[page]! | PageFlag.protNone;
        P.scanTimeMs[page] = now / NS_PER_MS;
        armed += nr;
        budget -= nr;
      } else if (armed > 0) {
        // Inside a range that had an update: the range counts whole.
        budget -= nr;
      }
      page = P.procNext[page]!;
      if (page === proc.head) proc.wrapped = true;
      if (page === start) break;
    }
    proc.cursor = page;
    this.m.numaPteUpdates += armed;
  }

  /**
   * task_scan_min(): max(1000 / (MAX_SCAN_WINDOW / scan_size) ms,
   * scan_period_min / task_nr_scan_windows()), the windows being the RSS in
   * scan_size units, rounded up. task_scan_start() is this for a task in no
   * NUMA group.
   */
  private taskScanMinNs(proc: ProcScan, scan: ScanConfig): number {
    const scanSizeMb = (scan.scanPages * this.pageBytes) / (1 << 20);
    const windows = scanSizeMb < MAX_SCAN_WINDOW_MB ? Math.floor(MAX_SCAN_WINDOW_MB / scanSizeMb) : 1;
    const floorNs = Math.floor(1000 / windows) * NS_PER_MS;
    const rssWindows = Math.max(1, Math.ceil(proc.rssPages / scan.scanPages));
    return Math.max(floorNs, Math.floor(scan.periodMinNs / NS_PER_MS / rssWindows) * NS_PER_MS);
  }

  private taskScanMaxNs(proc: ProcScan, scan: ScanConfig): number {
    const rssWindows = Math.max(1, Math.ceil(proc.rssPages / scan.scanPages));
    return Math.max(this.taskScanMinNs(proc, scan), Math.floor(scan.periodMaxNs / NS_PER_MS / rssWindows) * NS_PER_MS);
  }

  /**
   * update_task_scan_period(), at the first recorded fault after the scanner
   * wrapped (task_numa_placement() once per numa_scan_seq): faults all
   * private here (one address space), so ps_ratio is 10 >= NUMA_PERIOD_THRESHOLD
   * and the period grows by 3 slots of a tenth; clamped to
   * [task_scan_min(), task_scan_max()]. Faults on slow-tier pages are not
   * recorded in memory-tiering mode (task_numa_fault() returns early), so a
   * tiering-only task keeps its first period.
   */
  private adaptPeriod(proc: ProcScan, scan: ScanConfig): void {
    const slot = Math.ceil(proc.periodNs / NS_PER_MS / NUMA_PERIOD_SLOTS) * NS_PER_MS;
    const diff = (10 - NUMA_PERIOD_THRESHOLD) * slot;
    proc.periodNs = Math.min(this.taskScanMaxNs(proc, scan), Math.max(this.taskScanMinNs(proc, scan), proc.periodNs + diff));
    proc.faultsLocal = 0;
    proc.faultsRemote = 0;
    proc.wrapped = false;
  }

  // ---- context ----

  private buildZonelist(preferred: number): number[] {
    const pref = this.nodes[preferred]!;
    const others = this.nodes
      .filter((n) => n.id !== preferred && n.inFallbackZonelist !== false && n.cpuAccess === 'coherent')
      .sort(
        (a, b) =>
          Math.abs(a.abstractDistance - pref.abstractDistance) - Math.abs(b.abstractDistance - pref.abstractDistance) ||
          a.id - b.id,
      );
    return [preferred, ...others.map((n) => n.id)];
  }

  /** next_demotion_node(): the nearest node in the next slower tier. */
  private findDemotionTarget(node: number): number {
    const tier = this.nodes[node]!.tier;
    let best = -1;
    for (const n of this.nodes) {
      if (n.tier <= tier || n.cpuAccess !== 'coherent' || n.inFallbackZonelist === false) continue;
      if (best === -1 || n.tier < this.nodes[best]!.tier) best = n.id;
    }
    return best;
  }

  private warn(code: string, message: string): void {
    const w = this.warnings.get(code);
    if (w === undefined) this.warnings.set(code, { count: 1, first: message });
    else w.count++;
  }

  private callHook(hook: string, fn: () => void): void {
    const saved = this.hook;
    this.hook = hook;
    try {
      fn();
    } catch (cause) {
      throw this.hookError(hook, cause);
    }
    this.hook = saved;
  }

  private hookError(hook: string, cause: unknown): TierlabError {
    if (isTierlabError(cause) && cause.policy !== undefined) return cause;
    const text = cause instanceof Error ? cause.message : String(cause);
    return new TierlabError({
      code: isTierlabError(cause) ? cause.code : ErrorCode.policyHookThrew,
      policy: this.policy.name,
      hook,
      message: isTierlabError(cause) ? text : `hook threw: ${text}`,
      cause,
    });
  }

  private decisionError(hook: string, message: string, expected: string): TierlabError {
    return new TierlabError({ code: ErrorCode.policyDecision, policy: this.policy.name, hook, message, expected });
  }

  private checkPage(page: PageRef, what: string): void {
    if (!Number.isInteger(page) || !this.pages.isLive(page)) {
      throw this.decisionError(this.hook, `${what}: page ${page} is not live`, 'a live page id');
    }
  }

  private checkNode(node: NodeId, what: string): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.nodes.length) {
      throw this.decisionError(this.hook, `${what}: node ${node} does not exist`, `a node id 0..${this.nodes.length - 1}`);
    }
  }

  private makeContext(): PolicyContext {
    // biome-ignore lint/complexity/noUselessThisAlias: the context's methods are plain functions handed to third-party code
    const self = this;
    const P = this.pages;
    const nodesByTier = [...this.nodes].sort((a, b) => a.tier - b.tier || a.id - b.id).map((n) => n.id);
    return {
      now: () => self.now,
      machine: this.machine,
      nodesByTier,
      node: (id) => {
        self.checkNode(id, 'node');
        return self.nodes[id]!;
      },
      freePages: (node) => {
        self.checkNode(node, 'freePages');
        return self.free(node);
      },
      demotionTarget: (node) => self.demotionTargets[node] ?? -1,
      isTopTier: (node) => self.topTier[node] === 1,
      pageNode: (page) => {
        self.checkPage(page, 'pageNode');
        return P.node[page]!;
      },
      pageKind: (page) => {
        self.checkPage(page, 'pageKind');
        return P.kind[page]! as PageKind;
      },
      pageNrPages: (page) => {
        self.checkPage(page, 'pageNrPages');
        return P.nrPages[page]!;
      },
      pageDirty: (page) => {
        self.checkPage(page, 'pageDirty');
        return (P.flags[page]! & PageFlag.dirty) !== 0;
      },
      pageLastAccess: (page) => {
        self.checkPage(page, 'pageLastAccess');
        return P.lastAccess[page]!;
      },
      pageIdentity: (page) => {
        self.checkPage(page, 'pageIdentity');
        return self.identity ? self.identity(page) : null;
      },
      testAndClearYoung: (page) => {
        self.checkPage(page, 'testAndClearYoung');
        const young = (P.flags[page]! & PageFlag.young) !== 0;
        P.flags[page] = P.flags[page]! & ~PageFlag.young;
        return young;
      },
      pageFutureAccesses: (page) => {
        self.checkPage(page, 'pageFutureAccesses');
        if (!self.oracle || self.lifetimeAccesses === null) {
          throw self.decisionError(self.hook, 'pageFutureAccesses needs observe.oracle (and a replay that computed the future)', 'observe: { oracle: true }');
        }
        return Math.max(0, P.future[page]!);
      },
      pagesOnNode: (node, max) => {
        self.checkNode(node, 'pagesOnNode');
        const out: number[] = [];
        for (const list of [node * 2, node * 2 + 1]) {
          let page = P.lruTail[list]!;
          while (page !== -1 && out.length < max) {
            out.push(page);
            page = P.lruPrev[page]!;
          }
        }
        return out;
      },
      migrate: (page, node, reason) => {
        self.checkPage(page, 'migrate');
        self.checkNode(node, 'migrate');
        if (self.hook === 'placePage' || self.hook === 'onFree') {
          throw self.decisionError(self.hook, 'migrate called from a hook that may not migrate', 'no migration here');
        }
        const from = P.node[page]!;
        if (from === NOT_RESIDENT || from === node) return false;
        // migrate_vma moves only private anonymous pages to device-private memory.
        if (self.nodes[node]!.cpuAccess === 'faults' && P.kind[page] !== PageKind.anon) return false;
        const nr = P.nrPages[page]!;
        if (self.free(node) - nr < self.nodes[node]!.watermarks.min) return false;
        self.moveTo(page, node, reason, self.inReclaim);
        if (self.free(node) < self.nodes[node]!.watermarks.low) self.wakeKswapd(node);
        return true;
      },
      evict: (page) => {
        self.checkPage(page, 'evict');
        if (self.hook === 'placePage' || self.hook === 'onFree') {
          throw self.decisionError(self.hook, 'evict called from a hook that may not evict', 'no eviction here');
        }
        if (P.node[page] === NOT_RESIDENT) return;
        self.evictPage(page, self.inReclaim);
      },
      reclaim: (node, nrPages, options) => {
        self.checkNode(node, 'reclaim');
        if (options?.demoteTo !== undefined && options.demoteTo >= 0) self.checkNode(options.demoteTo, 'reclaim.demoteTo');
        return self.reclaim(node, nrPages, options);
      },
      wakeKswapd: (node) => {
        self.checkNode(node, 'wakeKswapd');
        self.wakeKswapd(node);
      },
      allocMetadata: (node, bytes) => {
        self.checkNode(node, 'allocMetadata');
        if (bytes / self.pageBytes > self.free(node)) {
          throw self.decisionError(self.hook, `allocMetadata: ${bytes} bytes do not fit on node ${node}`, 'room on the node');
        }
        self.metadataBytes[node] = self.metadataBytes[node]! + bytes;
        let total = 0;
        for (const b of self.metadataBytes) total += b;
        if (total > self.m.metadataBytesPeak) self.m.metadataBytesPeak = total;
      },
      freeMetadata: (node, bytes) => {
        self.checkNode(node, 'freeMetadata');
        if (bytes > self.metadataBytes[node]!) {
          throw self.decisionError(self.hook, `freeMetadata: ${bytes} bytes but node ${node} holds ${self.metadataBytes[node]}`, 'at most what was allocated');
        }
        self.metadataBytes[node] = self.metadataBytes[node]! - (bytes);
      },
      counter: (name, _description) => {
        const key = `${self.policy.name}.${name}`;
        let c = self.counters.get(key);
        if (c === undefined) {
          c = { value: 0 };
          self.counters.set(key, c);
        }
        const cell = c;
        const counter: Counter = {
          add(delta: number) {
            cell.value += delta;
          },
          get value() {
            return cell.value;
          },
        };
        return counter;
      },
      chargeNs: (ns) => {
        if (!(ns >= 0) || !Number.isFinite(ns)) throw self.decisionError(self.hook, `chargeNs(${ns})`, 'a finite number of ns >= 0');
        self.m.policyChargedNs += ns;
      },
      random: () => self.random(),
      warn: (code, message) => self.warn(`${self.policy.name}.${code}`, message),
    };
  }
}
