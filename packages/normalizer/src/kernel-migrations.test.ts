import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventBatch, EventFlag, EventKind, PageKind } from '@tierlab/memory-tier-api';
import { bundledTraces } from '@tierlab/test-support';
import { GfpClass, MigrateReason, Tracepoint } from '@tierlab/trace-core';
import { openTextTrace } from '@tierlab/trace-text';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Normalizer, type NormalizerOptions } from './normalizer.js';

// The traced kernel's own migrations (mm_migrate_pages_start .. mm_migrate_pages on one
// task) keep the workload's pages: the page moves to the destination pfn, nothing is emitted.

const fixture = fileURLToPath(new URL('./__fixtures__/tiering-6.1.tracefs.txt', import.meta.url));

interface Migration {
  page: number;
  reason: number;
  fromPfn: number;
  toPfn: number;
  vpn: number;
}

interface Run {
  normalizer: Normalizer;
  kind: number[];
  time: number[];
  page: number[];
  flags: number[];
  pid: number[];
  migrations: Migration[];
}

async function normalize(file: string, options: NormalizerOptions = {}): Promise<Run> {
  const run: Omit<Run, 'normalizer'> = { kind: [], time: [], page: [], flags: [], pid: [], migrations: [] };
  const sink = (b: EventBatch) => {
    for (let i = 0; i < b.length; i++) {
      run.kind.push(b.kind[i]!);
      run.time.push(b.time[i]!);
      run.page.push(b.page[i]!);
      run.flags.push(b.flags[i]!);
      run.pid.push(b.pid[i]!);
    }
  };
  const normalizer: Normalizer = new Normalizer(
    {
      ...options,
      onKernelMigration: (page, _t, reason, fromPfn, toPfn) => {
        run.migrations.push({ page, reason, fromPfn, toPfn, vpn: normalizer.identity(page)?.vpn ?? -1 });
      },
    },
    sink,
  );
  for await (const batch of openTextTrace(file).batches()) normalizer.push(batch);
  normalizer.finish();
  return { normalizer, ...run };
}

/** Pages in the order their allocations were emitted (those linked to a fault or file; implicit pages left out). */
function linkedAllocs(run: Run): number[] {
  return run.page.filter((_, i) => run.kind[i] === EventKind.alloc && (run.flags[i]! & EventFlag.unlinked) === 0);
}

function frees(run: Run): number[] {
  return run.page.filter((_, i) => run.kind[i] === EventKind.free);
}

/** Every event on a live page, every page allocated once before it is freed. */
function checkLiveness(run: Run): void {
  const live = new Set<number>();
  let violation: string | null = null;
  for (let i = 0; i < run.kind.length && violation === null; i++) {
    const page = run.page[i]!;
    const kind = run.kind[i];
    if (kind === EventKind.alloc) {
      if (live.has(page)) violation = `event ${i}: page ${page} allocated twice`;
      live.add(page);
    } else if (kind === EventKind.free) {
      if (!live.delete(page)) violation = `event ${i}: page ${page} freed while not live`;
    } else if (kind === EventKind.access && !live.has(page)) {
      violation = `event ${i}: access to page ${page} while not live`;
    }
  }
  expect(violation).toBeNull();
}

