/**
 * RawBatch records → a Perfetto trace, on our .proto subset: typed FtraceEvent
 * messages where Perfetto has one, generic events otherwise. Reading the file
 * back with openPerfetto gives the same records (all columns but `line`).
 *
 * What a RawBatch does not keep cannot be written: the original gfp mask (a
 * mask with the same classes is written), `page`/`folio` pointers, fields of
 * events without a fixed Tracepoint id (written by name only).
 */

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { deflateSync } from 'node:zlib';
import { Tracepoint } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import protobuf from 'protobufjs';
import { UNKNOWN_COMM } from './decoder.js';
import { Convert, bdiNameOfDev, pagemapOfLruFlags, tracepointFields } from './fields.js';
import type { FieldSpec } from './fields.js';
import { perfettoFtraceEvents } from './ftrace-event-names.js';
import { gfpMaskOfClasses } from './gfp.js';
import { FIRST_DENSE_GENERIC_FIELD, FieldType, SequenceFlag, WireType, loadSchema } from './schema.js';
import type { Schema } from './schema.js';
import { StringTable, TaskTable, commAfterExec } from './task-table.js';

export interface PerfettoWriterOptions {
  /**
   * How events Perfetto has no message for are written: `descriptors` (default;
   * Perfetto v50+'s denser encoding, FtraceEvent fields from 65536 described by
   * the bundle's generic_event_descriptors) or `legacy` (GenericFtraceEvent,
   * field names in every event).
   */
  readonly genericEvents?: 'descriptors' | 'legacy';
  /** Wrap the packets in compressed_packets (zlib), in groups of about 512 KiB (default false). */
  readonly compressPackets?: boolean;
}

/** Fixed tracepoints written as typed Perfetto events: the fields taken from the record's comm instead of a column. */
const commFields: Readonly<Record<number, string>> = {
  [Tracepoint.schedProcessFork]: 'parent_comm',
  [Tracepoint.schedProcessExit]: 'comm',
};

/** The typed message (FtraceEvent field name) of each fixed tracepoint Perfetto has one for. */
const typedTracepoints: Readonly<Record<number, string>> = {
  [Tracepoint.mmPageAlloc]: 'mm_page_alloc',
  [Tracepoint.mmPageFree]: 'mm_page_free',
  [Tracepoint.rssStat]: 'rss_stat',
  [Tracepoint.mmFilemapAdd]: 'mm_filemap_add_to_page_cache',
  [Tracepoint.mmFilemapDelete]: 'mm_filemap_delete_from_page_cache',
  [Tracepoint.schedProcessFork]: 'sched_process_fork',
  [Tracepoint.schedProcessExec]: 'sched_process_exec',
  [Tracepoint.schedProcessExit]: 'sched_process_exit',
};

interface TypedField {
  readonly number: number;
  /** protobufjs scalar type name. */
  readonly type: string;
  readonly spec: FieldSpec | null;
  /** Skip the field when its value is 0 (our extension fields). */
  readonly omitZero: boolean;
}

interface EventEncoding {
  /** FtraceEvent field number of the payload. */
  readonly field: number;
  /** Typed fields (typed message) or generic fields (numbered 1.. in a descriptor, or named). */
  readonly fields: readonly TypedField[];
  readonly generic: 'none' | 'descriptors' | 'legacy';
  readonly name: string;
  /** The bundle field bytes describing it (descriptors form). */
  readonly descriptor: Uint8Array | null;
}

const tag = (field: number, wire: number): number => ((field << 3) | wire) >>> 0;

/** Write `batches` as a Perfetto trace at `path`. */
export async function writePerfettoFromRaw(
  batches: AsyncIterable<RawBatch> | Iterable<RawBatch>,
  path: string,
  options: PerfettoWriterOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('writePerfettoFromRaw: path must be a non-empty string');
  const generic = options.genericEvents ?? 'descriptors';
  if (generic !== 'descriptors' && generic !== 'legacy') throw new TypeError("writePerfettoFromRaw: genericEvents must be 'descriptors' or 'legacy'");
  const out = createWriteStream(path);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => {});
  const sink = async (bytes: Uint8Array): Promise<void> => {
    if (!out.write(bytes)) await Promise.race([once(out, 'drain'), failed]);
  };
  const writer = new TraceWriter(generic, options.compressPackets === true);
  try {
    for await (const batch of batches) {
      writer.batch(batch);
      for (const bytes of writer.take()) await sink(bytes);
    }
    writer.finish();
    for (const bytes of writer.take()) await sink(bytes);
  } finally {
    out.end();
  }
  await Promise.race([once(out, 'close'), failed]);
}

