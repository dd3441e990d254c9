/**
 * Page-cache reclaim: the engine's model against the real kernel, on one
 * capture of a workload run inside a memory cgroup with a limit.
 *
 * Ground truth comes from the trace itself:
 * - reclaim windows: mm_vmscan_memcg_reclaim_begin .. _end (and direct /
 *   node reclaim) on one task;
 * - evictions: mm_filemap_delete_from_page_cache inside a window (or by
 *   kswapd); deletions outside are truncations;
 * - refaults: a page (dev, ino, index) added to the page cache again after
 *   its eviction.
 * The replay keeps each file page's identity across the kernel's evictions
 * (the normalizer's `inode` mode), so the engine's reclaim model, given the
 * same limit and no swap, makes its own choices; its evictions and refaults
 * are then compared with the kernel's, and so are the victims.
 */

import { Engine } from '@tierlab/engine';
import { resolveMachine } from '@tierlab/machines';
import type { MachineSpec } from '@tierlab/memory-tier-api';
import { Normalizer } from '@tierlab/normalizer';
import { openAnyTrace } from '@tierlab/replay';

export interface ReclaimFidelityOptions {
  readonly trace: string;
  /** The workload's root process (its cgroup's tasks are it and its descendants). */
  readonly pid: number;
  /** The cgroup's limit (memory.limit_in_bytes), bytes. */
  readonly limitBytes: number;
  /**
   * Bytes charged to the cgroup that the trace cannot show (kernel memory:
   * slab, page tables; per-cpu charge stock): taken off the limit the model
   * sees. Record memory.kmem.max_usage_in_bytes with the capture to know it.
   */
  readonly unaccountedBytes?: number;
  /** A window's victim counts as matched when the model evicts the same page within this many ms of the window (default 100). */
  readonly windowToleranceMs?: number;
}

export interface ReclaimFidelity {
  readonly limitPages: number;
  readonly modelLimitPages: number;
  readonly real: { readonly windows: number; readonly evictions: number; readonly evictedPages: number; readonly refaults: number; readonly truncations: number };
  readonly model: { readonly evictions: number; readonly evictedPages: number; readonly refaults: number; readonly reclaimPasses: number };
  /** model / real - 1 */
  readonly evictionError: number;
  readonly refaultError: number;
  /** Share of the pages the kernel evicted that the model evicted too, over the whole run. */
  readonly victimOverlap: number;
  /**
   * Per reclaim window: the share of the window's victims that the model also
   * evicts within `windowToleranceMs` of the window, weighted by victims.
   */
  readonly windowVictimOverlap: number;
  readonly windowToleranceMs: number;
  /** When the model evicts a page the kernel evicted too: model time minus kernel time, ms (p10, p50, p90). */
  readonly victimLagMs: { readonly p10: number; readonly p50: number; readonly p90: number };
}

const PAGE = 4096;

export async function reclaimFidelity(options: ReclaimFidelityOptions): Promise<ReclaimFidelity> {
  const limitPages = Math.floor(options.limitBytes / PAGE);
  const modelLimitPages = Math.floor((options.limitBytes - (options.unaccountedBytes ?? 0)) / PAGE);
  // One node, far larger than the cgroup: only the cgroup limit binds.
  const spec: MachineSpec = {
    name: 'memcg',
    description: 'one DRAM node; the workload runs in a memory cgroup with a limit',
    nodes: [
      {
        name: 'dram0',
        kind: 'dram',
        capacity: '64GiB',
        readLatencyNs: 100,
        writeLatencyNs: 100,
        readBandwidthGBs: 10,
        writeBandwidthGBs: 10,
        persistent: false,
        cpuAccess: 'coherent',
        structPages: true,
        abstractDistance: 576,
        hasCpus: true,
      },
    ],
    costs: { pageFaultNs: 0, hintFaultNs: 0, migrationFixedNs: 0, tlbShootdownNs: 0, reclaimPerPageNs: 0, majorFaultNs: 0, writebackPageNs: 0 },
  };
  const machine = resolveMachine(spec, null);

  const realVictims: Array<{ page: number; window: number }> = [];
  const windows: Array<{ begin: number; end: number }> = [];
  const modelVictims: Array<{ page: number; time: number }> = [];
  let evictions = 0;
  let evictedPages = 0;
  const engine = new Engine({
    machine,
    policy: { name: 'kernel-lru', specVersion: 1 },
    swap: false,
    memcgLimitPages: modelLimitPages,
    onEvict: (page, time) => {
      evictions++;
      modelVictims.push({ page, time });
    },
  });
  const normalizer = new Normalizer(
    {
      pids: [options.pid],
      fileIdentity: 'inode',
      onRealEviction: (page, _time, window) => realVictims.push({ page, window }),
      onReclaimWindow: (window, _tid, begin, end) => {
        windows[window] = { begin, end };
      },
    },
    (batch) => engine.push(batch),
  );
  const reader = await openAnyTrace(options.trace);
  for await (const batch of reader.batches()) normalizer.push(batch);
  normalizer.finish();
  const result = engine.finish();
  evictedPages = result.metrics.pgsteal;

  // Victim overlap over the run: pages are the same logical pages in both.
  const modelSet = new Set(modelVictims.map((v) => v.page));
  const realSet = new Set(realVictims.map((v) => v.page));
  let common = 0;
  for (const page of realSet) if (modelSet.has(page)) common++;

  // Per window: a victim matches when the model evicts the same page within the tolerance of the window.
  const tolerance = (options.windowToleranceMs ?? 100) * 1e6;
  const modelTimes = new Map<number, number[]>();
  for (const v of modelVictims) {
    let list = modelTimes.get(v.page);
    if (list === undefined) modelTimes.set(v.page, (list = []));
    list.push(v.time);
  }
  let weighted = 0;
  let weight = 0;
  const lags: number[] = [];
  const realTimes = new Map<number, number>();
  for (const v of realVictims) {
    const w = v.window >= 0 ? windows[v.window] : undefined;
    if (w === undefined) continue;
    weight++;
    const times = modelTimes.get(v.page);
    if (times !== undefined && times.some((t) => t >= w.begin - tolerance && t <= w.end + tolerance)) weighted++;
    if (!realTimes.has(v.page)) realTimes.set(v.page, w.end);
  }
  for (const [page, t] of realTimes) {
    const times = modelTimes.get(page);
    if (times === undefined) continue;
    let best = times[0]!;
    for (const m of times) if (Math.abs(m - t) < Math.abs(best - t)) best = m;
    lags.push((best - t) / 1e6);
  }
  lags.sort((a, b) => a - b);
  const quantile = (q: number) => (lags.length === 0 ? 0 : lags[Math.floor(q * (lags.length - 1))]!);
  const s = normalizer.stats;
  return {
    limitPages,
    modelLimitPages,
    real: { windows: s.reclaimWindows, evictions: s.realEvictions, evictedPages: s.realEvictedPages, refaults: s.realRefaults, truncations: s.truncations },
    model: { evictions, evictedPages, refaults: result.metrics.workingsetRefault, reclaimPasses: result.metrics.memcgReclaims },
    evictionError: s.realEvictions > 0 ? evictions / s.realEvictions - 1 : 0,
    refaultError: s.realRefaults > 0 ? result.metrics.workingsetRefault / s.realRefaults - 1 : 0,
    victimOverlap: realSet.size > 0 ? common / realSet.size : 1,
    windowVictimOverlap: weight > 0 ? weighted / weight : 1,
    windowToleranceMs: tolerance / 1e6,
    victimLagMs: { p10: quantile(0.1), p50: quantile(0.5), p90: quantile(0.9) },
  };
}
