/**
 * Per-CPU cursors over ring-buffer pages, as the kernel writes them
 * (include/linux/ring_buffer.h, kernel/trace/ring_buffer.c) and as
 * libtraceevent's kbuffer walks them:
 *
 * - a page (`struct buffer_data_page`) is a u64 timestamp, a `long` commit
 *   word (its low 27 bits the bytes of events; bit 31 set: events were lost
 *   before this page; bit 30 also set: their count is stored as a `long`
 *   right after the events), then the events;
 * - an event header is one 32-bit word, type_len (5 bits) and time_delta
 *   (27 bits), then `array[0]`. type_len 1..28: data of type_len * 4 bytes;
 *   0: array[0] holds the length + 4; 29: padding (array[0] bytes to skip);
 *   30: time extend (delta += array[0] << 27); 31: absolute time stamp.
 *
 * A cursor holds one block of pages at a time (a window of an uncompressed
 * region, or one decompressed v7 chunk), so memory stays bounded.
 */

import type { TierlabError } from '@tierlab/memory-tier-api';
import type { Decompress } from './compression.js';
import { datError, hexExcerpt } from './errors.js';
import type { RandomAccessFile } from './file.js';

const COMMIT_MASK = (1 << 27) - 1;
const MISSING_EVENTS = 0x80000000;
const MISSING_STORED = 0x40000000;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 134217728; // 2 ** 27
const TWO32 = 4294967296;

/** Bytes of pages an uncompressed cursor reads at once. */
const WINDOW_BYTES = 1 << 20;

export interface PageFormat {
  readonly littleEndian: boolean;
  readonly pageSize: number;
  /** Size of the commit word (the kernel's long), 4 or 8. */
  readonly commitSize: number;
  /** Where the events start in a page: 8 + commitSize. */
  readonly dataOffset: number;
}

/**
 * The page layout from events/header_page and events/header_event, checked
 * against the event header this reader knows (5-bit type_len, 27-bit delta,
 * types 29/30/31).
 */
export function pageFormatOf(
  headerPage: string,
  headerEvent: string,
  littleEndian: boolean,
  pageSize: number,
  fail: (message: string, expected: string) => TierlabError,
): PageFormat {
  const field = (name: string) => new RegExp(`field:[^;]*\\b${name};\\s*offset:(\\d+);\\s*size:(\\d+);`).exec(headerPage);
  const timestamp = field('timestamp');
  const commit = field('commit');
  if (timestamp === null || commit === null || timestamp[1] !== '0' || timestamp[2] !== '8' || commit[1] !== '8') {
    throw fail('unknown ring-buffer page header', 'header_page with u64 timestamp at 0 and commit at 8');
  }
  const commitSize = Number(commit[2]);
  if (commitSize !== 4 && commitSize !== 8) throw fail(`commit field of ${commitSize} bytes`, 'a commit field of 4 or 8 bytes');
  const has = (re: RegExp) => re.test(headerEvent);
  if (
    !has(/type_len\s*:\s*5 bits/) ||
    !has(/time_delta\s*:\s*27 bits/) ||
    !has(/padding\s*:\s*type == 29/) ||
    !has(/time_extend\s*:\s*type == 30/) ||
    !has(/data max type_len\s*==\s*28/)
  ) {
    throw fail('unknown ring-buffer event header', 'header_event with type_len:5, time_delta:27, padding 29, time_extend 30, max type_len 28');
  }
  return { littleEndian, pageSize, commitSize, dataOffset: 8 + commitSize };
}

/** Where a cursor's pages come from. */
interface PageBlocks {
  /** The next block of pages, or null at the end of the CPU's data. */
  next(): Uint8Array | null;
  /** Where byte `at` of the current block is, for errors: a trace.dat offset and a note. */
  locate(at: number): { readonly byteOffset: number; readonly note: string };
}

/**
 * Pages stored as they are (v6, uncompressed v7), read in windows; or pages
 * the zstd program unpacked into a temporary file (`origin`: where their
 * chunks are in the trace.dat).
 */
class PlainBlocks implements PageBlocks {
  private blockOffset: number;
  private position: number;
  private readonly start: number;
  private readonly end: number;
  private readonly buffer: Uint8Array;

  constructor(
    private readonly file: RandomAccessFile,
    offset: number,
    size: number,
    pageSize: number,
    private readonly what: string,
    private readonly origin: number | null,
  ) {
    this.position = offset;
    this.start = offset;
    this.blockOffset = offset;
    this.end = offset + size;
    this.buffer = new Uint8Array(Math.max(pageSize, Math.floor(Math.min(WINDOW_BYTES, size) / pageSize) * pageSize));
  }

  next(): Uint8Array | null {
    if (this.position >= this.end) return null;
    const length = Math.min(this.buffer.length, this.end - this.position);
    const block = this.file.read(this.position, length, this.what, this.buffer);
    this.blockOffset = this.position;
    this.position += length;
    return block;
  }