class TraceWriter {
  private readonly s: Schema;
  private readonly output: Uint8Array[] = [];
  private outputBytes = 0;
  private group: Uint8Array[] = [];
  private groupBytes = 0;
  private firstPacket = true;
  private readonly sequenceId = 1;

  // What the reader will know about tasks, kept in step with what is written.
  private readonly tasks = new TaskTable();
  private readonly names = new StringTable([]);
  private readonly unknownComm: number;
  /** Input string id → id in `names` + 1 (0: not yet mapped); reset when the input's table changes. */
  private inputIds = new Int32Array(0);
  private inputStrings: string[] | null = null;
  private lastEventTime = Number.NaN;

  // The bundle being built.
  private bundle: protobuf.Writer | null = null;
  private bundleCpu = -1;
  private bundleGenerics = new Set<EventEncoding>();
  private threads: { tid: number; name?: string; tgid?: number }[] = [];

  private readonly encodings = new Map<string, EventEncoding>();
  private nextGenericField = FIRST_DENSE_GENERIC_FIELD;
  private readonly typedIds = new Map<string, number>(perfettoFtraceEvents.map(([n, name]) => [name, n]));

  // Tags.
  private readonly tPacket: number;
  private readonly tBundle: number;
  private readonly tTree: number;
  private readonly tSequence: number;
  private readonly tFlags: number;
  private readonly tFirst: number;
  private readonly tDropped: number;
  private readonly tCompressed: number;
  private readonly tCpu: number;
  private readonly tEvent: number;
  private readonly tLost: number;
  private readonly tLoss: number;
  private readonly tDescriptors: number;
  private readonly tTimestamp: number;
  private readonly tPid: number;

  constructor(
    private readonly generic: 'descriptors' | 'legacy',
    private readonly compress: boolean,
  ) {
    const s = loadSchema();
    this.s = s;
    this.unknownComm = this.names.intern(UNKNOWN_COMM);
    this.tPacket = tag(s.trace.packet, WireType.bytes);
    this.tBundle = tag(s.packet.ftraceEvents, WireType.bytes);
    this.tTree = tag(s.packet.processTree, WireType.bytes);
    this.tSequence = tag(s.packet.trustedPacketSequenceId, WireType.varint);
    this.tFlags = tag(s.packet.sequenceFlags, WireType.varint);
    this.tFirst = tag(s.packet.firstPacketOnSequence, WireType.varint);
    this.tDropped = tag(s.packet.previousPacketDropped, WireType.varint);
    this.tCompressed = tag(s.packet.compressedPackets, WireType.bytes);
    this.tCpu = tag(s.bundle.cpu, WireType.varint);
    this.tEvent = tag(s.bundle.event, WireType.bytes);
    this.tLost = tag(s.bundle.lostEvents, WireType.varint);
    this.tLoss = tag(s.bundle.tierlabLoss, WireType.bytes);
    this.tDescriptors = tag(s.bundle.genericEventDescriptors, WireType.bytes);
    this.tTimestamp = tag(s.event.timestamp, WireType.varint);
    this.tPid = tag(s.event.pid, WireType.varint);
  }

  /** Bytes ready for the file. */
  *take(): Generator<Uint8Array> {
    if (this.output.length === 0) return;
    const joined = Buffer.concat(this.output, this.outputBytes);
    this.output.length = 0;
    this.outputBytes = 0;
    yield joined;
  }

  batch(batch: RawBatch): void {
    if (batch.strings !== this.inputStrings) {
      this.inputStrings = batch.strings;
      this.inputIds = new Int32Array(0);
    }
    for (let i = 0; i < batch.length; i++) {
      const id = batch.event[i]!;
      if (id === Tracepoint.lost) this.loss(batch, i);
      else this.event(batch, i, id);
    }
  }

  finish(): void {
    this.flushBundle();
    this.flushGroup();
  }

  // ---- records ----------------------------------------------------------------

