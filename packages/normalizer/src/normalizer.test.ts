import { EventFlag, EventKind, type EventBatch, PageKind } from '@tierlab/memory-tier-api';
import { readMeta, sharedTrace, sharedTraces } from '@tierlab/test-support';
import { Tracepoint } from '@tierlab/trace-core';
import { openLackey } from '@tierlab/trace-lackey';
import { openTextTrace } from '@tierlab/trace-text';
import { describe, expect, it } from 'vitest';
import { Normalizer, type NormalizerOptions } from './normalizer.js';

const shared = sharedTraces();

interface Collected {
  normalizer: Normalizer;
  kind: number[];
  time: number[];
  page: number[];
  nrPages: number[];
  flags: number[];
  pid: number[];
  count: number[];
}

async function normalize(file: string, options: NormalizerOptions = {}, lackey = false): Promise<Collected> {
  const c: Omit<Collected, 'normalizer'> = { kind: [], time: [], page: [], nrPages: [], flags: [], pid: [], count: [] };
  const sink = (b: EventBatch) => {
    for (let i = 0; i < b.length; i++) {
      c.kind.push(b.kind[i]!);
      c.time.push(b.time[i]!);
      c.page.push(b.page[i]!);
      c.nrPages.push(b.nrPages[i]!);
      c.flags.push(b.flags[i]!);
      c.pid.push(b.pid[i]!);
      c.count.push(b.count[i]!);
    }
  };
  const normalizer = new Normalizer(options, sink);
  const reader = lackey ? openLackey(sharedTrace(file)) : openTextTrace(sharedTrace(file));
  for await (const batch of reader.batches()) normalizer.push(batch);
  normalizer.finish();
  return { normalizer, ...c };
}

/** Replays the event stream against a model of page liveness: the contract the engine relies on. */
function checkContract(c: Collected): void {
  const live = new Set<number>();
  let last = 0;
  for (let i = 0; i < c.kind.length; i++) {
    expect(c.time[i]!).toBeGreaterThanOrEqual(last);
    last = c.time[i]!;
    const page = c.page[i]!;
    switch (c.kind[i]) {
      case EventKind.alloc:
        expect(live.has(page)).toBe(false);
        live.add(page);
        break;
      case EventKind.free:
        expect(live.has(page)).toBe(true);
        live.delete(page);
        break;
      case EventKind.access:
        expect(live.has(page)).toBe(true);
        break;
      case EventKind.lost:
        break;
      default:
        throw new Error(`unknown kind ${c.kind[i]}`);
    }
  }
}

