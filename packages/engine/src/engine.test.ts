import {
  AccessSource,
  EventFlag,
  EventKind,
  PageKind,
  type ResolvedMachine,
  type TierPolicy,
  createEventBatch,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';

/** A two-node machine written out by hand: DRAM (tier 0) and PMem (tier 1), watermarks per the kernel formula for small nodes. */
function machine(dramPages: number, pmemPages: number): ResolvedMachine {
  const node = (id: number, name: string, pages: number, tier: number, read: number, write: number, persistent: boolean) => ({
    id,
    name,
    kind: (tier === 0 ? 'dram' : 'pmem') as 'dram' | 'pmem',
    capacity: pages * 4096,
    capacityPages: pages,
    capacityBytes: pages * 4096,
    readLatencyNs: read,
    writeLatencyNs: write,
    readBandwidthGBs: 10,
    writeBandwidthGBs: 5,
    persistent,
    cpuAccess: 'coherent' as const,
    structPages: true,
    abstractDistance: tier === 0 ? 576 : 640,
    hasCpus: tier === 0,
    tier,
    watermarks: { min: 4, low: 5, high: 6, promo: 7 },
  });
  return {
    name: 'test',
    nodes: [node(0, 'dram0', dramPages, 0, 80, 80, false), node(1, 'pmem0', pmemPages, 1, 300, 1000, true)],
    costs: {
      pageFaultNs: 1000,
      hintFaultNs: 1000,
      migrationFixedNs: 2000,
      tlbShootdownNs: 500,
      reclaimPerPageNs: 100,
      majorFaultNs: 100000,
      writebackPageNs: 10000,
    },
    sources: [],
    pageSize: 4096,
    footprintPages: null,
  };
}

type Op = { kind: 'alloc' | 'free' | 'access'; page: number; order: number; write: boolean; file: boolean; dt: number };

/** Turn random ops into a valid event stream (alloc before use, no double alloc) and replay it. */
function replayOps(engine: Engine, ops: Op[]): void {
  const live = new Set<number>();
  const batch = createEventBatch(64);
  let t = 0;
  const flush = () => {
    engine.push(batch);
    batch.length = 0;
  };
  for (const op of ops) {
    t += op.dt;
    let kind: number;
    if (op.kind === 'alloc') {
      if (live.has(op.page)) continue;
      live.add(op.page);
      kind = EventKind.alloc;
    } else {
      if (!live.has(op.page)) continue;
      if (op.kind === 'free') live.delete(op.page);
      kind = op.kind === 'free' ? EventKind.free : EventKind.access;
    }
    const i = batch.length++;
    batch.kind[i] = kind;
    batch.time[i] = t;
    batch.page[i] = op.page;
    batch.nrPages[i] = 2 ** op.order;
    batch.flags[i] =
      (op.file ? PageKind.file : PageKind.anon) |
      (op.write ? EventFlag.write : 0) |
      ((op.kind === 'access' ? AccessSource.fault : 0) << EventFlag.sourceShift);
    batch.pid[i] = 100;
    batch.count[i] = 1;
    if (batch.length === 64) flush();
  }
  flush();
}

const opArb = fc.record({
  kind: fc.constantFrom('alloc', 'alloc', 'access', 'access', 'access', 'free') as fc.Arbitrary<Op['kind']>,
  page: fc.integer({ min: 0, max: 300 }),
  order: fc.constantFrom(0, 0, 0, 1, 2),
  write: fc.boolean(),
  file: fc.boolean(),
  dt: fc.integer({ min: 0, max: 50_000_000 }),
});

/** A policy that stresses the engine: random placement, random promotions and demotions on hint faults. */
function chaosPolicy(): TierPolicy {
  return {
    name: 'chaos',
    specVersion: 1,
    observe: { numaHintFaults: { scanDelayMs: 10, scanPeriodMinMs: 10, scanPeriodMaxMs: 100, scanSizeMb: 1 }, tickMs: 37 },
    placePage: (ctx) => (ctx.random() < 0.5 ? 0 : 1),
    onFault: (ctx, page) => {
      ctx.migrate(page, ctx.pageNode(page) === 0 ? 1 : 0, 'promote');
    },
    onPressure: (ctx, node, wanted) => {
      ctx.reclaim(node, wanted, ctx.demotionTarget(node) >= 0 ? { demoteTo: ctx.demotionTarget(node) } : {});
    },
    onTick: (ctx) => {
      if (ctx.freePages(0) < 10) ctx.wakeKswapd(0);
    },
  };
}

describe('engine invariants under random event streams', () => {
  const stats = { hint: 0, promoted: 0, demoted: 0, evicted: 0 };
  it('never exceeds capacity, keeps each page on one node, and keeps LRU lists consistent', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 300, maxLength: 900 }), fc.integer({ min: 20, max: 200 }), fc.integer({ min: 60, max: 400 }), (ops, dram, pmem) => {
        const engine = new Engine({ machine: machine(dram, pmem), policy: chaosPolicy(), seed: 7 });
        replayOps(engine, ops);
        expect(engine.verify()).toEqual([]);
        const result = engine.finish();
        expect(result.accessesToDeadPages).toBe(0);
        for (const n of result.nodes) expect(n.peakUsedPages).toBeLessThanOrEqual(n.capacityPages);
        // Every access is charged exactly once, on some node.
        stats.hint += result.metrics.numaHintFaults;
        stats.promoted += result.metrics.pgpromoteSuccess;
        stats.demoted += result.metrics.pgdemoteKswapd + result.metrics.pgdemoteDirect;
        stats.evicted += result.metrics.pgsteal;
        const charged = result.nodes.reduce((s, n) => s + n.accesses, 0);
        expect(charged).toBe(result.metrics.accesses);
        expect(result.metrics.reads + result.metrics.writes).toBe(result.metrics.accesses);
      }),
      { numRuns: 150, seed: 42 },
    );
    // The streams must exercise the mechanisms, or the invariants above prove little.
    expect(stats.hint).toBeGreaterThan(100);
    expect(stats.promoted).toBeGreaterThan(100);
    expect(stats.demoted).toBeGreaterThan(100);
    expect(stats.evicted).toBeGreaterThan(10);
  });

  it('is deterministic: the same stream and seed give identical results', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 200, maxLength: 400 }), fc.integer(), (ops, seed) => {
        const run = () => {
          const engine = new Engine({ machine: machine(40, 400), policy: chaosPolicy(), seed });
          replayOps(engine, ops);
          return JSON.stringify(engine.finish());
        };
        expect(run()).toBe(run());
      }),
      { numRuns: 60, seed: 1 },
    );
  });
});

