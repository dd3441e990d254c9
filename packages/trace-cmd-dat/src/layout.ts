/**
 * The metadata of a trace.dat (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)):
 * header, options, header_page/header_event, event formats, saved cmdlines,
 * and where each buffer instance keeps its per-CPU ring-buffer pages.
 * kallsyms and trace_printk formats are skipped.
 */

import { decompressorFor } from './compression.js';
import type { Decompress } from './compression.js';
import { type Cursor, FileCursor, SectionCursor } from './cursor.js';
import { datError, hexExcerpt } from './errors.js';
import { type EventFormat, parseEventFormat } from './event-format.js';
import type { RandomAccessFile } from './file.js';

/** "\x17\x08\x44tracing" */
export const MAGIC = Uint8Array.from([0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]);

/** Option ids (trace-cmd.dat.v7(5), OPTIONS SECTION). */
const Option = {
  done: 0,
  date: 1,
  cpuStat: 2,
  buffer: 3,
  traceClock: 4,
  offset: 7,
  cpuCount: 8,
  tsc2nsec: 14,
  headerInfo: 16,
  ftraceEvents: 17,
  eventFormats: 18,
  kallsyms: 19,
  printk: 20,
  cmdlines: 21,
  bufferText: 22,
} as const;

/** Section flag: the section is compressed. */
const SECTION_COMPRESSED = 1;

export interface CpuRegion {
  readonly cpu: number;
  /** File offset of the CPU's pages (v7 compressed: of the chunk count). */
  readonly offset: number;
  /** Bytes in the file (v7 compressed: the compressed size). */
  readonly size: number;
}

export interface TraceBuffer {
  /** The ftrace instance (`-B name`); '' for the top instance. */
  readonly name: string;
  readonly clock: string;
  readonly pageSize: number;
  /** v7: the pages are stored in compressed chunks. */
  readonly compressed: boolean;
  /** Sorted by CPU id. */
  readonly cpus: readonly CpuRegion[];
}

export interface TraceDatLayout {
  readonly version: 6 | 7;
  readonly littleEndian: boolean;
  /** `long` of the traced user space, bytes. */
  readonly longSize: number;
  readonly pageSize: number;
  /** v7 compression algorithm (`zstd`, `zlib`), `none` for v6 or an uncompressed v7. */
  readonly compression: string;
  readonly decompress: Decompress | null;
  /** events/header_page and events/header_event, as text. */
  readonly headerPage: string;
  readonly headerEvent: string;
  readonly formats: readonly EventFormat[];
  /** The saved_cmdlines text (`PID COMM` lines). */
  readonly cmdlines: string;
  /** Buffers with data: the top instance first, then the instances in option order. */
  readonly buffers: readonly TraceBuffer[];
  /** Added to every timestamp (OFFSET and DATE options), ns. */
  readonly timeOffset: number;
  /** TSC2NSEC option, or null. */
  readonly tsc2nsec: { readonly multiplier: number; readonly shift: number } | null;
  /** Sum of `overrun:` of the CPUSTAT options: events the ring buffers overwrote. */
  readonly overrun: number;
}

interface OptionState {
  readonly version: 6 | 7;
  timeOffset: number;
  tsc2nsec: { multiplier: number; shift: number } | null;
  overrun: number;
  traceClock: string;
  cpuCount: number;
  sections: Map<number, number>;
  /** v6: name and offset of each instance. v7: the parsed instance. */
  v6Buffers: { name: string; offset: number }[];
  v7Buffers: { name: string; clock: string; pageSize: number; sectionOffset: number; cpus: CpuRegion[]; latency: boolean }[];
}