describe('the kernel migrations of a real 6.1 tiering capture (an excerpt, __fixtures__)', () => {
  let run: Run;
  /** From the raw records: the time (since the first record) of each tierwl numa_misplaced call's start, by the page of the fault before it. */
  const promotionStarts = new Map<number, number>();
  beforeAll(async () => {
    run = await normalize(fixture, { pids: [220] });
    let t0 = Number.NaN;
    let lastFault = -1;
    for await (const b of openTextTrace(fixture).batches()) {
      for (let i = 0; i < b.length; i++) {
        if (Number.isNaN(t0)) t0 = b.time[i]!;
        if (b.tid[i] !== 220) continue;
        if (b.event[i] === Tracepoint.pageFaultUser) lastFault = Math.floor(b.a[i]! / 4096);
        if (b.event[i] === Tracepoint.mmMigratePagesStart && b.b[i] === MigrateReason.numaMisplaced) promotionStarts.set(lastFault, b.time[i]! - t0);
      }
    }
    expect(promotionStarts.size).toBe(10);
  });

  it('kswapd demotes tierwl pages: they keep their ids at the destination pfns, one folio at a time in order', () => {
    const demotions = run.migrations.filter((m) => m.reason === MigrateReason.demotion);
    // The second kswapd call frees 0xd49c first, after allocating 0x13b5ef; 0xd493 last, after 0x13b5f8.
    expect(demotions.slice(0, 10).map((m) => [m.fromPfn, m.toPfn, m.vpn])).toEqual(
      Array.from({ length: 10 }, (_, k) => [0xd49c - k, 0x13b5ef + k, 0x7faf6733d - k]),
    );
    // The third moves 0x124a4 (tierwl's page at 0x7faf6bc50000) to 0x12bb28; its other four sources are not tierwl's pages here.
    expect(demotions.slice(10).map((m) => [m.fromPfn, m.toPfn, m.vpn])).toEqual([[0x124a4, 0x12bb28, 0x7faf6bc50]]);
    const s = run.normalizer.stats;
    expect(s.kernelDemotionsRelinked).toBe(11);
    expect(s.kernelMigrationsUntracked).toBe(4);
  });

  it('a call whose destinations are all freed again (nr_succeeded=0) moves nothing', () => {
    const lines = readFileSync(fixture, 'latin1').split('\n');
    const start = lines.findIndex((l) => l.includes('18.325581: mm_migrate_pages_start'));
    const end = lines.findIndex((l, k) => k > start && l.includes('kswapd0-43') && l.includes('mm_migrate_pages:'));
    expect(lines[end]).toContain('nr_succeeded=0');
    const allocated = lines.slice(start, end).filter((l) => l.includes('mm_page_alloc:')).length;
    expect(allocated).toBeGreaterThan(0);
    expect(run.normalizer.stats.kernelMigrationsFailed).toBe(allocated);
    expect(run.normalizer.stats.kernelMigrationDestinationsUnpaired).toBe(0);
  });

  it('tierwl promotes on NUMA hint faults: the page at the fault address moves, the fault is an access to it, no new page', () => {
    const promotions = run.migrations.filter((m) => m.reason === MigrateReason.numaMisplaced);
    expect(promotions.map((m) => [m.fromPfn, m.toPfn, m.vpn])).toEqual(
      Array.from({ length: 10 }, (_, k) => [0x13b5f8 - k, 0x259d + k, 0x7faf67334 + k]),
    );
    // Each promoted page is the page demoted from 0xd493 + k.
    const demotedFrom = new Map(run.migrations.filter((m) => m.reason === MigrateReason.demotion).map((m) => [m.toPfn, m.page]));
    for (const m of promotions) expect(m.page).toBe(demotedFrom.get(m.fromPfn));
    for (const m of promotions) expect(run.normalizer.identity(m.page)).toMatchObject({ kind: PageKind.anon, pfn: m.toPfn, vpn: m.vpn, pid: 220 });
    const s = run.normalizer.stats;
    expect(s.kernelPromotionsRelinked).toBe(10);
    expect(s.faultsExisting).toBe(10);
    // 13 first touches, each its own page; no destination became a page.
    expect(s.faultsLinkedAlloc).toBe(13);
    expect(linkedAllocs(run)).toHaveLength(13);
    // The fault accesses of each promoted page: its first touch, then the hint fault, flushed when its migrate call starts.
    for (const m of promotions) {
      const faults = run.time.filter((_, i) => run.page[i] === m.page && run.kind[i] === EventKind.access && (run.flags[i]! & EventFlag.sourceMask) === 0);
      expect(faults).toHaveLength(2);
      expect(faults[1]).toBe(promotionStarts.get(m.vpn));
    }
  });

  it('compaction moves a page to a pfn the trace does not show: the page lives on', () => {
    const compacted = run.migrations.filter((m) => m.reason === MigrateReason.compaction);
    expect(compacted.map((m) => [m.fromPfn, m.toPfn, m.vpn])).toEqual([[0x21f, -1, 0x7faf59948]]);
    expect(run.normalizer.identity(compacted[0]!.page)).toMatchObject({ pfn: -1, vpn: 0x7faf59948 });
    expect(run.normalizer.stats.kernelMigrationsPfnUnknown).toBe(1);
  });

  it('pages end only when the workload frees them: 0x12bb28 ends the page first allocated at 0x124a4', () => {
    const allocs = linkedAllocs(run);
    // Allocation order: 0xd493..0xd49c, 0x124a4 (14.51 s), 0x21f, 0x124a4 again (20.28 s).
    const first124a4 = allocs[10]!;
    const second124a4 = allocs[12]!;
    expect(second124a4).not.toBe(first124a4);
    expect(run.migrations.find((m) => m.toPfn === 0x12bb28)?.page).toBe(first124a4);
    // 81.470894 frees 0x124a4 (the second page), 81.512538 frees 0x12bb28 (the first): nothing else is freed.
    expect(frees(run)).toEqual([second124a4, first124a4]);
    expect(run.normalizer.stats.kernelMigrationSourcesUnpaired).toBe(0);
    checkLiveness(run);
  });

  it('reports the migrations as counted info, with the kernel totals', () => {
    const anomalies = run.normalizer.anomalies();
    const relinked = anomalies.find((a) => a.name === 'kernel_migrations_relinked');
    expect(relinked).toMatchObject({ severity: 'info', value: 21 });
    expect(relinked!.description).toContain('10 promotions');
    expect(relinked!.description).toContain('11 demotions');
    // nr_succeeded: 0 + 10 + 5 (kswapd) + 32 (kcompactd) + 10 x 1 (tierwl).
    expect(run.normalizer.stats.kernelMigrationsReported).toBe(57);
    expect(run.normalizer.stats.kernelMigrationCalls).toBe(14);
    expect(anomalies.filter((a) => a.name.startsWith('kernel_') && a.severity !== 'info')).toEqual([]);
  });
});

