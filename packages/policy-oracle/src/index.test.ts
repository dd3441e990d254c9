import { join } from 'node:path';
import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import {
  AccessSource,
  EventFlag,
  EventKind,
  type MachineSpec,
  PageKind,
  type PolicyFactory,
  createEventBatch,
} from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces, golden } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { oracle } from './index.js';

const FIXTURE = join(import.meta.dirname, '__fixtures__', 'golden-dram-pmem.json');
/** Real captures: sqlite (page cache, dirtying) restricted to the workload tree as traces/MANIFEST.md says; CPython (anonymous memory). */
const CAPTURES = [
  { name: 'sqlite_orders.perf-script.txt.zst', pids: [19871] },
  { name: 'py_named_threads.perf-script.txt.zst', pids: [] },
] as const;

const replays = new Map<string, Promise<ReplayResult>>();
/** One replay per capture with the oracle, first-touch and kmem-tiering side by side, shared by the tests. */
function replayed(capture: (typeof CAPTURES)[number]): Promise<ReplayResult> {
  let r = replays.get(capture.name);
  if (r === undefined) {
    r = replay({
      trace: join(bundledTraces(), capture.name),
      machine: 'dram-pmem',
      pids: capture.pids,
      policies: [{ factory: oracle as unknown as PolicyFactory }, { factory: firstTouch as unknown as PolicyFactory }, { factory: kmemTiering }],
      seed: 1,
    });
    replays.set(capture.name, r);
  }
  return r;
}

function policyResult(result: ReplayResult, name: string) {
  const p = result.policies.find((x) => x.policy === name)!;
  expect(p.error ?? null).toBeNull();
  return p as typeof p & EngineResult;
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

describe('oracle golden counters on real captures (dram-pmem)', () => {
  it('matches the pinned totals and counters', async () => {
    const actual: Record<string, unknown> = {};
    for (const capture of CAPTURES) {
      const result = await replayed(capture);
      const p = policyResult(result, 'oracle');
      actual[capture.name] = {
        sha256: result.trace.sha256,
        records: result.trace.records,
        pids: capture.pids,
        footprintPages: result.footprint.peakLivePages,
        metrics: p.metrics,
        counters: p.counters,
        nodes: p.nodes,
        warnings: p.warnings,
      };
    }
    expect(actual).toEqual(golden(FIXTURE, actual));
  });
});

describe('oracle: the upper bound, on real captures', () => {
  for (const capture of CAPTURES) {
    it(`serves at least the share first-touch and kmem-tiering serve from the fast tier (${capture.name})`, async () => {
      const result = await replayed(capture);
      const o = policyResult(result, 'oracle').metrics;
      const ft = policyResult(result, 'first-touch').metrics;
      const kt = policyResult(result, 'kmem-tiering').metrics;
      expect(o.accesses).toBe(ft.accesses);
      expect(o.fastTierAccessShare).toBeGreaterThanOrEqual(ft.fastTierAccessShare);
      expect(o.fastTierAccessShare).toBeGreaterThanOrEqual(kt.fastTierAccessShare);
      expect(o.accessCostNs).toBeLessThanOrEqual(Math.min(ft.accessCostNs, kt.accessCostNs));
      expect(o.pgpromoteSuccess + o.pgdemoteKswapd + o.pgdemoteDirect).toBe(o.pgmigrateSuccess);
    });
  }

  it('keeps the engine invariants on the real capture (Engine.verify()) and gives the numbers replay gives', async () => {
    const { result, problems } = await replayVerified(CAPTURES[1], oracle as unknown as PolicyFactory);
    expect(problems).toEqual([]);
    const golden = policyResult(await replayed(CAPTURES[1]), 'oracle');
    expect(result.metrics).toEqual(golden.metrics);
    expect(result.counters).toEqual(golden.counters);
  });
});

/** A scripted stream; the engine is told each page's accesses to come, as replay's first pass tells it. */
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
    alloc: (t: number, page: number) => put(EventKind.alloc, t, page, PageKind.anon),
    touch: (t: number, page: number) => put(EventKind.access, t, page, AccessSource.fault << EventFlag.sourceShift),
    run(machine: MachineSpec = loadPreset('dram-pmem'), evicted: Array<[number, number]> = []): EngineResult {
      const lifetimes: number[] = [];
      const seq = new Map<number, number>();
      for (let i = 0; i < batch.length; i++) {
        if (batch.kind[i] === EventKind.alloc) {
          seq.set(batch.page[i]!, lifetimes.length);
          lifetimes.push(0);
        } else if (batch.kind[i] === EventKind.access) {
          const n = seq.get(batch.page[i]!)!;
          lifetimes[n] = lifetimes[n]! + batch.count[i]!;
        }
      }
      // 400 pages of footprint: DRAM 100 pages (min 8, low 10, high 12), PMem 400.
      const engine = new Engine({
        machine: resolveMachine(machine, 400),
        policy: oracle(),
        seed: 1,
        lifetimeAccesses: Float64Array.from(lifetimes),
        onEvict: (page, timeNs) => evicted.push([page, timeNs]),
      });
      engine.push(batch);
      expect(engine.verify()).toEqual([]);
      return engine.finish();
    },
  };
  return s;
}