/** Read the layout of the trace.dat in `file`. */
export function readLayout(file: RandomAccessFile): TraceDatLayout {
  const head = file.peek(0, MAGIC.length);
  for (let i = 0; i < MAGIC.length; i++) {
    if (head[i] !== MAGIC[i]) {
      throw datError({
        file: file.file,
        byteOffset: 0,
        message: 'not a trace.dat file (bad magic)',
        expected: 'magic 17 08 44 74 72 61 63 69 6e 67 ("\\x17\\x08Dtracing")',
        excerpt: hexExcerpt(file.peek(0, 16), 0),
      });
    }
  }
  // Byte order is not known before the endian byte; the version string and that byte need none.
  const probe = new FileCursor(file, MAGIC.length, true);
  const versionText = probe.cstring('the version string');
  if (versionText !== '6' && versionText !== '7') {
    throw datError({
      file: file.file,
      byteOffset: MAGIC.length,
      message: `unsupported trace.dat version '${versionText}'`,
      expected: "version '6' or '7'",
      excerpt: hexExcerpt(file.peek(MAGIC.length, 16), 0),
    });
  }
  const endianAt = probe.pos;
  const endian = probe.u8('the endian byte');
  if (endian > 1) throw probe.fail('bad endian byte', '0 (little endian) or 1 (big endian)', endianAt);
  const littleEndian = endian === 0;
  const cursor = new FileCursor(file, probe.pos, littleEndian);
  const longSizeAt = cursor.pos;
  const longSize = cursor.u8('the long size byte');
  if (longSize !== 4 && longSize !== 8) throw cursor.fail('bad long size', '4 or 8', longSizeAt);
  const pageSizeAt = cursor.pos;
  const pageSize = cursor.u32('the page size');
  if (pageSize < 64 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) {
    throw cursor.fail(`bad page size ${pageSize}`, 'a power of two page size', pageSizeAt);
  }
  const base = { littleEndian, longSize, pageSize };
  return versionText === '6' ? readV6(file, cursor, base) : readV7(file, cursor, base);
}

interface Base {
  readonly littleEndian: boolean;
  readonly longSize: number;
  readonly pageSize: number;
}

function newOptionState(version: 6 | 7): OptionState {
  return {
    version,
    timeOffset: 0,
    tsc2nsec: null,
    overrun: 0,
    traceClock: '',
    cpuCount: 0,
    sections: new Map(),
    v6Buffers: [],
    v7Buffers: [],
  };
}

// ---- v6 ------------------------------------------------------------------------

function readV6(file: RandomAccessFile, cursor: FileCursor, base: Base): TraceDatLayout {
  const { headerPage, headerEvent } = readHeaderInfo(cursor);
  const formats = [...readFtraceFormats(cursor), ...readEventFormats(cursor)];
  cursor.skip(cursor.u32('the kallsyms size'), 'the kallsyms data');
  cursor.skip(cursor.u32('the trace_printk formats size'), 'the trace_printk formats');
  const cmdlines = cursor.text(cursor.u64('the saved cmdlines size'), 'the saved cmdlines');
  const cpus = cursor.u32('the CPU count');
  const options = newOptionState(6);
  const top = readV6Data(file, cursor, cpus, options, '');
  const buffers: TraceBuffer[] = [];
  if (top.cpus.length > 0) buffers.push(top);
  for (const instance of options.v6Buffers) {
    const at = new FileCursor(file, instance.offset, base.littleEndian);
    const buffer = readV6Data(file, at, cpus, newOptionState(6), instance.name);
    if (buffer.cpus.length > 0) buffers.push(buffer);
  }
  checkRegions(file, buffers);
  return {
    version: 6,
    ...base,
    compression: 'none',
    decompress: null,
    headerPage,
    headerEvent,
    formats,
    cmdlines,
    buffers,
    timeOffset: options.timeOffset,
    tsc2nsec: options.tsc2nsec,
    overrun: options.overrun,
  };
}

/** `options  \0` (options) then `flyrecord\0` (per-CPU offset and size) or `latency  \0`. */
function readV6Data(file: RandomAccessFile, cursor: FileCursor, cpus: number, options: OptionState, name: string): TraceBuffer {
  let tagAt = cursor.pos;
  let tag = cursor.text(10, "'options', 'flyrecord' or 'latency'");
  if (tag === 'options  \0') {
    for (;;) {
      const id = cursor.u16('an option id');
      if (id === Option.done) break;
      const size = cursor.u32('an option size');
      handleOption(options, id, cursor.take(size, `option ${id} (${size} bytes)`), cursor, file.file);
    }
    tagAt = cursor.pos;
    tag = cursor.text(10, "'flyrecord' or 'latency'");
  }
  if (tag === 'latency  \0') {
    throw cursor.fail('a latency trace (the ASCII output of a latency tracer) has no binary records', "'flyrecord'", tagAt);
  }
  if (tag !== 'flyrecord\0') throw cursor.fail('unknown data section', "'options  ', 'flyrecord' or 'latency  '", tagAt);
  const regions: CpuRegion[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const offset = cursor.u64(`the data offset of CPU ${cpu}`);
    const size = cursor.u64(`the data size of CPU ${cpu}`);
    if (size > 0) regions.push({ cpu, offset, size });
  }
  return { name, clock: options.traceClock, pageSize: 0, compressed: false, cpus: regions };
}

