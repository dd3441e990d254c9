/**
 * The hot path. Parsing cuts records out of byte buffers and queues each
 * timed record by reference (buffer id, offset); delivery, in `perf script`
 * order, decodes tracepoint samples straight from their raw payload into
 * the RawBatch and applies COMM/FORK records to the thread table. Buffers
 * stay alive while queued records point into them.
 */

import { Tracepoint } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { Decompress } from 'fzstd';
import { hexExcerpt, perfSyntaxError } from './errors.js';
import { EventTable, FieldLoc, MAX_FIELDS, NumCode } from './events.js';
import { parseAttr, u64 } from './header.js';
import type { PerfAttr } from './header.js';
import { OrderedQueue } from './ordered-queue.js';
import { EVENT_HEADER_SIZE, PERF_TYPE_TRACEPOINT, ReadFormat, RecordType, Sample } from './perf-abi.js';
import { ThreadTable } from './threads.js';
import { TracingDataError, parseTracingData } from './tracing-data.js';

/** Why `run` returned. */
export const Status = {
  /** The buffer ends inside a record (or at its end): give more bytes. */
  needMore: 0,
  /** A FINISHED_ROUND: deliver a round. */
  round: 1,
  /** The batch is full (records delivered at once). */
  batchFull: 2,
  /** A COMPRESSED record was decompressed: run `inner` next. */
  inner: 3,
} as const;
export type Status = (typeof Status)[keyof typeof Status];
// The same as plain constants for the hot loop (a property load that never ran deoptimizes it).
const NEED_MORE = Status.needMore;
const ROUND = Status.round;
const BATCH_FULL = Status.batchFull;
const INNER = Status.inner;

/** A window of bytes being parsed; `id` names its buffer for queued references. */
export class Cursor {
  buf: Buffer = Buffer.alloc(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  pos = 0;
  end = 0;
  /** Offset of buf[0] in the (decompressed) perf.data stream, for errors; NaN inside compressed data. */
  base = 0;
  id = -1;

  /** The bytes not parsed yet. */
  rest(): Buffer {
    return this.buf.subarray(this.pos, this.end);
  }
}

/** Extra counters of the perf.data reader. */
export interface PerfReaderStats extends ReaderStats {
  /** PERF_RECORD_LOST_SAMPLES records and the samples they say were lost (perf script does not print these). */
  lostSampleRecords: number;
  lostSamples: number;
  /** Samples of events that are not tracepoints, or whose id no attr has (skipped, not errors). */
  skippedSamples: number;
  /** Records of types the reader does not use (MMAP, EXIT, ID_INDEX, …). */
  sidebandRecords: number;
}

/** A u64 of all ones (-1UL) as readNum reads it: 2^64 after rounding. */
const MINUS_ONE_UL = 2 ** 64;

const VARIABLE = -2;
const ABSENT = -1;

export interface ParserInit {
  readonly file: string;
  readonly batch: RawBatch;
  readonly stats: PerfReaderStats;
  readonly capacity: number;
  /** Size of the data section when known, to size the queue. */
  readonly dataBytes?: number;
}

export class PerfParser {
  private readonly file: string;
  private readonly batch: RawBatch;
  private readonly stats: PerfReaderStats;
  private readonly capacity: number;

  // ---- attrs ----
  private readonly attrs: PerfAttr[] = [];
  private idKeys = new Float64Array(64).fill(-1);
  private idValues = new Int32Array(64);
  private idCount = 0;
  /** Offset of the id in a sample record (IDENTIFIER or ID, from the first attr), or -1. */
  private sampleIdOff = ABSENT;
  /** All attrs are tracepoints with one sample layout: no id lookup per sample. */
  private uniform = false;
  /** Per attr: offsets in a sample record, ABSENT, or VARIABLE (rawOff only). */
  private tidOff = new Int32Array(8);
  private timeOff = new Int32Array(8);
  private cpuOff = new Int32Array(8);
  private rawOff = new Int32Array(8);
  private tracepoint = new Uint8Array(8);

  // ---- events ----
  private events: EventTable = new EventTable([]);
  private slotEvent = new Int32Array(0);
  private readonly eventIdByName = new Map<string, number>();
  private readonly counts = new Float64Array(1 << 16);

  // ---- buffers that queued records point into ----
  private buffers: (Buffer | null)[] = [];
  private views: (DataView | null)[] = [];
  private bases: number[] = [];
  /** Per buffer of decompressed data: the offset of its COMPRESSED record. */
  private origins: number[] = [];
  private refs = new Int32Array(64);
  private current = new Uint8Array(64);
  private freeIds: number[] = [];
  /** Called with a buffer nothing points into any more. */
  recycle: ((buf: Buffer) => void) | null = null;

  // ---- delivery ----
  private readonly queue: OrderedQueue;
  private readonly threads: ThreadTable;
  private readonly stringIds = new Map<string, number>();
  /** Records [deliveryPos, deliveryCount) of the queue are due. */
  private deliveryCount = 0;
  private deliveryPos = 0;
  private lastDelivered = Number.NEGATIVE_INFINITY;
  /** First and last delivered sample time (NaN before any). */
  private readonly times = new Float64Array([Number.NaN, Number.NaN]);
  /** The comm of the last delivered (pid, tid), until a COMM or FORK. */
  private lastPid = -2;
  private lastTid = -2;
  private lastComm = -1;

