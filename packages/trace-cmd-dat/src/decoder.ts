/**
 * Record payload → RawBatch columns. Each kernel event id is looked up in a
 * typed array; the tracepoints with fixed ids get their fields a..e read at
 * the offsets of the embedded format, with the values `trace-cmd report`
 * prints (see raw-batch.ts in trace-core for what each column means).
 */

import { Tracepoint, tracepointNames } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import type { TierlabError } from '@tierlab/memory-tier-api';
import type { CommTable } from './comms.js';
import { type EventFormat, type FieldFormat, fieldOf } from './event-format.js';
import { GfpClassifier } from './gfp.js';
import { flagColumns, printTable } from './print-fmt.js';

const TWO32 = 4294967296;

/** rss_stat `type=` names in `member` order (include/linux/mm_types_task.h, NR_MM_COUNTERS). */
const RSS_MEMBERS = ['MM_FILEPAGES', 'MM_ANONPAGES', 'MM_SWAPENTS', 'MM_SHMEMPAGES'];

/** mm_lru_insertion columns: the letter printed for LruFlag bit 1 << k. */
const LRU_LETTERS = ['M', 'a', 's', 'b', 'd', 'B'];
/** PAGEMAP_* of include/trace/events/pagemap.h (6.18), when the print fmt cannot be read. */
const LRU_DEFAULT_MASKS = [0x1, 0x2, 0x8, 0x10, 0x20, 0x40];

/** Fields read, in order, for each fixed tracepoint. */
const FIELDS: Readonly<Record<number, readonly string[]>> = {
  [Tracepoint.pageFaultUser]: ['address', 'error_code'],
  [Tracepoint.mmPageAlloc]: ['pfn', 'order', 'gfp_flags', 'migratetype'],
  [Tracepoint.mmPageFree]: ['pfn', 'order'],
  [Tracepoint.rssStat]: ['mm_id', 'curr', 'member', 'size'],
  [Tracepoint.mmFilemapAdd]: ['pfn', 'i_ino', 'index', 's_dev', 'order'],
  [Tracepoint.mmFilemapDelete]: ['pfn', 'i_ino', 'index', 's_dev', 'order'],
  [Tracepoint.mmLruInsertion]: ['pfn', 'lru', 'flags'],
  [Tracepoint.mmLruActivate]: ['pfn'],
  [Tracepoint.schedProcessFork]: ['parent_pid', 'child_pid'],
  [Tracepoint.schedProcessExec]: ['pid', 'old_pid'],
  [Tracepoint.schedProcessExit]: ['pid'],
  [Tracepoint.damonAggregated]: ['target_id', 'start', 'end', 'nr_accesses', 'age'],
  [Tracepoint.writebackDirtyFolio]: ['ino', 'index'],
  // include/trace/events/migrate.h: `reason` is an int (enum migrate_reason), `mode` an enum migrate_mode.
  [Tracepoint.mmMigratePages]: ['succeeded', 'failed', 'reason'],
  [Tracepoint.mmMigratePagesStart]: ['mode', 'reason'],
};

/** The string field of the tracepoints that keep one. */
const STRING_FIELD: Readonly<Record<number, string>> = {
  [Tracepoint.schedProcessFork]: 'child_comm',
  [Tracepoint.schedProcessExec]: 'filename',
  [Tracepoint.writebackDirtyFolio]: 'name',
};

/** How to decode one kernel event. */
interface EventSpec {
  /** The batch event id (fixed or dynamic). */
  readonly id: number;
  readonly format: EventFormat | null;
  /** offset, size, signed (0/1) of each field of FIELDS[id]. */
  readonly fields: Int32Array;
  readonly stringField: FieldFormat | null;
  /** A required field the format lacks (decoding such a record is an error). */
  readonly missing: string | null;
  /** Bytes a record must have for the fields read. */
  readonly minLength: number;
  readonly gfp: GfpClassifier | null;
  /** mm_lru_insertion: the kernel mask of each LruFlag column. */
  readonly lruMasks: Int32Array | null;
  /** rss_stat: member value → index in RSS_MEMBERS (by the name the print fmt gives it), -1 when unnamed. */
  readonly rssIndex: Int32Array | null;
  /** sched_switch / sched_wakeup: [pid field, comm field] pairs whose names are registered. */
  readonly registers: readonly (readonly [FieldFormat, FieldFormat])[];
}

