/**
 * The hot path: cut ftrace-style record lines into a RawBatch, byte by byte,
 * with no string or object per line. Strings are made only for names the
 * parser has not met before (comms, event names, gfp masks, exec filenames).
 */

import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { MigrateReason, Tracepoint, excerptOf, migrateModeNames, migrateReasonNames, syntaxError, tracepointNames } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { ByteTable, hashRange, viewOf } from './byte-table.js';
import { classifyGfpFlags } from './gfp.js';
import {
  COLON,
  DASH,
  DOT,
  HASH,
  LBRACK,
  Layout,
  SLASH,
  SP,
  anchorClose,
  classifyRecordLine,
  findAnchor,
  instancePrefixEnd,
  layoutExpectation,
  layoutOf,
} from './layout.js';
import { classifyNonRecordLine } from './non-record.js';

/** The `source` of errors from this reader. */
export const READER_NAME = 'ftrace-text';

const LF = 10;
const CR = 13;

/** Four spaces read as a little-endian int32. */
const SPACES4 = 0x20202020;

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_PFN = latin1('pfn=');
const K_ORDER = latin1('order=');
const K_MIGRATETYPE = latin1('migratetype=');
const K_GFP = latin1('gfp_flags=');
const K_ADDRESS = latin1('address=');
const K_ERROR_CODE = latin1('error_code=');
const K_MM_ID = latin1('mm_id=');
const K_CURR = latin1('curr=');
const K_TYPE = latin1('type=');
const K_SIZE = latin1('size=');
const K_OFS = latin1('ofs=');
const K_LRU = latin1('lru=');
const K_FLAGS = latin1('flags=');
const K_TARGET_ID = latin1('target_id=');
const K_NR_REGIONS = latin1('nr_regions=');
const K_INO = latin1('ino=');
const K_INDEX = latin1('index=');
const K_NR_SUCCEEDED = latin1('nr_succeeded=');
const K_NR_FAILED = latin1('nr_failed=');
const K_MODE = latin1('mode=');
const K_REASON = latin1('reason=');
const K_PERF_RECORD_ = latin1('PERF_RECORD_');
const K_PERF_RECORD_LOST = latin1('PERF_RECORD_LOST');

/** rss_stat `type=` names in `member` order (include/linux/mm_types_task.h, enum NR_MM_COUNTERS). */
const RSS_MEMBERS = ['MM_FILEPAGES', 'MM_ANONPAGES', 'MM_SWAPENTS', 'MM_SHMEMPAGES'].map(latin1);

/** Migrate `reason=` names with their MigrateReason ids (`cma`: MR_CMA, the name of MR_CONTIG_RANGE before 5.x), `mode=` names with their MigrateMode ids. */
type Symbols = readonly (readonly [Uint8Array, number])[];
const MIGRATE_REASONS: Symbols = [
  ...migrateReasonNames.map((name, id) => [latin1(name), id] as const),
  [latin1('cma'), MigrateReason.contigRange],
];
const MIGRATE_MODES: Symbols = migrateModeNames.map((name, id) => [latin1(name), id] as const);

/** mm_lru_insertion `flags=` columns (include/trace/events/pagemap.h): the letter column k shows for LruFlag bit 1 << k. */
const LRU_FLAG_LETTERS = [77 /* M */, 97 /* a */, 115 /* s */, 98 /* b */, 100 /* d */, 66 /* B */];

const X = {
  pfn: "'pfn=0x…'",
  order: "'order=N'",
  migratetype: "'migratetype=N'",
  gfp: "'gfp_flags=FLAG|…'",
  address: "'address=0x…'",
  errorCode: "'error_code=0x…'",
  mmId: "'mm_id=N'",
  curr: "'curr=0|1'",
  type: "'type=MM_FILEPAGES|MM_ANONPAGES|MM_SWAPENTS|MM_SHMEMPAGES'",
  size: "'size=NB'",
  dev: "'dev MAJOR:MINOR ino HEX'",
  ofs: "'ofs=N'",
  lru: "'lru=N'",
  lruFlags: "'flags=' and 6 columns, each its letter (M a|f s b d B) or a space",
  damon: "'target_id=N nr_regions=N START-END: NR_ACCESSES AGE'",
  writeback: "'bdi MAJOR:MINOR: ino=N index=N'",
  migrate: "'nr_succeeded=N nr_failed=N … reason=REASON'",
  migrateStart: "'mode=MODE reason=REASON'",
  fork: "'comm=COMM pid=N child_comm=COMM child_pid=N'",
  exec: "'filename=PATH pid=N old_pid=N'",
  exit: "'comm=COMM pid=N …'",
  lostCount: "'PERF_RECORD_LOST lost N'",
  tid: 'the thread id after comm',
  flags: "the latency flags column (e.g. 'd..1.')",
  time: "'SECONDS.MICROS:' (at most 9 decimals)",
  event: "'EVENT: FIELDS'",
};