describe('oracle on scripted streams', () => {
  it('promotes a slow-tier page with more accesses to come, demoting the fast-tier pages with the fewest', () => {
    const s = script();
    // 90 pages, each touched now and once at the end, fill DRAM to its low watermark.
    for (let p = 0; p < 90; p++) {
      s.alloc(p, p);
      s.touch(p, p);
    }
    // A hot page finds DRAM full: placed on PMem, touched ten times.
    s.alloc(1000, 90);
    for (let i = 0; i < 10; i++) s.touch(1000 + i, 90);
    for (let p = 0; p < 90; p++) s.touch(2000 + p, p);
    const r = s.run();
    // At its first touch 9 accesses remain for it, 1 for the cold pages: three cold pages make room above the high watermark.
    expect(r.metrics.pgpromoteSuccess).toBe(1);
    expect(r.counters['oracle.promotions_by_future']).toBe(1);
    expect(r.metrics.fastTierAccessShare).toBe((90 + 9 + 87) / 190);
    // Each fast-tier page leaves right after its last access, to make room for pages still to be used.
    expect(r.counters['oracle.demoted_after_last_access']).toBe(1 + 87);
    expect(r.metrics.pgdemoteKswapd + r.metrics.pgdemoteDirect).toBe(3 + 1 + 87);
  });

  it('places a page no access will touch on the slow tier', () => {
    const s = script();
    s.alloc(0, 0);
    s.alloc(1, 1);
    s.touch(2, 1);
    const r = s.run();
    expect(r.counters['oracle.placed_slow_no_future']).toBe(1);
    expect(r.nodes.map((n) => n.allocatedPages)).toEqual([1, 1]);
    expect(r.metrics.fastTierAccessShare).toBe(1);
  });

  it('under pressure on every node, reclaims the pages with the fewest accesses to come', () => {
    const base = loadPreset('dram-pmem');
    // PMem holds only 30% of the footprint: 120 pages; the trace needs 200.
    const small: MachineSpec = { ...base, nodes: base.nodes.map((n) => (n.persistent ? { ...n, capacity: '30%' } : n)) };
    const s = script();
    for (let p = 0; p < 200; p++) {
      s.alloc(p * 1000, p);
      s.touch(p * 1000, p);
    }
    // Pages 0..19 are touched 5 more times at the end, the others once more.
    for (let p = 0; p < 200; p++) for (let i = 0; i < (p < 20 ? 5 : 1); i++) s.touch(1e6 + p * 10 + i, p);
    const evicted: Array<[number, number]> = [];
    const r = s.run(small, evicted);
    expect(r.metrics.pgsteal).toBeGreaterThan(0);
    // No hot page was evicted before its last access (1e6 + page * 10 + 4 ns), so none refaulted.
    expect(evicted.filter(([page, t]) => page < 20 && t <= 1e6 + page * 10 + 4)).toEqual([]);
    expect(r.metrics.workingsetRefault).toBeGreaterThan(0);
    expect(r.metrics.workingsetRefault).toBeLessThanOrEqual(evicted.filter(([page]) => page >= 20).length);
  });
});