  // ---- compressed records ----
  private decompressor: Decompress | null = null;
  private decompressed: Uint8Array[] = [];
  private leftover: Buffer = Buffer.alloc(0);
  /** Decompressed records to parse before the next record of the file, or null. */
  inner: Cursor | null = null;
  private innerRecordOffset = 0;

  // ---- sample_id_all of the last side-band record ----
  private sidPid = -1;
  private sidTid = -1;
  private sidTime = 0;
  private sidCpu = -1;

  constructor(init: ParserInit) {
    this.file = init.file;
    this.batch = init.batch;
    this.stats = init.stats;
    this.capacity = init.capacity;
    // Queued records take 20 bytes (twice, for sorting), sample records about 100: start with room
    // for the records of most of the data (rounds can be that large), at most 2^20 (it grows).
    const expected = Number.isFinite(init.dataBytes) ? Math.ceil(init.dataBytes! / 128) : 0;
    this.queue = new OrderedQueue(Math.min(Math.max(expected, 1 << 12), 1 << 20));
    this.threads = new ThreadTable((s) => this.intern(s));
    for (let id = 1; id < Tracepoint.firstDynamic; id++) {
      const name = this.batch.eventNames[id];
      if (name) this.eventIdByName.set(name, id);
    }
  }

  // ---- setup ---------------------------------------------------------------------

  addAttr(attr: PerfAttr): void {
    const index = this.attrs.length;
    this.attrs.push(attr);
    if (index >= this.tidOff.length) {
      const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.tidOff = grow(this.tidOff);
      this.timeOff = grow(this.timeOff);
      this.cpuOff = grow(this.cpuOff);
      this.rawOff = grow(this.rawOff);
      const tracepoint = new Uint8Array(this.tracepoint.length * 2);
      tracepoint.set(this.tracepoint);
      this.tracepoint = tracepoint;
    }
    const st = attr.sampleType;
    let off = EVENT_HEADER_SIZE;
    if (st & Sample.identifier) off += 8;
    if (st & Sample.ip) off += 8;
    this.tidOff[index] = st & Sample.tid ? off : ABSENT;
    if (st & Sample.tid) off += 8;
    this.timeOff[index] = st & Sample.time ? off : ABSENT;
    if (st & Sample.time) off += 8;
    if (st & Sample.addr) off += 8;
    const idOff = st & Sample.id ? off : ABSENT;
    if (st & Sample.id) off += 8;
    if (st & Sample.streamId) off += 8;
    this.cpuOff[index] = st & Sample.cpu ? off : ABSENT;
    if (st & Sample.cpu) off += 8;
    if (st & Sample.period) off += 8;
    let variable = false;
    if (st & Sample.read) {
      if (attr.readFormat & ReadFormat.group) variable = true;
      else off += readValueSize(attr.readFormat);
    }
    if (st & Sample.callchain) variable = true;
    this.rawOff[index] = !(st & Sample.raw) ? ABSENT : variable ? VARIABLE : off;
    this.tracepoint[index] = attr.type === PERF_TYPE_TRACEPOINT && st & Sample.raw ? 1 : 0;
    if (index === 0) this.sampleIdOff = st & Sample.identifier ? EVENT_HEADER_SIZE : idOff;
    for (const id of attr.ids) this.addId(id, index);
    const first = this.attrs[0]!;
    this.uniform = this.attrs.every(
      (a) => a.type === PERF_TYPE_TRACEPOINT && a.sampleType === first.sampleType && a.readFormat === first.readFormat,
    );
  }

  /** Parse HEADER_TRACING_DATA; `offset` locates it in the file for errors. */
  setTracingData(bytes: Uint8Array, offset: number): void {
    let formats: ReturnType<typeof parseTracingData>;
    try {
      formats = parseTracingData(bytes);
    } catch (error) {
      if (!(error instanceof TracingDataError)) throw error;
      throw perfSyntaxError({
        file: this.file,
        byteOffset: offset + error.offset,
        message: error.message,
        expected: 'the tracing data of HEADER_TRACING_DATA (trace-event-info.c layout)',
        excerpt: hexExcerpt(bytes, error.offset),
      });
    }
    if (formats.bigEndian) {
      throw perfSyntaxError({
        file: this.file,
        byteOffset: offset,
        message: 'big-endian tracing data',
        expected: 'little-endian tracing data',
        excerpt: hexExcerpt(bytes, 0),
      });
    }
    this.events = new EventTable(formats.events);
    this.slotEvent = new Int32Array(this.events.slots).fill(-1);
    for (let slot = 0; slot < this.events.slots; slot++) {
      const kind = this.events.kind[slot]!;
      if (kind !== 0) this.slotEvent[slot] = kind;
    }
  }

  /** Whether any attr is a tracepoint. */
  hasTracepoints(): boolean {
    return this.attrs.some((a) => a.type === PERF_TYPE_TRACEPOINT);
  }