  locate(at: number): { byteOffset: number; note: string } {
    if (this.origin === null) return { byteOffset: this.blockOffset + at, note: '' };
    return { byteOffset: this.origin, note: ` (byte ${this.blockOffset - this.start + at} of the decompressed data)` };
  }
}

/** v7 compressed pages: a u32 chunk count, then per chunk u32 compressed size, u32 size, data. */
class CompressedBlocks implements PageBlocks {
  private blockOffset: number;
  private position: number;
  private readonly end: number;
  private remaining = -1;
  private source = new Uint8Array(0);
  private readonly header = new Uint8Array(8);

  constructor(
    private readonly file: RandomAccessFile,
    offset: number,
    size: number,
    private readonly format: PageFormat,
    private readonly decompress: Decompress,
    private readonly what: string,
  ) {
    this.position = offset;
    this.blockOffset = offset;
    // trace-cmd's size counts the chunks, not the count word before them.
    this.end = offset + 4 + size;
  }

  next(): Uint8Array | null {
    const le = this.format.littleEndian;
    if (this.remaining < 0) {
      const count = this.file.read(this.position, 4, `the chunk count of ${this.what}`, this.header);
      this.remaining = new DataView(count.buffer, count.byteOffset, 4).getUint32(0, le);
      this.position += 4;
    }
    if (this.remaining === 0) return null;
    const at = this.position;
    const header = this.file.read(at, 8, `a chunk header of ${this.what}`, this.header);
    const view = new DataView(header.buffer, header.byteOffset, 8);
    const compressedSize = view.getUint32(0, le);
    const size = view.getUint32(4, le);
    if (at + 8 + compressedSize > this.end) {
      throw datError({
        file: this.file.file,
        byteOffset: at,
        message: `a chunk of ${compressedSize} bytes runs past the end of ${this.what}`,
        expected: `chunks within ${this.end - at} bytes`,
        excerpt: hexExcerpt(header, 0),
      });
    }
    if (this.source.length < compressedSize) this.source = new Uint8Array(compressedSize);
    const source = this.file.read(at + 8, compressedSize, `a compressed chunk of ${this.what}`, this.source);
    let block: Uint8Array;
    try {
      block = this.decompress(source, size);
    } catch (cause) {
      throw datError({
        file: this.file.file,
        byteOffset: at,
        message: `a chunk of ${this.what} does not decompress (${String(cause)})`,
        expected: `${compressedSize} bytes of compressed pages`,
        excerpt: hexExcerpt(source, 0),
      });
    }
    if (block.length !== size) {
      throw datError({
        file: this.file.file,
        byteOffset: at,
        message: `a chunk of ${this.what} decompressed to ${block.length} bytes`,
        expected: `${size} bytes`,
        excerpt: hexExcerpt(source, 0),
      });
    }
    this.blockOffset = at;
    this.position = at + 8 + compressedSize;
    this.remaining--;
    return block;
  }

  locate(at: number): { byteOffset: number; note: string } {
    return { byteOffset: this.blockOffset, note: ` (byte ${at} of the decompressed chunk)` };
  }
}

/**
 * The events of one CPU, one at a time, in the order they are stored (which
 * is time order within a CPU). After `advance()`, when `has` is true, the
 * current record's payload is `bytes[recordStart, recordStart + recordLength)`.
 */