// Cases the 6.1 capture does not have, in the kernel's text format (lines laid out as the fixture's).

/** A tracefs line: `comm-tid [cpu] flags seconds: event: fields`. */
function line(comm: string, tid: number, seconds: string, event: string, fields: string, flags = '.....'): string {
  return `${comm.padStart(16)}-${String(tid).padEnd(7)} [000] ${flags} ${seconds.padStart(12)}: ${event}: ${fields}`;
}
const fault = (seconds: string, address: number) =>
  line('tierwl', 220, seconds, 'page_fault_user', `address=0x${address.toString(16)} ip=0x4015d8 error_code=0x6`, 'd....');
const userAlloc = (comm: string, tid: number, seconds: string, pfn: number) =>
  line(comm, tid, seconds, 'mm_page_alloc', `page=0000000005cb8be0 pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO`);
const demoteAlloc = (comm: string, tid: number, seconds: string, pfn: number) =>
  line(comm, tid, seconds, 'mm_page_alloc', `page=0000000045ff6292 pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT|GFP_NOWAIT|__GFP_THISNODE`);
const free = (comm: string, tid: number, seconds: string, pfn: number) =>
  line(comm, tid, seconds, 'mm_page_free', `page=00000000435cf92f pfn=0x${pfn.toString(16)} order=0`);
const start = (comm: string, tid: number, seconds: string, reason: string) =>
  line(comm, tid, seconds, 'mm_migrate_pages_start', `mode=MIGRATE_ASYNC reason=${reason}`);
// 6.3+ prints nr_split.
const end = (comm: string, tid: number, seconds: string, succeeded: number, failed: number, reason: string) =>
  line(
    comm,
    tid,
    seconds,
    'mm_migrate_pages',
    `nr_succeeded=${succeeded} nr_failed=${failed} nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_ASYNC reason=${reason}`,
  );

