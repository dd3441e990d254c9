/**
 * Metric names of a replay result. Kernel counters keep the kernel's name in
 * camelCase (include/linux/vm_event_item.h, mm/vmstat.c).
 */

/** Totals every engine run reports, per policy. */
export const metricNames = [
  /** Accesses the trace shows (weighted by count). */
  'accesses',
  'reads',
  'writes',
  /** Memory stall time: sum of access latencies on the node serving each access, ns. */
  'accessCostNs',
  /** accessCostNs / accesses. */
  'meanAccessCostNs',
  /** Share of accesses served by a top-tier node. */
  'fastTierAccessShare',
  /** All time charged to the workload: accesses, faults, migrations on its path, direct reclaim, refaults, ns. */
  'totalCostNs',
  /** User page faults in the trace (exceptions:page_fault_user). */
  'pageFaults',
  /** NUMA hint faults the scanner emulation raised (numa_hint_faults). */
  'numaHintFaults',
  /** Pages the scanner made PROT_NONE (numa_pte_updates). */
  'numaPteUpdates',
  /** Base pages promoted (pgpromote_success). */
  'pgpromoteSuccess',
  /** Base pages demoted by kswapd (pgdemote_kswapd). */
  'pgdemoteKswapd',
  /** Base pages demoted by direct reclaim (pgdemote_direct). */
  'pgdemoteDirect',
  /** Base pages migrated for any reason (pgmigrate_success). */
  'pgmigrateSuccess',
  /** Bytes moved by migration. */
  'migratedBytes',
  /** Time spent migrating, ns. */
  'migrationCostNs',
  /** Base pages allocated. */
  'pgalloc',
  /** Allocations that fell back from the preferred node. */
  'allocFallback',
  /** kswapd wakeups (pageoutrun). */
  'kswapdWakeups',
  /** Direct reclaim stalls (allocstall). */
  'allocstall',
  /** Memory cgroup reclaim passes (try_to_free_mem_cgroup_pages()) from charges over the limit. */
  'memcgReclaims',
  /** Base pages scanned by reclaim (pgscan_kswapd + pgscan_direct). */
  'pgscan',
  /** Base pages reclaimed by eviction (pgsteal). */
  'pgsteal',
  /** Evicted pages accessed again (workingset_refault). */
  'workingsetRefault',
  /** Background reclaim time (kswapd, not on the workload's path), ns. */
  'kswapdCostNs',
  /** Direct reclaim time (on the workload's path), ns. */
  'directReclaimCostNs',
  /** Peak and mean bytes of dirty pages on volatile nodes (lost on power failure). */
  'dirtyBytesAtRiskPeak',
  'dirtyBytesAtRiskMean',
  /** Bytes written to persistent nodes (wear). */
  'persistentWriteBytes',
  /** Time policies charged to the workload's path with ctx.chargeNs. */
  'policyChargedNs',
  /** Peak metadata bytes accounted by policies. */
  'metadataBytesPeak',
  /** Device accesses (from a workload overlay), their cost, and the share served by the device's own memory. */
  'deviceAccesses',
  'deviceAccessCostNs',
  'deviceLocalAccessShare',
  /** CPU accesses served by a device node (coherent device memory), and their cost. */
  'cpuAccessesToDevice',
  'cpuAccessToDeviceCostNs',
  /** CPU faults on device-private pages (migrate_to_ram). */
  'devicePrivateFaults',
  /** Bytes migrated to and from device nodes. */
  'migratedBytesToDevice',
  'migratedBytesFromDevice',
  /** Allocations that landed on a device node without an explicit memory policy (N_COHERENT_MEMORY promises 0). */
  'implicitDeviceAllocations',
] as const;
export type MetricName = (typeof metricNames)[number];

/** Columns of the per-interval time series. Per-node columns repeat per node. */
export const seriesColumns = [
  'timeMs',
  'accesses',
  'accessCostNs',
  'fastTierAccessShare',
  'promotedPages',
  'demotedPages',
  'evictedPages',
  'dirtyBytesAtRisk',
  'lostEvents',
] as const;
export type SeriesColumn = (typeof seriesColumns)[number];

/** Severity of an anomaly counter: `error` fails a run. */
export type Severity = 'info' | 'warning' | 'error';

/** A counted anomaly (Perfetto trace processor's stats table is the model). */
export interface AnomalyStat {
  readonly name: string;
  readonly severity: Severity;
  readonly value: number;
  readonly description: string;
}