export interface ParserInit {
  readonly file: string;
  readonly batch: RawBatch;
  readonly stats: ReaderStats;
  /** Records per batch. */
  readonly capacity: number;
  /** Forced format, or null to detect it from the first record line. */
  readonly format: 'tracefs' | 'trace-cmd-report' | 'perf-script' | null;
}

export class LineParser {
  /** 1-based number of the next line to parse (so lines parsed = line - 1). */
  line = 1;
  private readonly file: string;
  private readonly batch: RawBatch;
  private readonly stats: ReaderStats;
  private readonly capacity: number;
  private layout: Layout;
  private readonly detecting: boolean;
  private sawRecord = false;
  private readonly strings = new ByteTable(256);
  private readonly events = new ByteTable(64);
  private readonly gfps = new ByteTable(64);
  private readonly eventIdByName = new Map<string, number>();
  private readonly counts = new Float64Array(1 << 16);
  /** Column of the last line's `[CPU]`, tried first. */
  private anchorGuess = 0;
  private lastTime = Number.NaN;
  /** The line being parsed, for errors. */
  private bytes: Buffer = Buffer.alloc(0);
  /** A DataView over `bytes`, for reading 4 bytes at a time. */
  private view: DataView = viewOf(this.bytes);
  private lineStart = 0;
  private lineEnd = 0;
  /** End of the last value a field helper read. */
  private p = 0;

  constructor(init: ParserInit) {
    this.file = init.file;
    this.batch = init.batch;
    this.stats = init.stats;
    this.capacity = init.capacity;
    this.detecting = init.format === null;
    this.layout = init.format === null ? Layout.unknown : layoutOf(init.format);
    if (init.format !== null) this.stats.format = init.format;
    for (let id = 1; id < Tracepoint.firstDynamic; id++) {
      const name = tracepointNames[id];
      if (name !== undefined && id !== Tracepoint.lost) this.eventIdByName.set(name, id);
    }
  }

  /**
   * Parse whole lines of `bytes` from `pos` until the batch is full or the
   * bytes end; returns where it stopped.
   */
  parse(bytes: Buffer, pos: number): number {
    const end = bytes.length;
    const batch = this.batch;
    const capacity = this.capacity;
    if (this.bytes !== bytes) {
      this.bytes = bytes;
      this.view = viewOf(bytes);
    }
    while (pos < end && batch.length < capacity) {
      let lineEnd = bytes.indexOf(LF, pos);
      let next: number;
      if (lineEnd < 0) {
        lineEnd = end;
        next = end;
      } else {
        next = lineEnd + 1;
      }
      if (lineEnd > pos && bytes[lineEnd - 1] === CR) lineEnd--;
      // Decoding the fields is kept out of parseLine so that each compiles (and warms up) on its own.
      const id = this.parseLine(bytes, pos, lineEnd);
      if (id > 0) {
        const n = batch.length;
        if (id < Tracepoint.firstDynamic) this.decode(id, bytes, this.p, lineEnd, n);
        this.commit(id, n);
      }
      this.line++;
      pos = next;
    }
    // Nothing but locals after the loop: code that V8 compiles on-stack in the loop and never
    // ran before would deoptimize on every call (it did, with a stats update here).
    return pos;
  }

  /** Copy the per-event counts into `stats.eventCounts`. */
  flushCounts(): void {
    const names = this.batch.eventNames;
    const eventCounts = this.stats.eventCounts;
    for (let id = 1; id < names.length; id++) {
      const n = this.counts[id]!;
      if (n > 0) eventCounts[names[id]!] = n;
    }
  }

