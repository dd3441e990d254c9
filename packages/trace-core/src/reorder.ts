/**
 * Time order across CPUs for readers whose records come per CPU (Perfetto
 * bundles, per-CPU chunks): records are held until no earlier record can
 * still come (`windowNs` behind the newest time seen), then released sorted
 * by time, ties in arrival order. Records later than the window allows are
 * released in arrival order and counted in `stats.outOfOrder`.
 */

import { type RawBatch, type ReaderStats, createRawBatch } from './raw-batch.js';

const COLUMNS = ['event', 'time', 'cpu', 'tid', 'pid', 'comm', 'a', 'b', 'c', 'd', 'e', 'line'] as const;

export async function* reorderBatches(
  batches: AsyncIterable<RawBatch>,
  stats: ReaderStats,
  windowNs = 1e9,
  batchSize = 8192,
): AsyncGenerator<RawBatch> {
  let held: RawBatch | null = null;
  let out: RawBatch | null = null;
  let maxTime = Number.NEGATIVE_INFINITY;
  let lastOut = Number.NEGATIVE_INFINITY;

  const grow = (b: RawBatch, need: number): RawBatch => {
    if (need <= b.event.length) return b;
    const next = createRawBatch(Math.max(need, b.event.length * 2), b.strings, b.eventNames);
    for (const col of COLUMNS) (next[col] as Float64Array).set(b[col] as Float64Array);
    next.length = b.length;
    return next;
  };

  function* release(upTo: number): Generator<RawBatch> {
    if (held === null || held.length === 0) return;
    const h = held;
    const order = Array.from({ length: h.length }, (_, i) => i).sort((x, y) => h.time[x]! - h.time[y]! || x - y);
    const keep: number[] = [];
    for (const i of order) {
      if (h.time[i]! > upTo) {
        keep.push(i);
        continue;
      }
      if (out === null) out = createRawBatch(batchSize, h.strings, h.eventNames);
      const k = out.length++;
      for (const col of COLUMNS) (out[col] as Float64Array)[k] = (h[col] as Float64Array)[i]!;
      if (h.time[i]! < lastOut) stats.outOfOrder++;
      else lastOut = h.time[i]!;
      if (out.length === batchSize) {
        yield out;
        out.length = 0;
      }
    }
    // Keep the rest, in arrival order.
    keep.sort((x, y) => x - y);
    const rest = createRawBatch(Math.max(keep.length, 1024), h.strings, h.eventNames);
    for (const i of keep) {
      const k = rest.length++;
      for (const col of COLUMNS) (rest[col] as Float64Array)[k] = (h[col] as Float64Array)[i]!;
    }
    held = rest;
  }

  for await (const batch of batches) {
    if (held === null) held = createRawBatch(Math.max(batch.length * 2, 1024), batch.strings, batch.eventNames);
    held = grow(held, held.length + batch.length);
    for (let i = 0; i < batch.length; i++) {
      const k = held.length++;
      for (const col of COLUMNS) (held[col] as Float64Array)[k] = (batch[col] as Float64Array)[i]!;
      if (batch.time[i]! > maxTime) maxTime = batch.time[i]!;
    }
    if (held.length >= batchSize * 4) yield* release(maxTime - windowNs);
  }
  yield* release(Number.POSITIVE_INFINITY);
  if (out !== null && (out as RawBatch).length > 0) yield out;
}