export interface DecoderInit {
  readonly formats: readonly EventFormat[];
  readonly littleEndian: boolean;
  readonly batch: RawBatch;
  readonly comms: CommTable;
  readonly intern: (s: string) => number;
  /** Error for a record at `start` of the current block. */
  readonly fail: (message: string, expected: string) => TierlabError;
}

export class Decoder {
  /** Offset and size of common_type / common_pid. */
  readonly typeOffset: number;
  readonly pidOffset: number;
  /** kernel event id → batch event id, -1 until first met. */
  readonly idByType = new Int32Array(65536).fill(-1);
  private readonly specByType: (EventSpec | undefined)[] = [];
  private readonly formatByType = new Map<number, EventFormat>();
  private readonly fixedIdByName = new Map<string, number>();
  private readonly dynamicIdByName = new Map<string, number>();
  private readonly le: boolean;
  private readonly batch: RawBatch;
  private readonly comms: CommTable;
  private readonly intern: (s: string) => number;
  private readonly fail: DecoderInit['fail'];

  constructor(init: DecoderInit) {
    this.le = init.littleEndian;
    this.batch = init.batch;
    this.comms = init.comms;
    this.intern = init.intern;
    this.fail = init.fail;
    for (const format of init.formats) this.formatByType.set(format.id, format);
    const sample = init.formats.find((f) => fieldOf(f, 'common_type') !== undefined);
    const type = sample === undefined ? undefined : fieldOf(sample, 'common_type');
    const pid = sample === undefined ? undefined : fieldOf(sample, 'common_pid');
    this.typeOffset = type?.offset ?? 0;
    this.pidOffset = pid?.offset ?? 4;
    if ((type !== undefined && type.size !== 2) || (pid !== undefined && pid.size !== 4)) {
      throw init.fail('unexpected common fields', 'common_type of 2 bytes and common_pid of 4 bytes');
    }
    for (let id = 1; id < Tracepoint.firstDynamic; id++) {
      const name = tracepointNames[id];
      if (name !== undefined && id !== Tracepoint.lost && FIELDS[id] !== undefined) this.fixedIdByName.set(name, id);
    }
  }

  /** The batch event id of kernel event `type`, assigning it on first sight (as the text reader does, in order of appearance). */
  resolve(type: number): number {
    const format = this.formatByType.get(type) ?? null;
    const name = format === null ? `unknown_event_${type}` : format.name;
    const fixed = this.fixedIdByName.get(name);
    let id: number;
    if (fixed !== undefined) {
      id = fixed;
    } else {
      const known = this.dynamicIdByName.get(name);
      if (known !== undefined) {
        id = known;
      } else {
        const names = this.batch.eventNames;
        id = Math.max(names.length, Tracepoint.firstDynamic);
        if (id > 0xffff) throw this.fail('more than 65535 distinct event names', 'fewer event names');
        while (names.length < id) names.push('');
        names.push(name);
        this.dynamicIdByName.set(name, id);
      }
    }
    this.specByType[type] = this.buildSpec(id, format);
    this.idByType[type] = id;
    return id;
  }

