/**
 * The policy spec, version 1: a policy is a plain object of optional hooks,
 * like the kernel's `struct dev_pagemap_ops`. The engine owns the world
 * (which page is on which node, free capacity, clocks); a policy decides
 * through the {@link PolicyContext} it is handed.
 *
 * Rules every hook obeys:
 * - Time and randomness come only from the context (`ctx.now()`, `ctx.random()`),
 *   never from `Date`, `performance` or `Math.random`, so a run repeats exactly.
 * - Hooks run synchronously, one at a time, in trace order.
 * - A hook that throws, or asks for something impossible (a node over
 *   capacity, a freed page), ends that policy's run with a `TierlabError`
 *   naming the policy and the hook; other policies in the run go on.
 * - A page id (`PageRef`) is valid from its alloc to its free; do not keep it past `onFree`.
 */

import type { EventBatch, PageIdentity, PageKind } from './events.js';
import type { ResolvedMachine, ResolvedNode } from './machine.js';

/** The spec versions this API describes. */
export const SPEC_VERSION = 1;
export const SUPPORTED_SPEC_VERSIONS: readonly number[] = [1];

export type NodeId = number;
/** Dense page id, see {@link EventBatch.page}. */
export type PageRef = number;

/** What a policy can model; the conformance kit picks its cases from this list. */
export const policyCapabilities = [
  'placement',
  'reclaim',
  'promotion',
  'demotion',
  'hint-faults',
  'access-samples',
  'device-memory',
  'metadata',
  'io',
] as const;
export type PolicyCapability = (typeof policyCapabilities)[number];

/** Why a page is being allocated (alloc_pages() arguments the trace shows). */
export interface AllocHint {
  readonly kind: PageKind;
  /** Base pages: 2^order. */
  readonly nrPages: number;
  /** Node of the CPU that allocates (numa_node_id()). */
  readonly localNode: NodeId;
  /** Owning process, -1 for none. */
  readonly pid: number;
  /** The allocation was caused by a write fault. */
  readonly write: boolean;
  /** The node an explicit memory policy (mbind MPOL_BIND) names for this page, or -1. */
  readonly boundNode: NodeId;
}

