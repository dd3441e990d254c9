/**
 * v7 zstd-compressed CPU data, decompressed ahead by the zstd program into
 * a temporary file (trace-cmd itself does the same by default): the chunks'
 * zstd frames are piped back to back through one `zstd -d` per CPU, whose
 * output is the CPU's pages. Several times faster than fzstd in-process,
 * still bounded in memory; it costs the uncompressed size in temporary disk.
 */

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { datError, hexExcerpt } from './errors.js';
import type { RandomAccessFile } from './file.js';

/** Bytes of frames handed to the program per write. */
const FEED_BYTES = 1 << 20;

/**
 * Decompress the chunks of one CPU (a u32 count, then per chunk u32
 * compressed size, u32 size, zstd frame) at `offset` into `outPath`;
 * resolves to the decompressed size.
 */
export async function unpackCpuData(
  program: string,
  file: RandomAccessFile,
  offset: number,
  size: number,
  littleEndian: boolean,
  outPath: string,
  what: string,
): Promise<number> {
  const out = openSync(outPath, 'w');
  const child = spawn(program, ['-dcq'], { stdio: ['pipe', out, 'pipe'] });
  closeSync(out);
  // Both are pipes, as asked for in stdio.
  const stdin = child.stdin!;
  const errors = child.stderr!;
  let stderr = '';
  errors.setEncoding('utf8');
  errors.on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let finished = false;
  let expected = 0;
  try {
    expected = await feed(stdin, file, offset, size, littleEndian, what);
    finished = true;
  } finally {
    if (!finished) {
      stdin.destroy();
      child.kill();
    }
  }
  const code = await exited;
  if (code !== 0) {
    throw datError({
      file: file.file,
      byteOffset: offset,
      message: `the zstd program could not decompress ${what} (exit ${code})`,
      expected: 'zstd frames',
      excerpt: stderr.trim().slice(0, 200) || hexExcerpt(file.peek(offset, 16), 0),
    });
  }
  return expected;
}

/** Write the frames to the program's stdin; returns the sum of the chunks' uncompressed sizes. */
async function feed(stdin: Writable, file: RandomAccessFile, offset: number, size: number, le: boolean, what: string): Promise<number> {
  // EPIPE when zstd stops early (bad data): stop feeding, its exit code tells what went wrong.
  let broken = false;
  stdin.on('error', () => {
    broken = true;
  });
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        stdin.off('error', done);
        resolve();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
      stdin.on('error', done);
    });
  const header = new Uint8Array(8);
  const countBytes = file.read(offset, 4, `the chunk count of ${what}`, header);
  const count = new DataView(countBytes.buffer, countBytes.byteOffset, 4).getUint32(0, le);
  // trace-cmd's size counts the chunks, not the count word before them.
  const end = offset + 4 + size;
  let at = offset + 4;
  let total = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!broken && !stdin.write(data)) await drained();
  };
  for (let i = 0; i < count; i++) {
    const h = file.read(at, 8, `a chunk header of ${what}`, header);
    const view = new DataView(h.buffer, h.byteOffset, 8);
    const compressedSize = view.getUint32(0, le);
    total += view.getUint32(4, le);
    if (at + 8 + compressedSize > end) {
      throw datError({
        file: file.file,
        byteOffset: at,
        message: `a chunk of ${compressedSize} bytes runs past the end of ${what}`,
        expected: `chunks within ${end - at} bytes`,
        excerpt: hexExcerpt(h, 0),
      });
    }
    if (broken) break;
    pending.push(file.read(at + 8, compressedSize, `a compressed chunk of ${what}`));
    pendingBytes += compressedSize;
    at += 8 + compressedSize;
    if (pendingBytes >= FEED_BYTES) await flush();
  }
  await flush();
  if (!broken) stdin.end();
  return total;
}
