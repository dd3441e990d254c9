import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { createRawBatch, createReaderStats, openTrace } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import { DecodeError, PerfettoDecoder, createPerfettoStats } from './decoder.js';
import type { PerfettoReaderStats } from './decoder.js';
import { WireType, loadSchema } from './schema.js';
import { peekVarint } from './wire.js';

/** The `source` of errors from this reader. */
export const READER_NAME = 'perfetto';

export interface PerfettoReaderOptions {
  /** Records per batch (default 8192). */
  readonly batchSize?: number;
  /** How a .zst file is decompressed: `auto` (default) uses the zstd program when on PATH, else fzstd. */
  readonly zstd?: 'auto' | 'program' | 'js';
  /** Read size in bytes for plain files (default 4 MiB); packets may span any number of reads. */
  readonly chunkSize?: number;
}

export interface PerfettoTraceReader {
  /** Counts so far; complete once `batches()` has finished. */
  readonly stats: PerfettoReaderStats;
  /**
   * The records, in file order (bundle by bundle). Yields the same RawBatch
   * each time, refilled: a batch is valid until the next one is asked for.
   * Can be iterated once.
   */
  batches(): AsyncGenerator<RawBatch>;
}

/** A packet longer than this is taken for corrupt data rather than buffered. */
const MAX_PACKET = 256 << 20;

const zstdModes = ['auto', 'program', 'js'] as const;

/** A reader of a Perfetto protobuf trace (plain, .gz or .zst). */
export function openPerfetto(path: string, options: PerfettoReaderOptions = {}): PerfettoTraceReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('openPerfetto: path must be a non-empty string');
  const batchSize = options.batchSize ?? 8192;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 24) {
    throw new TypeError('openPerfetto: batchSize must be an integer from 1 to 2^24');
  }
  const zstd = options.zstd ?? 'auto';
  if (!zstdModes.includes(zstd)) throw new TypeError(`openPerfetto: zstd must be one of ${zstdModes.join(', ')}`);
  const chunkSize = options.chunkSize ?? 4 << 20;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new TypeError('openPerfetto: chunkSize must be a positive integer');
  const stats = createPerfettoStats(createReaderStats('perfetto'));
  let started = false;
  return {
    stats,
    batches() {
      if (started) throw new TypeError('PerfettoTraceReader.batches() can be called only once');
      started = true;
      return readBatches(path, batchSize, zstd, chunkSize, stats);
    },
  };
}

