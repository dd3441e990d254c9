/**
 * Getting at the bytes of a perf.data. A plain file is read with
 * positional reads: the header and attrs at the start, the feature
 * sections after the data section, then the data section in large chunks.
 * A compressed file (.zst, .gz: the whole file compressed) cannot seek, so
 * in file mode it is decompressed twice: a first pass keeps what lies
 * outside the data section (header, attrs, ids, features: small) and skips
 * the data; the second pass streams the data section. Memory stays bounded
 * by a chunk plus the non-data sections. Pipe mode is one pass.
 */

import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { detectCompression, openTrace } from '@tierlab/trace-core';
import { hexExcerpt, perfFormatError, perfSyntaxError } from './errors.js';
import { featureBits, magicKind, parseFileHeader, u64 } from './header.js';
import type { FileHeader, Section } from './header.js';
import { FILE_HEADER_SIZE, PIPE_HEADER_SIZE } from './perf-abi.js';

/** Non-data bytes kept from a compressed file-mode perf.data at most (header, attrs, features). */
const MAX_SIDE_BYTES = 512 << 20;

export interface PerfInput {
  readonly header: FileHeader;
  /** File mode: the bytes of the attr section, by file offset. */
  readonly read: (section: Section, what: string) => Uint8Array;
  /** File mode: the feature sections, by feature bit. */
  readonly features: ReadonlyMap<number, Section>;
  /** The data section (pipe mode: everything after the 16-byte header), in windows. */
  readonly data: () => DataSource;
  /** Offset of the data section in the file. */
  readonly dataOffset: number;
  /** Size of the data section, when known. */
  readonly dataBytes: number;
  readonly close: () => Promise<void>;
}

/** The data section as a sequence of windows, each starting with the unparsed end of the one before. */
export interface DataSource {
  /** `carry` followed by the next bytes of the data; null when the data has ended (the carry is then left over). */
  next(carry: Uint8Array): Promise<Buffer | null>;
  /** A window that nothing refers to any more (its memory may be reused). */
  recycle(buf: Buffer): void;
}

export interface InputOptions {
  readonly zstd: 'auto' | 'program' | 'js';
  readonly chunkSize: number;
}

export async function openPerfInput(path: string, options: InputOptions): Promise<PerfInput> {
  let directory = false;
  try {
    directory = (await stat(path)).isDirectory();
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.traceIo, source: 'perf.data', file: path, message: 'cannot open trace file', cause });
  }
  if (directory) {
    throw new TierlabError({
      code: ErrorCode.traceFormat,
      source: 'perf.data',
      file: path,
      message: 'a perf.data directory (perf record --threads) is not supported',
      expected: 'a perf.data file (file or pipe mode)',
    });
  }
  const compression = detectCompression(path);
  return compression === 'none' ? openPlain(path, options) : openCompressed(path, options);
}

function checkHeader(path: string, head: Uint8Array, fileSize: number): FileHeader {
  const kind = magicKind(head);
  if (kind === 'be') throw perfFormatError(path, 'big-endian perf.data is not supported', hexExcerpt(head, 0, 16));
  if (kind === 'perffile1') throw perfFormatError(path, "the old 'PERFFILE' (v1) perf.data layout is not supported", hexExcerpt(head, 0, 16));
  if (kind === 'none') {
    throw perfSyntaxError({
      file: path,
      byteOffset: 0,
      message: head.length < 8 ? 'file too short for a perf.data header' : 'bad magic',
      expected: "'PERFILE2'",
      excerpt: hexExcerpt(head, 0, 16),
    });
  }
  const header = parseFileHeader(head);
  if (header === null) {
    throw perfSyntaxError({
      file: path,
      byteOffset: 8,
      message: head.length < FILE_HEADER_SIZE ? 'file ends inside the perf.data header' : 'bad header size',
      expected: `header size ${PIPE_HEADER_SIZE} (pipe) or ${FILE_HEADER_SIZE} (file) and a whole header`,
      excerpt: hexExcerpt(head, 8, 16),
    });
  }
  if (!header.pipe) {
    const dataEnd = header.data.offset + header.data.size;
    if (header.data.size === 0) {
      throw perfSyntaxError({
        file: path,
        byteOffset: 40,
        message: "the header's data size is 0 (perf record did not finish writing the file)",
        expected: 'a data section',
        excerpt: hexExcerpt(head, 40, 16),
      });
    }
    if (dataEnd > fileSize) {
      throw perfSyntaxError({
        file: path,
        byteOffset: fileSize,
        message: `file ends at byte ${fileSize}, inside the data section (bytes ${header.data.offset}..${dataEnd})`,
        expected: 'the whole data section and the feature sections after it (a truncated perf.data?)',
        excerpt: '(end of file)',
      });
    }
  }
  return header;
}

