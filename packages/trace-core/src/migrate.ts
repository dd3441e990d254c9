/**
 * The `reason` and `mode` of the migrate tracepoints: ids are the kernel's enum
 * values, names as the kernel prints them, so every reader gives the same ids.
 */

/** enum migrate_reason (include/linux/migrate_mode.h). Values only ever appended. */
export const MigrateReason = {
  compaction: 0,
  memoryFailure: 1,
  memoryHotplug: 2,
  /** MR_SYSCALL: migrate_pages(2), move_pages(2), cpusets. */
  syscall: 3,
  mempolicyMbind: 4,
  /** MR_NUMA_MISPLACED: NUMA balancing moves a page on a hint fault (a promotion with memory tiering). */
  numaMisplaced: 5,
  /** MR_CONTIG_RANGE (MR_CMA before 5.x). */
  contigRange: 6,
  longtermPin: 7,
  /** MR_DEMOTION: reclaim moves a page to a slower node (mm/vmscan.c). */
  demotion: 8,
  /** MR_DAMON: DAMOS migrate actions (newer kernels). */
  damon: 9,
} as const;
export type MigrateReason = (typeof MigrateReason)[keyof typeof MigrateReason];

/** MIGRATE_REASON strings (include/trace/events/migrate.h), indexed by {@link MigrateReason}. */
export const migrateReasonNames: readonly string[] = [
  'compaction',
  'memory_failure',
  'memory_hotplug',
  'syscall_or_cpuset',
  'mempolicy_mbind',
  'numa_misplaced',
  'contig_range',
  'longterm_pin',
  'demotion',
  'damon',
];

/** enum migrate_mode (include/linux/migrate_mode.h). */
export const MigrateMode = {
  async: 0,
  syncLight: 1,
  sync: 2,
  /** MIGRATE_SYNC_NO_COPY (4.14 to 6.9). */
  syncNoCopy: 3,
} as const;
export type MigrateMode = (typeof MigrateMode)[keyof typeof MigrateMode];

/** MIGRATE_MODE strings (include/trace/events/migrate.h), indexed by {@link MigrateMode}. */
export const migrateModeNames: readonly string[] = ['MIGRATE_ASYNC', 'MIGRATE_SYNC_LIGHT', 'MIGRATE_SYNC', 'MIGRATE_SYNC_NO_COPY'];

/** The {@link MigrateReason} a kernel prints as `name` (`cma` is MR_CMA, later MR_CONTIG_RANGE), or -1. */
export function migrateReasonOf(name: string): number {
  const id = migrateReasonNames.indexOf(name);
  if (id >= 0) return id;
  return name === 'cma' ? MigrateReason.contigRange : -1;
}