  /** Decode fields a..e of record `n` (event `type`, payload at `start` in `view`). */
  decode(type: number, view: DataView, bytes: Uint8Array, start: number, length: number, n: number): void {
    const spec = this.specByType[type]!;
    const batch = this.batch;
    const id = spec.id;
    if (id >= Tracepoint.firstDynamic) {
      if (spec.registers.length > 0 && length >= spec.minLength) this.registerComms(spec, bytes, start, length, view);
      return;
    }
    if (spec.missing !== null) throw this.fail(`the format of ${batch.eventNames[id]} has no field '${spec.missing}'`, `a field '${spec.missing}'`);
    if (length < spec.minLength) {
      throw this.fail(`a ${batch.eventNames[id]} record of ${length} bytes`, `at least ${spec.minLength} bytes (its format)`);
    }
    const f = spec.fields;
    const le = this.le;
    switch (id) {
      case Tracepoint.pageFaultUser:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        break;
      case Tracepoint.mmPageAlloc: {
        // `REC->pfn != -1UL ? REC->pfn : 0`
        batch.a[n] = allOnes(view, start + f[0]!, f[1]!, le) ? 0 : read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        const at = start + f[6]!;
        batch.c[n] = spec.gfp!.classify(low32(view, at, f[7]!, le), high32(view, at, f[7]!, le));
        batch.d[n] = read(view, start, f, 3, le);
        break;
      }
      case Tracepoint.mmPageFree:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        break;
      case Tracepoint.rssStat: {
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        const member = read(view, start, f, 2, le);
        const table = spec.rssIndex!;
        const index = member >= 0 && member < table.length ? table[member]! : -1;
        batch.c[n] = index >= 0 ? index : member;
        batch.d[n] = read(view, start, f, 3, le);
        break;
      }
      case Tracepoint.mmFilemapAdd:
      case Tracepoint.mmFilemapDelete: {
        batch.a[n] = read(view, start, f, 0, le);
        batch.d[n] = read(view, start, f, 1, le);
        batch.e[n] = read(view, start, f, 2, le);
        // `dev %d:%d` prints MAJOR (s_dev >> 20) and MINOR (s_dev & 0xfffff): major << 20 | minor is s_dev itself.
        batch.c[n] = read(view, start, f, 3, le);
        batch.b[n] = read(view, start, f, 4, le);
        break;
      }
      case Tracepoint.mmLruInsertion: {
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        // PAGEMAP_* are in the low word.
        const flags = low32(view, start + f[6]!, f[7]!, le);
        const masks = spec.lruMasks!;
        let bits = 0;
        for (let k = 0; k < 6; k++) if ((flags & masks[k]!) !== 0) bits |= 1 << k;
        batch.c[n] = bits;
        break;
      }
      case Tracepoint.mmLruActivate:
      case Tracepoint.schedProcessExit:
        batch.a[n] = read(view, start, f, 0, le);
        break;
      case Tracepoint.schedProcessFork:
      case Tracepoint.schedProcessExec:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        batch.c[n] = this.intern(stringOf(spec.stringField!, bytes, view, start, length, le));
        break;
      case Tracepoint.damonAggregated:
        batch.e[n] = read(view, start, f, 0, le);
        batch.a[n] = read(view, start, f, 1, le);
        batch.b[n] = read(view, start, f, 2, le);
        batch.c[n] = read(view, start, f, 3, le);
        batch.d[n] = read(view, start, f, 4, le);
        break;
      case Tracepoint.writebackDirtyFolio:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        batch.c[n] = bdiDev(spec.stringField!, bytes, view, start, length, le);
        break;
      case Tracepoint.mmMigratePages:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        batch.c[n] = read(view, start, f, 2, le);
        break;
      case Tracepoint.mmMigratePagesStart:
        batch.a[n] = read(view, start, f, 0, le);
        batch.b[n] = read(view, start, f, 1, le);
        break;
      default:
        break;
    }
  }

  private registerComms(spec: EventSpec, bytes: Uint8Array, start: number, length: number, view: DataView): void {
    for (const [pidField, commField] of spec.registers) {
      const pid = readField(view, start + pidField.offset, pidField.size, pidField.signed, this.le);
      this.comms.register(pid, stringOf(commField, bytes, view, start, length, this.le));
    }
  }