// ---- v7 ------------------------------------------------------------------------

function readV7(file: RandomAccessFile, cursor: FileCursor, base: Base): TraceDatLayout {
  const compression = cursor.cstring('the compression name');
  cursor.cstring('the compression version');
  const decompress = compression === 'none' ? null : decompressorFor(compression);
  if (compression !== 'none' && decompress === null) {
    throw cursor.fail(`unsupported compression '${compression}'`, "'none', 'zstd' or 'zlib'", cursor.pos - 1);
  }
  const reader = new SectionReader(file, base.littleEndian, decompress);
  const options = newOptionState(7);
  let next = cursor.u64('the offset of the first options section');
  const seen = new Set<number>();
  while (next !== 0) {
    if (seen.has(next)) throw reader.failAt(next, 'options sections form a loop', 'a chain of options sections ending in 0');
    seen.add(next);
    const section = reader.open(next, Option.done, 'options');
    next = 0;
    while (section.pos < section.end) {
      const id = section.u16('an option id');
      const size = section.u32('an option size');
      const data = section.take(size, `option ${id} (${size} bytes)`);
      if (id === Option.done) {
        next = new SectionCursor(data, base.littleEndian, file.file, section.pos, 'DONE option').u64('the next options offset');
        break;
      }
      handleOption(options, id, data, section, file.file);
    }
  }

  const headerInfoAt = options.sections.get(Option.headerInfo);
  if (headerInfoAt === undefined) throw reader.failAt(0, 'no HEADER_INFO option', 'a HEADER_INFO option (id 16)');
  const { headerPage, headerEvent } = readHeaderInfo(reader.open(headerInfoAt, Option.headerInfo, 'HEADER_INFO'));
  const formats: EventFormat[] = [];
  const ftraceAt = options.sections.get(Option.ftraceEvents);
  if (ftraceAt !== undefined) formats.push(...readFtraceFormats(reader.open(ftraceAt, Option.ftraceEvents, 'FTRACE_EVENTS')));
  const eventsAt = options.sections.get(Option.eventFormats);
  if (eventsAt !== undefined) formats.push(...readEventFormats(reader.open(eventsAt, Option.eventFormats, 'EVENT_FORMATS')));
  const cmdlinesAt = options.sections.get(Option.cmdlines);
  let cmdlines = '';
  if (cmdlinesAt !== undefined) {
    const section = reader.open(cmdlinesAt, Option.cmdlines, 'CMDLINES');
    cmdlines = section.text(section.u64('the saved cmdlines size'), 'the saved cmdlines');
  }

  const buffers: TraceBuffer[] = [];
  // trace-cmd reads the top instance (name '') first, then the others in option order.
  const ordered = [...options.v7Buffers.filter((b) => b.name === ''), ...options.v7Buffers.filter((b) => b.name !== '')];
  for (const b of ordered) {
    if (b.latency || b.cpus.length === 0) continue;
    const header = reader.header(b.sectionOffset, Option.buffer, `BUFFER '${b.name}'`);
    const compressed = (header.flags & SECTION_COMPRESSED) !== 0;
    if (compressed && decompress === null) {
      throw reader.failAt(b.sectionOffset, `buffer '${b.name}' is compressed but the file names no compression`, 'a compression algorithm in the file header');
    }
    buffers.push({
      name: b.name,
      clock: b.clock,
      pageSize: b.pageSize,
      compressed,
      cpus: b.cpus.filter((c) => c.size > 0).sort((x, y) => x.cpu - y.cpu),
    });
  }
  checkRegions(file, buffers);
  return {
    version: 7,
    ...base,
    compression,
    decompress,
    headerPage,
    headerEvent,
    formats,
    cmdlines,
    buffers,
    timeOffset: options.timeOffset,
    tsc2nsec: options.tsc2nsec,
    overrun: options.overrun,
  };
}

