import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { Tracepoint, createRawBatch, createReaderStats, findZstdProgram } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { CommTable, parseSavedCmdlines } from './comms.js';
import type { Decompress } from './compression.js';
import { Decoder } from './decoder.js';
import { READER_NAME, datError, hexExcerpt } from './errors.js';
import { RandomAccessFile, openRandomAccess } from './file.js';
import { MAGIC, type TraceBuffer, type TraceDatLayout, readLayout } from './layout.js';
import { CpuCursor, pageFormatOf } from './ring-buffer.js';
import { unpackCpuData } from './unpack.js';

export interface TraceDatOptions {
  /** Records per batch (default 8192). */
  readonly batchSize?: number;
  /**
   * How zstd is decoded, both a .zst wrapper around the file and the
   * compressed CPU data inside a v7 file: `auto` (default) the zstd program
   * when on PATH, else fzstd; `program` the zstd program; `js` fzstd only.
   * With the program, v7 CPU data is unpacked into a temporary file first.
   */
  readonly zstd?: 'auto' | 'program' | 'js';
}

export interface TraceDatReader {
  /** Counts so far; complete once `batches()` has finished. */
  readonly stats: ReaderStats;
  /**
   * The records, merged across CPUs in time order as `trace-cmd report`
   * prints them. Yields the same RawBatch each time, refilled: a batch is
   * valid until the next one is asked for. Can be iterated once.
   */
  batches(): AsyncGenerator<RawBatch>;
}

const zstdModes = ['auto', 'program', 'js'] as const;

/** A reader of a trace-cmd trace.dat (v6 or v7; plain, or wrapped in .zst or .gz). */
export function openTraceDat(path: string, options: TraceDatOptions = {}): TraceDatReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('openTraceDat: path must be a non-empty string');
  const zstd = options.zstd ?? 'auto';
  if (!zstdModes.includes(zstd)) throw new TypeError(`openTraceDat: zstd must be one of ${zstdModes.join(', ')}`);
  const batchSize = options.batchSize ?? 8192;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 24) {
    throw new TypeError('openTraceDat: batchSize must be an integer from 1 to 2^24');
  }
  const stats = createReaderStats('');
  let started = false;
  return {
    stats,
    batches() {
      if (started) throw new TypeError('TraceDatReader.batches() can be called only once');
      started = true;
      return readBatches(path, zstd, batchSize, stats);
    },
  };
}

