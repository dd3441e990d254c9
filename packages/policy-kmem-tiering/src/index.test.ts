import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import { AccessSource, EventFlag, EventKind, PageKind, createEventBatch } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { kmemTiering } from './index.js';

const MS = 1e6;

/**
 * A scripted stream on dram-pmem sized so DRAM (25%) holds `fill` pages:
 * `fill + hot` anon pages faulted in at t=0..; the last `hot` land on PMem by
 * zonelist fallback. Then the hot pages are touched again at `touchAtMs`.
 */
function run(options: Record<string, unknown>, touchAtMs: number[], pages = 400): EngineResult {
  const machine = resolveMachine(loadPreset('dram-pmem'), pages);
  const engine = new Engine({ machine, policy: kmemTiering(options), seed: 1 });
  const batch = createEventBatch(1 << 16);
  const put = (kind: number, t: number, page: number, flags: number) => {
    const i = batch.length++;
    batch.kind[i] = kind;
    batch.time[i] = t;
    batch.page[i] = page;
    batch.nrPages[i] = 1;
    batch.flags[i] = flags;
    batch.pid[i] = 42;
    batch.count[i] = 1;
  };
  const fault = (AccessSource.fault << EventFlag.sourceShift) | EventFlag.write | PageKind.anon;
  for (let p = 0; p < pages; p++) {
    put(EventKind.alloc, p * 1000, p, PageKind.anon | EventFlag.write);
    put(EventKind.access, p * 1000, p, fault);
  }
  for (const at of touchAtMs) {
    for (let p = 0; p < pages; p++) put(EventKind.access, at * MS + p, p, (AccessSource.fault << EventFlag.sourceShift) | PageKind.anon);
  }
  engine.push(batch);
  expect(engine.verify()).toEqual([]);
  return engine.finish();
}

describe('kmem-tiering on the dram-pmem preset', () => {
  it('promotes slow-tier pages touched within the hot threshold after the scanner armed them', () => {
    // Scanner: first scan at 1000 ms (scan delay), arming PMem pages; touches at 1500 ms are 500 ms later: hot.
    const r = run({}, [1500]);
    expect(r.metrics.numaPteUpdates).toBeGreaterThan(0);
    expect(r.metrics.numaHintFaults).toBe(r.metrics.numaPteUpdates);
    expect(r.metrics.pgpromoteSuccess).toBeGreaterThan(0);
    expect(r.counters['kmem-tiering.pgpromote_candidate']).toBe(r.metrics.pgpromoteSuccess + r.counters['kmem-tiering.promote_fail_unbalanced']!);
    // The DRAM node is full: promotion wakes kswapd, which demotes to make room (pgdat_balanced at WMARK_PROMO).
    expect(r.metrics.kswapdWakeups).toBeGreaterThan(0);
    expect(r.metrics.pgdemoteKswapd).toBeGreaterThan(0);
    expect(r.metrics.pgsteal).toBe(0);
  });

  it('does not promote pages whose hint-fault latency is at or above the threshold', () => {
    // Touch 1500 ms after the scan: over the 1000 ms default.
    const r = run({}, [2500]);
    expect(r.metrics.numaHintFaults).toBeGreaterThan(0);
    expect(r.metrics.pgpromoteSuccess).toBe(0);
    expect(r.counters['kmem-tiering.promote_not_hot']).toBe(r.metrics.numaHintFaults);
    // With the threshold raised to 2000 ms the same touches are hot.
    const hot = run({ hotThresholdMs: 2000 }, [2500]);
    expect(hot.metrics.pgpromoteSuccess).toBeGreaterThan(0);
  });

  it('stops promoting at the promotion rate limit', () => {
    // 0.1 MB/s = 25.6 pages of candidates per second.
    const limited = run({ promoteRateLimitMBps: 0.1 }, [1500], 2000);
    const free = run({}, [1500], 2000);
    expect(free.counters['kmem-tiering.promote_rate_limited']).toBe(0);
    expect(limited.counters['kmem-tiering.promote_rate_limited']).toBeGreaterThan(0);
    expect(limited.counters['kmem-tiering.pgpromote_candidate']! - limited.counters['kmem-tiering.promote_rate_limited']!).toBeLessThanOrEqual(26);
    expect(limited.metrics.pgpromoteSuccess).toBeLessThan(free.metrics.pgpromoteSuccess);
  });

  it('sees no hint faults when NUMA balancing is off (numaBalancing=0) and evicts instead of demoting when demotion is off', () => {
    const off = run({ numaBalancing: 0 }, [1500]);
    expect(off.metrics.numaHintFaults).toBe(0);
    expect(off.metrics.pgpromoteSuccess).toBe(0);
  });

  it('refuses unknown knobs and wrong types, naming the knob', () => {
    expect(() => kmemTiering({ hotThreshold: 5 } as never)).toThrow(/unknown knob 'hotThreshold'/);
    expect(() => kmemTiering({ hotThresholdMs: 'x' as never })).toThrow(/hotThresholdMs/);
  });
});
