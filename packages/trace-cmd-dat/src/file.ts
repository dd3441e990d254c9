/**
 * Random access to the decompressed trace.dat. A plain file is read in
 * place; a .zst/.gz-wrapped one is first decompressed (by trace-core's
 * openTrace) into a temporary file, because the per-CPU data has to be read
 * at several places at once and a stream cannot seek.
 */

import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { detectCompression, openTrace } from '@tierlab/trace-core';
import { READER_NAME, datError, hexExcerpt } from './errors.js';

export class RandomAccessFile {
  readonly size: number;
  /** Bytes handed out so far. */
  bytesRead = 0;
  private fd: number;

  /** `path` is what is read; `file` names the trace in errors (the .zst the user gave). */
  constructor(
    path: string,
    readonly file: string,
  ) {
    try {
      this.fd = openSync(path, 'r');
      this.size = statSync(path).size;
    } catch (cause) {
      throw new TierlabError({ code: ErrorCode.traceIo, source: READER_NAME, file, message: 'cannot open trace file', cause });
    }
  }

  /** Exactly `length` bytes at `offset` (into `into` when given); a file that ends first is truncated. */
  read(offset: number, length: number, what: string, into?: Uint8Array): Uint8Array {
    const buffer = into ?? new Uint8Array(length);
    const got = length === 0 ? 0 : readSync(this.fd, buffer, 0, length, offset);
    this.bytesRead += got;
    if (got < length) throw this.truncated(offset + got, what);
    return buffer.subarray(0, length);
  }

  /** Up to `length` bytes at `offset`, fewer at the end of the file. */
  peek(offset: number, length: number): Uint8Array {
    const buffer = new Uint8Array(length);
    return buffer.subarray(0, readSync(this.fd, buffer, 0, length, offset));
  }

  truncated(at: number, what: string): TierlabError {
    const tail = this.peek(Math.max(0, Math.min(at, this.size) - 16), 16);
    return datError({
      file: this.file,
      byteOffset: Math.min(at, this.size),
      message: `file truncated: it ends at byte ${this.size}`,
      expected: what,
      excerpt: `last bytes ${hexExcerpt(tail, 0)}`,
    });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export interface OpenedFile {
  readonly file: RandomAccessFile;
  /** Close the file and remove the temporary copy, if any. */
  dispose(): void;
}

/**
 * Open `path` for random access. A compressed file is decompressed into a
 * temporary directory; `check` sees its first 64 bytes (or fewer) before the
 * rest is written out.
 */
export async function openRandomAccess(
  path: string,
  zstd: 'auto' | 'program' | 'js',
  check: (head: Uint8Array) => void,
): Promise<OpenedFile> {
  let compression: ReturnType<typeof detectCompression>;
  try {
    compression = statSync(path).size === 0 ? 'none' : detectCompression(path);
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.traceIo, source: READER_NAME, file: path, message: 'cannot open trace file', cause });
  }
  if (compression === 'none') {
    const file = new RandomAccessFile(path, path);
    try {
      check(file.peek(0, 64));
    } catch (error) {
      file.close();
      throw error;
    }
    return { file, dispose: () => file.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tierlab-trace-dat-'));
  const copy = join(dir, 'trace.dat');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let head = new Uint8Array(0);
  try {
    const fd = openSync(copy, 'w');
    try {
      for await (const chunk of openTrace(path, { zstd })) {
        if (head.length < 64) {
          const joined = new Uint8Array(Math.min(64, head.length + chunk.length));
          joined.set(head.subarray(0, joined.length));
          joined.set(chunk.subarray(0, joined.length - head.length), head.length);
          head = joined;
          if (head.length >= 64) check(head);
        }
        let done = 0;
        while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
      }
      if (head.length < 64) check(head);
    } finally {
      closeSync(fd);
    }
    const file = new RandomAccessFile(copy, path);
    return {
      file,
      dispose: () => {
        file.close();
        remove();
      },
    };
  } catch (error) {
    remove();
    throw error;
  }
}