  private addId(id: number, index: number): void {
    if (this.idCount * 2 >= this.idKeys.length) {
      const keys = this.idKeys;
      const values = this.idValues;
      this.idKeys = new Float64Array(keys.length * 2).fill(-1);
      this.idValues = new Int32Array(keys.length * 2);
      this.idCount = 0;
      for (let i = 0; i < keys.length; i++) if (keys[i] !== -1) this.addId(keys[i]!, values[i]!);
    }
    const mask = this.idKeys.length - 1;
    let slot = hashId(id) & mask;
    while (this.idKeys[slot] !== -1 && this.idKeys[slot] !== id) slot = (slot + 1) & mask;
    if (this.idKeys[slot] === -1) this.idCount++;
    this.idKeys[slot] = id;
    this.idValues[slot] = index;
  }

  /** evlist__id2evsel: the attr of a sample id; with one attr (or id 0) the first one; -1 when unknown. */
  private attrOfId(id: number): number {
    if (this.attrs.length === 1 || id === 0) return 0;
    const keys = this.idKeys;
    const mask = keys.length - 1;
    let slot = hashId(id) & mask;
    for (;;) {
      const k = keys[slot]!;
      if (k === id) return this.idValues[slot]!;
      if (k === -1) return -1;
      slot = (slot + 1) & mask;
    }
  }

  // ---- buffers ---------------------------------------------------------------------

  /** Point `cur` at new bytes; the buffer it leaves is freed once no queued record points into it. */
  attach(cur: Cursor, buf: Buffer, base: number): void {
    if (cur.id >= 0) this.retire(cur.id);
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.buffers.length;
      this.buffers.push(null);
      this.views.push(null);
      this.bases.push(0);
      this.origins.push(0);
      if (id >= this.refs.length) {
        const refs = new Int32Array(this.refs.length * 2);
        refs.set(this.refs);
        this.refs = refs;
        const current = new Uint8Array(this.current.length * 2);
        current.set(this.current);
        this.current = current;
      }
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.buffers[id] = buf;
    this.views[id] = view;
    this.bases[id] = base;
    this.refs[id] = 0;
    this.current[id] = 1;
    cur.buf = buf;
    cur.view = view;
    cur.pos = 0;
    cur.end = buf.length;
    cur.base = base;
    cur.id = id;
  }

  private retire(id: number): void {
    this.current[id] = 0;
    if (this.refs[id] === 0) this.free(id);
  }

  free(id: number): void {
    const buf = this.buffers[id];
    if (buf && this.recycle !== null) this.recycle(buf);
    this.buffers[id] = null;
    this.views[id] = null;
    this.freeIds.push(id);
  }

  // ---- records ---------------------------------------------------------------------

  /**
   * Parse whole records of `cur` from cur.pos; stops at the end of the
   * bytes (needMore), at a FINISHED_ROUND (round), when the batch fills
   * (batchFull) or after a COMPRESSED record (inner).
   */
  run(cur: Cursor): Status {
    const view = cur.view;
    const end = cur.end;
    const queue = this.queue;
    const id = cur.id;
    let pos = cur.pos;
    while (pos + EVENT_HEADER_SIZE <= end) {
      const type = view.getUint32(pos, true);
      const size = view.getUint16(pos + 6, true);
      if (size < EVENT_HEADER_SIZE) throw this.badRecord(cur, pos, `record size ${size} is smaller than its header`);
      if (pos + size > end) break;
      if (type === RecordType.sample) {
        let attr = 0;
        if (!this.uniform) attr = this.sampleAttr(cur, pos, size);
        if (attr >= 0) {
          const timeOff = this.timeOff[attr]!;
          const time = timeOff >= 0 ? view.getUint32(pos + timeOff + 4, true) * 4294967296 + view.getUint32(pos + timeOff, true) : 0;
          if (time !== 0) {
            queue.push(time, id, pos, attr);
            this.refs[id]!++;
          } else {
            // No timestamp: perf delivers it at once.
            this.deliverSample(cur.buf, view, pos, size, attr, id);
          }
        }
        pos += size;
        if (this.batch.length >= this.capacity) {
          cur.pos = pos;
          return BATCH_FULL;
        }
        continue;
      }
      if (type === RecordType.finishedRound) {
        cur.pos = pos + size;
        return ROUND;
      }
      const next = this.other(cur, type, pos, size);
      if (next < 0) break;
      pos = next;
      if (this.inner !== null && cur !== this.inner) {
        cur.pos = pos;
        return INNER;
      }
      if (this.batch.length >= this.capacity) {
        cur.pos = pos;
        return BATCH_FULL;
      }
    }
    cur.pos = pos;
    return NEED_MORE;
  }

  /** The attr of a sample by its id (layouts differ); -1 when it is skipped. */
  private sampleAttr(cur: Cursor, pos: number, size: number): number {
    let attr = 0;
    const idOff = this.sampleIdOff;
    if (idOff >= 0 && this.attrs.length > 1) {
      if (idOff + 8 > size) throw this.badRecord(cur, pos, `sample of ${size} bytes has no room for its id`);
      attr = this.attrOfId(u64(cur.view, pos + idOff));
    }
    if (attr < 0 || this.tracepoint[attr] === 0) {
      this.stats.skippedSamples++;
      return -1;
    }
    return attr;
  }