async function* readBatches(
  path: string,
  batchSize: number,
  zstd: 'auto' | 'program' | 'js',
  chunkSize: number,
  stats: PerfettoReaderStats,
): AsyncGenerator<RawBatch> {
  const batch = createRawBatch(batchSize);
  const decoder = new PerfettoDecoder({ batch, stats, capacity: batchSize });
  const packetTag = (loadSchema().trace.packet << 3) | WireType.bytes;
  const at = { end: 0 };
  // pending = the bytes not yet framed; base = their offset in the decompressed stream.
  let pending: Uint8Array = new Uint8Array(0);
  let pos = 0;
  let base = 0;
  let finished = false;
  /** Bytes from `pos` the next field needs (0: unknown, at least one more). */
  let need = 0;
  const chunks = openTrace(path, { zstd, chunkSize })[Symbol.asyncIterator]();
  for (;;) {
    // Frame as many whole top-level fields as the bytes hold.
    for (;;) {
      const avail = pending.length;
      if (pos >= avail) break;
      const tag = peekVarint(pending, pos, avail, at);
      if (tag === -1) break;
      if (tag === -2 || tag >= 2 ** 32) throw syntaxError(path, base + pos, pending, pos, 'malformed field tag', 'a field tag (varint)');
      const tagEnd = at.end;
      const wire = tag % 8;
      const field = Math.floor(tag / 8);
      if (field === 0) throw syntaxError(path, base + pos, pending, pos, 'field number 0 at the top level', 'Trace.packet (0x0a)');
      let end: number;
      if (wire === WireType.bytes) {
        const length = peekVarint(pending, tagEnd, avail, at);
        if (length === -1) break;
        if (length === -2) throw syntaxError(path, base + pos, pending, pos, 'malformed length', 'a length (varint)');
        if (length > MAX_PACKET) {
          throw syntaxError(path, base + pos, pending, pos, `implausible packet length ${length}`, `a TracePacket of at most ${MAX_PACKET} bytes`);
        }
        end = at.end + length;
        if (end > avail) {
          need = end - pos;
          break;
        }
        stats.bytesRead = base + end;
        if (tag === packetTag && length > 0) {
          decoder.packetOffset = base + pos;
          try {
            decoder.startPacket(pending, at.end, end);
            while (!decoder.drain()) {
              decoder.flushCounts();
              yield batch;
              batch.length = 0;
            }
          } catch (error) {
            throw decodeFailure(error, path, base + pos, decoder.currentBuffer(), decoder.position());
          }
        }
      } else if (wire === WireType.varint) {
        if (peekVarint(pending, tagEnd, avail, at) === -1) break;
        end = at.end;
      } else if (wire === WireType.fixed64 || wire === WireType.fixed32) {
        end = tagEnd + (wire === WireType.fixed64 ? 8 : 4);
        if (end > avail) break;
      } else {
        throw syntaxError(path, base + pos, pending, pos, `wire type ${wire} at the top level`, 'Trace.packet (0x0a)');
      }
      pos = end;
    }
    if (finished) {
      if (pos < pending.length) {
        throw syntaxError(
          path,
          base + pos,
          pending,
          pos,
          `the trace ends inside a packet (${pending.length - pos} bytes left)`,
          'a whole TracePacket before the end of the file',
        );
      }
      break;
    }
    // Take chunks until the field that did not fit does (one copy, however many chunks it spans).
    const parts: Uint8Array[] = pos < pending.length ? [pending.subarray(pos)] : [];
    let have = pending.length - pos;
    // At least one byte more than we have: the field that did not fit needs it.
    const want = need > have ? need : have + 1;
    while (have < want) {
      const next = await chunks.next();
      if (next.done) {
        finished = true;
        break;
      }
      parts.push(next.value);
      have += next.value.length;
    }
    base += pos;
    pending = parts.length === 1 ? parts[0]! : parts.length === 0 ? new Uint8Array(0) : Buffer.concat(parts, have);
    pos = 0;
    need = 0;
  }
  decoder.flushCounts();
  if (batch.length > 0) {
    yield batch;
    batch.length = 0;
  }
}

function hexExcerpt(bytes: Uint8Array, at: number): string {
  const start = Math.max(0, Math.min(at, bytes.length) - 8);
  const end = Math.min(bytes.length, start + 32);
  let out = '';
  for (let i = start; i < end; i++) {
    if (i === at) out += '>';
    out += bytes[i]!.toString(16).padStart(2, '0');
    if (i + 1 < end) out += ' ';
  }
  return out;
}

function syntaxError(file: string, byteOffset: number, bytes: Uint8Array, at: number, message: string, expected: string): TierlabError {
  return new TierlabError({
    code: ErrorCode.traceSyntax,
    source: READER_NAME,
    file,
    byteOffset,
    message,
    expected,
    excerpt: hexExcerpt(bytes, at),
  });
}

/** A failure inside a packet, located at the packet (and the byte within it when known). */
function decodeFailure(error: unknown, file: string, packetOffset: number, bytes: Uint8Array, at: number): unknown {
  if (isTierlabError(error)) return error;
  if (error instanceof DecodeError) {
    return syntaxError(file, packetOffset, bytes, at, `${error.message} (in the packet at byte ${packetOffset})`, error.expected);
  }
  if (error instanceof RangeError || (error instanceof Error && /wire type|varint|index out of range|illegal tag/.test(error.message))) {
    return new TierlabError({
      code: ErrorCode.traceSyntax,
      source: READER_NAME,
      file,
      byteOffset: packetOffset,
      message: `malformed TracePacket: ${error.message} (in the packet at byte ${packetOffset})`,
      expected: 'a well-formed TracePacket',
      excerpt: hexExcerpt(bytes, at),
      cause: error,
    });
  }
  return error;
}