  /**
   * Cut one line. For an event record: fill its columns but the fields,
   * set this.p to where the fields start and return its event id; else 0.
   */
  private parseLine(buf: Buffer, s: number, e: number): number {
    this.lineStart = s;
    this.lineEnd = e;
    if (s === e) {
      this.stats.otherLines++;
      return 0;
    }
    if (buf[s] === HASH) {
      this.nonRecordLine(buf, s, e);
      return 0;
    }

    // The ` [CPU] ` anchor: try last line's column, else search.
    let open = s + this.anchorGuess;
    let close = open < e && buf[open] === LBRACK ? anchorClose(buf, s, open, e) : -1;
    if (close < 0) {
      open = findAnchor(buf, s, e);
      if (open < 0) {
        this.nonRecordLine(buf, s, e);
        return 0;
      }
      close = anchorClose(buf, s, open, e);
      this.anchorGuess = open - s;
    }
    if (this.layout === Layout.unknown) this.detect(buf, s, e);
    const layout = this.layout;

    let cpu = 0;
    for (let i = open + 1; i < close; i++) cpu = cpu * 10 + buf[i]! - 48;

    // Thread id: the last number before the anchor.
    let q = open - 1;
    while (q > s && buf[q - 1] === SP) q--;
    const tidEnd = q;
    let tid = 0;
    let scale = 1;
    while (q > s) {
      const d = buf[q - 1]! - 48;
      if (d < 0 || d > 9) break;
      tid += d * scale;
      scale *= 10;
      q--;
    }
    if (q === tidEnd || q === s) throw this.fail(tidEnd, 'no thread id before [CPU]', X.tid);
    const separator = buf[q - 1];
    let pid = -1;
    let commEnd: number;
    if (layout === Layout.perf) {
      commEnd = q - 1;
      if (separator === SLASH) {
        let r = q - 1;
        pid = 0;
        scale = 1;
        while (r > s) {
          const d = buf[r - 1]! - 48;
          if (d < 0 || d > 9) break;
          pid += d * scale;
          scale *= 10;
          r--;
        }
        if (r === q - 1 || r === s || buf[r - 1] !== SP) {
          throw this.fail(r, 'malformed PID/TID', layoutExpectation(layout));
        }
        commEnd = r - 1;
      } else if (separator !== SP) {
        throw this.fail(q - 1, 'no space between comm and thread id', layoutExpectation(layout));
      }
      while (commEnd > s && buf[commEnd - 1] === SP) commEnd--;
    } else {
      if (separator !== DASH) throw this.fail(q - 1, "no '-' between comm and thread id", layoutExpectation(layout));
      commEnd = q - 1;
    }
    const view = this.view;
    let commStart = s;
    if (layout === Layout.traceCmd && buf[s] !== SP) commStart = instancePrefixEnd(buf, s, commEnd);
    while (commStart + 4 <= commEnd && view.getInt32(commStart, true) === SPACES4) commStart += 4;
    while (commStart < commEnd && buf[commStart] === SP) commStart++;
    const commHash = hashRange(buf, view, commStart, commEnd);
    let comm = this.strings.get(buf, view, commStart, commEnd, commHash);
    if (comm < 0) comm = this.addString(buf, commStart, commEnd, commHash);

    // Latency flags (tracefs; trace-cmd report -l), then the timestamp.
    let j = close + 2;
    while (j < e && buf[j] === SP) j++;
    const c0 = j < e ? buf[j]! : 0;
    if (c0 < 48 || c0 > 57) {
      if (layout === Layout.perf) throw this.fail(j, 'no timestamp after [CPU]', X.time);
      while (j < e && buf[j] !== SP) j++;
      while (j < e && buf[j] === SP) j++;
    } else if (layout === Layout.tracefs) {
      throw this.fail(j, 'no latency flags after [CPU]', X.flags);
    }
    const timeStart = j;
    let seconds = 0;
    while (j < e) {
      const d = buf[j]! - 48;
      if (d < 0 || d > 9) break;
      seconds = seconds * 10 + d;
      j++;
    }
    if (j === timeStart) throw this.fail(j, 'no timestamp', X.time);
    let time = seconds * 1e9;
    if (j < e && buf[j] === DOT) {
      j++;
      const fractionStart = j;
      let fraction = 0;
      while (j < e) {
        const d = buf[j]! - 48;
        if (d < 0 || d > 9) break;
        fraction = fraction * 10 + d;
        j++;
      }
      const digits = j - fractionStart;
      if (digits === 0 || digits > 9) throw this.fail(timeStart, 'malformed timestamp', X.time);
      time += fraction * POW10[9 - digits]!;
    }
    if (j >= e || buf[j] !== COLON) throw this.fail(j, 'malformed timestamp', X.time);
    j++;
    // perf right-aligns the event name in a wide column.
    while (j + 4 <= e && view.getInt32(j, true) === SPACES4) j += 4;
    while (j < e && buf[j] === SP) j++;

    // Event name (`mm_page_alloc`, `kmem:mm_page_alloc`) up to `: `.
    const nameStart = j;
    let named = false;
    for (; j < e; j++) {
      const c = buf[j]!;
      if (c === COLON) {
        if (j + 1 === e || buf[j + 1] === SP) {
          named = true;
          break;
        }
      } else if (c === SP) {
        break;
      }
    }

    const batch = this.batch;
    const n = batch.length;
    batch.time[n] = time;
    batch.cpu[n] = cpu;
    batch.tid[n] = tid;
    batch.pid[n] = pid;
    batch.comm[n] = comm;
    batch.line[n] = this.line;
    batch.a[n] = 0;
    batch.b[n] = 0;
    batch.c[n] = 0;
    batch.d[n] = 0;
    batch.e[n] = 0;
    if (!this.sawRecord) this.firstRecord(pid);

    if (!named || j === nameStart) {
      this.perfSideband(buf, nameStart, j, e, n);
      return 0;
    }
    const nameHash = hashRange(buf, view, nameStart, j);
    let id = this.events.get(buf, view, nameStart, j, nameHash);
    if (id < 0) id = this.addEvent(buf, nameStart, j, nameHash);
    j++;
    // trace-cmd pads the event name on the right.
    while (j + 4 <= e && view.getInt32(j, true) === SPACES4) j += 4;
    while (j < e && buf[j] === SP) j++;
    batch.event[n] = id;
    this.p = j;
    return id;
  }

