import { AccessSource, EventFlag, EventKind, PageKind } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { chunkBatches, copyBatch } from './streams.js';
import { bundledTrace, generatedStreams, loadTraceEvents } from './index.js';

describe('the streams the kit replays', () => {
  it('reads the real capture it ships through the real reader and normalizer', async () => {
    const stream = await loadTraceEvents(bundledTrace());
    expect(stream.name).toBe('py_named_threads.perf-script.txt.zst');
    expect(stream.description).toMatch(/perf-script, 436,297 records/);
    // 4 threads fault in, touch and free 8 MiB a round: tens of thousands of page faults, a footprint of ~40 MiB.
    expect(stream.accesses).toBeGreaterThan(80_000);
    expect(stream.footprintPages).toBeGreaterThan(5_000);
    expect(stream.events).toBe(stream.batches.reduce((n, b) => n + b.length, 0));
    expect(await loadTraceEvents(bundledTrace())).toBe(stream);
  });

  it('generates every page kind, access source and event kind, with page-id reuse', () => {
    const { everyEventKind } = generatedStreams();
    const kinds = new Set<number>();
    const pageKinds = new Set<number>();
    const sources = new Set<number>();
    const folios = new Set<number>();
    const allocated = new Map<number, number>();
    let reused = 0;
    for (const b of everyEventKind.batches) {
      for (let i = 0; i < b.length; i++) {
        kinds.add(b.kind[i]!);
        if (b.kind[i] === EventKind.alloc) {
          pageKinds.add(b.flags[i]! & EventFlag.kindMask);
          folios.add(b.nrPages[i]!);
          const n = (allocated.get(b.page[i]!) ?? 0) + 1;
          allocated.set(b.page[i]!, n);
          if (n > 1) reused++;
        }
        if (b.kind[i] === EventKind.access) sources.add((b.flags[i]! & EventFlag.sourceMask) >> EventFlag.sourceShift);
      }
    }
    expect([...kinds].sort()).toEqual([EventKind.alloc, EventKind.free, EventKind.access, EventKind.lost].sort());
    expect([...pageKinds].sort()).toEqual([PageKind.anon, PageKind.file, PageKind.kernel, PageKind.device]);
    expect([...sources].sort()).toEqual(Object.values(AccessSource).sort());
    expect([...folios].sort((a, b) => a - b)).toEqual([1, 4, 512]);
    expect(reused).toBeGreaterThan(0);
  });

  it('keeps time in order and measures footprint and accesses', () => {
    for (const stream of Object.values(generatedStreams())) {
      let last = 0;
      let accesses = 0;
      for (const b of stream.batches) {
        for (let i = 0; i < b.length; i++) {
          expect(b.time[i]!).toBeGreaterThanOrEqual(last);
          last = b.time[i]!;
          if (b.kind[i] === EventKind.access) accesses += b.count[i]!;
        }
      }
      expect(accesses).toBe(stream.accesses);
      expect(stream.footprintPages).toBeGreaterThan(0);
    }
  });

  it('copies and chunks batches without losing a row or a column', () => {
    const { pressure } = generatedStreams();
    const chunks = chunkBatches(pressure.batches, 64);
    expect(chunks.every((c) => c.length <= 64)).toBe(true);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(pressure.events);
    const first = pressure.batches[0]!;
    const copy = copyBatch(first);
    expect(Object.keys(copy).sort()).toEqual(Object.keys(first).sort());
    expect(copy.page).not.toBe(first.page);
    expect([...copy.page]).toEqual([...first.page.subarray(0, first.length)]);
  });
});