/** Section headers (id, flags, description, size) and their data, decompressed when flagged. */
class SectionReader {
  constructor(
    private readonly file: RandomAccessFile,
    private readonly littleEndian: boolean,
    private readonly decompress: Decompress | null,
  ) {}

  header(offset: number, id: number, name: string): { flags: number; size: number; dataAt: number } {
    const cursor = new FileCursor(this.file, offset, this.littleEndian);
    const gotId = cursor.u16(`the ${name} section header at byte ${offset}`);
    if (gotId !== id) throw cursor.fail(`section id ${gotId} where the ${name} section should be`, `section id ${id}`, offset);
    const flags = cursor.u16(`the ${name} section flags`);
    cursor.u32(`the ${name} section description`);
    const size = cursor.u64(`the ${name} section size`);
    return { flags, size, dataAt: cursor.pos };
  }

  /** A cursor over the section's (decompressed) data. */
  open(offset: number, id: number, name: string): Cursor {
    const { flags, size, dataAt } = this.header(offset, id, name);
    if ((flags & SECTION_COMPRESSED) === 0) {
      const data = this.file.read(dataAt, size, `the ${name} section (${size} bytes)`);
      return new SectionCursor(data, this.littleEndian, this.file.file, offset, name);
    }
    if (this.decompress === null) throw this.failAt(offset, `the ${name} section is compressed but the file names no compression`, 'an uncompressed section');
    const cursor = new FileCursor(this.file, dataAt, this.littleEndian);
    const compressedSize = cursor.u32(`the ${name} section compressed size`);
    const uncompressedSize = cursor.u32(`the ${name} section uncompressed size`);
    const source = this.file.read(cursor.pos, compressedSize, `the compressed ${name} section (${compressedSize} bytes)`);
    let data: Uint8Array;
    try {
      data = this.decompress(source, uncompressedSize);
    } catch (cause) {
      throw this.failAt(offset, `the ${name} section does not decompress (${String(cause)})`, `${compressedSize} bytes of compressed data`);
    }
    if (data.length !== uncompressedSize) {
      throw this.failAt(offset, `the ${name} section decompressed to ${data.length} bytes`, `${uncompressedSize} bytes`);
    }
    return new SectionCursor(data, this.littleEndian, this.file.file, offset, name);
  }

  failAt(offset: number, message: string, expected: string): ReturnType<typeof datError> {
    return datError({ file: this.file.file, byteOffset: offset, message, expected, excerpt: hexExcerpt(this.file.peek(offset, 16), 0) });
  }
}

// ---- shared pieces -------------------------------------------------------------

function expectText(cursor: Cursor, text: string): void {
  const at = cursor.pos;
  const got = cursor.text(text.length, `'${text.replace('\0', '\\0')}'`);
  if (got !== text) throw cursor.fail(`expected '${text.replace('\0', '\\0')}'`, `'${text.replace('\0', '\\0')}'`, at);
}

function readHeaderInfo(cursor: Cursor): { headerPage: string; headerEvent: string } {
  expectText(cursor, 'header_page\0');
  const headerPage = cursor.text(cursor.u64('the header_page size'), 'the header_page format');
  expectText(cursor, 'header_event\0');
  const headerEvent = cursor.text(cursor.u64('the header_event size'), 'the header_event format');
  return { headerPage, headerEvent };
}

function readFtraceFormats(cursor: Cursor): EventFormat[] {
  const out: EventFormat[] = [];
  const count = cursor.u32('the ftrace format count');
  for (let i = 0; i < count; i++) {
    const format = parseEventFormat(cursor.text(cursor.u64('an ftrace format size'), 'an ftrace event format'), 'ftrace');
    if (format !== null) out.push(format);
  }
  return out;
}