  /** Count record `n`, of event `id`, whose fields are decoded. */
  private commit(id: number, n: number): void {
    const time = this.batch.time[n]!;
    this.batch.length = n + 1;
    this.counts[id]!++;
    if (Number.isNaN(this.lastTime)) this.stats.firstTimeNs = time;
    this.lastTime = time;
    this.stats.lastTimeNs = time;
  }

  // ---- fields ----------------------------------------------------------------

  /** Decode the fields (from `j`) of a fixed tracepoint into record `n`. */
  private decode(id: number, buf: Buffer, j: number, e: number, n: number): void {
    const batch = this.batch;
    switch (id) {
      case Tracepoint.pageFaultUser: {
        batch.a[n] = this.hexField(buf, j, e, K_ADDRESS, X.address);
        batch.b[n] = this.hexField(buf, this.p, e, K_ERROR_CODE, X.errorCode);
        break;
      }
      case Tracepoint.mmPageAlloc: {
        batch.a[n] = this.hexField(buf, j, e, K_PFN, X.pfn);
        batch.b[n] = this.decimalField(buf, this.p, e, K_ORDER, X.order);
        batch.d[n] = this.decimalField(buf, this.p, e, K_MIGRATETYPE, X.migratetype);
        const at = this.seek(buf, this.p, e, K_GFP);
        if (at < 0) throw this.fail(this.p, 'mm_page_alloc without gfp_flags', X.gfp);
        let i = at;
        while (i < e && buf[i] !== SP) i++;
        const h = hashRange(buf, this.view, at, i);
        let bits = this.gfps.get(buf, this.view, at, i, h);
        if (bits < 0) {
          bits = classifyGfpFlags(buf.toString('latin1', at, i));
          this.gfps.set(buf, at, i, h, bits);
        }
        batch.c[n] = bits;
        break;
      }
      case Tracepoint.mmPageFree:
        batch.a[n] = this.hexField(buf, j, e, K_PFN, X.pfn);
        batch.b[n] = this.decimalField(buf, this.p, e, K_ORDER, X.order);
        break;
      case Tracepoint.rssStat: {
        batch.a[n] = this.decimalField(buf, j, e, K_MM_ID, X.mmId);
        batch.b[n] = this.decimalField(buf, this.p, e, K_CURR, X.curr);
        const at = this.seek(buf, this.p, e, K_TYPE);
        if (at < 0) throw this.fail(this.p, 'rss_stat without type', X.type);
        // MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES differ at [3] or [4].
        const c3 = buf[at + 3];
        let member = c3 === 70 ? 0 : c3 === 65 ? 1 : c3 === 83 ? (buf[at + 4] === 87 ? 2 : 3) : -1;
        if (member >= 0) {
          const name = RSS_MEMBERS[member]!;
          const stop = at + name.length;
          let k = 0;
          if (stop <= e && (stop === e || buf[stop] === SP)) while (k < name.length && buf[at + k] === name[k]) k++;
          if (k !== name.length) member = -1;
        }
        if (member < 0) throw this.fail(at, 'unknown rss_stat type', X.type);
        batch.c[n] = member;
        const sizeAt = this.seek(buf, at, e, K_SIZE);
        const size = sizeAt < 0 ? Number.NaN : this.decimal(buf, sizeAt, e);
        if (Number.isNaN(size) || this.p >= e || buf[this.p] !== 66 /* B */) {
          throw this.fail(sizeAt < 0 ? at : sizeAt, 'malformed rss_stat size', X.size);
        }
        batch.d[n] = size;
        break;
      }
      case Tracepoint.mmFilemapAdd:
      case Tracepoint.mmFilemapDelete: {
        // dev 254:0 ino 2ce
        if (!(j + 4 < e && buf[j] === 100 && buf[j + 1] === 101 && buf[j + 2] === 118 && buf[j + 3] === SP)) {
          throw this.fail(j, 'malformed filemap fields', X.dev);
        }
        const major = this.decimal(buf, j + 4, e);
        if (Number.isNaN(major) || buf[this.p] !== COLON) throw this.fail(j + 4, 'malformed filemap dev', X.dev);
        const minor = this.decimal(buf, this.p + 1, e);
        let i = this.p;
        if (
          Number.isNaN(minor) ||
          !(i + 5 < e && buf[i] === SP && buf[i + 1] === 105 && buf[i + 2] === 110 && buf[i + 3] === 111 && buf[i + 4] === SP)
        ) {
          throw this.fail(i, 'malformed filemap dev/ino', X.dev);
        }
        i += 5;
        const inoStart = i;
        let ino = 0;
        for (; i < e; i++) {
          const d = hexDigit(buf[i]!);
          if (d < 0) break;
          ino = ino * 16 + d;
        }
        if (i === inoStart || (i < e && buf[i] !== SP)) throw this.fail(inoStart, 'malformed filemap ino', X.dev);
        batch.c[n] = major * 1048576 + minor;
        batch.d[n] = ino;
        batch.a[n] = this.hexField(buf, i, e, K_PFN, X.pfn);
        batch.e[n] = Math.floor(this.decimalField(buf, this.p, e, K_OFS, X.ofs) / 4096);
        batch.b[n] = this.decimalField(buf, this.p, e, K_ORDER, X.order);
        break;
      }
      case Tracepoint.mmLruInsertion: {
        batch.a[n] = this.hexField(buf, j, e, K_PFN, X.pfn);
        batch.b[n] = this.decimalField(buf, this.p, e, K_LRU, X.lru);
        const at = this.seek(buf, this.p, e, K_FLAGS);
        if (at < 0) throw this.fail(this.p, 'mm_lru_insertion without flags', X.lruFlags);
        // Six fixed columns, a space meaning unset; a trimmed line just ends early.
        let flags = 0;
        for (let k = 0; k < 6 && at + k < e; k++) {
          const c = buf[at + k]!;
          if (c === LRU_FLAG_LETTERS[k]) flags |= 1 << k;
          else if (c !== (k === 1 ? 102 /* f */ : SP)) throw this.fail(at + k, 'unknown mm_lru_insertion flag', X.lruFlags);
        }
        if (at + 6 < e && buf[at + 6] !== SP) throw this.fail(at + 6, 'mm_lru_insertion flags wider than 6', X.lruFlags);
        batch.c[n] = flags;
        break;
      }
      case Tracepoint.mmLruActivate:
        batch.a[n] = this.hexField(buf, j, e, K_PFN, X.pfn);
        break;
      case Tracepoint.schedProcessFork:
        this.schedProcessFork(buf, j, e, n);
        break;
      case Tracepoint.schedProcessExec:
        this.schedProcessExec(buf, j, e, n);
        break;
      case Tracepoint.schedProcessExit:
        this.schedProcessExit(buf, j, e, n);
        break;
      case Tracepoint.damonAggregated: {
        batch.e[n] = this.decimalField(buf, j, e, K_TARGET_ID, X.damon);
        this.decimalField(buf, this.p, e, K_NR_REGIONS, X.damon);
        // ` START-END: NR_ACCESSES AGE`
        let i = this.p;
        const startAt = i + 1;
        const start = i < e && buf[i] === SP ? this.decimal(buf, startAt, e) : Number.NaN;
        i = this.p;
        if (Number.isNaN(start) || buf[i] !== DASH) throw this.fail(startAt, 'malformed damon region', X.damon);
        const end = this.decimal(buf, i + 1, e);
        i = this.p;
        if (Number.isNaN(end) || buf[i] !== COLON || buf[i + 1] !== SP) throw this.fail(i, 'malformed damon region', X.damon);
        const accesses = this.decimal(buf, i + 2, e);
        i = this.p;
        if (Number.isNaN(accesses) || buf[i] !== SP) throw this.fail(i, 'malformed damon nr_accesses', X.damon);
        const age = this.decimal(buf, i + 1, e);
        i = this.p;
        if (Number.isNaN(age) || (i < e && buf[i] !== SP)) throw this.fail(i, 'malformed damon age', X.damon);
        batch.a[n] = start;
        batch.b[n] = end;
        batch.c[n] = accesses;
        batch.d[n] = age;
        break;
      }
      case Tracepoint.writebackDirtyFolio: {
        // bdi 254:0: ino=5308687 index=12 (a bdi that is not MAJOR:MINOR gives dev NaN)
        if (!(j + 4 < e && buf[j] === 98 && buf[j + 1] === 100 && buf[j + 2] === 105 && buf[j + 3] === SP)) {
          throw this.fail(j, 'malformed writeback_dirty_folio fields', X.writeback);
        }
        let dev = Number.NaN;
        const major = this.decimal(buf, j + 4, e);
        if (!Number.isNaN(major) && buf[this.p] === COLON) {
          const minor = this.decimal(buf, this.p + 1, e);
          if (!Number.isNaN(minor) && buf[this.p] === COLON) dev = major * 1048576 + minor;
        }
        batch.c[n] = dev;
        batch.a[n] = this.decimalField(buf, j + 4, e, K_INO, X.writeback);
        batch.b[n] = this.decimalField(buf, this.p, e, K_INDEX, X.writeback);
        break;
      }
      case Tracepoint.mmMigratePages:
        // Fields by name: 5.x added nr_thp_*, 6.3 nr_split; mode and reason come last.
        batch.a[n] = this.decimalField(buf, j, e, K_NR_SUCCEEDED, X.migrate);
        batch.b[n] = this.decimalField(buf, this.p, e, K_NR_FAILED, X.migrate);
        batch.c[n] = this.symbolField(buf, this.p, e, K_REASON, MIGRATE_REASONS, X.migrate);
        break;
      case Tracepoint.mmMigratePagesStart:
        batch.a[n] = this.symbolField(buf, j, e, K_MODE, MIGRATE_MODES, X.migrateStart);
        batch.b[n] = this.symbolField(buf, this.p, e, K_REASON, MIGRATE_REASONS, X.migrateStart);
        break;
      default:
        break;
    }
  }