/** The feature index after the data section: one perf_file_section per set feature bit. */
function featureIndex(path: string, header: FileHeader, index: Uint8Array, fileSize: number): Map<number, Section> {
  const features = new Map<number, Section>();
  const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const at = header.data.offset + header.data.size;
  featureBits(header).forEach((bit, i) => {
    if (i * 16 + 16 > index.length) {
      throw perfSyntaxError({
        file: path,
        byteOffset: at + i * 16,
        message: 'file ends inside the feature index',
        expected: 'a perf_file_section per feature bit of the header',
        excerpt: hexExcerpt(index, i * 16),
      });
    }
    const section = { offset: u64(view, i * 16), size: u64(view, i * 16 + 8) };
    if (section.offset + section.size > fileSize) {
      throw perfSyntaxError({
        file: path,
        byteOffset: at + i * 16,
        message: `feature ${bit} section (bytes ${section.offset}..${section.offset + section.size}) lies beyond the end of the file (${fileSize})`,
        expected: 'feature sections inside the file',
        excerpt: hexExcerpt(index, i * 16, 16),
      });
    }
    features.set(bit, section);
  });
  return features;
}

async function openPlain(path: string, options: InputOptions): Promise<PerfInput> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.traceIo, source: 'perf.data', file: path, message: 'cannot open trace file', cause });
  }
  try {
    const fileSize = (await handle.stat()).size;
    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    };
    const head = await readAt(0, FILE_HEADER_SIZE);
    const header = checkHeader(path, head, fileSize);
    if (header.pipe) {
      return {
        header,
        read: () => new Uint8Array(0),
        features: new Map(),
        dataOffset: PIPE_HEADER_SIZE,
        dataBytes: fileSize - PIPE_HEADER_SIZE,
        data: () => new FileWindows(handle, PIPE_HEADER_SIZE, fileSize, options.chunkSize),
        close: () => handle.close(),
      };
    }
    const dataEnd = header.data.offset + header.data.size;
    // Everything before the data (attrs, ids) and the feature sections after it.
    const before = await readAt(0, Math.min(header.data.offset, MAX_SIDE_BYTES));
    const after = await readAt(dataEnd, Math.min(fileSize - dataEnd, MAX_SIDE_BYTES));
    const features = featureIndex(path, header, after, fileSize);
    return {
      header,
      read: (section, what) => sliceSide(path, before, after, dataEnd, section, what),
      features,
      dataOffset: header.data.offset,
      dataBytes: header.data.size,
      data: () => new FileWindows(handle, header.data.offset, dataEnd, options.chunkSize),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Windows read from a file with positional reads into a few reused buffers. */
class FileWindows implements DataSource {
  private offset: number;
  private readonly pool: ArrayBuffer[] = [];
  private readonly poolSize: number;

  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly end: number,
    private readonly chunkSize: number,
  ) {
    this.offset = start;
    // Room for a carried record (records are below 64 KiB, but for pipe-mode tracing data).
    this.poolSize = chunkSize + (1 << 17);
  }

  async next(carry: Uint8Array): Promise<Buffer | null> {
    if (this.offset >= this.end) return null;
    const length = Math.min(this.chunkSize, this.end - this.offset);
    const size = carry.length + length;
    const memory = size <= this.poolSize ? (this.pool.pop() ?? new ArrayBuffer(this.poolSize)) : new ArrayBuffer(size);
    const buf = Buffer.from(memory, 0, size);
    buf.set(carry, 0);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.handle.read(buf, carry.length + got, length - got, this.offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.offset += got;
    if (got === 0) return null;
    return buf.subarray(0, carry.length + got);
  }

  recycle(buf: Buffer): void {
    if (buf.buffer.byteLength === this.poolSize && buf.byteOffset === 0 && this.pool.length < 4) this.pool.push(buf.buffer as ArrayBuffer);
  }
}

/** Windows from a stream of chunks: the carry is joined to the next chunk. */
class StreamWindows implements DataSource {
  constructor(private readonly chunks: AsyncGenerator<Uint8Array>) {}

  async next(carry: Uint8Array): Promise<Buffer | null> {
    const r = await this.chunks.next();
    if (r.done) return null;
    const chunk = r.value;
    if (carry.length === 0) return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return Buffer.concat([carry, chunk]);
  }

  recycle(): void {}
}

/** A section from the bytes kept before the data section or after it. */
function sliceSide(path: string, before: Uint8Array, after: Uint8Array, afterStart: number, section: Section, what: string): Uint8Array {
  const end = section.offset + section.size;
  if (end <= before.length) return before.subarray(section.offset, end);
  if (section.offset >= afterStart && end - afterStart <= after.length) return after.subarray(section.offset - afterStart, end - afterStart);
  throw perfSyntaxError({
    file: path,
    byteOffset: section.offset,
    message: `${what} (bytes ${section.offset}..${end}) is not inside the file outside the data section`,
    expected: `${what} inside the file`,
    excerpt: '(out of range)',
  });
}

async function openCompressed(path: string, options: InputOptions): Promise<PerfInput> {
  // Pass 1: the header, then keep [0, data offset) and [data end, end of file).
  const stream = openTrace(path, { zstd: options.zstd, chunkSize: options.chunkSize });
  const parts: Uint8Array[] = [];
  let have = 0;
  // Read until the whole header is there (16 bytes in pipe mode).
  while (have < FILE_HEADER_SIZE) {
    const next = await stream.next();
    if (next.done) break;
    parts.push(next.value);
    have += next.value.length;
    if (have >= PIPE_HEADER_SIZE && magicKind(concat(parts, 8)) === 'le' && u64(viewOf(concat(parts, 16)), 8) === PIPE_HEADER_SIZE) break;
  }
  const head = concat(parts, Math.min(have, FILE_HEADER_SIZE));
  const header = checkHeader(path, head, Number.POSITIVE_INFINITY);
  if (header.pipe) {
    const already = Buffer.concat(parts);
    return {
      header,
      read: () => new Uint8Array(0),
      features: new Map(),
      dataOffset: PIPE_HEADER_SIZE,
      dataBytes: Number.NaN,
      data: () =>
        new StreamWindows(
          (async function* () {
            if (already.length > PIPE_HEADER_SIZE) yield already.subarray(PIPE_HEADER_SIZE);
            yield* stream;
          })(),
        ),
      close: async () => {
        await stream.return(undefined);
      },
    };
  }
  const dataStart = header.data.offset;
  const dataEnd = dataStart + header.data.size;
  if (dataStart > MAX_SIDE_BYTES) {
    await stream.return(undefined);
    throw perfSyntaxError({
      file: path,
      byteOffset: 40,
      message: `data section starts at byte ${dataStart}`,
      expected: `a data offset below ${MAX_SIDE_BYTES}`,
      excerpt: hexExcerpt(head, 40, 16),
    });
  }
  const before = Buffer.alloc(dataStart);
  const afterParts: Buffer[] = [];
  let afterBytes = 0;
  let offset = 0;
  const take = (chunk: Uint8Array): void => {
    const chunkEnd = offset + chunk.length;
    if (offset < dataStart) before.set(chunk.subarray(0, Math.min(chunk.length, dataStart - offset)), offset);
    if (chunkEnd > dataEnd) {
      const from = Math.max(0, dataEnd - offset);
      afterParts.push(Buffer.from(chunk.subarray(from)));
      afterBytes += chunk.length - from;
      if (afterBytes > MAX_SIDE_BYTES) {
        throw perfSyntaxError({
          file: path,
          byteOffset: dataEnd,
          message: `more than ${MAX_SIDE_BYTES} bytes after the data section`,
          expected: 'feature sections of a reasonable size',
          excerpt: '',
        });
      }
    }
    offset = chunkEnd;
  };
  try {
    for (const part of parts) take(part);
    for await (const chunk of stream) take(chunk);
  } finally {
    await stream.return(undefined);
  }
  const fileSize = offset;
  checkHeader(path, head, fileSize);
  const after = Buffer.concat(afterParts, afterBytes);
  const features = featureIndex(path, header, after, fileSize);
  return {
    header,
    read: (section, what) => sliceSide(path, before, after, dataEnd, section, what),
    features,
    dataOffset: dataStart,
    dataBytes: header.data.size,
    // Pass 2: decompress again and hand out the data section.
    data: () =>
      new StreamWindows(
        (async function* () {
          let at = 0;
          for await (const chunk of openTrace(path, { zstd: options.zstd, chunkSize: options.chunkSize })) {
            const chunkEnd = at + chunk.length;
            if (chunkEnd > dataStart && at < dataEnd) {
              yield chunk.subarray(Math.max(0, dataStart - at), Math.min(chunk.length, dataEnd - at));
            }
            at = chunkEnd;
            if (at >= dataEnd) return;
          }
        })(),
      ),
    close: async () => {},
  };
}

function concat(parts: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const part of parts) {
    if (at >= n) break;
    const take = Math.min(part.length, n - at);
    out.set(part.subarray(0, take), at);
    at += take;
  }
  return out;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