export class CpuCursor {
  /** A record is current. */
  has = false;
  /** Its timestamp (ns, before offsets). */
  time = 0;
  recordStart = 0;
  recordLength = 0;
  /** Events lost before this record: 0 none, -1 lost but not counted, else the count. */
  missed = 0;
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer);

  private readonly blocks: PageBlocks;
  private readonly littleEndian: boolean;
  private readonly pageSize: number;
  private readonly commitSize: number;
  private readonly dataOffset: number;
  /** Start of the current page in `bytes`; -1 before the first. */
  private page = -1;
  private dataStart = 0;
  private dataEnd = 0;
  /** End of the current page's bytes (a short last page ends early). */
  private pageEnd = 0;
  private next = 0;
  private pageMissed = 0;
  private timestamp = 0;

  constructor(
    readonly cpu: number,
    private readonly file: RandomAccessFile,
    offset: number,
    size: number,
    format: PageFormat,
    decompress: Decompress | null,
    private readonly what: string,
    /** For pages unpacked into a temporary file: where they are in the trace.dat. */
    origin: number | null = null,
  ) {
    this.littleEndian = format.littleEndian;
    this.pageSize = format.pageSize;
    this.commitSize = format.commitSize;
    this.dataOffset = format.dataOffset;
    this.blocks =
      decompress === null
        ? new PlainBlocks(file, offset, size, format.pageSize, what, origin)
        : new CompressedBlocks(file, offset, size, format, decompress, what);
  }

  /** Move to the next record (kbuffer_next_event); `has` is false at the end. */
  advance(): void {
    const le = this.littleEndian;
    for (;;) {
      if (this.next >= this.dataEnd) {
        if (!this.nextPage()) {
          this.has = false;
          return;
        }
        continue;
      }
      const view = this.view;
      const current = this.next;
      const word = view.getUint32(current, le);
      const typeLen = le ? word & 31 : word >>> 27;
      const delta = le ? word >>> 5 : word & COMMIT_MASK;
      if (typeLen === 0) {
        if (current + 8 > this.dataEnd) throw this.corrupt(current, 'an event length word past the end of the page');
        const stored = view.getUint32(current + 4, le);
        if (stored < 4) throw this.corrupt(current, `an event length of ${stored}`);
        const length = ((stored - 4 + 3) >>> 2) << 2;
        this.timestamp += delta;
        this.emit(current, current + 8, length);
        return;
      }
      if (typeLen < TYPE_PADDING) {
        this.timestamp += delta;
        this.emit(current, current + 4, typeLen * 4);
        return;
      }
      if (current + 8 > this.pageEnd) throw this.corrupt(current, 'an event header past the end of the page');
      const array0 = view.getUint32(current + 4, le);
      if (typeLen === TYPE_PADDING) {
        this.timestamp += delta;
        this.next = current + 4 + array0;
      } else if (typeLen === TYPE_TIME_EXTEND) {
        this.timestamp += array0 * TS_SHIFT + delta;
        this.next = current + 8;
      } else if (typeLen === TYPE_TIME_STAMP) {
        // Absolute (kbuffer keeps the top 5 bits of the old stamp; they are 0 below 2^59 ns).
        this.timestamp = array0 * TS_SHIFT + delta;
        this.next = current + 8;
      }
    }
  }

  private emit(current: number, start: number, length: number): void {
    const end = start + length;
    if (end > this.pageEnd) throw this.corrupt(current, `an event of ${length} bytes past the end of the page`);
    this.has = true;
    this.time = this.timestamp;
    this.recordStart = start;
    this.recordLength = length;
    // Only the first event of a page carries the page's loss (kbuffer_missed_events).
    this.missed = current === this.dataStart ? this.pageMissed : 0;
    this.next = end;
  }

  /** Load the page header of the next page (kbuffer_load_subbuffer); false at the end. */
  private nextPage(): boolean {
    let page = this.page < 0 ? this.bytes.length : this.page + this.pageSize;
    if (page + this.dataOffset > this.bytes.length) {
      const block = this.blocks.next();
      if (block === null) return false;
      this.bytes = block;
      this.view = new DataView(block.buffer, block.byteOffset, block.byteLength);
      page = 0;
      if (block.length < this.dataOffset) throw this.corrupt(0, `a block of ${block.length} bytes, less than a page header`);
    }
    const le = this.littleEndian;
    const view = this.view;
    this.page = page;
    const lo = view.getUint32(page, le);
    const hi = view.getUint32(page + 4, le);
    this.timestamp = le ? hi * TWO32 + lo : lo * TWO32 + hi;
    // The low 32 bits of the commit word hold the size and the loss flags.
    const flags = view.getUint32(this.commitSize === 8 && !le ? page + 12 : page + 8, le);
    const size = flags & COMMIT_MASK;
    const available = Math.min(this.pageSize, this.bytes.length - page);
    if (this.dataOffset + size > available) {
      throw this.corrupt(page, `a page committing ${size} bytes, more than the ${available - this.dataOffset} it holds`);
    }
    this.pageEnd = page + available;
    this.dataStart = page + this.dataOffset;
    this.dataEnd = this.dataStart + size;
    this.next = this.dataStart;
    if ((flags & MISSING_EVENTS) !== 0) {
      this.pageMissed = -1;
      if ((flags & MISSING_STORED) !== 0 && this.dataEnd + this.commitSize <= this.pageEnd) {
        const a = view.getUint32(this.dataEnd, le);
        if (this.commitSize === 4) this.pageMissed = a;
        else {
          const b = view.getUint32(this.dataEnd + 4, le);
          this.pageMissed = le ? b * TWO32 + a : a * TWO32 + b;
        }
      }
    } else {
      this.pageMissed = 0;
    }
    return true;
  }

  /** An error about the current record. */
  errorAtRecord(message: string, expected: string): TierlabError {
    return this.corrupt(this.recordStart, message, expected);
  }

  private corrupt(at: number, message: string, expected = 'ring-buffer events within their page'): TierlabError {
    const { byteOffset, note } = this.blocks.locate(at);
    return datError({
      file: this.file.file,
      byteOffset,
      message: `${message}${note} in ${this.what}`,
      expected,
      excerpt: hexExcerpt(this.bytes, at),
    });
  }
}
