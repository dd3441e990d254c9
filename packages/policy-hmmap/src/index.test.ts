import { join } from 'node:path';
import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import {
  AccessSource,
  type PolicyFactory,
  EventFlag,
  EventKind,
  PageKind,
  createEventBatch,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces, golden } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { hmmap, hmmapModes } from './index.js';

const US = 1e3;
const MS = 1e6;
const FIXTURE = join(import.meta.dirname, '__fixtures__', 'golden-dram-pmem.json');
/** Real captures: sqlite (page cache) restricted to the workload tree as traces/MANIFEST.md says; CPython (anonymous memory). */
const SQLITE = { name: 'sqlite_orders.perf-script.txt.zst', pids: [19871] } as const;
const PY = { name: 'py_named_threads.perf-script.txt.zst', pids: [] } as const;
type Capture = typeof SQLITE | typeof PY;
const RUNS = [
  ...hmmapModes.map((mode) => ({ capture: SQLITE, mode })),
  { capture: PY, mode: 'cache' as const },
];

const replays = new Map<string, Promise<ReplayResult>>();
/** One replay per capture and mode (a policy name is unique in a run), shared by the tests. */
function replayed(capture: Capture, mode: string): Promise<ReplayResult> {
  const key = `${capture.name}:${mode}`;
  let r = replays.get(key);
  if (r === undefined) {
    r = replay({
      trace: join(bundledTraces(), capture.name),
      machine: 'dram-pmem',
      pids: capture.pids,
      policies: [{ factory: hmmap, options: { mode } }],
      seed: 1,
    });
    replays.set(key, r);
  }
  return r;
}

async function policyResult(capture: Capture, mode: string) {
  const result = await replayed(capture, mode);
  const p = result.policies[0]!;
  expect(p.error ?? null).toBeNull();
  return { result, p: p as typeof p & EngineResult };
}

/**
 * The same capture replayed with the engine's invariants checked (Engine.verify())
 * every 64 batches and at the end: a violation is an error anomaly of the result.
 */
async function replayVerified(capture: CaptureRef, factory: PolicyFactory, options: Record<string, unknown> = {}) {
  const result = await replay({
    trace: join(bundledTraces(), capture.name),
    machine: 'dram-pmem',
    pids: capture.pids,
    policies: [{ factory, options }],
    seed: 1,
    verifyEveryBatches: 64,
  });
  const problems = result.anomalies.filter((a) => a.severity === 'error').map((a) => `${a.name}: ${a.description}`);
  return { result: result.policies[0] as (typeof result.policies)[number] & EngineResult, problems };
}

/** A bundled capture and the processes replayed from it. */
interface CaptureRef {
  readonly name: string;
  readonly pids: readonly number[];
}

describe('hmmap golden counters on real captures (dram-pmem)', () => {
  it('matches the pinned totals and counters of every mode', async () => {
    const actual: Record<string, unknown> = {};
    for (const { capture, mode } of RUNS) {
      const { result, p } = await policyResult(capture, mode);
      actual[`${capture.name} mode=${mode}`] = {
        sha256: result.trace.sha256,
        records: result.trace.records,
        pids: capture.pids,
        footprintPages: result.footprint.peakLivePages,
        knobs: p.knobs,
        metrics: p.metrics,
        counters: p.counters,
        nodes: p.nodes,
        warnings: p.warnings,
      };
    }
    expect(actual).toEqual(golden(FIXTURE, actual));
  });
});