describe('kernel migrations in the kernel text format', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'normalizer-migrate-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  let count = 0;
  const write = (lines: readonly string[]) => {
    const file = path.join(dir, `trace-${++count}.txt`);
    writeFileSync(file, `${lines.join('\n')}\n`, 'latin1');
    return file;
  };
  const V = 0x7f0000001000;

  it('6.3+ batches: every destination, then the sources in the same order; a failed one frees its destination', async () => {
    const run = await normalize(
      write([
        fault('10.000001', V),
        userAlloc('tierwl', 220, '10.000002', 0x100a),
        fault('10.000003', V + 0x1000),
        userAlloc('tierwl', 220, '10.000004', 0x100b),
        fault('10.000005', V + 0x2000),
        userAlloc('tierwl', 220, '10.000006', 0x100c),
        start('kswapd0', 43, '11.000001', 'demotion'),
        demoteAlloc('kswapd0', 43, '11.000002', 0x13a001),
        demoteAlloc('kswapd0', 43, '11.000003', 0x13a002),
        demoteAlloc('kswapd0', 43, '11.000004', 0x13a003),
        free('kswapd0', 43, '11.000005', 0x100a),
        free('kswapd0', 43, '11.000006', 0x13a002),
        free('kswapd0', 43, '11.000007', 0x100c),
        end('kswapd0', 43, '11.000008', 2, 1, 'demotion'),
        free('tierwl', 220, '12.000001', 0x13a001),
        free('tierwl', 220, '12.000002', 0x100b),
        free('tierwl', 220, '12.000003', 0x13a003),
      ]),
      { pids: [220] },
    );
    const [p1, p2, p3] = linkedAllocs(run);
    expect(linkedAllocs(run)).toHaveLength(3);
    expect(run.migrations.map((m) => [m.page, m.fromPfn, m.toPfn])).toEqual([
      [p1, 0x100a, 0x13a001],
      [p3, 0x100c, 0x13a003],
    ]);
    expect(frees(run)).toEqual([p1, p2, p3]);
    // Nothing is freed before the workload frees it.
    const firstFree = run.kind.indexOf(EventKind.free);
    expect(run.time[firstFree]).toBe(2e9);
    const s = run.normalizer.stats;
    expect([s.kernelDemotionsRelinked, s.kernelMigrationsFailed, s.kernelMigrationDestinationsUnpaired, s.kernelMigrationSourcesUnpaired]).toEqual([2, 1, 0, 0]);
    checkLiveness(run);
  });

  it('demotion in direct reclaim under a first-touch fault: the fault links to its own allocation after the call', async () => {
    const run = await normalize(
      write([
        fault('10.000001', V),
        userAlloc('tierwl', 220, '10.000002', 0x100a),
        fault('10.000003', V + 0x5000),
        start('tierwl', 220, '10.000004', 'demotion'),
        demoteAlloc('tierwl', 220, '10.000005', 0x13a001),
        free('tierwl', 220, '10.000006', 0x100a),
        end('tierwl', 220, '10.000007', 1, 0, 'demotion'),
        userAlloc('tierwl', 220, '10.000008', 0x100d),
        fault('10.000009', V + 0x6000),
      ]),
      { pids: [220] },
    );
    const [first, second] = linkedAllocs(run);
    expect(linkedAllocs(run)).toHaveLength(2);
    expect(run.normalizer.identity(first!)).toMatchObject({ pfn: 0x13a001, vpn: V / 4096 });
    expect(run.normalizer.identity(second!)).toMatchObject({ pfn: 0x100d, vpn: V / 4096 + 5 });
    expect(run.normalizer.stats.faultsLinkedAlloc).toBe(2);
    expect(frees(run)).toEqual([]);
  });

  it('a kernel allocation inside a call is not a destination', async () => {
    const run = await normalize(
      write([
        fault('10.000001', V),
        userAlloc('tierwl', 220, '10.000002', 0x100a),
        start('kswapd0', 43, '11.000001', 'demotion'),
        line('kswapd0', 43, '11.000002', 'mm_page_alloc', 'page=000000003b15335d pfn=0x2d7a order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO'),
        demoteAlloc('kswapd0', 43, '11.000003', 0x13a001),
        free('kswapd0', 43, '11.000004', 0x100a),
        end('kswapd0', 43, '11.000005', 1, 0, 'demotion'),
      ]),
      { pids: [220] },
    );
    expect(run.migrations.map((m) => [m.fromPfn, m.toPfn])).toEqual([[0x100a, 0x13a001]]);
  });

  it('unpaired: a destination no source takes is forgotten; a source with no destination is freed (warnings)', async () => {
    const run = await normalize(
      write([
        fault('10.000001', V),
        userAlloc('tierwl', 220, '10.000002', 0x100a),
        start('kswapd0', 43, '11.000001', 'demotion'),
        demoteAlloc('kswapd0', 43, '11.000002', 0x13a001),
        end('kswapd0', 43, '11.000003', 0, 1, 'demotion'),
        start('kswapd0', 43, '12.000001', 'demotion'),
        free('kswapd0', 43, '12.000002', 0x100a),
        end('kswapd0', 43, '12.000003', 1, 0, 'demotion'),
        // The forgotten destination is not a page: its free is a pfn never seen allocated.
        free('tierwl', 220, '13.000001', 0x13a001),
      ]),
      { pids: [220] },
    );
    const [page] = linkedAllocs(run);
    expect(frees(run)).toEqual([page]);
    expect(run.time[run.kind.indexOf(EventKind.free)]).toBe(2e9 + 1000);
    const s = run.normalizer.stats;
    expect([s.kernelMigrationDestinationsUnpaired, s.kernelMigrationSourcesUnpaired, s.freesUnknown]).toEqual([1, 1, 1]);
    const warnings = run.normalizer.anomalies().filter((a) => a.severity === 'warning').map((a) => a.name);
    expect(warnings).toEqual(['kernel_migration_destinations_unpaired', 'kernel_migration_sources_unpaired']);
  });
});