  // comm, child_comm and filename can hold spaces: these rare events are cut from the right.

  private schedProcessFork(buf: Buffer, j: number, e: number, n: number): void {
    const childPid = lastIndexIn(buf, ' child_pid=', j, e);
    const childComm = lastIndexIn(buf, ' child_comm=', j, childPid);
    const pid = lastIndexIn(buf, ' pid=', j, childComm);
    if (pid < 0 || !startsWith(buf, j, e, 'comm=')) throw this.fail(j, 'malformed sched_process_fork', X.fork);
    const batch = this.batch;
    batch.a[n] = this.decimal(buf, pid + 5, e);
    if (this.p !== childComm) throw this.fail(pid + 5, 'malformed sched_process_fork pid', X.fork);
    batch.b[n] = this.decimal(buf, childPid + 11, e);
    if (this.p === childPid + 11 || (this.p < e && buf[this.p] !== SP)) {
      throw this.fail(childPid + 11, 'malformed sched_process_fork child_pid', X.fork);
    }
    batch.c[n] = this.internRange(buf, childComm + 12, childPid);
  }

  private schedProcessExec(buf: Buffer, j: number, e: number, n: number): void {
    const oldPid = lastIndexIn(buf, ' old_pid=', j, e);
    const pid = lastIndexIn(buf, ' pid=', j, oldPid);
    if (pid < 0 || !startsWith(buf, j, e, 'filename=')) throw this.fail(j, 'malformed sched_process_exec', X.exec);
    const batch = this.batch;
    batch.a[n] = this.decimal(buf, pid + 5, e);
    if (this.p !== oldPid) throw this.fail(pid + 5, 'malformed sched_process_exec pid', X.exec);
    batch.b[n] = this.decimal(buf, oldPid + 9, e);
    if (this.p === oldPid + 9 || (this.p < e && buf[this.p] !== SP)) {
      throw this.fail(oldPid + 9, 'malformed sched_process_exec old_pid', X.exec);
    }
    batch.c[n] = this.internRange(buf, j + 9, pid);
  }

