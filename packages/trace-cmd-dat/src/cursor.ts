/**
 * Sequential readers of the metadata: numbers in the file's byte order,
 * NUL-terminated strings, sized blobs. One reads the file through a small
 * window (v6 metadata, v7 uncompressed sections); the other reads a
 * decompressed v7 section held in memory.
 */

import type { TierlabError } from '@tierlab/memory-tier-api';
import { datError, hexExcerpt } from './errors.js';
import type { RandomAccessFile } from './file.js';

const WINDOW = 64 * 1024;
const latin1 = new TextDecoder('latin1');

export abstract class Cursor {
  /** Position: a file offset (FileCursor) or an offset into the section (SectionCursor). */
  pos: number;
  protected bytes: Uint8Array = new Uint8Array(0);
  protected view: DataView = new DataView(this.bytes.buffer);
  /** Position of bytes[0]. */
  protected start = 0;

  constructor(
    pos: number,
    readonly littleEndian: boolean,
  ) {
    this.pos = pos;
  }

  /** Make bytes [pos, pos + n) addressable, or throw a truncation error naming `what`. */
  protected abstract ensure(n: number, what: string): void;
  /** An error at the current position. */
  abstract fail(message: string, expected: string, at?: number): TierlabError;
  /** How far this input goes (file size or section size). */
  abstract get end(): number;

  u8(what: string): number {
    this.ensure(1, what);
    return this.bytes[this.pos++ - this.start]!;
  }

  u16(what: string): number {
    this.ensure(2, what);
    const v = this.view.getUint16(this.pos - this.start, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.ensure(4, what);
    const v = this.view.getUint32(this.pos - this.start, this.littleEndian);
    this.pos += 4;
    return v;
  }

  /** A 64-bit unsigned number; offsets and sizes above 2^53 are rejected. */
  u64(what: string): number {
    this.ensure(8, what);
    const at = this.pos - this.start;
    const lo = this.view.getUint32(this.littleEndian ? at : at + 4, this.littleEndian);
    const hi = this.view.getUint32(this.littleEndian ? at + 4 : at, this.littleEndian);
    if (hi >= 0x200000) throw this.fail('64-bit value too large', what);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }

  /** Raw bytes (a view into the window: copy what you keep past the next read). */
  take(n: number, what: string): Uint8Array {
    this.ensure(n, what);
    const at = this.pos - this.start;
    this.pos += n;
    return this.bytes.subarray(at, at + n);
  }

  text(n: number, what: string): string {
    return latin1.decode(this.take(n, what));
  }

  /** A NUL-terminated string (the NUL is consumed). */
  cstring(what: string): string {
    let n = 0;
    for (;;) {
      this.ensure(n + 1, what);
      const at = this.pos - this.start;
      const nul = this.bytes.indexOf(0, at + n);
      if (nul >= 0) {
        const s = latin1.decode(this.bytes.subarray(at, nul));
        this.pos += nul - at + 1;
        return s;
      }
      n = this.bytes.length - at;
    }
  }

  skip(n: number, what: string): void {
    if (this.pos + n > this.end) this.ensure(n, what);
    this.pos += n;
  }

  /** Hex of the bytes at `at` (default: the current position). */
  excerptAt(at = this.pos): string {
    const i = at - this.start;
    if (i >= 0 && i < this.bytes.length) return hexExcerpt(this.bytes, i);
    return this.peekExcerpt(at);
  }

  protected abstract peekExcerpt(at: number): string;
}

/** Reads the file itself through a window. */
export class FileCursor extends Cursor {
  constructor(
    readonly file: RandomAccessFile,
    pos: number,
    littleEndian: boolean,
  ) {
    super(pos, littleEndian);
  }

  get end(): number {
    return this.file.size;
  }

  protected ensure(n: number, what: string): void {
    if (this.pos >= this.start && this.pos + n <= this.start + this.bytes.length) return;
    if (this.pos + n > this.file.size) throw this.file.truncated(this.file.size, what);
    const length = Math.min(Math.max(n, WINDOW), this.file.size - this.pos);
    this.bytes = this.file.read(this.pos, length, what);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.start = this.pos;
  }

  fail(message: string, expected: string, at = this.pos): TierlabError {
    return datError({ file: this.file.file, byteOffset: at, message, expected, excerpt: this.excerptAt(at) });
  }

  protected peekExcerpt(at: number): string {
    return hexExcerpt(this.file.peek(at, 16), 0);
  }
}

/** Reads a decompressed section in memory; errors name the section's place in the file. */
export class SectionCursor extends Cursor {
  constructor(
    bytes: Uint8Array,
    littleEndian: boolean,
    private readonly file: string,
    /** File offset of the section header. */
    private readonly sectionOffset: number,
    private readonly sectionName: string,
  ) {
    super(0, littleEndian);
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get end(): number {
    return this.bytes.length;
  }

  protected ensure(n: number, what: string): void {
    if (this.pos + n <= this.bytes.length) return;
    throw datError({
      file: this.file,
      byteOffset: this.sectionOffset,
      message: `${this.sectionName} section ends after ${this.bytes.length} bytes (decompressed), reading at ${this.pos}`,
      expected: what,
      excerpt: hexExcerpt(this.bytes, Math.max(0, this.bytes.length - 16)),
    });
  }

  fail(message: string, expected: string, at = this.pos): TierlabError {
    return datError({
      file: this.file,
      byteOffset: this.sectionOffset,
      message: `${message} (at byte ${at} of the decompressed ${this.sectionName} section)`,
      expected,
      excerpt: hexExcerpt(this.bytes, at),
    });
  }

  protected peekExcerpt(at: number): string {
    return hexExcerpt(this.bytes, at);
  }
}
