/**
 * Test support (not exported): where the real traces are, an independent
 * packet walker, and record snapshots for comparing readers.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { sharedTraces } from '@tierlab/test-support';
import { Tracepoint } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import protobuf from 'protobufjs';

const traces = sharedTraces();
/** ../shared/traces (text captures), or null. */
export const tracesDir = traces;
/** ../shared/data/perfetto (real Perfetto traces), or null. */
export const perfettoDir = traces === null ? null : path.resolve(traces, '../data/perfetto');
export const havePerfetto = perfettoDir !== null && existsSync(path.join(perfettoDir, 'README.md'));
export const haveTraces = traces !== null && existsSync(path.join(traces, 'MANIFEST.md'));
export const noPerfettoReason = `real Perfetto traces not found (../shared/data/perfetto beside the checkout)`;
export const noTracesReason = `real captures not found (../shared/traces beside the checkout)`;

export function perfettoFile(name: string): string {
  if (perfettoDir === null) throw new Error(noPerfettoReason);
  return path.join(perfettoDir, name);
}

export function captureFile(name: string): string {
  if (traces === null) throw new Error(noTracesReason);
  return path.join(traces, name);
}

/** A file's bytes, gunzipped when it is gzip. */
export function fileBytes(file: string): Uint8Array {
  const bytes = readFileSync(file);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

export interface IndependentCount {
  packets: number;
  /** TracePacket field number → packets having it. */
  readonly packetFields: Map<number, number>;
  /** FtraceEvent payload field number → events. */
  readonly events: Map<number, number>;
  bundles: number;
}

/**
 * Walk a whole trace with protobufjs' Reader alone: Trace.packet (field 1) →
 * TracePacket fields; ftrace_events (1) → FtraceEventBundle.event (2) →
 * the FtraceEvent's length-delimited field (its event).
 */
export function countIndependently(bytes: Uint8Array): IndependentCount {
  const r = protobuf.Reader.create(bytes);
  const result: IndependentCount = { packets: 0, packetFields: new Map(), events: new Map(), bundles: 0 };
  const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag !== 0x0a) {
      r.skipType(tag & 7);
      continue;
    }
    const end = r.uint32() + r.pos;
    result.packets++;
    while (r.pos < end) {
      const t = r.uint32();
      bump(result.packetFields, t >>> 3);
      if (t !== 0x0a) {
        r.skipType(t & 7);
        continue;
      }
      result.bundles++;
      const bundleEnd = r.uint32() + r.pos;
      while (r.pos < bundleEnd) {
        const bt = r.uint32();
        if (bt !== 0x12) {
          r.skipType(bt & 7);
          continue;
        }
        const eventEnd = r.uint32() + r.pos;
        while (r.pos < eventEnd) {
          const et = r.uint32();
          if ((et & 7) === 2) bump(result.events, et >>> 3);
          r.skipType(et & 7);
        }
      }
    }
  }
  return result;
}

/** One record as plain values (strings by value), without `line`. */
export type Snapshot = readonly [event: string, time: number, cpu: number, tid: number, pid: number, comm: string | null, a: number, b: number, c: number | string, d: number, e: number];

export function snapshot(batch: RawBatch, i: number): Snapshot {
  const id = batch.event[i]!;
  const usesString = id === Tracepoint.schedProcessFork || id === Tracepoint.schedProcessExec;
  const comm = batch.comm[i]!;
  return [
    id === Tracepoint.lost ? 'LOST' : batch.eventNames[id]!,
    batch.time[i]!,
    batch.cpu[i]!,
    batch.tid[i]!,
    batch.pid[i]!,
    comm < 0 ? null : batch.strings[comm]!,
    batch.a[i]!,
    batch.b[i]!,
    usesString ? batch.strings[batch.c[i]!]! : batch.c[i]!,
    batch.d[i]!,
    batch.e[i]!,
  ];
}

/** Records of two readers, side by side; `line` of the second (Perfetto) must be 0. */
export async function compareRecords(
  expected: AsyncIterable<RawBatch>,
  actual: AsyncIterable<RawBatch>,
): Promise<{ records: number; mismatches: { index: number; expected: Snapshot | null; actual: Snapshot | null }[]; nonZeroLines: number }> {
  const a = records(expected)[Symbol.asyncIterator]();
  const b = records(actual)[Symbol.asyncIterator]();
  const mismatches: { index: number; expected: Snapshot | null; actual: Snapshot | null }[] = [];
  let index = 0;
  let nonZeroLines = 0;
  for (;;) {
    const x = await a.next();
    const y = await b.next();
    if (x.done && y.done) break;
    if (!y.done && y.value.line !== 0) nonZeroLines++;
    const xs = x.done ? null : x.value.snapshot;
    const ys = y.done ? null : y.value.snapshot;
    if (xs === null || ys === null || !sameSnapshot(xs, ys)) {
      if (mismatches.length < 5) mismatches.push({ index, expected: xs, actual: ys });
      if (xs === null || ys === null) break;
    }
    index++;
  }
  return { records: index, mismatches, nonZeroLines };
}

async function* records(batches: AsyncIterable<RawBatch>): AsyncGenerator<{ snapshot: Snapshot; line: number }> {
  for await (const batch of batches) for (let i = 0; i < batch.length; i++) yield { snapshot: snapshot(batch, i), line: batch.line[i]! };
}

function sameSnapshot(x: Snapshot, y: Snapshot): boolean {
  for (let k = 0; k < x.length; k++) if (!Object.is(x[k], y[k])) return false;
  return true;
}
