import { readMeta, sharedTrace, sharedTraces } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { openPerfData } from './reader.js';
import { compareWithText } from './test-compare.js';
import type { CompareResult } from './test-compare.js';

interface Capture {
  /** The capture's stem: STEM.perf.data.zst, STEM.perf-script.txt.zst, … */
  readonly stem: string;
  readonly meta: string;
  /** The `.meta` section with the perf script counts. */
  readonly section: string;
  /** Whether a `perf script -F comm,pid,tid,…` text exists. */
  readonly withF: boolean;
}

const captures: readonly Capture[] = [
  { stem: 'sqlite_orders', meta: 'sqlite_orders.perf.meta', section: 'event_counts', withF: true },
  { stem: 'py_named_threads', meta: 'py_named_threads.perf.meta', section: 'event_counts', withF: true },
  { stem: 'py_named_threads_lossy', meta: 'py_named_threads_lossy.perf.meta', section: 'event_counts', withF: true },
  { stem: 'sqlite_orders.damon', meta: 'sqlite_orders.damon.meta', section: 'event_counts (perf script)', withF: false },
];

const shared = sharedTraces();
const noShared = shared === null ? ' (skipped: ../shared/traces not found)' : '';

function expectSame(result: CompareResult, exactTables: boolean): void {
  expect(result.mismatches).toEqual([]);
  expect(result.mismatchCount).toBe(0);
  expect(result.extraPerf).toBe(0);
  expect(result.extraText).toBe(0);
  expect(result.perfStats.eventCounts).toEqual(result.textStats.eventCounts);
  if (exactTables) {
    // Same records in the same order intern the same strings and event names in the same order.
    expect(result.perfStrings).toEqual(result.textStrings);
    expect(result.perfEventNames).toEqual(result.textEventNames);
  }
}

describe.skipIf(shared === null)(`shared perf.data captures against their perf script text${noShared}`, () => {
  for (const capture of captures) {
    describe(capture.stem, () => {
      const data = () => sharedTrace(`${capture.stem}.perf.data.zst`);

      it('gives the records of the default perf script text (all columns, loss markers included)', async () => {
        const result = await compareWithText(data(), sharedTrace(`${capture.stem}.perf-script.txt.zst`), {
          comparePid: false,
          skipLost: false,
        });
        expectSame(result, true);
        expect(result.records).toBeGreaterThan(10_000);
        expect(result.perfStats.format).toBe('perf.data');
        expect(result.perfStats.lostMarkers).toBe(result.textStats.lostMarkers);
        expect(result.perfStats.lostEvents).toBe(result.textStats.lostEvents);
        expect(result.perfStats.skippedSamples).toBe(0);
        // Counts per event equal the .meta sidecar's perf script counts.
        const meta = readMeta(sharedTrace(capture.meta));
        expect(result.perfStats.eventCounts).toEqual(meta.counts[capture.section]);
      });

      it.skipIf(!capture.withF)(`gives the pids of the perf script -F text${capture.withF ? '' : ' (skipped: no -F text)'}`, async () => {
        const result = await compareWithText(data(), sharedTrace(`${capture.stem}.perf-script-F.txt.zst`), {
          comparePid: true,
          skipLost: true,
        });
        expectSame(result, result.perfLostMarkers === 0);
        expect(result.records).toBeGreaterThan(10_000);
      });
    });
  }

  it('counts the loss of the lossy capture as the text does and as the .meta says', async () => {
    const reader = openPerfData(sharedTrace('py_named_threads_lossy.perf.data.zst'));
    for await (const _ of reader.batches());
    const meta = readMeta(sharedTrace('py_named_threads_lossy.perf.meta'));
    // "361 PERF_RECORD_LOST lines, 308812 samples lost"
    const m = /^(\d+) PERF_RECORD_LOST lines, (\d+) samples lost/.exec(meta.values.perf_script_lost_records ?? '');
    expect(m).not.toBeNull();
    expect(reader.stats.lostMarkers).toBe(Number(m![1]));
    expect(reader.stats.lostEvents).toBe(Number(m![2]));
    expect(reader.stats.lostMarkers).toBeGreaterThan(0);
    // PERF_RECORD_LOST_SAMPLES are counted apart (perf script does not print them).
    expect(reader.stats.lostSampleRecords).toBeGreaterThan(0);
  });

  it('reads with the in-process zstd decoder too, and in small batches', async () => {
    const file = sharedTrace('sqlite_orders.damon.perf.data.zst');
    const collect = async (options: Parameters<typeof openPerfData>[1]) => {
      const reader = openPerfData(file, options);
      const rows: number[] = [];
      for await (const batch of reader.batches()) {
        for (let i = 0; i < batch.length; i++) rows.push(batch.event[i]!, batch.time[i]!, batch.a[i]!, batch.b[i]!, batch.tid[i]!);
      }
      return { rows, stats: reader.stats };
    };
    const program = await collect({ zstd: 'auto' });
    const js = await collect({ zstd: 'js', batchSize: 333 });
    expect(js.rows).toEqual(program.rows);
    expect(js.stats.eventCounts).toEqual(program.stats.eventCounts);
  });
});

describe('openPerfData arguments', () => {
  it('rejects bad options as TypeError', () => {
    expect(() => openPerfData('')).toThrow(TypeError);
    expect(() => openPerfData('x', { batchSize: 0 })).toThrow(TypeError);
    expect(() => openPerfData('x', { zstd: 'fast' as never })).toThrow(TypeError);
  });

  it('iterates once', async () => {
    const reader = openPerfData('/nonexistent/perf.data');
    reader.batches();
    expect(() => reader.batches()).toThrow(TypeError);
  });
});
