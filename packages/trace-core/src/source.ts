/**
 * Byte sources: a trace file as a stream of large chunks, decompressed on
 * the fly (.zst by the `zstd` program on another core when it is installed,
 * else in-process by fzstd; .gz by node:zlib). Compression is detected from
 * the magic bytes, not the file name.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { Decompress } from 'fzstd';

export type Compression = 'none' | 'zstd' | 'gzip';

export interface OpenOptions {
  /** `auto` (default): the zstd program when on PATH, else fzstd. */
  readonly zstd?: 'auto' | 'program' | 'js';
  /** Read size, bytes (default 4 MiB). */
  readonly chunkSize?: number;
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];

/** The compression of a file, from its first bytes. */
export function detectCompression(path: string): Compression {
  const head = readHead(path, 4);
  if (head.length >= 4 && ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  if (head.length >= 2 && GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  return 'none';
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export function readHead(path: string, n: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.traceIo, source: 'trace', file: path, message: 'cannot open trace file', cause });
  }
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

let zstdProgram: string | null | undefined;
/** Path of the zstd program on PATH, or null. */
export function findZstdProgram(): string | null {
  if (zstdProgram !== undefined) return zstdProgram;
  zstdProgram = null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'zstd');
    if (existsSync(candidate)) {
      zstdProgram = candidate;
      break;
    }
  }
  return zstdProgram;
}

/** How a file will be decompressed, for provenance and benchmarks. */
export function describeDecoder(path: string, options: OpenOptions = {}): string {
  const compression = detectCompression(path);
  if (compression === 'zstd') {
    const useProgram = options.zstd === 'program' || (options.zstd !== 'js' && findZstdProgram() !== null);
    return useProgram ? 'zstd (program)' : 'zstd (fzstd)';
  }
  return compression === 'gzip' ? 'gzip (node:zlib)' : 'none';
}

/** The decompressed bytes of a trace file, as chunks. */
export async function* openTrace(path: string, options: OpenOptions = {}): AsyncGenerator<Uint8Array> {
  const chunkSize = options.chunkSize ?? 4 << 20;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.traceIo, source: 'trace', file: path, message: 'cannot open trace file', cause });
  }
  const compression = size === 0 ? 'none' : detectCompression(path);
  if (compression === 'none') {
    for await (const chunk of createReadStream(path, { highWaterMark: chunkSize })) yield chunk as Buffer;
    return;
  }
  if (compression === 'gzip') {
    const gunzip = createReadStream(path, { highWaterMark: chunkSize }).pipe(createGunzip({ chunkSize: 1 << 20 }));
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (cause) {
      throw new TierlabError({ code: ErrorCode.traceIo, source: 'trace', file: path, message: 'gzip data is corrupt', cause });
    }
    return;
  }
  const program = options.zstd === 'js' ? null : findZstdProgram();
  if (program !== null) {
    yield* zstdByProgram(program, path);
    return;
  }
  if (options.zstd === 'program') {
    throw new TierlabError({ code: ErrorCode.traceIo, source: 'trace', file: path, message: 'the zstd program is not on PATH' });
  }
  yield* zstdByFzstd(path, chunkSize);
}

async function* zstdByProgram(program: string, path: string): AsyncGenerator<Uint8Array> {
  const child = spawn(program, ['-dcq', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let done = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    done = true;
  } finally {
    if (!done) child.kill();
  }
  const code = await exited;
  if (code !== 0) {
    throw new TierlabError({
      code: ErrorCode.traceIo,
      source: 'trace',
      file: path,
      message: `zstd failed (exit ${code})`,
      excerpt: stderr.trim().slice(0, 200),
    });
  }
}

async function* zstdByFzstd(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const decoder = new Decompress((chunk) => {
    out.push(chunk);
  });
  let offset = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: chunkSize })) {
      decoder.push(chunk as Buffer);
      offset += (chunk as Buffer).length;
      while (out.length > 0) yield out.shift()!;
    }
    decoder.push(new Uint8Array(0), true);
  } catch (cause) {
    if (cause instanceof TierlabError) throw cause;
    throw new TierlabError({
      code: ErrorCode.traceIo,
      source: 'trace',
      file: path,
      byteOffset: offset,
      message: 'zstd data is corrupt',
      cause,
    });
  }
  while (out.length > 0) yield out.shift()!;
}

/** sha256 of the file's bytes as stored (compressed), hex. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A block of whole lines from a text trace. */
export interface LineBlock {
  /** The bytes: whole lines, the last one ending with '\n' (except at end of file). */
  readonly bytes: Buffer;
  /** 1-based line number of the block's first line. */
  readonly firstLine: number;
  /** Byte offset of the block in the decompressed stream. */
  readonly byteOffset: number;
}

/**
 * Regroup chunks into blocks of whole lines (about `minBlock` bytes or more),
 * so a parser never sees a line cut in two. Line numbers are counted here.
 */
export async function* lineBlocks(chunks: AsyncIterable<Uint8Array>, minBlock = 1 << 20): AsyncGenerator<LineBlock> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 1;
  let offset = 0;
  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < minBlock) continue;
    const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    const lastNl = joined.lastIndexOf(10);
    if (lastNl < 0) {
      pending = [joined];
      continue;
    }
    const bytes = joined.subarray(0, lastNl + 1);
    const rest = joined.subarray(lastNl + 1);
    yield { bytes, firstLine: line, byteOffset: offset };
    line += countNewlines(bytes);
    offset += bytes.length;
    pending = rest.length > 0 ? [Buffer.from(rest)] : [];
    pendingBytes = rest.length;
  }
  if (pendingBytes > 0) {
    const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    yield { bytes, firstLine: line, byteOffset: offset };
  }
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  let at = buf.indexOf(10);
  while (at >= 0) {
    n++;
    at = buf.indexOf(10, at + 1);
  }
  return n;
}