  private event(batch: RawBatch, i: number, id: number): void {
    const tid = batch.tid[i]!;
    const cpu = batch.cpu[i]!;
    const time = batch.time[i]!;
    if (!Number.isInteger(tid) || tid < 0 || tid > 0xffffffff) throw recordError(batch, i, 'tid must be an integer >= 0');
    if (!Number.isInteger(cpu) || cpu < 0) throw recordError(batch, i, 'cpu must be an integer >= 0');
    if (!Number.isInteger(time) || time < 0) throw recordError(batch, i, 'time must be an integer >= 0 (nanoseconds)');
    const name = batch.eventNames[id];
    if (name === undefined || name === '') throw recordError(batch, i, `event id ${id} has no name`);
    const commIn = batch.comm[i]!;
    const comm = commIn >= 0 ? this.nameOf(batch, commIn) : this.unknownComm;
    const pid = batch.pid[i]!;

    // State this thread's comm and tgid first if the reader would not know them.
    const tasks = this.tasks;
    const known = tasks.commOf(tid);
    const commDiffers = (known < 0 ? this.unknownComm : known) !== comm;
    const pidDiffers = tasks.tgidOf(tid) !== (pid < 0 ? -1 : pid);
    if (commDiffers || pidDiffers) {
      this.flushBundle();
      const thread: { tid: number; name?: string; tgid?: number } = { tid };
      if (commDiffers) {
        thread.name = this.names.strings[comm]!;
        tasks.setComm(tid, comm);
      }
      if (pidDiffers) {
        thread.tgid = pid < 0 ? -1 : pid;
        tasks.setTgid(tid, thread.tgid);
      }
      this.threads.push(thread);
    }
    if (this.bundle === null || this.bundleCpu !== cpu) this.openBundle(cpu);
    const w = this.bundle!;
    const encoding = this.encodingOf(name, id);
    w.uint32(this.tEvent).fork();
    w.uint32(this.tTimestamp).uint64(time);
    w.uint32(this.tPid).uint32(tid);
    if (encoding.generic === 'legacy') this.legacyPayload(w, encoding, batch, i, comm);
    else this.payload(w, encoding, batch, i, comm);
    w.ldelim();
    if (encoding.descriptor !== null) this.bundleGenerics.add(encoding);
    this.lastEventTime = time;

    // What the reader learns from the record itself.
    if (id === Tracepoint.schedProcessFork) {
      tasks.setComm(batch.b[i]!, this.nameOf(batch, batch.c[i]!));
    } else if (id === Tracepoint.schedProcessExec) {
      tasks.setComm(batch.a[i]!, this.names.intern(commAfterExec(batch.strings[batch.c[i]!] ?? '')));
    }
  }

  private loss(batch: RawBatch, i: number): void {
    const cpu = batch.cpu[i]!;
    if (!Number.isInteger(cpu) || cpu < 0) throw recordError(batch, i, 'a loss marker needs a cpu >= 0');
    this.flushBundle();
    this.openBundle(cpu);
    const w = this.bundle!;
    w.uint32(this.tLost).bool(true);
    // TierlabLossMarker {count = 1, timestamp = 2, tid = 3, tgid = 4, comm = 5}
    w.uint32(this.tLoss).fork();
    const count = batch.a[i]!;
    if (!Number.isNaN(count)) w.uint32(tag(1, WireType.varint)).uint64(checkedUnsigned(batch, i, count));
    const time = batch.time[i]!;
    if (!sameTime(time, this.lastEventTime)) w.uint32(tag(2, WireType.varint)).uint64(checkedUnsigned(batch, i, time));
    const tid = batch.tid[i]!;
    if (tid !== -1) w.uint32(tag(3, WireType.varint)).int32(tid);
    const pid = batch.pid[i]!;
    if (pid !== -1) w.uint32(tag(4, WireType.varint)).int32(pid);
    const comm = batch.comm[i]!;
    if (comm >= 0) w.uint32(tag(5, WireType.bytes)).string(batch.strings[comm] ?? '');
    w.ldelim();
  }

  private nameOf(batch: RawBatch, inputId: number): number {
    if (inputId >= this.inputIds.length) {
      const grown = new Int32Array(Math.max(64, batch.strings.length * 2, inputId + 1));
      grown.set(this.inputIds);
      this.inputIds = grown;
    }
    let id = this.inputIds[inputId]! - 1;
    if (id < 0) {
      id = this.names.intern(batch.strings[inputId] ?? '');
      this.inputIds[inputId] = id + 1;
    }
    return id;
  }

  // ---- payloads -----------------------------------------------------------------