describe('hmmap: what each mode does, on the sqlite capture', () => {
  const c = (p: EngineResult, name: string) => p.counters[`hmmap.${name}`]!;

  it('cache: faults fill the DRAM cache, later accesses hit it; the hit ratio is hits over managed accesses', async () => {
    const { p } = await policyResult(SQLITE, 'cache');
    expect(c(p, 'cache_capacity_pages')).toBeGreaterThan(0);
    expect(c(p, 'cache_fills')).toBeGreaterThan(0);
    expect(c(p, 'cache_hits')).toBeGreaterThan(0);
    expect(c(p, 'dax_accesses')).toBe(0);
    expect(c(p, 'cache_hit_ratio')).toBeCloseTo(c(p, 'cache_hits') / (c(p, 'cache_hits') + c(p, 'cache_misses')), 12);
    expect(c(p, 'cache_pages_peak')).toBeLessThanOrEqual(c(p, 'cache_capacity_pages'));
    // Every fill is a promotion, every eviction a demotion back to NVM.
    expect(p.metrics.pgpromoteSuccess).toBe(c(p, 'cache_fills'));
    expect(p.metrics.pgdemoteKswapd + p.metrics.pgdemoteDirect).toBe(c(p, 'cache_evictions'));
    expect(c(p, 'nvm_writeback_bytes')).toBe(c(p, 'cache_dirty_evictions') * 4096);
  });

  it('dax: no cache at all, every managed access served in place on NVM', async () => {
    const { p } = await policyResult(SQLITE, 'dax');
    expect(c(p, 'cache_capacity_pages')).toBe(0);
    expect(c(p, 'cache_fills')).toBe(0);
    expect(c(p, 'cache_hits')).toBe(0);
    expect(c(p, 'cache_hit_ratio')).toBe(0);
    expect(p.metrics.pgmigrateSuccess).toBe(0);
    // Besides page-cache fills (I/O into the page on NVM), every access NVM serves is a DAX access.
    expect(c(p, 'dax_accesses') + c(p, 'io_fill_accesses')).toBe(p.nodes[1]!.accesses);
    expect(p.nodes[1]!.accesses).toBeGreaterThan(0.99 * p.metrics.accesses);
  });

  it('write-protect: reads stay DAX, only writes fault into the cache, whose stores never reach NVM until eviction', async () => {
    const { p } = await policyResult(SQLITE, 'write-protect');
    const cache = (await policyResult(SQLITE, 'cache')).p;
    expect(c(p, 'dax_accesses')).toBeGreaterThan(0);
    expect(c(p, 'cache_fills')).toBeGreaterThan(0);
    expect(c(p, 'cache_fills')).toBeLessThan(c(cache, 'cache_fills'));
    // Every page in the cache came in by a write: every eviction writes back.
    expect(c(p, 'cache_dirty_evictions')).toBe(c(p, 'cache_evictions'));
    expect(c(p, 'nvm_write_bytes_avoided')).toBeGreaterThan(0);
    expect(c(p, 'cache_hit_ratio')).toBeCloseTo(
      c(p, 'cache_hits') / (c(p, 'cache_hits') + c(p, 'cache_misses') + c(p, 'dax_accesses')),
      12,
    );
  });

  it('keeps the engine invariants on the real capture (Engine.verify()) and gives the numbers replay gives', async () => {
    const { result, problems } = await replayVerified(SQLITE, hmmap, { mode: 'cache' });
    expect(problems).toEqual([]);
    const golden = (await policyResult(SQLITE, 'cache')).p;
    expect(result.metrics).toEqual(golden.metrics);
    expect(result.counters).toEqual(golden.counters);
  });
});

/** A scripted stream on dram-pmem sized for 400 pages: DRAM 100 pages (high watermark 12), PMem 400. */
function script() {
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
  const s = {
    alloc: (t: number, page: number, kind: PageKind = PageKind.anon) => put(EventKind.alloc, t, page, kind),
    read: (t: number, page: number) => put(EventKind.access, t, page, AccessSource.activate << EventFlag.sourceShift),
    write: (t: number, page: number) => put(EventKind.access, t, page, (AccessSource.fault << EventFlag.sourceShift) | EventFlag.write),
    free: (t: number, page: number) => put(EventKind.free, t, page, 0),
    /** An anonymous page allocated and first touched by a write fault. */
    touch(t: number, page: number) {
      s.alloc(t, page);
      s.write(t, page);
    },
    run(options: Record<string, unknown>): EngineResult {
      const machine = resolveMachine(loadPreset('dram-pmem'), 400);
      const engine = new Engine({ machine, policy: hmmap(options), seed: 1 });
      engine.push(batch);
      expect(engine.verify()).toEqual([]);
      return engine.finish();
    },
  };
  return s;
}