  private schedProcessExit(buf: Buffer, j: number, e: number, n: number): void {
    const pid = lastIndexIn(buf, ' pid=', j, e);
    if (pid < 0 || !startsWith(buf, j, e, 'comm=')) throw this.fail(j, 'malformed sched_process_exit', X.exit);
    this.batch.a[n] = this.decimal(buf, pid + 5, e);
    if (this.p === pid + 5 || (this.p < e && buf[this.p] !== SP)) {
      throw this.fail(pid + 5, 'malformed sched_process_exit pid', X.exit);
    }
  }

  // ---- field helpers -----------------------------------------------------------

  /** Position after `key` where it starts a field (at `from` or after a space) in [from, e), or -1. */
  private seek(buf: Buffer, from: number, e: number, key: Uint8Array): number {
    const k0 = key[0];
    const length = key.length;
    let i = from;
    while (i + length <= e) {
      if (buf[i] === k0) {
        let m = 1;
        while (m < length && buf[i + m] === key[m]) m++;
        if (m === length) return i + length;
      }
      while (i < e && buf[i] !== SP) i++;
      i++;
    }
    return -1;
  }

  /** `key0x…` → its value; this.p = after the value, which must end the field. */
  private hexField(buf: Buffer, from: number, e: number, key: Uint8Array, expected: string): number {
    const at = this.seek(buf, from, e, key);
    if (at < 0) throw this.fail(from, `missing ${expected}`, expected);
    if (!(at + 2 < e && buf[at] === 48 && buf[at + 1] === 120)) throw this.fail(at, 'not a hex value', expected);
    let value = 0;
    let i = at + 2;
    for (; i < e; i++) {
      const d = hexDigit(buf[i]!);
      if (d < 0) break;
      value = value * 16 + d;
    }
    if (i === at + 2 || (i < e && buf[i] !== SP)) throw this.fail(at, 'not a hex value', expected);
    this.p = i;
    return value;
  }