  /** A record other than SAMPLE and FINISHED_ROUND; returns the position after it, or -1 when more bytes are needed. */
  private other(cur: Cursor, type: number, pos: number, size: number): number {
    const view = cur.view;
    switch (type) {
      case RecordType.comm:
      case RecordType.fork:
      case RecordType.lost:
        if (this.sampleIdOf(view, pos, size)) {
          this.queue.push(this.sidTime, cur.id, pos, 0);
          this.refs[cur.id]!++;
        } else {
          this.deliverOther(cur.buf, view, pos, size);
        }
        return pos + size;
      case RecordType.lostSamples:
        this.stats.lostSampleRecords++;
        this.stats.lostSamples += u64(view, pos + 8);
        return pos + size;
      case RecordType.headerAttr: {
        const attrSize = view.getUint32(pos + 8 + 4, true);
        if (attrSize < 48 || 8 + attrSize > size) throw this.badRecord(cur, pos, `HEADER_ATTR with attr size ${attrSize}`);
        const ids: number[] = [];
        for (let p = pos + 8 + attrSize; p + 8 <= pos + size; p += 8) ids.push(u64(view, p));
        this.addAttr(parseAttr(view, pos + 8, ids));
        return pos + size;
      }
      case RecordType.headerTracingData: {
        // Pipe mode: the tracing data follows the record, `size` bytes (8-aligned).
        const dataSize = view.getUint32(pos + 8, true);
        if (pos + size + dataSize > cur.end) return -1;
        const start = pos + size;
        this.setTracingData(cur.buf.subarray(start, start + dataSize), cur.base + start);
        return start + dataSize;
      }
      case RecordType.auxtrace: {
        const auxSize = u64(view, pos + 8);
        if (pos + size + auxSize > cur.end) return -1;
        return pos + size + auxSize;
      }
      case RecordType.compressed:
      case RecordType.compressed2: {
        if (cur === this.inner) throw this.badRecord(cur, pos, 'a compressed record inside compressed data');
        const start = type === RecordType.compressed2 ? pos + 16 : pos + 8;
        const dataEnd = type === RecordType.compressed2 ? start + u64(view, pos + 8) : pos + size;
        if (dataEnd > pos + size) throw this.badRecord(cur, pos, 'COMPRESSED2 data size beyond the record');
        this.decompress(cur, pos, cur.buf.subarray(start, dataEnd));
        return pos + size;
      }
      default:
        this.stats.sidebandRecords++;
        return pos + size;
    }
  }

  /**
   * Read the sample_id_all trailer of a side-band record into sid*; true
   * when the record has a timestamp to queue by (perf delivers the others,
   * and synthesized records with time 0, at once).
   */
  private sampleIdOf(view: DataView, pos: number, size: number): boolean {
    this.sidPid = -1;
    this.sidTid = -1;
    this.sidTime = 0;
    this.sidCpu = -1;
    if (this.attrs.length === 0) return false;
    let attr = this.attrs[0]!;
    if (attr.sampleType & Sample.identifier && this.attrs.length > 1) {
      const found = this.attrOfId(u64(view, pos + size - 8));
      if (found >= 0) attr = this.attrs[found]!;
    }
    if (!attr.sampleIdAll) return false;
    const st = attr.sampleType;
    let trailer = 0;
    if (st & Sample.tid) trailer += 8;
    if (st & Sample.time) trailer += 8;
    if (st & Sample.id) trailer += 8;
    if (st & Sample.streamId) trailer += 8;
    if (st & Sample.cpu) trailer += 8;
    if (st & Sample.identifier) trailer += 8;
    let p = pos + size - trailer;
    if (p < pos + EVENT_HEADER_SIZE) return false;
    if (st & Sample.tid) {
      this.sidPid = view.getInt32(p, true);
      this.sidTid = view.getInt32(p + 4, true);
      p += 8;
    }
    if (st & Sample.time) {
      this.sidTime = u64(view, p);
      p += 8;
    }
    if (st & Sample.id) p += 8;
    if (st & Sample.streamId) p += 8;
    if (st & Sample.cpu) this.sidCpu = view.getUint32(p, true);
    return this.sidTime !== 0;
  }

  /** Offset of RAW in a sample whose READ (group) or CALLCHAIN makes it variable; -1 when it does not fit. */
  variableRawOff(attr: number, view: DataView, pos: number, size: number): number {
    const a = this.attrs[attr]!;
    const st = a.sampleType;
    let off = EVENT_HEADER_SIZE;
    for (const bit of [Sample.identifier, Sample.ip, Sample.tid, Sample.time, Sample.addr, Sample.id, Sample.streamId, Sample.cpu, Sample.period]) {
      if (st & bit) off += 8;
    }
    if (st & Sample.read) {
      if (a.readFormat & ReadFormat.group) {
        if (off + 8 > size) return ABSENT;
        const nr = u64(view, pos + off);
        let each = 8;
        if (a.readFormat & ReadFormat.id) each += 8;
        if (a.readFormat & ReadFormat.lost) each += 8;
        off += 8;
        if (a.readFormat & ReadFormat.totalTimeEnabled) off += 8;
        if (a.readFormat & ReadFormat.totalTimeRunning) off += 8;
        off += nr * each;
      } else {
        off += readValueSize(a.readFormat);
      }
    }
    if (st & Sample.callchain) {
      if (off + 8 > size) return ABSENT;
      off += 8 + u64(view, pos + off) * 8;
    }
    return off + 4 <= size ? off : ABSENT;
  }

