/**
 * The machine a trace is replayed on: its memory nodes and cost constants.
 * Every figure carries its source, so a result says what it assumed.
 */

export const nodeKinds = ['dram', 'pmem', 'cxl', 'hbm', 'device-private', 'device-coherent'] as const;
export type NodeKind = (typeof nodeKinds)[number];

/** A NUMA node (or device memory) as a user describes it. */
export interface NodeSpec {
  /** Short unique name, e.g. `dram0`, `pmem0`. */
  readonly name: string;
  readonly kind: NodeKind;
  /**
   * Capacity: bytes (a number, or a string with a unit: `64GiB`, `512MiB`),
   * or a share of the trace's footprint (peak live memory): `25%`.
   */
  readonly capacity: number | string;
  /** Load-to-use latency of a random 64 B read, ns. */
  readonly readLatencyNs: number;
  /** Latency of a random write (store made durable for persistent media), ns. */
  readonly writeLatencyNs: number;
  /** Sustained read bandwidth, GB/s (10^9 bytes per second). */
  readonly readBandwidthGBs: number;
  /** Sustained write bandwidth, GB/s. */
  readonly writeBandwidthGBs: number;
  /** Contents survive power loss. */
  readonly persistent: boolean;
  /** The CPU reaches it with loads and stores (`coherent`), or every CPU access faults (`faults`, device-private). */
  readonly cpuAccess: 'coherent' | 'faults';
  /** Pages there have struct pages (memmap). */
  readonly structPages: boolean;
  /**
   * The kernel's abstract distance (include/linux/memory-tiers.h:
   * MEMTIER_ADISTANCE_DRAM = 4 * MEMTIER_CHUNK_SIZE + MEMTIER_CHUNK_SIZE / 2 = 576; dax/kmem default 5 * 576 = 2880); larger is slower.
   * Nodes are grouped into tiers by it, lowest first.
   */
  readonly abstractDistance: number;
  /** The node has CPUs (allocations from those CPUs are local to it). */
  readonly hasCpus?: boolean;
  /** Allocations may fall back to this node through the zonelist (false for N_COHERENT_MEMORY-style nodes). */
  readonly inFallbackZonelist?: boolean;
  /**
   * All of the node's memory is ZONE_MOVABLE (memory hot-added and onlined
   * movable, as `daxctl reconfigure-device --mode=system-ram` does by
   * default): only movable allocations (user and page-cache pages) can use
   * it; kernel allocations (GFP_KERNEL: page tables, slab) fall back past it,
   * so they wake kswapd and reclaim on the other nodes instead. Default false.
   */
  readonly movableOnly?: boolean;
  /**
   * The node's watermarks in base pages, as a real machine has them (the sum
   * over the node's zones of `min`, `low`, `high` in /proc/zoneinfo, each plus
   * the zone's lowmem `protection` for movable allocations). Replaces the
   * computed ones; `promo` defaults to high + (low - min), as
   * __setup_per_zone_wmarks() sets WMARK_PROMO.
   */
  readonly watermarks?: { readonly min: number; readonly low: number; readonly high: number; readonly promo?: number };
  /** Where the figures come from. */
  readonly source?: string;
}

/** Costs that are not per node. */
export interface CostSpec {
  /** A minor page fault (first touch, no I/O), ns. */
  readonly pageFaultNs: number;
  /** A NUMA hint fault (PROT_NONE trap and the numa_migrate_prep work), ns. */
  readonly hintFaultNs: number;
  /** Fixed cost of migrating one page (isolate, unmap, remap), ns; bytes/bandwidth is added. */
  readonly migrationFixedNs: number;
  /** A TLB shootdown after unmapping a page, ns. */
  readonly tlbShootdownNs: number;
  /** Reclaim work per page scanned, ns (kswapd: background; direct reclaim: charged to the allocating task). */
  readonly reclaimPerPageNs: number;
  /** Refault of an evicted page: a major fault reading it back from storage, ns. */
  readonly majorFaultNs: number;
  /** Writing one dirty page back to storage before it can be evicted, ns. */
  readonly writebackPageNs: number;
  /** A device access to a page in system memory, over the link (PCIe, CXL, NVLink), ns. Default 1000. */
  readonly deviceRemoteAccessNs?: number;
  /** Where the figures come from. */
  readonly source?: string;
}

/** A machine as written in a preset or a user's file. */
export interface MachineSpec {
  readonly name: string;
  readonly description?: string;
  readonly nodes: readonly NodeSpec[];
  readonly costs: CostSpec;
  /** Citations for the figures. */
  readonly sources?: readonly string[];
}

/** A node with its capacity resolved to base pages and its watermarks computed. */
export interface ResolvedNode extends NodeSpec {
  readonly id: number;
  readonly capacityPages: number;
  readonly capacityBytes: number;
  /** Memory tier index (0 = fastest), from the abstract distance. */
  readonly tier: number;
  /** Zone watermarks in pages (mm/page_alloc.c: __setup_per_zone_wmarks). */
  readonly watermarks: Watermarks;
}

export interface Watermarks {
  readonly min: number;
  readonly low: number;
  readonly high: number;
  /** WMARK_PROMO: high plus the same gap again; kswapd reclaims to it in memory-tiering mode. */
  readonly promo: number;
}

/** The machine an engine runs: nodes resolved, tiers assigned. */
export interface ResolvedMachine {
  readonly name: string;
  readonly description?: string;
  readonly nodes: readonly ResolvedNode[];
  readonly costs: CostSpec;
  readonly sources: readonly string[];
  /** Base page size, bytes. */
  readonly pageSize: 4096;
  /** Footprint the relative capacities were resolved against (peak live base pages), or null. */
  readonly footprintPages: number | null;
}

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