describe.skipIf(shared === null)('normalizer on real captures (../shared/traces)', () => {
  it('py_named_threads (perf script): links nearly every fault to its page, and keeps the alloc/access/free contract', async () => {
    const c = await normalize('py_named_threads.perf-script.txt.zst');
    const s = c.normalizer.stats;
    const meta = readMeta(sharedTrace('py_named_threads.perf.meta')).counts.event_counts!;
    expect(s.records).toBe(Object.values(meta).reduce((a, b) => a + b, 0));
    expect(s.faults).toBe(meta.page_fault_user);
    // Every fault is one of these; a zero-page read is the read fault before the write fault that copies the page.
    expect(s.faultsLinkedAlloc + s.faultsExisting + s.faultsUnlinked + s.zeroPageReads).toBe(s.faults);
    // The workload allocates and touches fresh anonymous memory: most faults allocate a page.
    expect(s.faultsLinkedAlloc / s.faults).toBeGreaterThan(0.9);
    expect(s.allocs).toBe(meta.mm_page_alloc);
    // Every allocation is emitted once with a kind; implicit pages (never seen allocated) come on top.
    const implicit = s.faultsUnlinked + (s.filemapAdds - s.filemapAddsLinked);
    expect(s.allocsAnon + s.allocsFile + s.allocsKernel).toBe(s.allocs + implicit);
    expect(c.kind.filter((k) => k === EventKind.alloc).length).toBe(s.allocs + implicit);
    checkContract(c);
    // Threads of one process (the `alloc worker N` threads) share an address space by mm_id.
    expect(s.threadsJoined).toBeGreaterThanOrEqual(4);
  });

  it('gives the same events from `perf script` and `perf script -F` of one capture (pids aside)', async () => {
    const a = await normalize('py_named_threads.perf-script.txt.zst');
    const b = await normalize('py_named_threads.perf-script-F.txt.zst');
    expect(b.kind.length).toBe(a.kind.length);
    expect(b.kind).toEqual(a.kind);
    expect(b.time).toEqual(a.time);
    expect(b.page).toEqual(a.page);
    expect(b.nrPages).toEqual(a.nrPages);
    expect(b.flags).toEqual(a.flags);
  });

  it('sqlite_orders: links page-cache pages to the pfns the trace allocated', async () => {
    const c = await normalize('sqlite_orders.perf-script.txt.zst');
    const s = c.normalizer.stats;
    expect(s.filemapAdds).toBe(46938);
    expect(s.filemapAddsLinked / s.filemapAdds).toBeGreaterThan(0.95);
    expect(s.allocsFile).toBeGreaterThan(40000);
    expect(s.dirtied).toBeGreaterThan(0);
    checkContract(c);
    const fileAllocs = c.kind.filter((k, i) => k === EventKind.alloc && (c.flags[i]! & EventFlag.kindMask) === PageKind.file).length;
    expect(fileAllocs).toBe(s.allocsFile);
  });

  it('--pid keeps the workload tree of a system-wide capture and drops other processes', async () => {
    const meta = readMeta(sharedTrace('sqlite_orders.perf.meta'));
    const workload = [...meta.values.workload_pids!.matchAll(/(\d+)\(/g)].map((m) => Number(m[1]));
    const root = workload[0]!;
    const c = await normalize('sqlite_orders.perf-script.txt.zst', { pids: [root] });
    const s = c.normalizer.stats;
    // MANIFEST: 159,505 records of other processes; frees of workload pages in other contexts are kept.
    expect(s.recordsFiltered).toBeGreaterThan(150_000);
    expect(s.recordsFiltered).toBeLessThanOrEqual(159_505);
    const owners = new Set(c.pid.filter((_, i) => c.kind[i] === EventKind.alloc));
    for (const owner of owners) expect(workload).toContain(owner);
    // The sqlite3 processes are there: they were forked below the root.
    expect(owners.has(workload.at(-1)!)).toBe(true);
    checkContract(c);
  });

  it('--comm narrows to threads by name', async () => {
    const c = await normalize('py_named_threads.tracefs.txt.zst', { comms: ['alloc worker 0'] });
    expect(c.normalizer.stats.faults).toBeGreaterThan(1000);
    expect(c.normalizer.stats.recordsFiltered).toBeGreaterThan(100_000);
    checkContract(c);
  });

  it('counts the events a lossy capture reports lost, and emits them as lost events', async () => {
    const meta = readMeta(sharedTrace('gcc_lua_lossy.tracefs.meta')).counts.event_counts!;
    const c = await normalize('gcc_lua_lossy.tracefs.txt.zst');
    const s = c.normalizer.stats;
    expect(s.lostMarkers).toBe(meta['(LOST marker lines)']);
    expect(s.lostEvents).toBe(meta['(events reported lost in markers)']);
    const lost = c.count.filter((_, i) => c.kind[i] === EventKind.lost).reduce((a, b) => a + b, 0);
    expect(lost).toBe(s.lostEvents);
    expect(c.normalizer.anomalies().map((a) => a.name)).toContain('lost_events');
    checkContract(c);
  });

  it('DAMON (paddr kdamond only): every page of an accessed region gets nr_accesses accesses', async () => {
    // Independently from the raw records: regions, accessed regions, and their pages.
    let regions = 0;
    let accessed = 0;
    let pageAccesses = 0;
    let weighted = 0;
    for await (const b of openTextTrace(sharedTrace('sqlite_orders.damon.tracefs.txt.zst')).batches()) {
      for (let i = 0; i < b.length; i++) {
        if (b.event[i] !== Tracepoint.damonAggregated) continue;
        regions++;
        if (b.c[i]! === 0) continue;
        accessed++;
        const pages = Math.floor((b.b[i]! - 1) / 4096) - Math.ceil(b.a[i]! / 4096) + 1;
        pageAccesses += pages;
        weighted += pages * b.c[i]!;
      }
    }
    const c = await normalize('sqlite_orders.damon.tracefs.txt.zst');
    const s = c.normalizer.stats;
    expect(s.damonRegions).toBe(regions);
    expect(regions).toBe(11328);
    expect(s.damonRegionsAccessed).toBe(accessed);
    expect(s.damonPageAccesses).toBe(pageAccesses);
    const charged = c.count.filter((_, i) => c.kind[i] === EventKind.access).reduce((x, y) => x + y, 0);
    expect(charged).toBe(weighted);
    checkContract(c);
  });

  it('DAMON regions in a trace with allocations touch only the pages the trace linked', async () => {
    const c = await normalize('sqlite_orders.perf-script.txt.zst');
    const s = c.normalizer.stats;
    expect(s.damonRegions).toBe(1792);
    expect(s.samplePagesImplicit).toBe(0);
    expect(s.samplePagesIgnored + s.damonPageAccesses).toBeGreaterThan(0);
  });

  it('valgrind lackey: aggregated loads and stores become weighted accesses to implicit pages', async () => {
    let loads = 0;
    let stores = 0;
    const pages = new Set<number>();
    for await (const b of openLackey(sharedTrace('lua_tables.lackey.txt.zst')).batches()) {
      for (let i = 0; i < b.length; i++) {
        loads += b.b[i]!;
        stores += b.c[i]!;
        pages.add(b.a[i]!);
      }
    }
    const c = await normalize('lua_tables.lackey.txt.zst', {}, true);
    const s = c.normalizer.stats;
    expect(s.samplePagesImplicit).toBe(pages.size);
    const reads = c.count.filter((_, i) => c.kind[i] === EventKind.access && (c.flags[i]! & EventFlag.write) === 0).reduce((x, y) => x + y, 0);
    const writes = c.count.filter((_, i) => c.kind[i] === EventKind.access && (c.flags[i]! & EventFlag.write) !== 0).reduce((x, y) => x + y, 0);
    expect(reads).toBe(loads);
    expect(writes).toBe(stores);
    checkContract(c);
  });
});
