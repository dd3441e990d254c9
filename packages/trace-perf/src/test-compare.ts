/**
 * Test support (not exported): read a perf.data and the `perf script` text
 * of the same recording side by side and compare every record.
 */

import { Tracepoint } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { openTextTrace } from '@tierlab/trace-text';
import { openPerfData } from './reader.js';
import type { PerfReaderStats } from './parser.js';

export interface CompareOptions {
  /** The text is `perf script -F comm,pid,tid,…`: compare pid too. */
  readonly comparePid: boolean;
  /** The text has no PERF_RECORD_LOST lines (no --show-lost-events): skip the binary's loss markers. */
  readonly skipLost: boolean;
}

export interface CompareResult {
  /** Records compared. */
  readonly records: number;
  /** The first mismatches, described. */
  readonly mismatches: string[];
  readonly mismatchCount: number;
  /** Records one side had after the other ended. */
  readonly extraPerf: number;
  readonly extraText: number;
  readonly perfStats: PerfReaderStats;
  readonly textStats: ReaderStats;
  readonly perfStrings: readonly string[];
  readonly textStrings: readonly string[];
  readonly perfEventNames: readonly string[];
  readonly textEventNames: readonly string[];
  readonly perfLostMarkers: number;
}

const same = (x: number, y: number): boolean => x === y || (Number.isNaN(x) && Number.isNaN(y));

/**
 * Every record of `perfFile` against the text reader's record of `textFile`:
 * event (id and name), time (to the microsecond perf script prints), cpu,
 * tid, comm (by value), a..e (strings by value for fork/exec), pid when
 * asked. The event ids must be equal too (same first-seen order).
 */
export async function compareWithText(perfFile: string, textFile: string, options: CompareOptions): Promise<CompareResult> {
  const perf = openPerfData(perfFile);
  const text = openTextTrace(textFile);
  const perfBatches = perf.batches();
  const textBatches = text.batches();
  let p = await perfBatches.next();
  let t = await textBatches.next();
  let pi = 0;
  let ti = 0;
  let records = 0;
  let mismatchCount = 0;
  let perfLostMarkers = 0;
  const mismatches: string[] = [];
  let lastP: RawBatch | undefined;
  let lastT: RawBatch | undefined;
  while (!p.done && !t.done) {
    const P = p.value;
    const T = t.value;
    lastP = P;
    lastT = T;
    while (pi < P.length && ti < T.length) {
      if (P.event[pi] === Tracepoint.lost) perfLostMarkers++;
      if (options.skipLost && P.event[pi] === Tracepoint.lost) {
        pi++;
        continue;
      }
      const bad = differences(P, pi, T, ti, options.comparePid);
      if (bad.length > 0) {
        mismatchCount++;
        if (mismatches.length < 5) {
          mismatches.push(`record ${records} (text line ${T.line[ti]}): ${bad.join('; ')}`);
        }
      }
      records++;
      pi++;
      ti++;
    }
    if (pi >= P.length) {
      p = await perfBatches.next();
      pi = 0;
    }
    if (ti >= T.length) {
      t = await textBatches.next();
      ti = 0;
    }
  }
  let extraPerf = 0;
  let extraText = 0;
  while (!p.done) {
    lastP = p.value;
    for (; pi < p.value.length; pi++) {
      if (p.value.event[pi] === Tracepoint.lost) perfLostMarkers++;
      if (!(options.skipLost && p.value.event[pi] === Tracepoint.lost)) extraPerf++;
    }
    p = await perfBatches.next();
    pi = 0;
  }
  while (!t.done) {
    lastT = t.value;
    extraText += t.value.length - ti;
    t = await textBatches.next();
    ti = 0;
  }
  return {
    records,
    mismatches,
    mismatchCount,
    extraPerf,
    extraText,
    perfStats: perf.stats,
    textStats: text.stats,
    perfStrings: lastP?.strings ?? [],
    textStrings: lastT?.strings ?? [],
    perfEventNames: lastP?.eventNames ?? [],
    textEventNames: lastT?.eventNames ?? [],
    perfLostMarkers,
  };
}

function differences(P: RawBatch, i: number, T: RawBatch, j: number, comparePid: boolean): string[] {
  const bad: string[] = [];
  const pe = P.event[i]!;
  const te = T.event[j]!;
  if (pe !== te || P.eventNames[pe] !== T.eventNames[te]) bad.push(`event ${P.eventNames[pe]}(${pe}) vs ${T.eventNames[te]}(${te})`);
  // perf script prints microseconds, cut (not rounded) from the nanoseconds.
  const pt = Math.floor(P.time[i]! / 1000) * 1000;
  if (pt !== T.time[j]) bad.push(`time ${P.time[i]} vs ${T.time[j]}`);
  if (P.cpu[i] !== T.cpu[j]) bad.push(`cpu ${P.cpu[i]} vs ${T.cpu[j]}`);
  if (P.tid[i] !== T.tid[j]) bad.push(`tid ${P.tid[i]} vs ${T.tid[j]}`);
  if (comparePid && P.pid[i] !== T.pid[j]) bad.push(`pid ${P.pid[i]} vs ${T.pid[j]}`);
  const pc = P.strings[P.comm[i]!];
  const tc = T.strings[T.comm[j]!];
  if (pc !== tc) bad.push(`comm '${pc}' vs '${tc}'`);
  const fields = ['a', 'b', 'c', 'd', 'e'] as const;
  const stringInC = pe === Tracepoint.schedProcessFork || pe === Tracepoint.schedProcessExec;
  for (const f of fields) {
    const pv = P[f][i]!;
    const tv = T[f][j]!;
    if (f === 'c' && stringInC) {
      if (P.strings[pv] !== T.strings[tv]) bad.push(`c '${P.strings[pv]}' vs '${T.strings[tv]}'`);
    } else if (!same(pv, tv)) {
      bad.push(`${f} ${pv} vs ${tv}`);
    }
  }
  return bad;
}