  /** `keyN` → N; this.p = after the value, which must end the field. */
  private decimalField(buf: Buffer, from: number, e: number, key: Uint8Array, expected: string): number {
    const at = this.seek(buf, from, e, key);
    if (at < 0) throw this.fail(from, `missing ${expected}`, expected);
    const value = this.decimal(buf, at, e);
    if (Number.isNaN(value) || (this.p < e && buf[this.p] !== SP)) throw this.fail(at, 'not a decimal value', expected);
    return value;
  }

  /**
   * `keyNAME` → the id of NAME in `symbols` (a `__print_symbolic` field); a value the
   * kernel's table lacks prints as `0x…`, read as that number; another name → -1
   * (a newer kernel's). this.p = after the value.
   */
  private symbolField(buf: Buffer, from: number, e: number, key: Uint8Array, symbols: Symbols, expected: string): number {
    const at = this.seek(buf, from, e, key);
    if (at < 0) throw this.fail(from, `missing ${expected}`, expected);
    let end = at;
    while (end < e && buf[end] !== SP) end++;
    if (end === at) throw this.fail(at, 'an empty value', expected);
    this.p = end;
    for (const [name, id] of symbols) if (equalsBytes(buf, at, end, name)) return id;
    if (end - at > 2 && buf[at] === 48 && buf[at + 1] === 120) {
      let value = 0;
      for (let i = at + 2; i < end; i++) {
        const d = hexDigit(buf[i]!);
        if (d < 0) return -1;
        value = value * 16 + d;
      }
      return value;
    }
    return -1;
  }

