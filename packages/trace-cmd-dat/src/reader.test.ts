import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { readMeta, sharedTrace, sharedTraces } from '@tierlab/test-support';
import { Tracepoint, findZstdProgram, openTrace } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { openTextTrace } from '@tierlab/trace-text';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTraceDat, sniffTraceDat } from './reader.js';
import type { TraceDatOptions } from './reader.js';

const tracesDir = sharedTraces();
const haveTraces = tracesDir !== null;

interface Capture {
  readonly name: string;
  readonly v7: string;
  readonly v6: string;
  readonly text: string;
  readonly meta: string;
}

const captures: readonly Capture[] = [
  {
    name: 'git_lua',
    v7: 'git_lua.trace.dat.zst',
    v6: 'git_lua.trace.v6.dat.zst',
    text: 'git_lua.trace-cmd-report.txt.zst',
    meta: 'git_lua.tracecmd.meta',
  },
  {
    name: 'py_named_threads_lossy',
    v7: 'py_named_threads_lossy.trace.dat.zst',
    v6: 'py_named_threads_lossy.trace.v6.dat.zst',
    text: 'py_named_threads_lossy.trace-cmd-report.txt.zst',
    meta: 'py_named_threads_lossy.tracecmd.meta',
  },
];

/** One record with its strings resolved: event, time, cpu, tid, comm, a, b, c (string for fork/exec), d, e. */
type Row = readonly [string, number, number, number, string | null, number, number, number | string | undefined, number, number];

function rowsOf(batch: RawBatch): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < batch.length; i++) {
    const id = batch.event[i]!;
    const usesString = id === Tracepoint.schedProcessFork || id === Tracepoint.schedProcessExec;
    const comm = batch.comm[i]!;
    rows.push([
      id === Tracepoint.lost ? 'LOST' : batch.eventNames[id]!,
      batch.time[i]!,
      batch.cpu[i]!,
      batch.tid[i]!,
      comm < 0 ? null : batch.strings[comm]!,
      batch.a[i]!,
      batch.b[i]!,
      usesString ? batch.strings[batch.c[i]!] : batch.c[i]!,
      batch.d[i]!,
      batch.e[i]!,
    ]);
  }
  return rows;
}

function sameRow(x: Row, y: Row): boolean {
  for (let k = 0; k < x.length; k++) if (!Object.is(x[k], y[k])) return false;
  return true;
}

interface Comparison {
  readonly stats: ReaderStats;
  readonly textStats: ReaderStats;
  readonly records: number;
  readonly textRecords: number;
  /** The first few records that differ, with their position. */
  readonly mismatches: readonly { readonly index: number; readonly dat: Row; readonly text: Row }[];
  readonly mismatchCount: number;
  /** sha256 of every record's columns (one JSON line each), strings by value. */
  readonly digest: string;
  readonly sameBatchObject: boolean;
}

/** Read a trace.dat and the report text side by side and compare every record. */
async function compareWithText(dat: string, text: string): Promise<Comparison> {
  const datReader = openTraceDat(dat);
  const textReader = openTextTrace(text);
  const datBatches = datReader.batches();
  const textBatches = textReader.batches();
  let pendingDat: Row[] = [];
  let pendingText: Row[] = [];
  let datDone = false;
  let textDone = false;
  let records = 0;
  let textRecords = 0;
  let index = 0;
  let mismatchCount = 0;
  const mismatches: { index: number; dat: Row; text: Row }[] = [];
  const hash = createHash('sha256');
  let batchObject: RawBatch | undefined;
  let sameBatchObject = true;
  while (!(datDone && textDone)) {
    if (pendingDat.length === 0 && !datDone) {
      const next = await datBatches.next();
      if (next.done) datDone = true;
      else {
        if (batchObject !== undefined && batchObject !== next.value) sameBatchObject = false;
        batchObject = next.value;
        pendingDat = rowsOf(next.value);
        records += pendingDat.length;
        for (const row of pendingDat) hash.update(`${JSON.stringify(row)}\n`);
      }
    }
    if (pendingText.length === 0 && !textDone) {
      const next = await textBatches.next();
      if (next.done) textDone = true;
      else {
        pendingText = rowsOf(next.value);
        textRecords += pendingText.length;
      }
    }
    const n = Math.min(pendingDat.length, pendingText.length);
    for (let i = 0; i < n; i++) {
      if (!sameRow(pendingDat[i]!, pendingText[i]!)) {
        mismatchCount++;
        if (mismatches.length < 5) mismatches.push({ index: index + i, dat: pendingDat[i]!, text: pendingText[i]! });
      }
    }
    index += n;
    pendingDat = pendingDat.slice(n);
    pendingText = pendingText.slice(n);
    if ((datDone && pendingDat.length === 0) || (textDone && pendingText.length === 0)) {
      // One side ended: drain the other to count its records.
      if (datDone && pendingDat.length === 0) {
        pendingText = [];
        while (!textDone) {
          const next = await textBatches.next();
          if (next.done) textDone = true;
          else textRecords += next.value.length;
        }
      } else {
        pendingDat = [];
        while (!datDone) {
          const next = await datBatches.next();
          if (next.done) datDone = true;
          else records += next.value.length;
        }
      }
    }
  }
  return {
    stats: datReader.stats,
    textStats: textReader.stats,
    records,
    textRecords,
    mismatches,
    mismatchCount,
    digest: hash.digest('hex'),
    sameBatchObject,
  };
}