  // ---- compressed records (perf record -z) ---------------------------------------------

  private decompress(cur: Cursor, pos: number, data: Uint8Array): void {
    if (this.decompressor === null) {
      this.decompressor = new Decompress((chunk) => {
        this.decompressed.push(chunk);
      });
    }
    try {
      this.decompressor.push(data);
    } catch (cause) {
      throw perfSyntaxError({
        file: this.file,
        byteOffset: cur.base + pos,
        message: `zstd data of a COMPRESSED record is corrupt (${(cause as Error).message})`,
        expected: 'a zstd stream (perf record -z)',
        excerpt: hexExcerpt(cur.buf, pos),
      });
    }
    const parts = this.decompressed;
    this.decompressed = [];
    if (this.leftover.length > 0) parts.unshift(this.leftover);
    // A copy: fzstd may reuse its output window, and queued records keep pointing into these bytes.
    const bytes = Buffer.concat(parts);
    this.leftover = Buffer.alloc(0);
    const inner = new Cursor();
    this.attach(inner, bytes, Number.NaN);
    this.origins[inner.id] = cur.base + pos;
    this.inner = inner;
    this.innerRecordOffset = cur.base + pos;
  }

  /** The inner cursor needs more bytes: keep its partial record for the next COMPRESSED record. */
  endInner(): void {
    const inner = this.inner;
    if (inner === null) return;
    this.leftover = inner.pos < inner.end ? Buffer.from(inner.rest()) : Buffer.alloc(0);
    this.retire(inner.id);
    this.inner = null;
  }

  /** Bytes of a record cut off at the end of the compressed data. */
  get pendingCompressedBytes(): number {
    return this.leftover.length;
  }

  // ---- delivery ---------------------------------------------------------------------

  /** FINISHED_ROUND: the records due are delivered by `drain`. */
  round(): void {
    this.deliveryCount = this.queue.flushRound();
    this.deliveryPos = 0;
    if (this.deliveryCount === 0) this.queue.consume(0);
  }

  /** End of data: everything left is delivered by `drain`. */
  finish(): void {
    this.deliveryCount = this.queue.flushAll();
    this.deliveryPos = 0;
  }

  /** Deliver due records into the batch; true when the batch is full (yield it, then call again). */
  drain(): boolean {
    const queue = this.queue;
    const count = this.deliveryCount;
    const capacity = this.capacity;
    const batch = this.batch;
    const buffers = this.buffers;
    const views = this.views;
    const refs = this.refs;
    let i = this.deliveryPos;
    let outOfOrder = 0;
    let lastDelivered = this.lastDelivered;
    while (i < count) {
      if (batch.length >= capacity) break;
      const id = queue.buffer[i]!;
      const pos = queue.offset[i]!;
      const buf = buffers[id]!;
      const view = views[id]!;
      const type = view.getUint32(pos, true);
      const size = view.getUint16(pos + 6, true);
      const time = queue.time[i]!;
      if (type === RecordType.sample) {
        if (time < lastDelivered) outOfOrder++;
        else lastDelivered = time;
        this.deliverSample(buf, view, pos, size, queue.attr[i]!, id);
      } else {
        deliverOtherRecord(this, buf, view, pos, size);
      }
      if (--refs[id]! === 0 && this.current[id] === 0) freeBuffer(this, id);
      i++;
    }
    return endDrain(this, i, outOfOrder, lastDelivered);
  }

  /** After a drain loop stopped at `i`: keep its place, or end the delivery; true when the batch is full. */
  endDrain(i: number, outOfOrder: number, lastDelivered: number): boolean {
    const count = this.deliveryCount;
    this.lastDelivered = lastDelivered;
    this.stats.outOfOrder += outOfOrder;
    if (i < count) {
      this.deliveryPos = i;
      return true;
    }
    if (count > 0) {
      this.queue.consume(count);
      this.deliveryCount = 0;
      this.deliveryPos = 0;
    }
    return this.batch.length >= this.capacity;
  }