/** Faults a policy can be shown. */
export const FaultKind = {
  /** NUMA hint fault: the page was made PROT_NONE by the NUMA scanner and touched (do_numa_page()). */
  numaHint: 1,
  /** A CPU touched a device-private page (dev_pagemap_ops.migrate_to_ram). */
  devicePrivate: 2,
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

export interface FaultInfo {
  readonly kind: FaultKind;
  readonly write: boolean;
  /** Node the page is on. */
  readonly pageNode: NodeId;
  /** Node of the CPU that faulted. */
  readonly cpuNode: NodeId;
  /**
   * numaHint: ms from the scanner making the page PROT_NONE to this fault
   * (the kernel's hint-fault latency, numa_hint_fault_latency() in kernel/sched/fair.c).
   */
  readonly latencyMs: number;
  /** Owning process of the access, -1 when none. */
  readonly pid: number;
}

/** An access the observation model lets the policy see (sampled or aggregated). */
export interface AccessSample {
  readonly page: PageRef;
  readonly write: boolean;
  /** Accesses the sample stands for. */
  readonly count: number;
  readonly pid: number;
  /**
   * The node of the device that is about to access the page, or -1 for a CPU
   * access. Device accesses are always delivered (the driver knows its own
   * work, as a driver calling migrate_vma_setup() does); CPU accesses only in
   * oracle mode.
   */
  readonly deviceNode: NodeId;
  /** Where the access was seen ({@link AccessSource}: fault, activate, io-fill, dirty, sample, device). */
  readonly source: number;
}

/** I/O on a page (page-cache fill, writeback, direct I/O). */
export interface IoInfo {
  readonly direction: 'read' | 'write';
  readonly bytes: number;
}

/** The NUMA-scanner emulation a policy asks for (kernel/sched/fair.c, task_numa_work()). */
export interface NumaScanRequest {
  /** sysctl numa_balancing_scan_delay_ms: wait before the first scan of a task (default 1000). */
  readonly scanDelayMs?: number;
  /** sysctl numa_balancing_scan_period_min_ms (default 1000). */
  readonly scanPeriodMinMs?: number;
  /** sysctl numa_balancing_scan_period_max_ms (default 60000). */
  readonly scanPeriodMaxMs?: number;
  /** sysctl numa_balancing_scan_size_mb: address space made PROT_NONE per scan (default 256). */
  readonly scanSizeMb?: number;
  /** Skip pages already on a top-tier node (change_pte_range() in NUMA_BALANCING_MEMORY_TIERING mode). */
  readonly skipTopTier?: boolean;
}

/** What the policy may observe. Ground truth is always charged; this is only what the policy sees. */
export interface ObservationRequest {
  /** NUMA hint faults from a scanner emulation; delivered to `onFault`. */
  readonly numaHintFaults?: NumaScanRequest;
  /** Every access, as the trace shows it, plus knowledge of the future (ctx.pageFutureAccesses): an oracle no kernel has. Results say so. */
  readonly oracle?: boolean;
  /**
   * Every CPU access the trace shows, delivered to `onAccessSample`, without
   * knowledge of the future: what a design that sees each access (a fault
   * handler, a page-cache lookup) would see. Results say so.
   */
  readonly accesses?: boolean;
  /** Period of `onTick`, ms of trace time. */
  readonly tickMs?: number;
}

/** A counter a policy keeps; its name becomes `<policy>.<name>` in results. */
export interface Counter {
  add(delta: number): void;
  readonly value: number;
}

/** Options of `ctx.reclaim`: kernel-like shrink_node() on one node. */
export interface ReclaimOptions {
  /** Demote to this node instead of evicting (demote_folio_list()); pages that cannot be demoted are evicted. */
  readonly demoteTo?: NodeId;
  /** Counted as kswapd (background) or direct reclaim. Default: what the engine is doing when it calls the hook. */
  readonly mode?: 'kswapd' | 'direct';
}

export interface ReclaimResult {
  readonly scanned: number;
  readonly reclaimed: number;
  readonly demoted: number;
  readonly evicted: number;
}

/** The world as a policy sees and changes it. Valid only inside the hook call that received it. */
export interface PolicyContext {
  /** Trace time, ns since the trace began. */
  now(): number;
  readonly machine: ResolvedMachine;
  /** Node ids from fastest tier to slowest. */
  readonly nodesByTier: readonly NodeId[];
  node(id: NodeId): ResolvedNode;
  /** Free base pages on a node. */
  freePages(node: NodeId): number;
  /** Nodes one tier down that this node demotes to (mm/memory-tiers.c: next_demotion_node()), -1 if none. */
  demotionTarget(node: NodeId): NodeId;
  /** The node is in the top tier (node_is_toptier()). */
  isTopTier(node: NodeId): boolean;

  /** Node the page is on, -1 if evicted. Throws on a freed or unknown page. */
  pageNode(page: PageRef): NodeId;
  pageKind(page: PageRef): PageKind;
  pageNrPages(page: PageRef): number;
  pageDirty(page: PageRef): boolean;
  /** Trace time of the page's last access (ns), as the engine knows it (ground truth: use only in oracle policies). */
  pageLastAccess(page: PageRef): number;
  /** Identity as the normalizer linked it; null for synthetic pages. Slow: not for the hot path. */
  pageIdentity(page: PageRef): PageIdentity | null;
  /**
   * The page was accessed since the last call for it (the accessed/young bit,
   * folio_test_clear_young()); clears the bit. What an A-bit scanner sees:
   * CPU accesses only, not device accesses.
   */
  testAndClearYoung(page: PageRef): boolean;
  /**
   * Accesses the page will still receive before it is freed (ground truth from
   * the whole trace). Only for policies that declare `observe.oracle`; others get an error.
   */
  pageFutureAccesses(page: PageRef): number;
  /** Pages on a node, in LRU order from the coldest (inactive tail) to the hottest, up to `max`. Slow: for periodic scans. */
  pagesOnNode(node: NodeId, max: number): PageRef[];

  /** Migrate a page (migrate_pages()); charged. False when the target has no room above its min watermark. */
  migrate(page: PageRef, node: NodeId, reason: 'promote' | 'demote' | 'other'): boolean;
  /** Evict a page to storage (reclaim without demotion); charged, and a later access refaults. */
  evict(page: PageRef): void;
  /** Kernel-like reclaim of up to `nrPages` from a node's inactive LRU, optionally demoting. */
  reclaim(node: NodeId, nrPages: number, options?: ReclaimOptions): ReclaimResult;
  /** Wake kswapd on a node (wakeup_kswapd()): it reclaims to the high watermark after this hook. */
  wakeKswapd(node: NodeId): void;

  /** Account metadata (e.g. struct pages) on a node; takes capacity. */
  allocMetadata(node: NodeId, bytes: number): void;
  freeMetadata(node: NodeId, bytes: number): void;

  /**
   * Charge time to the workload's path (a copy, a metadata allocation the
   * design does on the I/O path); added to totalCostNs and to policyChargedNs.
   */
  chargeNs(ns: number): void;
  /** A counter for this policy; create it in `init` and keep it. */
  counter(name: string, description?: string): Counter;
  /** Uniform in [0, 1), from the run's seed. */
  random(): number;
  /** A warning that goes into the result (counted by code). */
  warn(code: string, message: string): void;
}

/** A knob a policy exposes (`--policy name:knob=value`). */
export interface KnobSpec {
  readonly type: 'number' | 'boolean' | 'string';
  readonly default: number | boolean | string;
  readonly description: string;
  /** The kernel's own name (sysctl, sysfs or symbol), with its file. */
  readonly kernelName?: string;
}

/**
 * A tiering policy: name, spec version and optional hooks.
 * Made by a factory, `(options) => TierPolicy`, once per run: state lives in the closure.
 */
export interface TierPolicy {
  /** npm-style name, unique in a run. */
  readonly name: string;
  readonly version?: string;
  readonly specVersion: 1;
  readonly description?: string;
  /** What the policy models. */
  readonly supports?: readonly PolicyCapability[];
  /** What it observes; absent: no hint faults, no samples, no ticks. */
  readonly observe?: ObservationRequest;
  /**
   * The watermark kswapd balances a node to (mm/vmscan.c: pgdat_balanced()):
   * `high` (default), or `promo` (WMARK_PROMO, what the kernel uses in
   * memory-tiering mode, kernel.numa_balancing & 2). A woken kswapd with the
   * node's free pages below it calls onPressure (mode 'kswapd') for the gap,
   * at least SWAP_CLUSTER_MAX pages.
   */
  readonly kswapdWatermark?: 'high' | 'promo';
  /** The knob values in force, for the result's provenance. */
  readonly knobs?: Readonly<Record<string, number | boolean | string>>;

  /**
   * Called once before the first event. Guaranteed: the machine is resolved,
   * all nodes are empty. May: create counters, read the machine. Absent: nothing.
   */
  init?(ctx: PolicyContext): void;

  /**
   * alloc_pages(): choose the node for a new page. Called for every alloc
   * event, before the page exists on any node. Return the preferred node;
   * the engine then applies the zonelist (fallback by distance, watermarks,
   * reclaim) as the kernel does. May not migrate or evict here.
   * Not called for a page an explicit memory policy binds (mbind MPOL_BIND in
   * a workload overlay): the engine places it on the bound node, as
   * alloc_pages_mpol() does; `onPlaced` still reports it.
   * Absent: `hint.localNode` (the kernel's default local allocation).
   */
  placePage?(ctx: PolicyContext, page: PageRef, hint: AllocHint): NodeId;

  /**
   * Called when the engine has placed a page: `node` is where it landed
   * (after fallback). May: record it. Absent: nothing.
   */
  onPlaced?(ctx: PolicyContext, page: PageRef, node: NodeId): void;

  /**
   * A fault the observation model lets the policy see: a NUMA hint fault
   * (do_numa_page()) or a CPU fault on device-private memory
   * (dev_pagemap_ops.migrate_to_ram()). Guaranteed: the page is live; the
   * access that caused it has not been charged yet (a migration here serves
   * it). May: migrate the page, wake kswapd. Absent: a hint fault is only
   * charged; a device-private page is migrated to the CPU's node by the engine
   * (the CPU cannot reach it in place, so migrate_to_ram must move it).
   */
  onFault?(ctx: PolicyContext, page: PageRef, fault: FaultInfo): void;

  /**
   * Sampled or aggregated accesses (oracle mode: every access), and every
   * device access (`sample.deviceNode >= 0`) before it is charged, so a
   * policy can migrate the page to the device first (migrate_vma_setup /
   * migrate_vma_pages / migrate_vma_finalize). Guaranteed: the page is live.
   * May: keep statistics, migrate. Absent: nothing.
   */
  onAccessSample?(ctx: PolicyContext, sample: AccessSample): void;

  /**
   * kswapd or direct reclaim on a node below its watermark
   * (balance_pgdat() / try_to_free_pages()). Must free `pagesWanted` base
   * pages if it can, by `ctx.reclaim` (optionally demoting), `ctx.migrate`
   * or `ctx.evict`. Called with the node's pages all live.
   * `mode` says who reclaims: kswapd (background, balance_pgdat()) or direct
   * reclaim on the allocating task's path (including memory-cgroup reclaim).
   * Absent: `ctx.reclaim(node, pagesWanted)`, eviction without demotion.
   */
  onPressure?(ctx: PolicyContext, node: NodeId, pagesWanted: number, mode: 'kswapd' | 'direct'): void;

  /**
   * Periodic work (the NUMA scanner's task work, kpromoted, DAMOS), every
   * `observe.tickMs` of trace time. May: migrate, reclaim. Absent: nothing.
   */
  onTick?(ctx: PolicyContext): void;

  /** I/O on a page (page-cache fill or writeback). Absent: nothing. */
  onIo?(ctx: PolicyContext, page: PageRef, io: IoInfo): void;

  /**
   * The page is about to be freed. Guaranteed: still live (its node is
   * readable). May: forget it. May not migrate it. Absent: nothing.
   */
  onFree?(ctx: PolicyContext, page: PageRef): void;

  /** Called once after the last event. May: add final counters. Absent: nothing. */
  finish?(ctx: PolicyContext): void;
}

/** How a policy package is made: `(options) => TierPolicy`, with its knobs described. */
export interface PolicyFactory<Options extends Record<string, unknown> = Record<string, unknown>> {
  (options?: Partial<Options>): TierPolicy;
  readonly policyName: string;
  readonly description: string;
  readonly knobs: Readonly<Record<string, KnobSpec>>;
}

/** Re-exported so a policy author imports one module. */
export type { EventBatch };
