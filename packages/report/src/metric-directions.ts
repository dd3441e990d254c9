/**
 * Which way is better for each metric, and its unit. `compare` reads a head
 * value as worse than base by this table; a threshold bounds how much worse.
 */

import type { MetricName } from '@tierlab/memory-tier-api';

/**
 * `lower`: less is better (costs, stalls, faults, migrations, risk, wear).
 * `higher`: more is better. `neither`: a property of the trace, not of the
 * policy; a change means the reading or linking changed, so either way is news.
 */
export type MetricDirection = 'lower' | 'higher' | 'neither';

/** How a metric's value reads: ns, bytes, a count, or a share in 0..1 (shown as %). */
export type MetricUnit = 'ns' | 'bytes' | 'count' | 'share';

export const metricDirections: Readonly<Record<MetricName, MetricDirection>> = {
  /** What the trace shows: the same for every policy on a trace. */
  accesses: 'neither',
  /** What the trace shows. */
  reads: 'neither',
  /** What the trace shows. */
  writes: 'neither',
  /** Memory stall time: the cost a tiering policy exists to cut. */
  accessCostNs: 'lower',
  /** Stall time per access: the headline figure of placement quality. */
  meanAccessCostNs: 'lower',
  /** Accesses served by the top tier: the more the better. */
  fastTierAccessShare: 'higher',
  /** Everything charged to the workload (stalls, faults, on-path migration, direct reclaim, refaults). */
  totalCostNs: 'lower',
  /** User page faults in the trace: fixed by the trace (refaults a policy causes are workingsetRefault). */
  pageFaults: 'neither',
  /** Hint faults are traps charged to the workload (the price of NUMA balancing's sampling). */
  numaHintFaults: 'lower',
  /** PTE updates are scanner work (TLB flushes, page-table walks). */
  numaPteUpdates: 'lower',
  /** Promotions are migrations: work and bandwidth; their benefit shows in fastTierAccessShare and the costs. */
  pgpromoteSuccess: 'lower',
  /** Demotions by kswapd: migrations, work and bandwidth. */
  pgdemoteKswapd: 'lower',
  /** Demotions in direct reclaim: on the workload's path. */
  pgdemoteDirect: 'lower',
  /** All migrations. */
  pgmigrateSuccess: 'lower',
  /** Bytes moved by migration: link bandwidth used. */
  migratedBytes: 'lower',
  /** Time spent migrating. */
  migrationCostNs: 'lower',
  /** Base pages allocated: what the trace shows. */
  pgalloc: 'neither',
  /** Allocations that missed their preferred node. */
  allocFallback: 'lower',
  /** kswapd wakeups: reclaim pressure. */
  kswapdWakeups: 'lower',
  /** Direct reclaim stalls: the workload waited for memory. */
  allocstall: 'lower',
  /** Memory cgroup reclaim passes: the workload hit its cgroup limit and reclaimed on its own path. */
  memcgReclaims: 'lower',
  /** Pages scanned by reclaim: reclaim work. */
  pgscan: 'lower',
  /** Pages evicted: data pushed out to storage. */
  pgsteal: 'lower',
  /** Evicted pages read back: major faults. */
  workingsetRefault: 'lower',
  /** Background reclaim time (CPU the workload does not wait for, but the machine pays). */
  kswapdCostNs: 'lower',
  /** Direct reclaim time: on the workload's path. */
  directReclaimCostNs: 'lower',
  /** Dirty bytes on volatile nodes at the worst moment: what a power loss would lose. */
  dirtyBytesAtRiskPeak: 'lower',
  /** Mean dirty bytes at risk. */
  dirtyBytesAtRiskMean: 'lower',
  /** Bytes written to persistent media: wear and write latency. */
  persistentWriteBytes: 'lower',
  /** Metadata bytes (e.g. struct pages) taking capacity. */
  metadataBytesPeak: 'lower',
  /** Device accesses the workload overlay schedules: an input, not a policy's doing. */
  deviceAccesses: 'neither',
  /** What the device's accesses cost: less when its pages are in its own memory. */
  deviceAccessCostNs: 'lower',
  /** Device accesses served by the device's own memory. */
  deviceLocalAccessShare: 'higher',
  /** CPU accesses that had to cross to device memory. */
  cpuAccessesToDevice: 'lower',
  /** Their cost. */
  cpuAccessToDeviceCostNs: 'lower',
  /** CPU faults on device-private pages (migrate_to_ram): each a trap and a migration. */
  devicePrivateFaults: 'lower',
  /** Bytes migrated to the device: link bandwidth. */
  migratedBytesToDevice: 'lower',
  /** Bytes migrated back: link bandwidth. */
  migratedBytesFromDevice: 'lower',
  /** Allocations that landed on a device node unasked (N_COHERENT_MEMORY promises 0). */
  implicitDeviceAllocations: 'lower',
  /** Time policies charged on the workload's path (copies, metadata work): lower is better. */
  policyChargedNs: 'lower',
};

export const metricUnits: Readonly<Record<MetricName, MetricUnit>> = {
  accesses: 'count',
  reads: 'count',
  writes: 'count',
  accessCostNs: 'ns',
  meanAccessCostNs: 'ns',
  fastTierAccessShare: 'share',
  totalCostNs: 'ns',
  pageFaults: 'count',
  numaHintFaults: 'count',
  numaPteUpdates: 'count',
  pgpromoteSuccess: 'count',
  pgdemoteKswapd: 'count',
  pgdemoteDirect: 'count',
  pgmigrateSuccess: 'count',
  migratedBytes: 'bytes',
  migrationCostNs: 'ns',
  pgalloc: 'count',
  allocFallback: 'count',
  kswapdWakeups: 'count',
  allocstall: 'count',
  memcgReclaims: 'count',
  pgscan: 'count',
  pgsteal: 'count',
  workingsetRefault: 'count',
  kswapdCostNs: 'ns',
  directReclaimCostNs: 'ns',
  dirtyBytesAtRiskPeak: 'bytes',
  dirtyBytesAtRiskMean: 'bytes',
  persistentWriteBytes: 'bytes',
  metadataBytesPeak: 'bytes',
  deviceAccesses: 'count',
  deviceAccessCostNs: 'ns',
  deviceLocalAccessShare: 'share',
  cpuAccessesToDevice: 'count',
  cpuAccessToDeviceCostNs: 'ns',
  devicePrivateFaults: 'count',
  migratedBytesToDevice: 'bytes',
  migratedBytesFromDevice: 'bytes',
  implicitDeviceAllocations: 'count',
  policyChargedNs: 'ns',
};