  /** An optionally negative decimal at `at` (NaN when there is none); this.p = after it. */
  private decimal(buf: Buffer, at: number, e: number): number {
    let i = at;
    let sign = 1;
    if (i < e && buf[i] === DASH) {
      sign = -1;
      i++;
    }
    const digitsStart = i;
    let value = 0;
    while (i < e) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      i++;
    }
    this.p = i;
    return i === digitsStart ? Number.NaN : sign * value;
  }

  // ---- tables ------------------------------------------------------------------

  private addString(buf: Buffer, start: number, end: number, hash: number): number {
    const strings = this.batch.strings;
    const id = strings.length;
    strings.push(buf.toString('utf8', start, end));
    this.strings.set(buf, start, end, hash, id);
    return id;
  }

  private internRange(buf: Buffer, start: number, end: number): number {
    const hash = hashRange(buf, this.view, start, end);
    const id = this.strings.get(buf, this.view, start, end, hash);
    return id >= 0 ? id : this.addString(buf, start, end, hash);
  }

  private addEvent(buf: Buffer, start: number, end: number, hash: number): number {
    const token = buf.toString('utf8', start, end);
    const name = token.slice(token.lastIndexOf(':') + 1);
    let id = this.eventIdByName.get(name);
    if (id === undefined) {
      const names = this.batch.eventNames;
      id = Math.max(names.length, Tracepoint.firstDynamic);
      if (id > 0xffff) throw this.fail(start, 'more than 65535 distinct event names', 'fewer event names');
      while (names.length < id) names.push('');
      names.push(name);
      this.eventIdByName.set(name, id);
    }
    this.events.set(buf, start, end, hash, id);
    return id;
  }

  // ---- the rare lines ----------------------------------------------------------------

  private detect(buf: Buffer, s: number, e: number): void {
    const format = classifyRecordLine(buf, s, e);
    if (format === null) throw this.formatError(s, e);
    this.layout = layoutOf(format);
    this.stats.format = format;
  }

  private firstRecord(pid: number): void {
    this.sawRecord = true;
    if (this.layout === Layout.perf) this.stats.format = pid >= 0 ? 'perf-script-F' : 'perf-script';
  }

  /** An anchored line whose "event" is not `NAME:` — perf's `PERF_RECORD_LOST lost 330` and kin. */
  private perfSideband(buf: Buffer, nameStart: number, nameEnd: number, e: number, n: number): void {
    if (!startsWithBytes(buf, nameStart, nameEnd, K_PERF_RECORD_)) {
      throw this.fail(nameStart, 'no event name', X.event);
    }
    if (nameEnd - nameStart !== K_PERF_RECORD_LOST.length || !startsWithBytes(buf, nameStart, nameEnd, K_PERF_RECORD_LOST)) {
      this.stats.otherLines++;
      return;
    }
    if (!startsWith(buf, nameEnd, e, ' lost ')) throw this.fail(nameEnd, 'malformed PERF_RECORD_LOST', X.lostCount);
    const count = this.decimal(buf, nameEnd + 6, e);
    if (Number.isNaN(count) || (this.p < e && buf[this.p] !== SP)) {
      throw this.fail(nameEnd + 6, 'malformed PERF_RECORD_LOST', X.lostCount);
    }
    const batch = this.batch;
    batch.event[n] = Tracepoint.lost;
    batch.a[n] = count;
    batch.length = n + 1;
    this.stats.lostMarkers++;
    this.stats.lostEvents += count;
  }

  private nonRecordLine(buf: Buffer, s: number, e: number): void {
    const kind = classifyNonRecordLine(buf.toString('latin1', s, e));
    if (kind === null) {
      if (this.detecting && !this.sawRecord) throw this.formatError(s, e);
      throw this.fail(s, 'not a trace record', layoutExpectation(this.layout));
    }
    if (kind.kind === 'header') {
      this.stats.headerLines++;
      this.stats.bufferOverwritten += kind.overwritten;
    } else if (kind.kind === 'other') {
      this.stats.otherLines++;
    } else {
      const batch = this.batch;
      const n = batch.length;
      batch.event[n] = Tracepoint.lost;
      batch.time[n] = this.lastTime;
      batch.cpu[n] = kind.cpu;
      batch.tid[n] = -1;
      batch.pid[n] = -1;
      batch.comm[n] = -1;
      batch.line[n] = this.line;
      batch.a[n] = kind.count;
      batch.b[n] = 0;
      batch.c[n] = 0;
      batch.d[n] = 0;
      batch.e[n] = 0;
      batch.length = n + 1;
      this.stats.lostMarkers++;
      if (!Number.isNaN(kind.count)) this.stats.lostEvents += kind.count;
    }
  }

  // ---- errors --------------------------------------------------------------------

  private fail(at: number, message: string, expected: string): TierlabError {
    return syntaxError({
      reader: READER_NAME,
      file: this.file,
      line: this.line,
      column: Math.max(1, at - this.lineStart + 1),
      message,
      expected,
      excerpt: excerptOf(this.bytes, this.lineStart, this.lineEnd),
    });
  }

  private formatError(s: number, e: number): TierlabError {
    return new TierlabError({
      code: ErrorCode.traceFormat,
      source: READER_NAME,
      file: this.file,
      line: this.line,
      column: 1,
      message: 'not an ftrace-style text trace',
      expected: layoutExpectation(Layout.unknown),
      excerpt: excerptOf(this.bytes, s, e),
    });
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Start of the last `needle` lying wholly inside [from, to), or -1. */
function lastIndexIn(buf: Buffer, needle: string, from: number, to: number): number {
  if (from < 0 || to - from < needle.length) return -1;
  const at = buf.lastIndexOf(needle, to - needle.length, 'latin1');
  return at >= from ? at : -1;
}

function startsWith(buf: Buffer, at: number, e: number, prefix: string): boolean {
  if (at + prefix.length > e) return false;
  for (let k = 0; k < prefix.length; k++) if (buf[at + k] !== prefix.charCodeAt(k)) return false;
  return true;
}

function equalsBytes(buf: Buffer, at: number, end: number, name: Uint8Array): boolean {
  if (end - at !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (buf[at + k] !== name[k]) return false;
  return true;
}

function startsWithBytes(buf: Buffer, at: number, e: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > e) return false;
  for (let k = 0; k < prefix.length; k++) if (buf[at + k] !== prefix[k]) return false;
  return true;
}