/** Whether `head` (the first decompressed bytes of a file) starts with the trace.dat magic, "\x17\x08\x44tracing". */
export function sniffTraceDat(head: Uint8Array): boolean {
  if (head.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (head[i] !== MAGIC[i]) return false;
  return true;
}

function checkMagic(head: Uint8Array, file: string): void {
  if (sniffTraceDat(head)) return;
  const prefix = head.length < MAGIC.length && head.every((b, i) => b === MAGIC[i]);
  throw datError({
    file,
    byteOffset: prefix ? head.length : 0,
    message: prefix ? `file truncated: it ends at byte ${head.length}` : 'not a trace.dat file (bad magic)',
    expected: 'magic 17 08 44 74 72 61 63 69 6e 67 ("\\x17\\x08Dtracing")',
    excerpt: hexExcerpt(head, 0),
  });
}

/** Where one CPU's pages are read from. */
interface CpuSource {
  readonly cpu: number;
  readonly buffer: TraceBuffer;
  readonly file: RandomAccessFile;
  readonly offset: number;
  readonly size: number;
  /** In-process decompression of the chunks, or null for plain pages. */
  readonly decompress: Decompress | null;
  /** Pages unpacked into a temporary file: their chunks' offset in the trace.dat. */
  readonly origin: number | null;
  readonly what: string;
}

async function* readBatches(path: string, zstd: 'auto' | 'program' | 'js', batchSize: number, stats: ReaderStats): AsyncGenerator<RawBatch> {
  const opened = await openRandomAccess(path, zstd, (head) => checkMagic(head, path));
  const files: RandomAccessFile[] = [opened.file];
  let unpackDir: string | null = null;
  try {
    const layout = readLayout(opened.file);
    stats.format = `trace.dat v${layout.version}`;
    stats.bufferOverwritten = layout.overrun;
    const sources: CpuSource[] = [];
    const program = layout.compression === 'zstd' && layout.buffers.some((b) => b.compressed) ? zstdProgramFor(zstd, path) : null;
    const unpacking: (() => Promise<void>)[] = [];
    for (const buffer of layout.buffers) {
      for (const region of buffer.cpus) {
        const what = `CPU ${region.cpu} data${buffer.name === '' ? '' : ` of instance '${buffer.name}'`}`;
        const index = sources.length;
        sources.push({
          cpu: region.cpu,
          buffer,
          file: opened.file,
          offset: region.offset,
          size: region.size,
          decompress: buffer.compressed ? layout.decompress : null,
          origin: null,
          what,
        });
        if (!buffer.compressed || program === null) continue;
        unpackDir ??= mkdtempSync(join(tmpdir(), 'tierlab-trace-dat-'));
        const out = join(unpackDir, `cpu-${index}`);
        unpacking.push(() =>
          unpackCpuData(program, opened.file, region.offset, region.size, layout.littleEndian, out, what).then((size) => {
            const file = new RandomAccessFile(out, path);
            files.push(file);
            if (file.size !== size) {
              throw datError({
                file: path,
                byteOffset: region.offset,
                message: `${what} decompressed to ${file.size} bytes`,
                expected: `${size} bytes (the sum of its chunk sizes)`,
                excerpt: hexExcerpt(opened.file.peek(region.offset, 16), 0),
              });
            }
            sources[index] = { ...sources[index]!, file, offset: 0, size, decompress: null, origin: region.offset };
          }),
        );
      }
    }
    await runAll(unpacking, Math.max(1, availableParallelism()));
    const merger = new Merger(files, layout, sources, batchSize, stats);
    for (;;) {
      const more = merger.fill();
      merger.flush();
      if (merger.batch.length > 0) {
        yield merger.batch;
        merger.batch.length = 0;
      }
      if (!more) break;
    }
  } finally {
    for (const file of files.slice(1)) file.close();
    opened.dispose();
    if (unpackDir !== null) rmSync(unpackDir, { recursive: true, force: true });
  }
}

/** Run the tasks, at most `limit` at a time; when some fail, throw the first error once all have settled. */
async function runAll(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** The zstd program to unpack v7 CPU data with, or null to decode in-process. */
function zstdProgramFor(zstd: 'auto' | 'program' | 'js', path: string): string | null {
  if (zstd === 'js') return null;
  const program = findZstdProgram();
  if (program === null && zstd === 'program') {
    throw new TierlabError({ code: ErrorCode.traceIo, source: READER_NAME, file: path, message: 'the zstd program is not on PATH' });
  }
  return program;
}

/**
 * Merges the per-CPU cursors like trace-cmd's tracecmd_iterate_events_multi:
 * always the CPU whose next record has the smallest timestamp, the first
 * CPU (top instance first, then by CPU id) on ties.
 */
class Merger {
  readonly batch: RawBatch;
  private readonly cursors: CpuCursor[] = [];
  private readonly decoder: Decoder;
  private readonly comms: CommTable;
  private readonly counts = new Float64Array(1 << 16);
  private readonly internIds = new Map<string, number>();
  private readonly littleEndian: boolean;
  private readonly timeOffset: number;
  private readonly tsc: { readonly multiplier: bigint; readonly shift: bigint } | null;
  private lastTime = Number.NaN;
  private current: CpuCursor | null = null;

  constructor(
    private readonly files: readonly RandomAccessFile[],
    layout: TraceDatLayout,
    sources: readonly CpuSource[],
    private readonly capacity: number,
    private readonly stats: ReaderStats,
  ) {
    const file = files[0]!;
    this.batch = createRawBatch(capacity);
    this.littleEndian = layout.littleEndian;
    this.timeOffset = layout.timeOffset;
    this.tsc = layout.tsc2nsec === null ? null : { multiplier: BigInt(layout.tsc2nsec.multiplier), shift: BigInt(layout.tsc2nsec.shift) };
    const intern = (s: string): number => {
      let id = this.internIds.get(s);
      if (id === undefined) {
        id = this.batch.strings.length;
        this.batch.strings.push(s);
        this.internIds.set(s, id);
      }
      return id;
    };
    const names = parseSavedCmdlines(layout.cmdlines);
    // The text shows comm right-aligned in 16 columns: leading blanks of a name cannot be told from padding.
    for (const [pid, comm] of names) if (comm.startsWith(' ')) names.set(pid, comm.replace(/^ +/, ''));
    this.comms = new CommTable(names, intern);
    this.decoder = new Decoder({
      formats: layout.formats,
      littleEndian: layout.littleEndian,
      batch: this.batch,
      comms: this.comms,
      intern,
      fail: (message, expected) => this.recordError(message, expected),
    });
    const headerFail = (message: string, expected: string): TierlabError =>
      datError({ file: file.file, byteOffset: 0, message: `${message} (events/header_page, header_event)`, expected, excerpt: layout.headerPage.slice(0, 60) });
    for (const source of sources) {
      const format = pageFormatOf(layout.headerPage, layout.headerEvent, layout.littleEndian, source.buffer.pageSize || layout.pageSize, headerFail);
      const cursor = new CpuCursor(source.cpu, source.file, source.offset, source.size, format, source.decompress, source.what, source.origin);
      this.current = cursor;
      cursor.advance();
      this.cursors.push(cursor);
    }
    this.current = null;
  }

  /** Fill the batch; false once every CPU is exhausted. */
  fill(): boolean {
    const batch = this.batch;
    const cursors = this.cursors;
    const count = cursors.length;
    const capacity = this.capacity;
    const decoder = this.decoder;
    const idByType = decoder.idByType;
    const typeOffset = decoder.typeOffset;
    const pidOffset = decoder.pidOffset;
    const le = this.littleEndian;
    const comms = this.comms;
    const counts = this.counts;
    while (batch.length < capacity) {
      let best: CpuCursor | null = null;
      let bestTime = 0;
      for (let i = 0; i < count; i++) {
        const c = cursors[i]!;
        if (c.has && (best === null || c.time < bestTime)) {
          best = c;
          bestTime = c.time;
        }
      }
      if (best === null) return false;
      this.current = best;
      let n = batch.length;
      if (best.missed !== 0) {
        this.lostMarker(best, n);
        n = batch.length;
        if (n >= capacity) return true;
      }
      const time = this.timeOf(bestTime);
      const view = best.view;
      const start = best.recordStart;
      if (best.recordLength < pidOffset + 4) throw this.recordError(`a record of ${best.recordLength} bytes`, 'a record with the common fields');
      const type = view.getUint16(start + typeOffset, le);
      let id = idByType[type]!;
      if (id < 0) id = decoder.resolve(type);
      const pid = view.getInt32(start + pidOffset, le);
      batch.event[n] = id;
      batch.time[n] = time;
      batch.cpu[n] = best.cpu;
      batch.tid[n] = pid;
      batch.pid[n] = -1;
      batch.comm[n] = comms.idOf(pid);
      batch.line[n] = 0;
      batch.a[n] = 0;
      batch.b[n] = 0;
      batch.c[n] = 0;
      batch.d[n] = 0;
      batch.e[n] = 0;
      decoder.decode(type, view, best.bytes, start, best.recordLength, n);
      counts[id]!++;
      if (Number.isNaN(this.lastTime)) this.stats.firstTimeNs = time;
      this.lastTime = time;
      batch.length = n + 1;
      best.advance();
    }
    return true;
  }

  /** Copy the per-event counts and totals into the stats. */
  flush(): void {
    const names = this.batch.eventNames;
    const eventCounts = this.stats.eventCounts;
    for (let id = 1; id < names.length; id++) {
      const n = this.counts[id]!;
      if (n > 0) eventCounts[names[id]!] = n;
    }
    this.stats.lastTimeNs = this.lastTime;
    let bytes = 0;
    for (const file of this.files) bytes += file.bytesRead;
    this.stats.bytesRead = bytes;
  }

  /** `CPU:n [k EVENTS DROPPED]` / `CPU:n [EVENTS DROPPED]`, printed before the record that follows the loss; it takes the previous record's time. */
  private lostMarker(cursor: CpuCursor, n: number): void {
    const batch = this.batch;
    const missed = cursor.missed;
    cursor.missed = 0;
    batch.event[n] = Tracepoint.lost;
    batch.time[n] = this.lastTime;
    batch.cpu[n] = cursor.cpu;
    batch.tid[n] = -1;
    batch.pid[n] = -1;
    batch.comm[n] = -1;
    batch.line[n] = 0;
    batch.a[n] = missed > 0 ? missed : Number.NaN;
    batch.b[n] = 0;
    batch.c[n] = 0;
    batch.d[n] = 0;
    batch.e[n] = 0;
    batch.length = n + 1;
    this.stats.lostMarkers++;
    if (missed > 0) this.stats.lostEvents += missed;
  }

  /** ns since boot as `trace-cmd report` prints it (`%6.1000d`: microseconds, rounded half up). */
  private timeOf(raw: number): number {
    let ns = raw;
    if (this.tsc !== null) ns = Number((BigInt(raw) * this.tsc.multiplier) >> this.tsc.shift);
    ns += this.timeOffset;
    const micros = Math.floor((ns + 500) / 1000);
    const seconds = Math.floor(micros / 1e6);
    return seconds * 1e9 + (micros - seconds * 1e6) * 1000;
  }

  private recordError(message: string, expected: string): TierlabError {
    const cursor = this.current;
    if (cursor === null) return datError({ file: this.files[0]!.file, byteOffset: 0, message, expected, excerpt: '' });
    return cursor.errorAtRecord(message, expected);
  }
}
