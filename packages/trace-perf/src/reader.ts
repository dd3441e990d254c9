import { createRawBatch, createReaderStats } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import { hexExcerpt, perfSyntaxError } from './errors.js';
import { magicKind, parseAttr, u64 } from './header.js';
import { openPerfInput } from './input.js';
import type { PerfInput } from './input.js';
import { Cursor, PerfParser, Status } from './parser.js';
import type { PerfReaderStats } from './parser.js';
import { Feature, PERF_TYPE_TRACEPOINT, PIPE_HEADER_SIZE } from './perf-abi.js';

export interface PerfReaderOptions {
  /** Records per batch (default 8192). */
  readonly batchSize?: number;
  /** How a .zst file is decompressed: `auto` (default) uses the zstd program when on PATH, else fzstd. */
  readonly zstd?: 'auto' | 'program' | 'js';
}

export interface PerfDataReader {
  /** Counts so far; complete once `batches()` has finished. */
  readonly stats: PerfReaderStats;
  /**
   * The records in the order `perf script` prints them. Yields the same
   * RawBatch each time, refilled: a batch is valid until the next one is
   * asked for. Can be iterated once.
   */
  batches(): AsyncGenerator<RawBatch>;
}

const zstdModes = ['auto', 'program', 'js'] as const;

/** Read chunk size: large reads, memory bounded by a chunk plus the records of about two rounds. */
const CHUNK_SIZE = 4 << 20;

/** A reader of a perf.data file (file or pipe mode; plain, .zst or .gz) with tracepoint samples. */
export function openPerfData(path: string, options: PerfReaderOptions = {}): PerfDataReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('openPerfData: path must be a non-empty string');
  const zstd = options.zstd ?? 'auto';
  if (!zstdModes.includes(zstd)) throw new TypeError(`openPerfData: zstd must be one of ${zstdModes.join(', ')}`);
  const batchSize = options.batchSize ?? 8192;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 24) {
    throw new TypeError('openPerfData: batchSize must be an integer from 1 to 2^24');
  }
  const stats: PerfReaderStats = {
    ...createReaderStats('perf.data'),
    lostSampleRecords: 0,
    lostSamples: 0,
    skippedSamples: 0,
    sidebandRecords: 0,
  };
  let started = false;
  return {
    stats,
    batches() {
      if (started) throw new TypeError('PerfDataReader.batches() can be called only once');
      started = true;
      return readBatches(path, zstd, batchSize, stats);
    },
  };
}

/** Whether `head` (the first bytes of a decompressed file) starts like a perf.data: 'PERFILE2', file or pipe mode. */
export function sniffPerfData(head: Uint8Array): boolean {
  const kind = magicKind(head);
  if (kind !== 'le' && kind !== 'be') return false;
  if (head.length < 16) return true;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const size = kind === 'le' ? u64(view, 8) : view.getUint32(8, false) * 4294967296 + view.getUint32(12, false);
  return size === PIPE_HEADER_SIZE || size >= 104;
}

async function* readBatches(path: string, zstd: 'auto' | 'program' | 'js', batchSize: number, stats: PerfReaderStats): AsyncGenerator<RawBatch> {
  const input = await openPerfInput(path, { zstd, chunkSize: CHUNK_SIZE });
  try {
    const batch = createRawBatch(batchSize);
    const parser = new PerfParser({ file: path, batch, stats, capacity: batchSize, dataBytes: input.dataBytes });
    if (!input.header.pipe) setupFileMode(path, input, parser);
    stats.bytesRead = input.dataOffset;
    const outer = new Cursor();
    const source = input.data();
    parser.recycle = (buf) => source.recycle(buf);
    let nextBase = input.dataOffset;
    for (;;) {
      // A record cut by the window's end starts the next window.
      const carry = outer.rest();
      const window = await source.next(carry);
      if (window === null) break;
      stats.bytesRead += window.length - carry.length;
      parser.attach(outer, window, nextBase - carry.length);
      nextBase += window.length - carry.length;
      for (;;) {
        const inner = parser.inner;
        const status = parser.run(inner ?? outer);
        if (status === Status.needMore) {
          if (inner === null) break;
          parser.endInner();
          continue;
        }
        if (status === Status.round) parser.round();
        while (parser.drain()) {
          parser.flushCounts();
          yield batch;
          batch.length = 0;
        }
        if (batch.length >= batchSize) {
          parser.flushCounts();
          yield batch;
          batch.length = 0;
        }
      }
    }
    if (outer.pos < outer.end) {
      const at = outer.base + outer.pos;
      const rest = outer.rest();
      const size = rest.length >= 8 ? new DataView(rest.buffer, rest.byteOffset, 8).getUint16(6, true) : 0;
      throw perfSyntaxError({
        file: path,
        byteOffset: at,
        message:
          rest.length < 8
            ? `data ends ${rest.length} bytes into a record header`
            : `data ends inside a record of ${size} bytes (${rest.length} bytes left)`,
        expected: input.header.pipe ? 'whole records up to the end of the file' : 'whole records up to the end of the data section',
        excerpt: hexExcerpt(rest, 0),
      });
    }
    if (parser.pendingCompressedBytes > 0) {
      throw perfSyntaxError({
        file: path,
        byteOffset: nextBase,
        message: `the decompressed data of the COMPRESSED records ends inside a record (${parser.pendingCompressedBytes} bytes left)`,
        expected: 'whole records in the compressed data',
        excerpt: '(end of data)',
      });
    }
    parser.finish();
    while (parser.drain()) {
      parser.flushCounts();
      yield batch;
      batch.length = 0;
    }
    parser.flushCounts();
    if (batch.length > 0) {
      yield batch;
      batch.length = 0;
    }
  } finally {
    await input.close();
  }
}

/** File mode: attrs and their ids from the attr section, formats from HEADER_TRACING_DATA. */
function setupFileMode(path: string, input: PerfInput, parser: PerfParser): void {
  const { attrs, attrSize } = input.header;
  if (attrSize < 16 + 64 || attrs.size % attrSize !== 0) {
    throw perfSyntaxError({
      file: path,
      byteOffset: 16,
      message: `attr size ${attrSize} with an attr section of ${attrs.size} bytes`,
      expected: 'a whole number of perf_file_attr (perf_event_attr + ids section)',
      excerpt: `${attrSize}`,
    });
  }
  const bytes = input.read(attrs, 'the attr section');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 0; p < bytes.length; p += attrSize) {
    const idsAt = p + attrSize - 16;
    const idsSection = { offset: u64(view, idsAt), size: u64(view, idsAt + 8) };
    const idBytes = input.read(idsSection, 'the ids of an attr');
    const idView = new DataView(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength);
    const ids: number[] = [];
    for (let q = 0; q + 8 <= idBytes.length; q += 8) ids.push(u64(idView, q));
    parser.addAttr(parseAttr(view, p, ids));
  }
  const tracing = input.features.get(Feature.tracingData);
  if (tracing !== undefined) {
    parser.setTracingData(input.read(tracing, 'HEADER_TRACING_DATA'), tracing.offset);
  } else if (parser.hasTracepoints()) {
    throw perfSyntaxError({
      file: path,
      byteOffset: 72,
      message: `the file records tracepoints (attr type ${PERF_TYPE_TRACEPOINT}) but has no HEADER_TRACING_DATA feature`,
      expected: 'feature bit 1 (tracing data) set',
      excerpt: hexExcerpt(input.header.features, 0),
    });
  }
}