  private encodingOf(name: string, id: number): EventEncoding {
    let e = this.encodings.get(name);
    if (e !== undefined) return e;
    const typedName = typedTracepoints[id];
    const spec = tracepointFields[id];
    const eventType = this.s.type('FtraceEvent');
    if (typedName !== undefined) {
      const field = eventType.fields[typedName]!;
      const message = field.resolvedType as protobuf.Type;
      const fields: TypedField[] = [];
      for (const f of message.fieldsArray) {
        const fieldSpec = spec?.fields.find((x) => x.name === f.name) ?? null;
        if (fieldSpec === null && commFields[id] !== f.name) continue;
        fields.push({ number: f.id, type: f.type, spec: fieldSpec, omitZero: f.id >= 1000 });
      }
      e = { field: field.id, fields, generic: 'none', name, descriptor: null };
    } else if (spec === undefined && this.typedIds.has(name) && name !== 'generic') {
      // Perfetto has a message for it, but the record has no fields to put in it.
      e = { field: this.typedIds.get(name)!, fields: [], generic: 'none', name, descriptor: null };
    } else {
      const fields: TypedField[] = (spec?.fields ?? []).map((f, k) => ({
        number: k + 1,
        type: f.type === FieldType.string ? 'string' : f.type === FieldType.int64 ? 'int64' : 'uint64',
        spec: f,
        omitZero: false,
      }));
      if (this.generic === 'legacy') {
        e = { field: this.s.event.generic, fields, generic: 'legacy', name, descriptor: null };
      } else {
        const field = this.nextGenericField++;
        e = { field, fields, generic: 'descriptors', name, descriptor: this.descriptor(field, name, spec?.group, fields) };
      }
    }
    this.encodings.set(name, e);
    return e;
  }

  /** GenericEventDescriptor {field_id = 1, event_descriptor = 2 (DescriptorProto), group_name = 3}. */
  private descriptor(field: number, name: string, group: string | undefined, fields: readonly TypedField[]): Uint8Array {
    const descriptor = this.s.type('DescriptorProto');
    const proto = descriptor
      .encode(
        descriptor.create({
          name,
          field: fields.map((f) => ({
            name: f.spec!.name,
            number: f.number,
            type: f.type === 'string' ? FieldType.string : f.type === 'int64' ? FieldType.int64 : FieldType.uint64,
          })),
        }),
      )
      .finish();
    const message: Record<string, unknown> = { field_id: field, event_descriptor: proto };
    if (group !== undefined) message.group_name = group;
    const type = this.s.type('FtraceEventBundle.GenericEventDescriptor');
    return type.encode(type.create(message)).finish();
  }

  private payload(w: protobuf.Writer, e: EventEncoding, batch: RawBatch, i: number, comm: number): void {
    w.uint32(tag(e.field, WireType.bytes)).fork();
    for (const f of e.fields) {
      if (f.spec === null) {
        w.uint32(tag(f.number, WireType.bytes)).string(this.names.strings[comm]!);
        continue;
      }
      const value = this.columnValue(batch, i, f.spec);
      if (typeof value === 'string') {
        w.uint32(tag(f.number, WireType.bytes)).string(value);
        continue;
      }
      if (f.omitZero && value === 0) continue;
      w.uint32(tag(f.number, WireType.varint));
      switch (f.type) {
        case 'uint32':
          w.uint32(checkedRange(batch, i, value, 0, 0xffffffff));
          break;
        case 'int32':
          w.int32(checkedRange(batch, i, value, -0x80000000, 0x7fffffff));
          break;
        case 'int64':
          w.int64(checkedInteger(batch, i, value));
          break;
        default:
          w.uint64(checkedUnsigned(batch, i, value));
      }
    }
    w.ldelim();
  }

  /** GenericFtraceEvent {event_name = 1, field = 2 {name = 1, str_value = 3, int_value = 4, uint_value = 5}}. */
  private legacyPayload(w: protobuf.Writer, e: EventEncoding, batch: RawBatch, i: number, _comm: number): void {
    w.uint32(tag(e.field, WireType.bytes)).fork();
    w.uint32(tag(1, WireType.bytes)).string(e.name);
    for (const f of e.fields) {
      const value = this.columnValue(batch, i, f.spec!);
      w.uint32(tag(2, WireType.bytes)).fork();
      w.uint32(tag(1, WireType.bytes)).string(f.spec!.name);
      if (typeof value === 'string') w.uint32(tag(3, WireType.bytes)).string(value);
      else if (f.type === 'int64') w.uint32(tag(4, WireType.varint)).int64(checkedInteger(batch, i, value));
      else w.uint32(tag(5, WireType.varint)).uint64(checkedUnsigned(batch, i, value));
      w.ldelim();
    }
    w.ldelim();
  }