  private buildSpec(id: number, format: EventFormat | null): EventSpec {
    const none: EventSpec = {
      id,
      format,
      fields: new Int32Array(0),
      stringField: null,
      missing: null,
      minLength: 0,
      gfp: null,
      lruMasks: null,
      rssIndex: null,
      registers: [],
    };
    if (format === null) return none;
    if (id >= Tracepoint.firstDynamic) {
      const pairs: [FieldFormat, FieldFormat][] = [];
      let minLength = 0;
      const pair = (pidName: string, commName: string) => {
        const p = fieldOf(format, pidName);
        const c = fieldOf(format, commName);
        if (p === undefined || c === undefined || c.location !== 'inline') return;
        pairs.push([p, c]);
        minLength = Math.max(minLength, p.offset + p.size, c.offset + c.size);
      };
      if (format.system === 'sched' && format.name === 'sched_switch') {
        pair('prev_pid', 'prev_comm');
        pair('next_pid', 'next_comm');
      } else if (format.system === 'sched' && (format.name === 'sched_wakeup' || format.name === 'sched_wakeup_new')) {
        pair('pid', 'comm');
      }
      return { ...none, registers: pairs, minLength };
    }
    const names = FIELDS[id] ?? [];
    const fields = new Int32Array(names.length * 3);
    let missing: string | null = null;
    let minLength = 0;
    names.forEach((name, k) => {
      const field = fieldOf(format, name);
      if (field === undefined) {
        missing ??= name;
        return;
      }
      minLength = Math.max(minLength, field.offset + field.size);
      fields[k * 3] = field.offset;
      fields[k * 3 + 1] = field.size;
      fields[k * 3 + 2] = field.signed ? 1 : 0;
    });
    const stringName = STRING_FIELD[id];
    const stringField = stringName === undefined ? null : (fieldOf(format, stringName) ?? null);
    if (stringName !== undefined && stringField === null) missing ??= stringName;
    if (stringField !== null) minLength = Math.max(minLength, stringField.offset + (stringField.location === 'inline' ? 0 : 4));
    let gfp: GfpClassifier | null = null;
    let lruMasks: Int32Array | null = null;
    let rssIndex: Int32Array | null = null;
    if (id === Tracepoint.mmPageAlloc) gfp = new GfpClassifier(printTable(format.printFmt, '__print_flags', 'gfp_flags'));
    if (id === Tracepoint.mmLruInsertion) {
      const columns = flagColumns(format.printFmt, 'flags');
      const fromFmt = columns.length === 6 && columns.every((c, k) => c.yes === LRU_LETTERS[k]);
      lruMasks = Int32Array.from(fromFmt ? columns.map((c) => c.mask) : LRU_DEFAULT_MASKS);
    }
    if (id === Tracepoint.rssStat) {
      rssIndex = new Int32Array(64).fill(-1);
      const table = printTable(format.printFmt, '__print_symbolic', 'member');
      for (const entry of table?.entries ?? []) {
        const index = RSS_MEMBERS.indexOf(entry.name);
        const value = Number(BigInt.asIntN(64, entry.value));
        if (index >= 0 && value >= 0 && value < rssIndex.length) rssIndex[value] = index;
      }
    }
    return { ...none, fields, stringField, missing, minLength, gfp, lruMasks, rssIndex };
  }
}

/** Field k of `f` (offset, size, signed triples) of the record at `start`. */
function read(view: DataView, start: number, f: Int32Array, k: number, le: boolean): number {
  return readField(view, start + f[k * 3]!, f[k * 3 + 1]!, f[k * 3 + 2]! === 1, le);
}

/** An integer field; 64-bit values above 2^53 lose their low bits. */
export function readField(view: DataView, at: number, size: number, signed: boolean, le: boolean): number {
  switch (size) {
    case 8: {
      const a = view.getUint32(at, le);
      const b = le ? (signed ? view.getInt32(at + 4, le) : view.getUint32(at + 4, le)) : view.getUint32(at + 4, le);
      if (le) return b * TWO32 + a;
      const hi = signed ? view.getInt32(at, le) : a;
      return hi * TWO32 + b;
    }
    case 4:
      return signed ? view.getInt32(at, le) : view.getUint32(at, le);
    case 2:
      return signed ? view.getInt16(at, le) : view.getUint16(at, le);
    case 1:
      return signed ? view.getInt8(at) : view.getUint8(at);
    default:
      return Number.NaN;
  }
}