// The whole capture the fixture was cut from, when it is in the repository (traces/fidelity).

const capture = process.env.TIERLAB_TIERING_TRACE ?? path.join(bundledTraces(), 'fidelity/tier-hot128/trace.tracefs.txt.zst');
const haveCapture = existsSync(capture);

/** What the test reads from the raw records itself. */
interface RawFacts {
  /** The workload: the task that exec'd tierwl. */
  pid: number;
  t0: number;
  execNs: number;
  lastFaultNs: number;
  /** Sum of nr_succeeded of mm_migrate_pages by reason. */
  succeeded: Map<number, number>;
  /** Tasks with numa_misplaced calls. */
  promoters: Set<number>;
  /** The page (vpn) of the fault before each numa_misplaced call that moved a page, in order. */
  hintVpns: number[];
  /** Movable allocations of the workload outside its migrate calls, exec to last fault. */
  workloadAllocs: number;
}

async function readFacts(file: string): Promise<RawFacts> {
  const facts: RawFacts = { pid: -1, t0: Number.NaN, execNs: Number.NaN, lastFaultNs: Number.NaN, succeeded: new Map(), promoters: new Set(), hintVpns: [], workloadAllocs: 0 };
  const lastFault = new Map<number, number>();
  const inCall = new Map<number, number>();
  const allocTimes: number[] = [];
  for await (const b of openTextTrace(file).batches()) {
    for (let i = 0; i < b.length; i++) {
      const t = b.time[i]!;
      if (Number.isNaN(facts.t0)) facts.t0 = t;
      const tid = b.tid[i]!;
      switch (b.event[i]) {
        case Tracepoint.schedProcessExec:
          if (b.strings[b.c[i]!]!.endsWith('/tierwl')) {
            facts.pid = tid;
            facts.execNs = t - facts.t0;
          }
          break;
        case Tracepoint.pageFaultUser:
          lastFault.set(tid, Math.floor(b.a[i]! / 4096));
          if (tid === facts.pid) facts.lastFaultNs = t - facts.t0;
          break;
        case Tracepoint.mmMigratePagesStart:
          inCall.set(tid, b.b[i]!);
          break;
        case Tracepoint.mmMigratePages: {
          const reason = b.c[i]!;
          facts.succeeded.set(reason, (facts.succeeded.get(reason) ?? 0) + b.a[i]!);
          if (reason === MigrateReason.numaMisplaced) {
            facts.promoters.add(tid);
            if (b.a[i]! > 0) facts.hintVpns.push(lastFault.get(tid) ?? -1);
          }
          inCall.delete(tid);
          break;
        }
        case Tracepoint.mmPageAlloc:
          if (tid === facts.pid && !inCall.has(tid) && (b.c[i]! & GfpClass.movable) !== 0) allocTimes.push(t - facts.t0);
          break;
      }
    }
  }
  facts.workloadAllocs = allocTimes.filter((t) => t > facts.execNs && t <= facts.lastFaultNs).length;
  return facts;
}

/** Counters of /proc/vmstat files beside the capture (before/after the run), if there. */
function vmstatDelta(name: string): number | null {
  const read = (file: string) => {
    const p = path.join(path.dirname(capture), file);
    if (!existsSync(p)) return null;
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(readFileSync(p, 'utf8'));
    return m === null ? null : Number(m[1]);
  };
  const before = read('vmstat.before');
  const after = read('vmstat.after');
  return before === null || after === null ? null : after - before;
}

