import { join } from 'node:path';
import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import {
  AccessSource,
  EventFlag,
  EventKind,
  PageKind,
  type PolicyFactory,
  createEventBatch,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces, golden } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { zoneNvm } from './index.js';

const MS = 1e6;
const FIXTURE = join(import.meta.dirname, '__fixtures__', 'golden-dram-pmem.json');
/** Real captures: sqlite (page cache, dirtying) restricted to the workload tree, as traces/MANIFEST.md says; CPython (anonymous memory). */
const CAPTURES = [
  { name: 'sqlite_orders.perf-script.txt.zst', pids: [19871] },
  { name: 'py_named_threads.perf-script.txt.zst', pids: [] },
] as const;

const replays = new Map<string, Promise<ReplayResult>>();
/** One replay per capture with zone-nvm and first-touch side by side, shared by the tests. */
function replayed(capture: (typeof CAPTURES)[number]): Promise<ReplayResult> {
  let r = replays.get(capture.name);
  if (r === undefined) {
    r = replay({
      trace: join(bundledTraces(), capture.name),
      machine: 'dram-pmem',
      pids: capture.pids,
      policies: [{ factory: zoneNvm }, { factory: firstTouch as unknown as PolicyFactory }],
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

describe('zone-nvm golden counters on real captures (dram-pmem)', () => {
  it('matches the pinned totals and counters', async () => {
    const actual: Record<string, unknown> = {};
    for (const capture of CAPTURES) {
      const result = await replayed(capture);
      const p = policyResult(result, 'zone-nvm');
      actual[capture.name] = {
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

describe('zone-nvm: what the design claims, on the sqlite capture', () => {
  it('leaves no dirty page-cache bytes at risk where first-touch has megabytes, and pays in PMem writes', async () => {
    const result = await replayed(CAPTURES[0]);
    const zone = policyResult(result, 'zone-nvm');
    const ft = policyResult(result, 'first-touch');
    expect(zone.metrics.accesses).toBe(ft.metrics.accesses);
    expect(zone.metrics.dirtyBytesAtRiskPeak).toBe(0);
    expect(zone.metrics.dirtyBytesAtRiskMean).toBe(0);
    expect(ft.metrics.dirtyBytesAtRiskPeak).toBeGreaterThan(1 << 20);
    // Every page-cache page is written on PMem: more wear, and the page cache now serves from the slow tier.
    expect(zone.metrics.persistentWriteBytes).toBeGreaterThan(ft.metrics.persistentWriteBytes);
    expect(zone.metrics.fastTierAccessShare).toBeLessThan(ft.metrics.fastTierAccessShare);
    expect(zone.counters['zone-nvm.page_cache_off_nvm_pages']).toBe(0);
    expect(zone.counters['zone-nvm.nvm_zone_pages']).toBeGreaterThan(0);
    // Wilcox: stores still in the CPU caches are lost all the same.
    expect(zone.counters['zone-nvm.cpu_cache_lines_written']).toBeGreaterThan(0);
    expect(zone.counters['zone-nvm.cpu_cache_bytes_at_risk_peak']).toBeGreaterThan(0);
    expect(zone.counters['zone-nvm.cpu_cache_bytes_at_risk_peak']).toBeLessThanOrEqual(
      64 * zone.counters['zone-nvm.cpu_cache_lines_written']!,
    );
  });

  it('keeps the engine invariants on the real capture (Engine.verify()) and gives the numbers replay gives', async () => {
    const { result, problems } = await replayVerified(CAPTURES[0], zoneNvm);
    expect(problems).toEqual([]);
    const golden = policyResult(await replayed(CAPTURES[0]), 'zone-nvm');
    expect(result.metrics).toEqual(golden.metrics);
    expect(result.counters).toEqual(golden.counters);
  });
});

/** A scripted stream on dram-pmem sized for `footprint` pages (DRAM 25%: 100 pages for 400). */
function script(footprint = 400) {
  const batch = createEventBatch(1 << 16);
  const put = (kind: number, t: number, page: number, flags: number, nrPages = 1) => {
    const i = batch.length++;
    batch.kind[i] = kind;
    batch.time[i] = t;
    batch.page[i] = page;
    batch.nrPages[i] = nrPages;
    batch.flags[i] = flags;
    batch.pid[i] = 42;
    batch.count[i] = 1;
  };
  return {
    alloc: (t: number, page: number, kind: PageKind) => put(EventKind.alloc, t, page, kind),
    access: (t: number, page: number, source: number, write: boolean) =>
      put(EventKind.access, t, page, (source << EventFlag.sourceShift) | (write ? EventFlag.write : 0)),
    free: (t: number, page: number) => put(EventKind.free, t, page, 0),
    run(options: Record<string, unknown> = {}, machineName = 'dram-pmem'): EngineResult {
      const machine = resolveMachine(loadPreset(machineName), footprint);
      const engine = new Engine({ machine, policy: zoneNvm(options), seed: 1 });
      engine.push(batch);
      expect(engine.verify()).toEqual([]);
      return engine.finish();
    },
  };
}

describe('zone-nvm on scripted streams', () => {
  it('allocates page cache from the NVM zone and anonymous memory from DRAM', () => {
    const s = script();
    s.alloc(0, 0, PageKind.file);
    s.access(0, 0, AccessSource.ioFill, true);
    s.alloc(1000, 1, PageKind.anon);
    s.access(1000, 1, AccessSource.fault, true);
    const r = s.run();
    expect(r.nodes.map((n) => [n.name, n.allocatedPages])).toEqual([
      ['dram0', 1],
      ['pmem0', 1],
    ]);
    expect(r.counters['zone-nvm.nvm_zone_pages']).toBe(1);
    expect(r.metrics.persistentWriteBytes).toBe(4096);
  });

  it('puts the critical kinds it is given in the NVM zone too', () => {
    const s = script();
    s.alloc(0, 0, PageKind.anon);
    s.access(0, 0, AccessSource.fault, true);
    s.alloc(1, 1, PageKind.kernel);
    const r = s.run({ criticalKinds: 'anon' });
    expect(r.nodes.map((n) => n.allocatedPages)).toEqual([1, 1]);
    expect(r.counters['zone-nvm.cpu_cache_lines_written']).toBe(1);
  });

  it('counts each store to an NVM page-cache page as 64 B in the CPU caches for cacheFlushWindowUs, not the fill', () => {
    const s = script();
    s.alloc(0, 0, PageKind.file);
    s.access(0, 0, AccessSource.ioFill, true); // the fill: clean data, not counted
    s.access(1 * MS, 0, AccessSource.dirty, true); // 64 B at risk 1..4 ms
    s.access(2 * MS, 0, AccessSource.dirty, true); // 128 B at risk 2..4 ms, 64 B 4..5 ms
    s.access(2.5 * MS, 0, AccessSource.activate, false); // a read: nothing
    s.alloc(10 * MS, 1, PageKind.anon); // the trace ends at 10 ms
    const r = s.run({ cacheFlushWindowUs: 3000 });
    expect(r.counters['zone-nvm.cpu_cache_lines_written']).toBe(2);
    expect(r.counters['zone-nvm.cpu_cache_bytes_at_risk_peak']).toBe(128);
    // (64 B x 1 ms + 128 B x 2 ms + 64 B x 1 ms) / 10 ms
    expect(r.counters['zone-nvm.cpu_cache_bytes_at_risk_mean']).toBeCloseTo(38.4, 9);
    expect(r.metrics.dirtyBytesAtRiskPeak).toBe(0);
    expect(r.metrics.persistentWriteBytes).toBe(4096 + 2 * 64);

    const eadr = script();
    eadr.alloc(0, 0, PageKind.file);
    eadr.access(1 * MS, 0, AccessSource.dirty, true);
    eadr.alloc(10 * MS, 1, PageKind.anon);
    const z = eadr.run({ cacheFlushWindowUs: 0 });
    expect(z.counters['zone-nvm.cpu_cache_lines_written']).toBe(1);
    expect(z.counters['zone-nvm.cpu_cache_bytes_at_risk_peak']).toBe(0);
    expect(z.counters['zone-nvm.cpu_cache_bytes_at_risk_mean']).toBe(0);
  });

  it('keeps other pages out of the NVM zone by reclaiming DRAM, unless fallbackToNvm', () => {
    const build = () => {
      const s = script();
      for (let p = 0; p < 150; p++) {
        s.alloc(p * 1000, p, PageKind.anon);
        s.access(p * 1000, p, AccessSource.fault, true);
      }
      return s;
    };
    const strict = build().run();
    const loose = build().run({ fallbackToNvm: true });
    expect(loose.metrics.pgsteal).toBe(0);
    expect(loose.metrics.kswapdWakeups).toBe(0);
    expect(strict.metrics.pgsteal).toBeGreaterThan(0);
    expect(strict.metrics.kswapdWakeups).toBeGreaterThan(0);
    // One page per kswapd cycle still falls back (the engine's zonelist); many fewer than without reclaim.
    expect(strict.counters['zone-nvm.nvm_fallback_pages']).toBe(strict.metrics.kswapdWakeups);
    expect(loose.counters['zone-nvm.nvm_fallback_pages']).toBeGreaterThan(4 * strict.counters['zone-nvm.nvm_fallback_pages']!);
  });

  it('places everything locally, with a warning, on a machine without persistent memory', () => {
    const s = script();
    s.alloc(0, 0, PageKind.file);
    s.access(0, 0, AccessSource.ioFill, true);
    const r = s.run({}, 'dram-only');
    expect(r.nodes[0]!.allocatedPages).toBe(1);
    expect(Object.keys(r.warnings)).toEqual(['zone-nvm.no_persistent_node']);
  });

  it('refuses unknown page kinds and unknown knobs, naming them', () => {
    const bad = (() => {
      try {
        zoneNvm({ criticalKinds: 'anon,heap' });
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(isTierlabError(bad) && bad.code).toBe('POLICY_KNOB');
    expect(String((bad as Error).message)).toMatch(/heap/);
    expect(() => zoneNvm({ cacheFlushWindow: 1 } as never)).toThrow(/unknown knob 'cacheFlushWindow'/);
  });
});