/** The low 32 bits of an unsigned field. */
function low32(view: DataView, at: number, size: number, le: boolean): number {
  if (size === 8) return view.getUint32(le ? at : at + 4, le);
  if (size === 4) return view.getUint32(at, le);
  if (size === 2) return view.getUint16(at, le);
  return view.getUint8(at);
}

/** The high 32 bits of a 64-bit field (0 for smaller ones). */
function high32(view: DataView, at: number, size: number, le: boolean): number {
  return size === 8 ? view.getUint32(le ? at + 4 : at, le) : 0;
}

function allOnes(view: DataView, at: number, size: number, le: boolean): boolean {
  if (size === 8) return view.getUint32(at, le) === 0xffffffff && view.getUint32(at + 4, le) === 0xffffffff;
  if (size === 4) return view.getUint32(at, le) === 0xffffffff;
  return false;
}

let stringStart = 0;

/** Where a string field's bytes start (in `stringStart`) and end (returned, at its NUL): inline `char[N]`, `__data_loc` or `__rel_loc`. */
function stringBounds(field: FieldFormat, bytes: Uint8Array, view: DataView, start: number, length: number, le: boolean): number {
  let from: number;
  let size: number;
  if (field.location === 'inline') {
    from = start + field.offset;
    size = field.size;
  } else {
    const word = view.getUint32(start + field.offset, le);
    size = word >>> 16;
    from = start + (word & 0xffff) + (field.location === 'rel_loc' ? field.offset + field.size : 0);
  }
  const end = Math.min(from + size, start + length);
  stringStart = from;
  if (from >= end) return from;
  let stop = from;
  while (stop < end && bytes[stop] !== 0) stop++;
  return stop;
}

/** A string field's text, up to its NUL. */
function stringOf(field: FieldFormat, bytes: Uint8Array, view: DataView, start: number, length: number, le: boolean): string {
  const stop = stringBounds(field, bytes, view, start, length, le);
  const from = stringStart;
  return stop <= from ? '' : Buffer.from(bytes.buffer, bytes.byteOffset + from, stop - from).toString('utf8');
}

/**
 * writeback's `bdi %s:` as the text reader reads it: `MAJOR:MINOR` (each an
 * optionally negative decimal, the name ending there or at another `:`) →
 * major << 20 | minor, else NaN. Read from the bytes, no string.
 */
function bdiDev(field: FieldFormat, bytes: Uint8Array, view: DataView, start: number, length: number, le: boolean): number {
  const end = stringBounds(field, bytes, view, start, length, le);
  const major = decimalAt(bytes, stringStart, end);
  let i = decimalEnd;
  if (Number.isNaN(major) || i >= end || bytes[i] !== 58 /* : */) return Number.NaN;
  const minor = decimalAt(bytes, i + 1, end);
  i = decimalEnd;
  if (Number.isNaN(minor) || (i < end && bytes[i] !== 58)) return Number.NaN;
  return major * 1048576 + minor;
}

let decimalEnd = 0;

/** An optionally negative decimal at `i` (NaN when there is none); `decimalEnd` = after it. */
function decimalAt(bytes: Uint8Array, i: number, end: number): number {
  let sign = 1;
  if (i < end && bytes[i] === 45 /* - */) {
    sign = -1;
    i++;
  }
  const first = i;
  let value = 0;
  while (i < end && bytes[i]! >= 48 && bytes[i]! <= 57) value = value * 10 + bytes[i++]! - 48;
  decimalEnd = i;
  return i === first ? Number.NaN : sign * value;
}