function readEventFormats(cursor: Cursor): EventFormat[] {
  const out: EventFormat[] = [];
  const systems = cursor.u32('the event system count');
  for (let s = 0; s < systems; s++) {
    const system = cursor.cstring('an event system name');
    const count = cursor.u32(`the event count of system '${system}'`);
    for (let i = 0; i < count; i++) {
      const format = parseEventFormat(cursor.text(cursor.u64(`an event format size (${system})`), `an event format of '${system}'`), system);
      if (format !== null) out.push(format);
    }
  }
  return out;
}

const latin1 = new TextDecoder('latin1');

/** C `strtoll(s, NULL, 0)`: optional sign, then 0x hex, 0 octal or decimal. */
function parseCInteger(text: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (m === null) return 0;
  const digits = m[2]!;
  const value = /^0[xX]/.test(digits) ? Number.parseInt(digits.slice(2), 16) : digits.length > 1 && digits[0] === '0' ? Number.parseInt(digits, 8) : Number(digits);
  return m[1] === '-' ? -value : value;
}

function handleOption(options: OptionState, id: number, data: Uint8Array, cursor: Cursor, file: string): void {
  const le = cursor.littleEndian;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const sub = () => new SectionCursor(data, le, file, cursor.pos - data.length, `option ${id}`);
  const nulText = () => {
    const nul = data.indexOf(0);
    return latin1.decode(nul < 0 ? data : data.subarray(0, nul));
  };
  switch (id) {
    case Option.date:
      options.timeOffset += parseCInteger(nulText()) * 1000;
      break;
    case Option.offset:
      options.timeOffset += parseCInteger(nulText());
      break;
    case Option.cpuStat:
      for (const m of nulText().matchAll(/^overrun:\s*(\d+)/gm)) options.overrun += Number(m[1]);
      break;
    case Option.traceClock: {
      const m = /\[([^\]]+)\]/.exec(nulText());
      if (m !== null) options.traceClock = m[1]!;
      break;
    }
    case Option.cpuCount:
      if (data.length >= 4) options.cpuCount = view.getUint32(0, le);
      break;
    case Option.tsc2nsec:
      if (data.length >= 16) options.tsc2nsec = { multiplier: view.getUint32(0, le), shift: view.getUint32(4, le) };
      break;
    case Option.headerInfo:
    case Option.ftraceEvents:
    case Option.eventFormats:
    case Option.kallsyms:
    case Option.printk:
    case Option.cmdlines:
      if (data.length >= 8) options.sections.set(id, sub().u64(`the offset in option ${id}`));
      break;
    case Option.buffer:
    case Option.bufferText: {
      const c = sub();
      const offset = c.u64('the buffer offset');
      const name = c.cstring('the buffer name');
      if (options.version === 6) {
        // v6: the offset of the instance's own 'flyrecord' block, and its name.
        if (id === Option.buffer) options.v6Buffers.push({ name, offset });
        break;
      }
      const clock = c.cstring('the buffer clock');
      if (id === Option.bufferText) {
        options.v7Buffers.push({ name, clock, pageSize: 0, sectionOffset: offset, cpus: [], latency: true });
        break;
      }
      const pageSize = c.u32('the buffer page size');
      const count = c.u32('the buffer CPU count');
      const cpus: CpuRegion[] = [];
      for (let i = 0; i < count; i++) {
        const cpu = c.u32('a buffer CPU id');
        const cpuOffset = c.u64(`the data offset of CPU ${cpu}`);
        const size = c.u64(`the data size of CPU ${cpu}`);
        cpus.push({ cpu, offset: cpuOffset, size });
      }
      options.v7Buffers.push({ name, clock, pageSize, sectionOffset: offset, cpus, latency: false });
      break;
    }
    default:
      break;
  }
}

/** Every CPU region must lie inside the file (trace-cmd: "File possibly truncated"). */
function checkRegions(file: RandomAccessFile, buffers: readonly TraceBuffer[]): void {
  for (const buffer of buffers) {
    for (const region of buffer.cpus) {
      if (region.offset + region.size > file.size) {
        throw file.truncated(
          region.offset + region.size,
          `${region.size} bytes of CPU ${region.cpu} data${buffer.name === '' ? '' : ` of instance '${buffer.name}'`} at byte ${region.offset}`,
        );
      }
    }
  }
}