  /** A column's value in the form the kernel field has. */
  private columnValue(batch: RawBatch, i: number, spec: FieldSpec): number | string {
    const value = columnOf(batch, spec.column)[i]!;
    switch (spec.convert) {
      case Convert.gfp:
        return gfpMaskOfClasses(value);
      case Convert.lruFlags:
        return pagemapOfLruFlags(value);
      case Convert.bdiDev:
        return bdiNameOfDev(value);
      case Convert.string:
        return batch.strings[value] ?? '';
      default:
        return value;
    }
  }

  // ---- packets ------------------------------------------------------------------

  private openBundle(cpu: number): void {
    this.flushBundle();
    const w = protobuf.Writer.create();
    w.uint32(this.tCpu).uint32(cpu);
    this.bundle = w;
    this.bundleCpu = cpu;
  }

  private flushBundle(): void {
    if (this.threads.length > 0) {
      const tree = this.s.type('ProcessTree');
      const bytes = tree.encode(tree.create({ threads: this.threads })).finish();
      this.threads = [];
      this.packet(this.tTree, bytes);
    }
    const w = this.bundle;
    if (w === null) return;
    for (const e of this.bundleGenerics) w.uint32(this.tDescriptors).bytes(e.descriptor!);
    this.bundleGenerics.clear();
    this.bundle = null;
    this.packet(this.tBundle, w.finish());
  }

  /** A TracePacket holding one payload field, framed as Trace.packet. */
  private packet(payloadTag: number, payload: Uint8Array): void {
    const w = protobuf.Writer.create();
    w.uint32(this.tPacket).fork();
    w.uint32(payloadTag).bytes(payload);
    w.uint32(this.tSequence).uint32(this.sequenceId);
    if (this.firstPacket) {
      // As Perfetto's service marks a sequence's first packet.
      this.firstPacket = false;
      w.uint32(this.tFlags).uint32(SequenceFlag.incrementalStateCleared);
      w.uint32(this.tFirst).bool(true);
      w.uint32(this.tDropped).uint32(1);
    }
    w.ldelim();
    const framed = w.finish();
    if (this.compress) {
      this.group.push(framed);
      this.groupBytes += framed.length;
      if (this.groupBytes >= 512 << 10) this.flushGroup();
    } else {
      this.emit(framed);
    }
  }

  private flushGroup(): void {
    if (this.group.length === 0) return;
    const joined = Buffer.concat(this.group, this.groupBytes);
    this.group = [];
    this.groupBytes = 0;
    const w = protobuf.Writer.create();
    w.uint32(this.tPacket).fork();
    w.uint32(this.tCompressed).bytes(deflateSync(joined));
    w.ldelim();
    this.emit(w.finish());
  }

  private emit(bytes: Uint8Array): void {
    this.output.push(bytes);
    this.outputBytes += bytes.length;
  }
}

function columnOf(batch: RawBatch, column: number): Float64Array {
  switch (column) {
    case 0:
      return batch.a;
    case 1:
      return batch.b;
    case 2:
      return batch.c;
    case 3:
      return batch.d;
    default:
      return batch.e;
  }
}

function sameTime(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function recordError(batch: RawBatch, i: number, message: string): TypeError {
  const id = batch.event[i]!;
  const name = id === Tracepoint.lost ? 'loss marker' : (batch.eventNames[id] ?? `event ${id}`);
  return new TypeError(`writePerfettoFromRaw: record ${i} of its batch (${name}): ${message}`);
}

function checkedInteger(batch: RawBatch, i: number, value: number): number {
  if (!Number.isSafeInteger(value)) throw recordError(batch, i, `${value} is not an integer a 64-bit field can hold exactly`);
  return value;
}

function checkedUnsigned(batch: RawBatch, i: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw recordError(batch, i, `${value} is not an unsigned integer`);
  return value;
}

function checkedRange(batch: RawBatch, i: number, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw recordError(batch, i, `${value} is out of range [${min}, ${max}]`);
  return value;
}