describe('hmmap on scripted streams', () => {
  const c = (r: EngineResult, name: string) => r.counters[`hmmap.${name}`]!;
  // cacheShare 0.1 of (100 - 12) DRAM pages: an 8-page cache; active watermark 5, inactive 2.
  const small = { cacheShare: 0.1 };

  it('fills the cache on faults and, when it is full, evicts evictBatch pages that are not warm', () => {
    const build = () => {
      const s = script();
      for (let p = 0; p < 10; p++) s.touch(p * US, p);
      s.read(100 * US, 0); // still cached: a hit
      return s;
    };
    const two = build().run(small);
    expect(c(two, 'cache_capacity_pages')).toBe(8);
    expect(c(two, 'cache_fills')).toBe(10);
    expect(c(two, 'cache_misses')).toBe(10);
    // Page 8 finds the cache full: the inactive head (page 0, young) warms up; pages 1 and 2 go.
    expect(c(two, 'cache_evictions')).toBe(2);
    expect(c(two, 'cache_hits')).toBe(1);
    expect(c(two, 'cache_pages_peak')).toBe(8);
    // Written pages: each eviction writes its page back to NVM.
    expect(c(two, 'nvm_writeback_bytes')).toBe(2 * 4096);
    const four = build().run({ ...small, evictBatch: 4 });
    expect(c(four, 'cache_evictions')).toBe(4);
  });

  it('keeps pages that stay young (2Q): a hot pair survives a stream of pages touched once', () => {
    const s = script();
    s.touch(0, 0);
    s.touch(1 * US, 1);
    let t = 2 * US;
    for (let p = 2; p < 60; p++) {
      s.touch(t, p);
      s.read(t + 1, 0);
      s.read(t + 2, 1);
      t += 10 * US;
    }
    const r = s.run(small);
    // Every page faulted exactly once: the hot pair was never evicted.
    expect(c(r, 'cache_misses')).toBe(60);
    expect(c(r, 'cache_hits')).toBe(2 * 58);
    expect(c(r, 'active_promotions')).toBeGreaterThanOrEqual(2);
    expect(c(r, 'cache_evictions')).toBeGreaterThan(40);
  });

  it('write-protect: reads are served in place, a write faults the page into the cache', () => {
    const s = script();
    s.alloc(0, 0);
    s.read(1 * US, 0); // DAX, read-only mapping
    s.write(2 * US, 0); // write fault: into the cache
    s.write(3 * US, 0); // a store absorbed by the cache
    s.read(4 * US, 0); // a hit
    const r = s.run({ mode: 'write-protect' });
    expect(c(r, 'dax_accesses')).toBe(1);
    expect(c(r, 'cache_misses')).toBe(1);
    expect(c(r, 'cache_hits')).toBe(2);
    expect(c(r, 'nvm_write_bytes_avoided')).toBe(64);
    expect(c(r, 'cache_hit_ratio')).toBe(0.5);
  });

  it('dax: nothing moves', () => {
    const s = script();
    for (let p = 0; p < 10; p++) s.touch(p * US, p);
    const r = s.run({ mode: 'dax' });
    expect(r.metrics.pgmigrateSuccess).toBe(0);
    expect(c(r, 'dax_accesses')).toBe(10);
    expect(r.nodes[1]!.allocatedPages).toBe(10);
  });

  it('leaves kernel pages in DRAM and gives DRAM back from the cache under pressure', () => {
    const s = script();
    for (let p = 0; p < 20; p++) s.alloc(p, p, PageKind.kernel);
    for (let p = 20; p < 108; p++) s.touch(p * US, p);
    const r = s.run({ cacheShare: 1 });
    expect(c(r, 'cache_capacity_pages')).toBe(88);
    expect(r.nodes[0]!.allocatedPages).toBe(20);
    // Cache fills take DRAM below its low watermark: kswapd, whose reclaim evicts from the cache, not the kernel pages.
    expect(r.metrics.kswapdWakeups).toBeGreaterThan(0);
    expect(c(r, 'cache_evictions')).toBeGreaterThan(0);
    expect(r.metrics.pgsteal).toBe(0);
    expect(r.nodes[0]!.finalUsedPages).toBeLessThanOrEqual(100 - 10);
  });

  it('forgets freed pages: their slots are free again', () => {
    const s = script();
    for (let p = 0; p < 8; p++) s.touch(p * US, p);
    for (let p = 0; p < 4; p++) s.free(20 * US + p, p);
    for (let p = 8; p < 12; p++) s.touch(30 * US + p, p);
    const r = s.run(small);
    expect(c(r, 'cache_fills')).toBe(12);
    expect(c(r, 'cache_evictions')).toBe(0);
  });

  it('ages the lists in the background every agingPeriodMs, on the young bit', () => {
    const build = () => {
      const s = script();
      for (let p = 0; p < 8; p++) s.touch(p * US, p);
      for (let t = 0.5; t < 10; t += 0.5) for (let p = 0; p < 4; p++) s.read(t * MS + p, p);
      return s;
    };
    const faultsOnly = build().run(small);
    const aged = build().run({ ...small, agingPeriodMs: 1 });
    expect(c(faultsOnly, 'active_promotions')).toBe(0);
    expect(c(aged, 'active_promotions')).toBe(4);
  });

  it('refuses an unknown mode and out-of-range shares', () => {
    const error = (() => {
      try {
        hmmap({ mode: 'nvme' });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(isTierlabError(error) && error.code).toBe('POLICY_KNOB');
    expect((error as Error).message).toMatch(/'nvme'/);
    expect(() => hmmap({ cacheShare: 1.5 })).toThrow(/cacheShare/);
  });
});