describe('engine validates policy decisions', () => {
  const ops: Op[] = [
    { kind: 'alloc', page: 1, order: 0, write: true, file: false, dt: 1 },
    { kind: 'access', page: 1, order: 0, write: false, file: false, dt: 1 },
  ];

  it('rejects a node that does not exist, naming the policy and the hook', () => {
    const bad: TierPolicy = { name: 'bad-node', specVersion: 1, placePage: () => 9 };
    const engine = new Engine({ machine: machine(50, 50), policy: bad });
    try {
      replayOps(engine, ops);
      expect.unreachable();
    } catch (error) {
      expect(isTierlabError(error)).toBe(true);
      if (!isTierlabError(error)) return;
      expect(error.code).toBe('POLICY_DECISION');
      expect(error.policy).toBe('bad-node');
      expect(error.hook).toBe('placePage');
      expect(error.message).toContain('returned node 9');
    }
  });

  it('reports a hook that throws with the policy and hook named', () => {
    const throwing: TierPolicy = {
      name: 'throws',
      specVersion: 1,
      onFree: () => {
        throw new Error('boom');
      },
    };
    const engine = new Engine({ machine: machine(50, 50), policy: throwing });
    expect(() => replayOps(engine, [...ops, { kind: 'free', page: 1, order: 0, write: false, file: false, dt: 1 }])).toThrow(
      /\[throws\.onFree\] hook threw: boom/,
    );
  });

  it('refuses migration of a freed page', () => {
    let kept = -1;
    const stale: TierPolicy = {
      name: 'stale',
      specVersion: 1,
      observe: { tickMs: 1 },
      onPlaced: (_ctx, page) => {
        kept = page;
      },
      onTick: (ctx) => {
        if (kept >= 0) ctx.migrate(kept, 1, 'other');
      },
    };
    const engine = new Engine({ machine: machine(50, 50), policy: stale });
    expect(() =>
      replayOps(engine, [
        { kind: 'alloc', page: 1, order: 0, write: true, file: false, dt: 1 },
        { kind: 'free', page: 1, order: 0, write: false, file: false, dt: 1 },
        { kind: 'alloc', page: 2, order: 0, write: true, file: false, dt: 5_000_000 },
      ]),
    ).toThrow(/\[stale\.onTick\] migrate: page 1 is not live/);
  });
});

describe('engine mechanics', () => {
  it('falls back to the next node at the low watermark and charges each node its own latency', () => {
    const engine = new Engine({ machine: machine(10, 100), policy: { name: 'local', specVersion: 1 } });
    // 10-page DRAM with low watermark 5: the first 5 pages fit (10 - 1 >= 5 ... 10 - 5 >= 5), the rest fall back.
    const ops: Op[] = [];
    for (let p = 0; p < 8; p++) ops.push({ kind: 'alloc', page: p, order: 0, write: false, file: false, dt: 1 });
    for (let p = 0; p < 8; p++) ops.push({ kind: 'access', page: p, order: 0, write: false, file: false, dt: 1 });
    replayOps(engine, ops);
    const r = engine.finish();
    expect(r.nodes[0]!.allocatedPages).toBe(5);
    expect(r.nodes[1]!.allocatedPages).toBe(3);
    expect(r.metrics.allocFallback).toBe(3);
    expect(r.metrics.accessCostNs).toBe(5 * 80 + 3 * 300);
    expect(r.metrics.fastTierAccessShare).toBeCloseTo(5 / 8);
  });

  it('demotes cold pages instead of evicting when reclaim is given a target', () => {
    const demoting: TierPolicy = {
      name: 'demote',
      specVersion: 1,
      placePage: () => 0,
      onPressure: (ctx, node, wanted) => {
        ctx.reclaim(node, wanted, { demoteTo: 1 });
      },
    };
    // PMem outside the fallback zonelist: DRAM allocations cannot spill, so reclaim must make room.
    const m = machine(10, 100);
    const isolated = { ...m, nodes: [m.nodes[0]!, { ...m.nodes[1]!, inFallbackZonelist: false }] };
    const engine = new Engine({ machine: isolated, policy: demoting });
    const ops: Op[] = [];
    for (let p = 0; p < 40; p++) ops.push({ kind: 'alloc', page: p, order: 0, write: false, file: false, dt: 1 });
    replayOps(engine, ops);
    expect(engine.verify()).toEqual([]);
    const r = engine.finish();
    expect(r.metrics.pgsteal).toBe(0);
    expect(r.metrics.pgdemoteKswapd + r.metrics.pgdemoteDirect).toBe(r.nodes[1]!.finalUsedPages);
    expect(r.nodes[1]!.finalUsedPages).toBeGreaterThanOrEqual(30);
    expect(r.nodes[0]!.allocatedPages).toBe(40);
    expect(r.metrics.kswapdWakeups).toBeGreaterThan(0);
  });
});