  /** Decode a tracepoint sample into the next row of the batch (`bufferId` locates it for errors). */
  private deliverSample(buf: Buffer, view: DataView, pos: number, size: number, attr: number, bufferId: number): void {
    let rawOff = this.rawOff[attr]!;
    if (rawOff < 0) rawOff = variableRawOffset(this, attr, view, pos, size);
    if (rawOff < 0 || rawOff + 4 > size) throw this.badQueued(bufferId, pos, `sample of ${size} bytes ends before its raw data`);
    const rawSize = view.getUint32(pos + rawOff, true);
    if (rawOff + 4 + rawSize > size || rawSize < 8) {
      throw this.badQueued(bufferId, pos, `sample raw size ${rawSize} does not fit its record of ${size} bytes`);
    }
    const p = pos + rawOff + 4;
    const events = this.events;
    const slot = events.slotOfType[view.getUint16(p, true)]!;
    if (slot < 0 || rawSize < events.minPayload[slot]!) throw this.badPayload(bufferId, pos, view.getUint16(p, true), rawSize);
    let id = this.slotEvent[slot]!;
    if (id < 0) id = dynamicEventId(this, slot);
    const tidOff = this.tidOff[attr]!;
    const timeOff = this.timeOff[attr]!;
    const cpuOff = this.cpuOff[attr]!;
    const time = timeOff >= 0 ? view.getUint32(pos + timeOff + 4, true) * 4294967296 + view.getUint32(pos + timeOff, true) : 0;
    const pid = tidOff >= 0 ? view.getInt32(pos + tidOff, true) : -1;
    const tid = tidOff >= 0 ? view.getInt32(pos + tidOff + 4, true) : -1;
    const batch = this.batch;
    const n = batch.length;
    batch.event[n] = id;
    batch.time[n] = time;
    batch.cpu[n] = cpuOff >= 0 ? view.getUint32(pos + cpuOff, true) : -1;
    batch.tid[n] = tid;
    batch.pid[n] = pid;
    if (tid === this.lastTid && pid === this.lastPid) {
      batch.comm[n] = this.lastComm;
    } else {
      const comm = this.threads.commOf(pid, tid);
      batch.comm[n] = comm;
      this.lastPid = pid;
      this.lastTid = tid;
      this.lastComm = comm;
    }
    batch.line[n] = 0;
    this.decode(events.kind[slot]!, slot * MAX_FIELDS, buf, view, p, rawSize, n);
    batch.length = n + 1;
    this.counts[id]!++;
    // Kept here, copied to stats by flushCounts (a double stored into another object's field may box).
    const times = this.times;
    if (Number.isNaN(times[0]!)) times[0] = time;
    times[1] = time;
  }

  /**
   * Decode the fields of fixed tracepoint `kind` from the payload at `p` into
   * batch row `n`: the integer fields go to a..e in the order of FIELD_NAMES,
   * then the few that need more (gfp class, lru flags, strings, bdi) are fixed up.
   */
  private decode(kind: number, base: number, buf: Buffer, view: DataView, p: number, rawSize: number, n: number): void {
    const batch = this.batch;
    if (kind === 0) {
      batch.a[n] = 0;
      batch.b[n] = 0;
      batch.c[n] = 0;
      batch.d[n] = 0;
      batch.e[n] = 0;
      return;
    }
    const offset = this.events.offset;
    const code = this.events.code;
    // Stored straight into the columns: no number crosses a call boundary (no boxing).
    putNum(batch.a, n, view, p, offset[base]!, code[base]!);
    putNum(batch.b, n, view, p, offset[base + 1]!, code[base + 1]!);
    putNum(batch.c, n, view, p, offset[base + 2]!, code[base + 2]!);
    putNum(batch.d, n, view, p, offset[base + 3]!, code[base + 3]!);
    putNum(batch.e, n, view, p, offset[base + 4]!, code[base + 4]!);
    if (FIXED_UP[kind] === 1) fixUp(this, kind, base, buf, view, p, rawSize, n);
  }

  /** Field c (and pfn) of batch row `n` for the tracepoints whose c is not a plain integer field. */
  fixUp(kind: number, base: number, buf: Buffer, view: DataView, p: number, rawSize: number, n: number): void {
    const batch = this.batch;
    const c = batch.c[n]!;
    switch (kind) {
      case Tracepoint.mmPageAlloc:
        // The kernel prints pfn 0 for a failed allocation (pfn == -1UL, which reads as 2^64).
        if (batch.a[n] === MINUS_ONE_UL) batch.a[n] = 0;
        batch.c[n] = c > 0 ? this.events.gfp.classify(c) : 0;
        break;
      case Tracepoint.mmLruInsertion: {
        const columns = this.events.lruColumns[base / MAX_FIELDS]!;
        let flags = 0;
        for (let k = 0; k < columns.length; k += 2) if ((c & columns[k]!) !== 0) flags |= columns[k + 1]!;
        batch.c[n] = flags;
        break;
      }
      case Tracepoint.schedProcessFork:
      case Tracepoint.schedProcessExec:
        batch.c[n] = this.intern(this.str(buf, view, p, rawSize, base + 2));
        break;
      case Tracepoint.writebackDirtyFolio:
        batch.c[n] = this.bdiDev(buf, view, p, rawSize, base + 2);
        break;
      default:
        break;
    }
  }

