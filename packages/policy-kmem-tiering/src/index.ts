/**
 * kmem-tiering: persistent or CXL memory handed to the kernel by device-dax
 * as a CPU-less NUMA node (drivers/dax/kmem.c), in a slower memory tier
 * (mm/memory-tiers.c). Two mechanisms move pages between the tiers:
 *
 * - Demotion in reclaim: when kswapd or direct reclaim frees a top-tier node,
 *   cold pages are migrated to the next tier (next_demotion_node()) instead of
 *   being evicted (mm/vmscan.c: demote_folio_list()), if demotion_enabled.
 * - Promotion on NUMA hint faults in memory-tiering mode (kernel.numa_balancing=2,
 *   NUMA_BALANCING_MEMORY_TIERING): the NUMA scanner makes slow-tier pages
 *   PROT_NONE; a page touched again within the hot threshold is promoted
 *   (kernel/sched/fair.c: should_numa_migrate_memory()), subject to the
 *   promotion rate limit and the threshold's auto-tuning
 *   (numa_promotion_adjust_threshold()), and only when the target node is
 *   balanced (mm/migrate.c: migrate_balanced_pgdat(); otherwise kswapd is woken).
 *
 * Knob defaults are the kernel's (Documentation/admin-guide/sysctl/kernel.rst,
 * kernel/sched/fair.c), except demotion_enabled, whose sysfs default is false
 * but which every tiering setup turns on.
 */

import { FaultKind, type PolicyFactory, definePolicy } from '@tierlab/memory-tier-api';

const MSEC_PER_SEC = 1000;
/** kernel/sched/fair.c: NUMA_MIGRATION_ADJUST_STEPS */
const NUMA_MIGRATION_ADJUST_STEPS = 16;
const PAGES_PER_MB = 256;

const knobs = {
  numaBalancing: {
    type: 'number',
    default: 2,
    description: 'NUMA balancing mode: 0 off, 1 normal, 2 memory tiering (promotion by hint-fault latency), 3 both',
    kernelName: 'kernel.numa_balancing (Documentation/admin-guide/sysctl/kernel.rst)',
  },
  demotionEnabled: {
    type: 'boolean',
    default: true,
    description: 'Demote cold pages to the next tier in reclaim instead of evicting them (sysfs default is false)',
    kernelName: '/sys/kernel/mm/numa/demotion_enabled (mm/memory-tiers.c: numa_demotion_enabled)',
  },
  hotThresholdMs: {
    type: 'number',
    default: 1000,
    description: 'A slow-tier page whose hint-fault latency is below this is hot and promoted',
    kernelName: 'numa_balancing_hot_threshold_ms (debugfs sched/numa_balancing/hot_threshold_ms; kernel/sched/fair.c)',
  },
  promoteRateLimitMBps: {
    type: 'number',
    default: 65536,
    description: 'Promotion candidates per second, MB/s, above which promotion stops',
    kernelName: 'kernel.numa_balancing_promote_rate_limit_MBps (kernel/sched/fair.c)',
  },
  scanDelayMs: {
    type: 'number',
    default: 1000,
    description: 'Delay before the first NUMA scan of a task',
    kernelName: 'numa_balancing_scan_delay_ms (kernel/sched/fair.c: sysctl_numa_balancing_scan_delay)',
  },
  scanPeriodMinMs: {
    type: 'number',
    default: 1000,
    description: 'Shortest time between scans of a task',
    kernelName: 'numa_balancing_scan_period_min_ms (kernel/sched/fair.c)',
  },
  scanPeriodMaxMs: {
    type: 'number',
    default: 60000,
    description: 'Longest time between scans of a task; also the threshold-adjust period',
    kernelName: 'numa_balancing_scan_period_max_ms (kernel/sched/fair.c)',
  },
  scanSizeMb: {
    type: 'number',
    default: 256,
    description: 'Address space made PROT_NONE per scan',
    kernelName: 'numa_balancing_scan_size_mb (kernel/sched/fair.c)',
  },
} as const;

