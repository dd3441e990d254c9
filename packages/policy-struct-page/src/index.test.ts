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
import { structPage, structPageVariants } from './index.js';

const US = 1e3;
const MS = 1e6;
const FIXTURE = join(import.meta.dirname, '__fixtures__', 'golden-sqlite_orders-dram-pmem.json');
/** The sqlite capture (page-cache fills of a 48 MiB memcg), restricted to the workload tree as traces/MANIFEST.md says. */
const CAPTURE = { name: 'sqlite_orders.perf-script.txt.zst', pids: [19871] } as const;

const replays = new Map<string, Promise<ReplayResult>>();
/** One replay per variant (a policy name is unique in a run), shared by the tests. */
function replayed(variant: string): Promise<ReplayResult> {
  let r = replays.get(variant);
  if (r === undefined) {
    r = replay({
      trace: join(bundledTraces(), CAPTURE.name),
      machine: 'dram-pmem',
      pids: CAPTURE.pids,
      policies: [{ factory: structPage, options: { variant } }],
      seed: 1,
    });
    replays.set(variant, r);
  }
  return r;
}

async function policyResult(variant: string) {
  const result = await replayed(variant);
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

describe('struct-page golden counters on the sqlite capture (dram-pmem)', () => {
  it('matches the pinned totals and counters of every variant', async () => {
    const actual: Record<string, unknown> = {};
    for (const variant of structPageVariants) {
      const { result, p } = await policyResult(variant);
      actual[variant] = {
        sha256: result.trace.sha256,
        records: result.trace.records,
        pids: CAPTURE.pids,
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

describe('struct-page: what each variant costs, on the sqlite capture', () => {
  it('1a: permanent struct pages are exactly 64 B per 4 KiB of PMem, in DRAM or carved from PMem', async () => {
    for (const [variant, where] of [
      ['1a-dram', 'dram'],
      ['1a-pmem', 'pmem'],
    ] as const) {
      const { result, p } = await policyResult(variant);
      const pmem = result.machine.nodes.find((n) => n.persistent)!;
      const bytes = (pmem.capacityBytes / 4096) * 64;
      expect(p.metrics.metadataBytesPeak).toBe(bytes);
      expect(p.counters[`struct-page.metadata_bytes_peak_${where}`]).toBe(bytes);
      expect(p.counters[`struct-page.metadata_bytes_peak_${where === 'dram' ? 'pmem' : 'dram'}`]).toBe(0);
      expect(p.counters['struct-page.metadata_bytes_mean']).toBe(bytes);
      expect(p.counters['struct-page.pmem_ios']).toBeGreaterThan(0);
      expect(p.counters['struct-page.struct_page_allocs']).toBe(0);
      expect(p.counters['struct-page.bounce_copy_bytes']).toBe(0);
    }
  });

  it('1b: metadata follows the I/O in flight, a small fraction of 1a, at a CPU cost per I/O', async () => {
    const { p } = await policyResult('1b');
    const permanent = (await policyResult('1a-dram')).p.metrics.metadataBytesPeak;
    const c = (name: string) => p.counters[`struct-page.${name}`]!;
    expect(p.metrics.metadataBytesPeak).toBeGreaterThan(0);
    expect(p.metrics.metadataBytesPeak % 64).toBe(0);
    expect(p.metrics.metadataBytesPeak).toBeLessThan(permanent / 4);
    expect(c('metadata_bytes_peak_dram')).toBe(p.metrics.metadataBytesPeak);
    expect(c('metadata_bytes_mean')).toBeGreaterThan(0);
    expect(c('metadata_bytes_mean')).toBeLessThan(p.metrics.metadataBytesPeak);
    expect(c('struct_page_allocs')).toBeGreaterThanOrEqual(c('pmem_ios'));
    expect(c('struct_page_allocs') * 64).toBeGreaterThanOrEqual(p.metrics.metadataBytesPeak);
    expect(c('struct_page_alloc_cost_ns')).toBe(c('struct_page_allocs') * 100);
    expect(c('struct_page_alloc_cost_ns_per_io')).toBeCloseTo(c('struct_page_alloc_cost_ns') / c('pmem_ios'), 9);
  });

  it('2: no metadata at all, every PMem I/O byte copied once more through DRAM', async () => {
    const { p } = await policyResult('2');
    expect(p.metrics.metadataBytesPeak).toBe(0);
    expect(p.counters['struct-page.bounce_copy_bytes']).toBe(p.counters['struct-page.pmem_io_bytes']);
    expect(p.counters['struct-page.bounce_copy_bytes']).toBeGreaterThan(100 * 2 ** 20);
    expect(p.counters['struct-page.bounce_copy_ns']).toBeGreaterThan(0);
  });

  it('keeps the engine invariants on the real capture (Engine.verify()) and gives the numbers replay gives', async () => {
    const { result, problems } = await replayVerified(CAPTURE, structPage, { variant: '1b' });
    expect(problems).toEqual([]);
    const golden = (await policyResult('1b')).p;
    expect(result.metrics).toEqual(golden.metrics);
    expect(result.counters).toEqual(golden.counters);
  });
});

/** A scripted stream on dram-pmem sized for 400 pages: DRAM 100 pages, PMem 400. */
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
  return {
    alloc: (t: number, page: number, kind: PageKind) => put(EventKind.alloc, t, page, kind),
    access: (t: number, page: number, source: number, write: boolean) =>
      put(EventKind.access, t, page, (source << EventFlag.sourceShift) | (write ? EventFlag.write : 0)),
    /** A page-cache page filled from storage (mm_filemap_add_to_page_cache). */
    file(t: number, page: number) {
      put(EventKind.alloc, t, page, PageKind.file);
      put(EventKind.access, t, page, (AccessSource.ioFill << EventFlag.sourceShift) | EventFlag.write);
    },
    run(options: Record<string, unknown>, dirtyExpireMs = 30_000): EngineResult {
      const machine = resolveMachine(loadPreset('dram-pmem'), 400);
      const engine = new Engine({ machine, policy: structPage(options), seed: 1, dirtyExpireMs });
      engine.push(batch);
      expect(engine.verify()).toEqual([]);
      return engine.finish();
    },
  };
}

describe('struct-page on scripted streams', () => {
  // dram-pmem: PMem writes at 13.9 GB/s and reads at 39.4 GB/s (bytes per ns); DRAM 105.6 / 76.8.
  const fillNs = 20 * US + 4096 / 13.9;
  const writebackNs = 20 * US + 4096 / 39.4;

  it('1b: holds 64 B per page while each fill is in flight (device latency + transfer into PMem)', () => {
    const s = script();
    s.file(0, 0);
    s.file(10 * US, 1); // overlaps the first: 128 B
    s.file(100 * US, 2); // both done by then: 64 B
    s.alloc(1 * MS, 3, PageKind.anon); // the trace ends at 1 ms
    const r = s.run({ variant: '1b' });
    expect(r.metrics.metadataBytesPeak).toBe(128);
    expect(r.counters['struct-page.metadata_bytes_peak_dram']).toBe(128);
    expect(r.counters['struct-page.metadata_bytes_mean']).toBeCloseTo((3 * 64 * fillNs) / MS, 9);
    expect(r.counters['struct-page.struct_page_allocs']).toBe(3);
    expect(r.counters['struct-page.struct_page_alloc_cost_ns_per_io']).toBe(100);
  });

  it('1b: a writeback holds its struct page for the device latency + the transfer out of PMem', () => {
    const s = script();
    s.file(0, 0);
    // Written back dirty_expire (here 1 ms) after it was dirtied: at 1 ms (the engine takes the fill for the
    // first dirtying) or at 1.5 ms; either way one writeback, done before the trace ends.
    s.access(0.5 * MS, 0, AccessSource.dirty, true);
    s.alloc(3 * MS, 1, PageKind.anon);
    const r = s.run({ variant: '1b', ioLatencyUs: 20 }, 1);
    expect(r.counters['struct-page.pmem_ios']).toBe(2);
    expect(r.metrics.metadataBytesPeak).toBe(64);
    expect(r.counters['struct-page.metadata_bytes_mean']).toBeCloseTo((64 * (fillNs + writebackNs)) / (3 * MS), 9);
  });

  it('2: copies every PMem I/O through DRAM at the slower side of the copy', () => {
    const s = script();
    s.file(0, 0);
    s.access(0.5 * MS, 0, AccessSource.dirty, true);
    s.alloc(3 * MS, 1, PageKind.anon);
    const r = s.run({ variant: '2' }, 1);
    expect(r.metrics.metadataBytesPeak).toBe(0);
    expect(r.counters['struct-page.bounce_copy_bytes']).toBe(8192);
    expect(r.counters['struct-page.bounce_copy_ns']).toBeCloseTo(4096 / 13.9 + 4096 / 39.4, 9);
  });

  it('1a-dram takes its memmap out of DRAM; 1a-pmem out of PMem; page cache goes to PMem, anon to DRAM', () => {
    const fill = () => {
      const s = script();
      s.file(0, 0);
      for (let p = 1; p <= 100; p++) {
        s.alloc(p * US, p, PageKind.anon);
        s.access(p * US, p, AccessSource.fault, true);
      }
      return s;
    };
    const dram = fill().run({ variant: '1a-dram' });
    const pmem = fill().run({ variant: '1a-pmem' });
    const pfn = fill().run({ variant: '2' });
    // 400 PMem pages x 64 B = 25,600 B = 7 pages of DRAM; DRAM takes pages down to its low watermark (10).
    expect(dram.metrics.metadataBytesPeak).toBe(25_600);
    expect(dram.nodes[0]!.allocatedPages).toBe(100 - 10 - 7);
    expect(pmem.nodes[0]!.allocatedPages).toBe(100 - 10);
    expect(pfn.nodes[0]!.allocatedPages).toBe(100 - 10);
    expect(pmem.nodes[1]!.allocatedPages).toBe(1 + 10);
  });

  it('refuses an unknown variant, naming the choices', () => {
    const error = (() => {
      try {
        structPage({ variant: '3' });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(isTierlabError(error) && error.code).toBe('POLICY_KNOB');
    expect((error as Error).message).toMatch(/'3'/);
    expect(() => structPage({ structPageBytes: 0 })).toThrow(/structPageBytes/);
  });
});
