import { createRawBatch, createReaderStats, lineBlocks, openTrace } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { HASH, classifyRecordLine } from './layout.js';
import type { TextFormat } from './layout.js';
import { LineParser } from './line-parser.js';
import { classifyNonRecordLine } from './non-record.js';

export interface TextReaderOptions {
  /** `auto` (default): detect from the first record line. `perf-script` covers `-F …pid,tid…` too. */
  readonly format?: 'auto' | 'tracefs' | 'trace-cmd-report' | 'perf-script';
  /** Records per batch (default 8192). */
  readonly batchSize?: number;
  /** How a .zst file is decompressed: `auto` (default) uses the zstd program when on PATH, else fzstd. */
  readonly zstd?: 'auto' | 'program' | 'js';
}

export interface TextTraceReader {
  /** Counts so far; complete once `batches()` has finished. */
  readonly stats: ReaderStats;
  /**
   * The records, in file order. Yields the same RawBatch each time, refilled:
   * a batch is valid until the next one is asked for. Can be iterated once.
   */
  batches(): AsyncGenerator<RawBatch>;
}

const formats = ['auto', 'tracefs', 'trace-cmd-report', 'perf-script'] as const;
const zstdModes = ['auto', 'program', 'js'] as const;

/** A reader of an ftrace-style text trace (tracefs, trace-cmd report, perf script; plain, .zst or .gz). */
export function openTextTrace(path: string, options: TextReaderOptions = {}): TextTraceReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('openTextTrace: path must be a non-empty string');
  const format = options.format ?? 'auto';
  if (!formats.includes(format)) throw new TypeError(`openTextTrace: format must be one of ${formats.join(', ')}`);
  const zstd = options.zstd ?? 'auto';
  if (!zstdModes.includes(zstd)) throw new TypeError(`openTextTrace: zstd must be one of ${zstdModes.join(', ')}`);
  const batchSize = options.batchSize ?? 8192;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 24) {
    throw new TypeError('openTextTrace: batchSize must be an integer from 1 to 2^24');
  }
  const stats = createReaderStats(format === 'auto' ? '' : format);
  let started = false;
  return {
    stats,
    batches() {
      if (started) throw new TypeError('TextTraceReader.batches() can be called only once');
      started = true;
      return readBatches(path, format === 'auto' ? null : format, zstd, batchSize, stats);
    },
  };
}

async function* readBatches(
  path: string,
  format: 'tracefs' | 'trace-cmd-report' | 'perf-script' | null,
  zstd: 'auto' | 'program' | 'js',
  batchSize: number,
  stats: ReaderStats,
): AsyncGenerator<RawBatch> {
  const batch = createRawBatch(batchSize);
  const parser = new LineParser({ file: path, batch, stats, capacity: batchSize, format });
  for await (const block of lineBlocks(openTrace(path, { zstd }))) {
    const bytes = block.bytes;
    stats.bytesRead += bytes.length;
    parser.line = block.firstLine;
    let pos = 0;
    while (pos < bytes.length) {
      pos = parser.parse(bytes, pos);
      stats.lines = parser.line - 1;
      if (batch.length >= batchSize) {
        parser.flushCounts();
        yield batch;
        batch.length = 0;
      }
    }
  }
  parser.flushCounts();
  if (batch.length > 0) {
    yield batch;
    batch.length = 0;
  }
}

/**
 * The format of the first record line in `head` (the start of a decompressed
 * trace), skipping headers, blank lines and loss markers; null when that line
 * is not a tracefs, trace-cmd report or perf script record, or there is none.
 */
export function sniffTextFormat(head: Uint8Array): TextFormat | null {
  let pos = 0;
  while (pos < head.length) {
    let end = head.indexOf(10, pos);
    const complete = end >= 0;
    if (!complete) end = head.length;
    let lineEnd = end;
    if (lineEnd > pos && head[lineEnd - 1] === 13) lineEnd--;
    if (lineEnd > pos && head[pos] !== HASH) {
      const format = classifyRecordLine(head, pos, lineEnd);
      if (format !== null) return format;
      if (!complete || !isKnownNonRecord(head, pos, lineEnd)) return null;
    }
    pos = end + 1;
  }
  return null;
}

function isKnownNonRecord(head: Uint8Array, start: number, end: number): boolean {
  // Only the rare non-record lines reach here, so a string is fine.
  const text = Buffer.from(head.buffer, head.byteOffset + start, end - start).toString('latin1');
  return classifyNonRecordLine(text) !== null;
}