/** sha256 of every record, as compareWithText computes it, with these options. */
async function digestOf(dat: string, options: TraceDatOptions): Promise<{ digest: string; records: number }> {
  const hash = createHash('sha256');
  let records = 0;
  for await (const batch of openTraceDat(dat, options).batches()) {
    const rows = rowsOf(batch);
    records += rows.length;
    for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
  }
  return { digest: hash.digest('hex'), records };
}

describe.skipIf(!haveTraces)(haveTraces ? `trace.dat captures in ${tracesDir}` : 'trace.dat captures (skipped: ../shared/traces not found beside the repo)', () => {
  for (const capture of captures) {
    describe(capture.name, () => {
      const results: Partial<Record<'v7' | 'v6', Comparison>> = {};
      beforeAll(async () => {
        results.v7 = await compareWithText(sharedTrace(capture.v7), sharedTrace(capture.text));
        results.v6 = await compareWithText(sharedTrace(capture.v6), sharedTrace(capture.text));
      });

      for (const version of ['v7', 'v6'] as const) {
        describe(version === 'v7' ? capture.v7 : capture.v6, () => {
          it(`is read as trace.dat ${version}`, () => {
            expect(results[version]!.stats.format).toBe(`trace.dat ${version}`);
          });

          it('gives the same records as the text reader on the report text, in every column and in order', () => {
            const r = results[version]!;
            expect(r.mismatches).toEqual([]);
            expect(r.mismatchCount).toBe(0);
            expect(r.records).toBe(r.textRecords);
            expect(r.records).toBeGreaterThan(300_000);
          });

          it('has the per-event counts of the .meta', () => {
            const section = readMeta(sharedTrace(capture.meta)).counts.event_counts;
            expect(section).toBeDefined();
            const expected: Record<string, number> = {};
            for (const [name, count] of Object.entries(section!)) if (!name.startsWith('(')) expected[name] = count;
            expect(results[version]!.stats.eventCounts).toEqual(expected);
          });

          it('counts loss markers and dropped events as the .meta and the text do', () => {
            const section = readMeta(sharedTrace(capture.meta)).counts.event_counts!;
            const { stats, textStats } = results[version]!;
            expect(stats.lostMarkers).toBe(section['(EVENTS DROPPED marker lines, trace-cmd)'] ?? 0);
            expect(stats.lostEvents).toBe(section['(events reported dropped in markers)'] ?? 0);
            expect(stats.lostMarkers).toBe(textStats.lostMarkers);
            expect(stats.lostEvents).toBe(textStats.lostEvents);
          });

          it('has the first and last timestamps of the text', () => {
            const { stats, textStats } = results[version]!;
            expect(stats.firstTimeNs).toBe(textStats.firstTimeNs);
            expect(stats.lastTimeNs).toBe(textStats.lastTimeNs);
          });

          it('refills one batch object', () => {
            expect(results[version]!.sameBatchObject).toBe(true);
          });
        });
      }

      it('gives identical records from v6 and v7', () => {
        expect(results.v6!.records).toBe(results.v7!.records);
        expect(results.v6!.digest).toBe(results.v7!.digest);
      });

      it('gives identical records when v7 is decoded in-process (zstd: js) or by the zstd program', async () => {
        const js = await digestOf(sharedTrace(capture.v7), { zstd: 'js' });
        expect(js.digest).toBe(results.v7!.digest);
        if (findZstdProgram() !== null) {
          const program = await digestOf(sharedTrace(capture.v7), { zstd: 'program' });
          expect(program.digest).toBe(results.v7!.digest);
        }
      });
    });
  }

  describe('ring-buffer overruns', () => {
    it('adds up the CPUSTAT overrun counts into stats.bufferOverwritten', async () => {
      const reader = openTraceDat(sharedTrace('py_named_threads_lossy.trace.dat.zst'));
      for await (const _ of reader.batches()) {
        // drain
      }
      // trace_cmd_stat in the .meta: overrun 55744 (CPU 0) + 44411 (CPU 1)
      expect(reader.stats.bufferOverwritten).toBe(55744 + 44411);
    });
  });

  describe('broken files', () => {
    let dir = '';
    const plain: Partial<Record<'v6' | 'v7', Uint8Array>> = {};
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tierlab-trace-dat-test-'));
      for (const [version, name] of [
        ['v6', 'py_named_threads_lossy.trace.v6.dat.zst'],
        ['v7', 'py_named_threads_lossy.trace.dat.zst'],
      ] as const) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of openTrace(sharedTrace(name))) chunks.push(Buffer.from(chunk));
        plain[version] = Buffer.concat(chunks);
      }
    });
    afterAll(() => {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    async function errorOf(bytes: Uint8Array, name: string): Promise<unknown> {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      try {
        for await (const _ of openTraceDat(file).batches()) {
          // drain
        }
      } catch (error) {
        return error;
      }
      return null;
    }

    for (const version of ['v6', 'v7'] as const) {
      for (const fraction of [0.002, 0.5, 0.9]) {
        it(`a ${version} copy cut at ${fraction * 100}% throws TRACE_SYNTAX with a byte offset`, async () => {
          const bytes = plain[version]!;
          const cut = Math.floor(bytes.length * fraction);
          const error = await errorOf(bytes.subarray(0, cut), `cut-${version}-${fraction}.dat`);
          expect(isTierlabError(error), String(error)).toBe(true);
          if (!isTierlabError(error)) return;
          expect(error.code).toBe('TRACE_SYNTAX');
          expect(error.source).toBe('trace.dat');
          expect(error.file).toContain(`cut-${version}-${fraction}.dat`);
          expect(error.byteOffset).toBeTypeOf('number');
          expect(error.byteOffset).toBeLessThanOrEqual(cut);
          expect(error.expected).toBeTruthy();
          expect(error.excerpt).toBeTruthy();
          expect(error.message).toContain('truncated');
        });
      }
    }

    for (const version of ['v6', 'v7'] as const) {
      it(`${version} copies with random bytes overwritten either read to the end or throw TRACE_SYNTAX`, async () => {
        const bytes = plain[version]!;
        let seed = 20251121;
        const random = () => {
          seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
          return seed / 0x80000000;
        };
        const outcomes = new Map<string, number>();
        for (let round = 0; round < 12; round++) {
          const copy = Uint8Array.from(bytes);
          // The second half: CPU data (v6) or compressed chunks and the last options (v7).
          for (let k = 0; k < 8; k++) copy[Math.floor(bytes.length / 2 + random() * (bytes.length / 2))] = Math.floor(random() * 256);
          const error = await errorOf(copy, `noise-${version}-${round}.dat`);
          const outcome = error === null ? 'read' : isTierlabError(error) ? error.code : `other: ${String(error)}`;
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
        for (const outcome of outcomes.keys()) expect(['read', 'TRACE_SYNTAX']).toContain(outcome);
      });
    }

    it('a file that is not a trace.dat throws TRACE_SYNTAX (bad magic) at byte 0, with a hex excerpt', async () => {
      const error = await errorOf(new TextEncoder().encode('cpus=2\ntc1: bash-1 [000] 1.000000: mm_page_free: pfn=0x1 order=0\n'), 'text.dat');
      expect(isTierlabError(error)).toBe(true);
      if (!isTierlabError(error)) return;
      expect(error.code).toBe('TRACE_SYNTAX');
      expect(error.byteOffset).toBe(0);
      expect(error.message).toContain('bad magic');
      expect(error.excerpt).toMatch(/^63 70 75 73 /);
    });

    it('an unknown version throws TRACE_SYNTAX naming it', async () => {
      const bytes = Uint8Array.from(plain.v6!.subarray(0, 4096));
      bytes[10] = 0x38; // '6' → '8'
      const error = await errorOf(bytes, 'v8.dat');
      expect(isTierlabError(error)).toBe(true);
      if (!isTierlabError(error)) return;
      expect(error.code).toBe('TRACE_SYNTAX');
      expect(error.byteOffset).toBe(10);
      expect(error.message).toContain("unsupported trace.dat version '8'");
    });
  });
});

describe('sniffTraceDat', () => {
  it('knows the magic', () => {
    const magic = [0x17, 0x08, 0x44, ...new TextEncoder().encode('tracing'), 0x37, 0];
    expect(sniffTraceDat(Uint8Array.from(magic))).toBe(true);
    expect(sniffTraceDat(Uint8Array.from(magic.slice(0, 9)))).toBe(false);
    expect(sniffTraceDat(new TextEncoder().encode('cpus=2\n'))).toBe(false);
  });
});

describe('openTraceDat misuse', () => {
  it('throws TypeError on bad options and a second batches()', () => {
    expect(() => openTraceDat('')).toThrow(TypeError);
    expect(() => openTraceDat('x.dat', { batchSize: 0 })).toThrow(TypeError);
    expect(() => openTraceDat('x.dat', { zstd: 'gzip' as never })).toThrow(TypeError);
    const reader = openTraceDat('x.dat');
    void reader.batches();
    expect(() => reader.batches()).toThrow(TypeError);
  });
});