  private strStart = 0;
  private strEnd = 0;
  /** Find the string field `at` of the payload at `p` (up to its NUL): strStart/strEnd in `buf`; false when the format lacks it. */
  private locate(buf: Buffer, view: DataView, p: number, rawSize: number, at: number): boolean {
    const events = this.events;
    const off = events.offset[at]!;
    if (off < 0) return false;
    let start: number;
    let length: number;
    const loc = events.loc[at]!;
    if (loc === FieldLoc.dataLoc || loc === FieldLoc.relLoc) {
      const v = view.getUint32(p + off, true);
      start = (v & 0xffff) + (loc === FieldLoc.relLoc ? off + events.size[at]! : 0);
      length = v >>> 16;
    } else {
      start = off;
      length = events.size[at]!;
    }
    if (start > rawSize) start = rawSize;
    if (start + length > rawSize) length = rawSize - start;
    const from = p + start;
    const to = from + length;
    let end = from;
    while (end < to && buf[end] !== 0) end++;
    this.strStart = from;
    this.strEnd = end;
    return true;
  }

  private str(buf: Buffer, view: DataView, p: number, rawSize: number, at: number): string {
    return this.locate(buf, view, p, rawSize, at) ? buf.toString('utf8', this.strStart, this.strEnd) : '';
  }

  /**
   * writeback's bdi name as the text reader reads `bdi NAME: ino=…`: `MAJOR:MINOR`
   * gives MAJOR << 20 | MINOR, anything else (`(unknown)`) NaN. Read from the bytes.
   */
  private bdiDev(buf: Buffer, view: DataView, p: number, rawSize: number, at: number): number {
    if (!this.locate(buf, view, p, rawSize, at)) return Number.NaN;
    const end = this.strEnd;
    let i = this.strStart;
    let major = 0;
    for (let part = 0; part < 2; part++) {
      let sign = 1;
      if (i < end && buf[i] === 45 /* - */) {
        sign = -1;
        i++;
      }
      const digits = i;
      let v = 0;
      while (i < end && buf[i]! >= 48 && buf[i]! <= 57) v = v * 10 + buf[i++]! - 48;
      if (i === digits) return Number.NaN;
      if (part === 1) {
        // After MINOR the text has the format's ':' (the name ended) or the name's own ':'.
        if (i < end && buf[i] !== 58) return Number.NaN;
        return major * 1048576 + sign * v;
      }
      major = sign * v;
      if (i >= end || buf[i] !== 58 /* : */) return Number.NaN;
      i++;
    }
    return Number.NaN;
  }

  /** COMM and FORK into the thread table; LOST as a loss marker in the batch. */
  deliverOther(buf: Buffer, view: DataView, pos: number, size: number): void {
    const type = view.getUint32(pos, true);
    if (type === RecordType.comm) {
      const nameEnd = buf.indexOf(0, pos + 16);
      const comm = buf.toString('utf8', pos + 16, nameEnd < 0 || nameEnd > pos + size ? pos + size : nameEnd);
      this.threads.processComm(view.getInt32(pos + 8, true), view.getInt32(pos + 12, true), comm);
      this.lastTid = -2;
    } else if (type === RecordType.fork) {
      // pid, ppid, tid, ptid
      this.threads.processFork(view.getInt32(pos + 8, true), view.getInt32(pos + 16, true), view.getInt32(pos + 12, true), view.getInt32(pos + 20, true));
      this.lastTid = -2;
    } else if (type === RecordType.lost) {
      this.sampleIdOf(view, pos, size);
      const lost = u64(view, pos + 16);
      const batch = this.batch;
      const n = batch.length;
      const tid = this.sidTid;
      const pid = this.sidPid;
      batch.event[n] = Tracepoint.lost;
      batch.time[n] = this.sidTime;
      batch.cpu[n] = this.sidCpu;
      batch.tid[n] = tid;
      batch.pid[n] = pid;
      batch.comm[n] = this.threads.commOf(pid, tid);
      batch.a[n] = lost;
      batch.b[n] = 0;
      batch.c[n] = 0;
      batch.d[n] = 0;
      batch.e[n] = 0;
      batch.line[n] = 0;
      batch.length = n + 1;
      this.lastTid = -2;
      this.stats.lostMarkers++;
      this.stats.lostEvents += lost;
    }
  }

  /** Ids >= firstDynamic for events without a fixed id, by name, in order of first delivery (as the text reader). */
  dynamicId(slot: number): number {
    const name = this.events.names[slot]!;
    let id = this.eventIdByName.get(name);
    if (id === undefined) {
      const names = this.batch.eventNames;
      id = Math.max(names.length, Tracepoint.firstDynamic);
      if (id > 0xffff) throw new RangeError('more than 65535 distinct event names');
      while (names.length < id) names.push('');
      names.push(name);
      this.eventIdByName.set(name, id);
    }
    this.slotEvent[slot] = id;
    return id;
  }