describe.skipIf(!haveCapture)(
  haveCapture ? `a whole 6.1 tiering capture (${path.basename(path.dirname(capture))})` : `a whole 6.1 tiering capture (skipped: ${capture} not found)`,
  () => {
    let facts: RawFacts;
    let run: Run;
    beforeAll(async () => {
      facts = await readFacts(capture);
      const pidFile = path.join(path.dirname(capture), 'workload.pid');
      if (existsSync(pidFile)) expect(facts.pid).toBe(Number(readFileSync(pidFile, 'utf8').trim()));
      run = await normalize(capture, { pids: [facts.pid] });
    }, 120_000);

    it("relinks as many promotions and demotions as the kernel's mm_migrate_pages report, within the unpaired ones", () => {
      const s = run.normalizer.stats;
      const unpaired = s.kernelMigrationDestinationsUnpaired + s.kernelMigrationSourcesUnpaired;
      const promotions = facts.succeeded.get(MigrateReason.numaMisplaced) ?? 0;
      const demotions = facts.succeeded.get(MigrateReason.demotion) ?? 0;
      expect(promotions).toBeGreaterThan(0);
      expect(demotions).toBeGreaterThan(0);
      // Only the workload promotes (hint faults of its own accesses): every promotion is of its pages.
      expect([...facts.promoters]).toEqual([facts.pid]);
      expect(Math.abs(s.kernelPromotionsRelinked - promotions)).toBeLessThanOrEqual(unpaired);
      // kswapd demotes other processes' pages too: those are paired, not followed.
      expect(s.kernelDemotionsRelinked).toBeGreaterThan(0.9 * demotions);
      expect(s.kernelDemotionsRelinked).toBeLessThanOrEqual(demotions + unpaired);
      expect(s.kernelDemotionsRelinked + s.kernelMigrationsUntracked + unpaired).toBeGreaterThanOrEqual(demotions);
      expect(s.kernelMigrationsPfnUnknown).toBeLessThanOrEqual(facts.succeeded.get(MigrateReason.compaction) ?? 0);
      // The kernel's own counters over the run, when the capture kept them (read a little before or after the trace ends).
      const promoted = vmstatDelta('pgpromote_success');
      if (promoted !== null) expect(Math.abs(s.kernelPromotionsRelinked - promoted)).toBeLessThan(0.05 * promoted);
      const kswapd = vmstatDelta('pgdemote_kswapd');
      const direct = vmstatDelta('pgdemote_direct');
      if (kswapd !== null && direct !== null) expect(Math.abs(s.kernelDemotionsRelinked - (kswapd + direct))).toBeLessThan(0.05 * (kswapd + direct));
    });

    it('each promoted page is the page at the address of the hint fault that promoted it', () => {
      const promoted = run.migrations.filter((m) => m.reason === MigrateReason.numaMisplaced).map((m) => m.vpn);
      const s = run.normalizer.stats;
      expect(Math.abs(promoted.length - facts.hintVpns.length)).toBeLessThanOrEqual(s.kernelMigrationDestinationsUnpaired + s.kernelMigrationSourcesUnpaired);
      // In order, skipping the calls that did not pair.
      let same = 0;
      for (let k = 0, j = 0; k < promoted.length && j < facts.hintVpns.length; j++) {
        if (promoted[k] === facts.hintVpns[j]) {
          same++;
          k++;
        } else if (promoted.length - k >= facts.hintVpns.length - j) {
          k++;
        }
      }
      // Misses: stack pages set up by exec (no fault of their own), pages an earlier demotion paired
      // wrongly where the capture's clock stood still across CPUs (records merged out of order).
      expect(same / promoted.length).toBeGreaterThan(0.98);
    });

    it('no page of the workload is freed by the kernel migrating it: its page count before exit is its linked first touches', () => {
      const linked = new Set<number>();
      let freed = 0;
      for (let i = 0; i < run.kind.length; i++) {
        const t = run.time[i]!;
        if (run.pid[i] !== facts.pid || t <= facts.execNs || t > facts.lastFaultNs) continue;
        if (run.kind[i] === EventKind.alloc && (run.flags[i]! & EventFlag.unlinked) === 0 && (run.flags[i]! & EventFlag.kindMask) === PageKind.anon) {
          linked.add(run.page[i]!);
        } else if (run.kind[i] === EventKind.free) {
          freed++;
          linked.delete(run.page[i]!);
        }
      }
      // The kernel moved tens of thousands of them; what is freed comes of records merged out of order across CPUs
      // (a capture whose clock stood still: a free after the allocation that reused the pfn).
      const moved = (facts.succeeded.get(MigrateReason.numaMisplaced) ?? 0) + (facts.succeeded.get(MigrateReason.demotion) ?? 0);
      expect(freed).toBeLessThan(0.01 * moved);
      const s = run.normalizer.stats;
      // Every movable allocation of the workload outside the kernel's migrations is a page, none of the destinations is.
      expect(Math.abs(linked.size + freed - facts.workloadAllocs)).toBeLessThanOrEqual(s.allocsUnidentified + freed);
      expect(linked.size).toBeLessThanOrEqual(s.faultsLinkedAlloc);
    });

    it('keeps the alloc / access / free contract', () => {
      checkLiveness(run);
    });
  },
);
