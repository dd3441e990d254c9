/**
 * Test support (not exported): where the shared real captures are, their
 * `.meta` sidecars, and one-pass scans of a capture.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tracepoint, lineBlocks, openTrace } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { openTextTrace } from './reader.js';
import type { TextReaderOptions } from './reader.js';

/** The monorepo root, from this file's place in packages/trace-text/src. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The shared captures: `../shared/traces` beside the repo. */
export const tracesDir = path.resolve(repoRoot, '../shared/traces');
export const haveTraces = existsSync(path.join(tracesDir, 'MANIFEST.md'));
export const noTracesReason = `real captures not found at ${tracesDir}`;

export function capturePath(name: string): string {
  return path.join(tracesDir, name);
}

export interface CaptureMeta {
  /** Top-level `key: value` lines. */
  readonly values: ReadonlyMap<string, string>;
  /** `event_counts…:` sections: name (or `(marker)`) → count. */
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** Parse a `.meta` sidecar. */
export function readMeta(name: string): CaptureMeta {
  const values = new Map<string, string>();
  const sections = new Map<string, Map<string, number>>();
  let section: Map<string, number> | null = null;
  for (const line of readFileSync(capturePath(name), 'utf8').split('\n')) {
    if (/^\S/.test(line)) {
      const colon = line.indexOf(':');
      const key = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).trim();
      values.set(key, value);
      section = null;
      if (key.startsWith('event_counts') && value === '') {
        section = new Map();
        sections.set(key, section);
      }
    } else if (section !== null) {
      const m = /^\s+(\S.*?)\s{2,}(\d+)\s*$/.exec(line);
      if (m !== null) section.set(m[1]!, Number(m[2]));
    }
  }
  return { values, sections };
}

/** One record, copied out of a batch. */
export interface RecordSnapshot {
  readonly event: string;
  readonly time: number;
  readonly cpu: number;
  readonly tid: number;
  readonly pid: number;
  readonly comm: string | undefined;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  readonly line: number;
  /** strings[c], for the events that keep a string index in c (fork, exec). */
  readonly cString: string | undefined;
}

export function snapshot(batch: RawBatch, i: number): RecordSnapshot {
  const id = batch.event[i]!;
  const usesString = id === Tracepoint.schedProcessFork || id === Tracepoint.schedProcessExec;
  return {
    event: id === Tracepoint.lost ? 'LOST' : batch.eventNames[id]!,
    time: batch.time[i]!,
    cpu: batch.cpu[i]!,
    tid: batch.tid[i]!,
    pid: batch.pid[i]!,
    comm: batch.strings[batch.comm[i]!],
    a: batch.a[i]!,
    b: batch.b[i]!,
    c: batch.c[i]!,
    d: batch.d[i]!,
    e: batch.e[i]!,
    line: batch.line[i]!,
    cString: usesString ? batch.strings[batch.c[i]!] : undefined,
  };
}

export interface ScanResult {
  readonly stats: ReaderStats;
  readonly records: number;
  /** Records whose line was asked for. */
  readonly atLine: ReadonlyMap<number, RecordSnapshot>;
  /** The first record of each event name (`LOST` for loss markers). */
  readonly first: ReadonlyMap<string, RecordSnapshot>;
  /** sha256 of every record but loss markers, without pid and line, comms and strings by value. */
  readonly digest: string;
  /** Records with pid >= 0. */
  readonly withPid: number;
  /** Whether every batch was the same object. */
  readonly sameBatchObject: boolean;
}

/** Read a whole capture once, collecting what the tests look at. */
export async function scanTrace(file: string, options: TextReaderOptions = {}, lines: readonly number[] = []): Promise<ScanResult> {
  const reader = openTextTrace(file, options);
  const wanted = new Set(lines);
  const atLine = new Map<number, RecordSnapshot>();
  const first = new Map<string, RecordSnapshot>();
  const hash = createHash('sha256');
  const stableString = new Map<string, number>();
  const stableOf = (strings: string[], id: number): number => {
    const s = strings[id] ?? '';
    let k = stableString.get(s);
    if (k === undefined) {
      k = stableString.size;
      stableString.set(s, k);
    }
    return k;
  };
  let records = 0;
  let withPid = 0;
  let batchObject: RawBatch | undefined;
  let sameBatchObject = true;
  for await (const batch of reader.batches()) {
    if (batchObject !== undefined && batchObject !== batch) sameBatchObject = false;
    batchObject = batch;
    const columns = new Float64Array(batch.length * 10);
    let k = 0;
    for (let i = 0; i < batch.length; i++) {
      const id = batch.event[i]!;
      const name = id === Tracepoint.lost ? 'LOST' : batch.eventNames[id]!;
      if (!first.has(name)) first.set(name, snapshot(batch, i));
      if (wanted.has(batch.line[i]!)) atLine.set(batch.line[i]!, snapshot(batch, i));
      if (batch.pid[i]! >= 0) withPid++;
      if (id === Tracepoint.lost) continue;
      const usesString = id === Tracepoint.schedProcessFork || id === Tracepoint.schedProcessExec;
      columns[k++] = stableOf(batch.eventNames, id);
      columns[k++] = batch.time[i]!;
      columns[k++] = batch.cpu[i]!;
      columns[k++] = batch.tid[i]!;
      columns[k++] = stableOf(batch.strings, batch.comm[i]!);
      columns[k++] = batch.a[i]!;
      columns[k++] = batch.b[i]!;
      columns[k++] = usesString ? stableOf(batch.strings, batch.c[i]!) : batch.c[i]!;
      columns[k++] = batch.d[i]!;
      columns[k++] = batch.e[i]!;
    }
    hash.update(new Uint8Array(columns.buffer, 0, k * 8));
    records += batch.length;
  }
  return { stats: reader.stats, records, atLine, first, digest: hash.digest('hex'), withPid, sameBatchObject };
}

/** The first `count` lines of a capture's decompressed text. */
export async function headLines(file: string, count: number): Promise<string[]> {
  for await (const block of lineBlocks(openTrace(file))) {
    const lines = block.bytes.toString('latin1').split('\n');
    if (lines.length > count) return lines.slice(0, count);
  }
  throw new Error(`${file} has fewer than ${count} lines`);
}

/** The bytes at the start of a capture's decompressed text. */
export async function headBytes(file: string, size: number): Promise<Uint8Array> {
  for await (const block of lineBlocks(openTrace(file))) return block.bytes.subarray(0, size);
  return new Uint8Array(0);
}