  private intern(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.batch.strings.length;
      this.batch.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  /** Copy the per-event counts and the first and last times into `stats`. */
  flushCounts(): void {
    const times = this.times;
    this.stats.firstTimeNs = times[0]!;
    this.stats.lastTimeNs = times[1]!;
    const names = this.batch.eventNames;
    const eventCounts = this.stats.eventCounts;
    for (let id = 1; id < names.length; id++) {
      const n = this.counts[id]!;
      if (n > 0) eventCounts[names[id]!] = n;
    }
  }

  // ---- errors ---------------------------------------------------------------------

  /** An error about a queued record at `pos` of buffer `id`. */
  private badQueued(id: number, pos: number, message: string): Error {
    const buf = this.buffers[id]!;
    const base = this.bases[id]!;
    const inner = Number.isNaN(base);
    return perfSyntaxError({
      file: this.file,
      byteOffset: inner ? this.origins[id]! : base + pos,
      message: inner ? `${message} (inside the data decompressed from the COMPRESSED record here)` : message,
      expected: 'a tracepoint sample whose raw data fits its record and whose format the tracing data has',
      excerpt: hexExcerpt(buf, pos),
    });
  }

  private badPayload(id: number, pos: number, type: number, rawSize: number): Error {
    const slot = this.events.slotOfType[type]!;
    return slot < 0
      ? this.badQueued(id, pos, `sample of tracepoint id ${type}, which the tracing data does not describe`)
      : this.badQueued(id, pos, `${this.events.names[slot]} payload of ${rawSize} bytes is shorter than its format`);
  }

  private badRecord(cur: Cursor, pos: number, message: string): Error {
    if (cur === this.inner) {
      return perfSyntaxError({
        file: this.file,
        byteOffset: this.innerRecordOffset,
        message: `${message} (at byte ${pos} of the data decompressed so far from the COMPRESSED record here)`,
        expected: 'a perf_event_header {u32 type, u16 misc, u16 size >= 8} and a record of that size',
        excerpt: hexExcerpt(cur.buf, pos),
      });
    }
    return perfSyntaxError({
      file: this.file,
      byteOffset: cur.base + pos,
      message,
      expected: 'a perf_event_header {u32 type, u16 misc, u16 size >= 8} and a record of that size',
      excerpt: hexExcerpt(cur.buf, pos),
    });
  }
}

// Rare paths and loop exits of the hot methods go through module functions, to keep the hot
// methods small: each time optimized code meets a path that never ran it is deoptimized and
// compiled again, which the first run of a big file pays for.

/** The kinds whose field c {@link PerfParser.fixUp} computes. */
const FIXED_UP = new Uint8Array(Tracepoint.firstDynamic);
for (const kind of [
  Tracepoint.mmPageAlloc,
  Tracepoint.mmLruInsertion,
  Tracepoint.schedProcessFork,
  Tracepoint.schedProcessExec,
  Tracepoint.writebackDirtyFolio,
]) {
  FIXED_UP[kind] = 1;
}

function endDrain(parser: PerfParser, i: number, outOfOrder: number, lastDelivered: number): boolean {
  return parser.endDrain(i, outOfOrder, lastDelivered);
}

function fixUp(parser: PerfParser, kind: number, base: number, buf: Buffer, view: DataView, p: number, rawSize: number, n: number): void {
  parser.fixUp(kind, base, buf, view, p, rawSize, n);
}

function deliverOtherRecord(parser: PerfParser, buf: Buffer, view: DataView, pos: number, size: number): void {
  parser.deliverOther(buf, view, pos, size);
}

function freeBuffer(parser: PerfParser, id: number): void {
  parser.free(id);
}

function dynamicEventId(parser: PerfParser, slot: number): number {
  return parser.dynamicId(slot);
}

function variableRawOffset(parser: PerfParser, attr: number, view: DataView, pos: number, size: number): number {
  return parser.variableRawOff(attr, view, pos, size);
}

/** Bytes of a non-group read_format value. */
function readValueSize(readFormat: number): number {
  let size = 8;
  if (readFormat & ReadFormat.totalTimeEnabled) size += 8;
  if (readFormat & ReadFormat.totalTimeRunning) size += 8;
  if (readFormat & ReadFormat.id) size += 8;
  if (readFormat & ReadFormat.lost) size += 8;
  return size;
}

/** column[n] = the integer field at `p + off` read as {@link NumCode} `code`; 0 for no field, NaN when the format lacks it. */
function putNum(column: Float64Array, n: number, view: DataView, p: number, off: number, code: number): void {
  if (code === NumCode.u64) column[n] = view.getUint32(p + off + 4, true) * 4294967296 + view.getUint32(p + off, true);
  else if (code === NumCode.u32) column[n] = view.getUint32(p + off, true);
  else if (code === NumCode.none) column[n] = off === -1 ? Number.NaN : 0;
  else putOtherNum(column, n, view, p + off, code);
}

function putOtherNum(column: Float64Array, n: number, view: DataView, q: number, code: number): void {
  switch (code) {
    case NumCode.s64:
      column[n] = view.getInt32(q + 4, true) * 4294967296 + view.getUint32(q, true);
      break;
    case NumCode.s32:
      column[n] = view.getInt32(q, true);
      break;
    case NumCode.u16:
      column[n] = view.getUint16(q, true);
      break;
    case NumCode.s16:
      column[n] = view.getInt16(q, true);
      break;
    case NumCode.u8:
      column[n] = view.getUint8(q);
      break;
    default:
      column[n] = view.getInt8(q);
  }
}

function hashId(id: number): number {
  return Math.imul((id | 0) ^ ((id / 4294967296) | 0), 0x9e3779b1) >>> 7;
}