export const kmemTiering: PolicyFactory = definePolicy({
  name: 'kmem-tiering',
  version: '0.1.0',
  description:
    'device-dax as a CPU-less NUMA node: demotion in reclaim, promotion on NUMA hint faults (numa_balancing=2, TPP)',
  knobs,
  build: (k) => {
    const tiering = (k.numaBalancing & 2) !== 0;
    const rateLimitPages = k.promoteRateLimitMBps * PAGES_PER_MB;
    // Per top-tier node state of kernel/sched/fair.c (pgdat->nbp_*).
    let thresholdMs = 0; // nbp_threshold: 0 means the default
    let thStartMs = 0; // nbp_th_start
    let thNrCand = 0; // nbp_th_nr_cand
    let rlStartMs = 0; // nbp_rl_start
    let rlNrCand = 0; // nbp_rl_nr_cand
    let nrCand = 0; // PGPROMOTE_CANDIDATE
    let candidate = { add: (_: number) => {}, value: 0 };
    let candidateNrl = candidate;
    let promoteNoSpace = candidate;
    let promoteRateLimited = candidate;
    let promoteNotHot = candidate;
    let thresholdNow = candidate;

    return {
      supports: ['placement', 'reclaim', 'promotion', 'demotion', 'hint-faults'],
      // kswapd balances to WMARK_PROMO in memory-tiering mode (mm/vmscan.c: pgdat_balanced()).
      kswapdWatermark: tiering ? 'promo' : 'high',
      observe: tiering
        ? {
            numaHintFaults: {
              scanDelayMs: k.scanDelayMs,
              scanPeriodMinMs: k.scanPeriodMinMs,
              scanPeriodMaxMs: k.scanPeriodMaxMs,
              scanSizeMb: k.scanSizeMb,
              skipTopTier: true,
            },
          }
        : {},

      init(ctx) {
        candidate = ctx.counter('pgpromote_candidate', 'slow-tier pages found hot (PGPROMOTE_CANDIDATE)');
        candidateNrl = ctx.counter(
          'pgpromote_candidate_nrl',
          'candidates promoted without rate limit because the top tier had room (PGPROMOTE_CANDIDATE_NRL)',
        );
        promoteNoSpace = ctx.counter('promote_fail_unbalanced', 'promotions refused: target below high watermark + nr; kswapd woken');
        promoteRateLimited = ctx.counter('promote_rate_limited', 'hot pages not promoted because of the rate limit');
        promoteNotHot = ctx.counter('promote_not_hot', 'hint faults with latency at or above the threshold');
        thresholdNow = ctx.counter('hot_threshold_ms_final', 'the auto-tuned hot threshold at the end (nbp_threshold)');
      },

      placePage: (_ctx, _page, hint) => hint.localNode,

      onFault(ctx, page, fault) {
        if (fault.kind !== FaultKind.numaHint || !tiering) return;
        const target = fault.cpuNode;
        if (ctx.isTopTier(fault.pageNode) || !ctx.isTopTier(target)) return;
        const nr = ctx.pageNrPages(page);
        const nowMs = ctx.now() / 1e6;
        const node = ctx.node(target);

        // pgdat_free_space_enough(): promote freely while the top tier has lots of room.
        const enough = Math.max((1024 * 1024 * 1024) / 4096, Math.floor(node.capacityPages / 16));
        if (ctx.freePages(target) > node.watermarks.promo + enough) {
          thresholdMs = 0;
          candidateNrl.add(nr);
        } else {
          // numa_promotion_adjust_threshold()
          const refTh = k.hotThresholdMs;
          if (nowMs - thStartMs > k.scanPeriodMaxMs) {
            thStartMs = nowMs;
            const refCand = (rateLimitPages * k.scanPeriodMaxMs) / MSEC_PER_SEC;
            const diffCand = nrCand - thNrCand;
            const unitTh = Math.floor((refTh * 2) / NUMA_MIGRATION_ADJUST_STEPS);
            let th = thresholdMs || refTh;
            if (diffCand > (refCand * 11) / 10) th = Math.max(th - unitTh, unitTh);
            else if (diffCand < (refCand * 9) / 10) th = Math.min(th + unitTh, refTh * 2);
            thNrCand = nrCand;
            thresholdMs = th;
          }
          const th = thresholdMs || refTh;
          if (fault.latencyMs >= th) {
            promoteNotHot.add(1);
            return;
          }
          // numa_promotion_rate_limit()
          nrCand += nr;
          candidate.add(nr);
          if (nowMs - rlStartMs > MSEC_PER_SEC) {
            rlStartMs = nowMs;
            rlNrCand = nrCand;
          }
          if (nrCand - rlNrCand >= rateLimitPages) {
            promoteRateLimited.add(nr);
            return;
          }
        }
        // migrate_balanced_pgdat(): the target must stay above high + nr, else wake kswapd and give up.
        if (ctx.freePages(target) < node.watermarks.high + nr) {
          promoteNoSpace.add(nr);
          ctx.wakeKswapd(target);
          return;
        }
        ctx.migrate(page, target, 'promote');
      },

      onPressure(ctx, node, pagesWanted) {
        const target = k.demotionEnabled ? ctx.demotionTarget(node) : -1;
        ctx.reclaim(node, pagesWanted, target >= 0 ? { demoteTo: target } : {});
      },

      finish() {
        thresholdNow.add(thresholdMs || k.hotThresholdMs);
      },
    };
  },
});

export default kmemTiering;
