/**
 * The hot path: TracePackets → RawBatch records. Fields are walked with a
 * protobufjs Reader (one, reused); only the messages we use are decoded, every
 * other field is skipped by its wire type. Records are written straight into
 * the batch's typed arrays.
 */

import { inflateRawSync, unzipSync } from 'node:zlib';
import { Tracepoint, tracepointNames } from '@tierlab/trace-core';
import type { RawBatch, ReaderStats } from '@tierlab/trace-core';
import { decompress as zstdDecompress } from 'fzstd';
import protobuf from 'protobufjs';
import { Convert, devOfBdiName, lruFlagsOfPagemap, tracepointFields } from './fields.js';
import { perfettoFtraceEvents, perfettoTracePacketFields } from './ftrace-event-names.js';
import { classifyGfpMask } from './gfp.js';
import { EMPTY_LAYOUT, Encoding, buildLayout, encodingOfDescriptorType, layoutOfType } from './layout.js';
import type { Layout } from './layout.js';
import { FIRST_DENSE_GENERIC_FIELD, FtraceStatsPhase, SequenceFlag, WireType, ftraceClockNames, loadSchema } from './schema.js';
import type { Schema } from './schema.js';
import { CLONE_THREAD, StringTable, TaskTable, commAfterExec } from './task-table.js';
import { UNSAFE, readFixed64, readInt64, readSint64, readUint64 } from './wire.js';

/** ReaderStats plus what only a Perfetto trace has. */
export interface PerfettoReaderStats extends ReaderStats {
  /** TracePackets read, including those inside compressed_packets. */
  packets: number;
  /** Packets by their payload field (`ftrace_events`, `process_stats`, …; `field_N` for numbers Perfetto does not name). */
  readonly packetTypes: Record<string, number>;
  /** Distinct trusted_packet_sequence_id values. */
  sequences: number;
  /** compressed_packets / zstd_compressed_packets fields inflated. */
  compressedPackets: number;
  /** FtraceEventBundles read. */
  bundles: number;
  /** compact_sched events: read only to learn comms (they are not records). */
  readonly compactSched: { switch: number; waking: number };
  /** Packets that need incremental state (SEQ_NEEDS_INCREMENTAL_STATE) on a sequence whose state was not valid: their interned data is ignored (their ftrace events refer to none and are read). */
  packetsWithoutIncrementalState: number;
  /** Interned entries kept (per sequence, until its incremental state is cleared). */
  internedEntries: number;
  /** Packets that said earlier packets of their sequence were dropped (previous_packet_dropped on a later packet); each also makes a loss record. */
  packetLoss: number;
  /** Generic-event descriptors met (FtraceEventBundle.generic_event_descriptors). */
  genericDescriptors: number;
  /** Events skipped: dense generic events with no descriptor, or FtraceEvents with no event at all. */
  eventsSkipped: number;
  /** Events whose FtraceEvent field number Perfetto does not name (recorded as `ftrace_event_N`). */
  unknownEventIds: number;
  /** 64-bit values at or above 2^53, which a Number may not hold exactly. */
  inexactValues: number;
  /** The ftrace clock of the bundles (`boot` unless a bundle names another). */
  ftraceClock: string;
  /** Events the kernel's ring buffers overwrote or dropped, from FtraceStats (end minus start of trace), per cpu. */
  readonly ftraceOverrunByCpu: Record<number, number>;
}

export function createPerfettoStats(stats: ReaderStats): PerfettoReaderStats {
  return Object.assign(stats, {
    packets: 0,
    packetTypes: {},
    sequences: 0,
    compressedPackets: 0,
    bundles: 0,
    compactSched: { switch: 0, waking: 0 },
    packetsWithoutIncrementalState: 0,
    internedEntries: 0,
    packetLoss: 0,
    genericDescriptors: 0,
    eventsSkipped: 0,
    unknownEventIds: 0,
    inexactValues: 0,
    ftraceClock: 'boot',
    ftraceOverrunByCpu: {},
  });
}

/** What the payload of an FtraceEvent field is decoded as. */
const Kind = {
  /** A record with columns from a Layout (typed or dense generic). */
  layout: 1,
  /** The legacy GenericFtraceEvent. */
  legacyGeneric: 2,
  sched_switch: 3,
  /** sched_wakeup, sched_waking, sched_wakeup_new: comm=1, pid=2. */
  wakeup: 4,
  task_newtask: 5,
  task_rename: 6,
} as const;

interface EventType {
  readonly kind: number;
  readonly id: number;
  readonly layout: Layout;
}

interface SequenceState {
  valid: boolean;
  readonly kernelSymbols: Map<number, string>;
  readonly eventNames: Map<number, string>;
}

interface LossRecord {
  readonly cpu: number;
  readonly time: number;
  readonly tid: number;
  readonly tgid: number;
  readonly comm: number;
  readonly count: number;
}

const packetFieldNames = new Map<number, string>(perfettoTracePacketFields.map(([n, name]) => [n, name]));
const ftraceEventNames = new Map<number, string>(perfettoFtraceEvents.map(([n, name]) => [n, name]));

/** Error thrown inside decoding; the reader turns it into a TRACE_SYNTAX error with the location. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly expected: string,
  ) {
    super(message);
  }
}

export class PerfettoDecoder {
  private readonly r = new protobuf.Reader(new Uint8Array(0));
  private readonly s: Schema;
  private readonly batch: RawBatch;
  private readonly stats: PerfettoReaderStats;
  private readonly capacity: number;
  private readonly strings: StringTable;
  private readonly tasks = new TaskTable();
  private readonly counts = new Float64Array(1 << 16);
  private readonly eventIdByName = new Map<string, number>();
  /** By FtraceEvent field number below 65536. */
  private readonly typed: (EventType | undefined)[] = [];
  /** Dense generic events, by FtraceEvent field number (>= 65536), from bundle descriptors. */
  private readonly dense = new Map<number, EventType>();
  private readonly legacy = new Map<string, EventType>();
  private readonly sequences = new Map<number, SequenceState>();
  private readonly overrunStart = new Map<number, number>();
  private unknownComm = -1;
  private lastEventTime = Number.NaN;

  // Field numbers, copied from the schema for the hot loops.
  private readonly fEventTimestamp: number;
  private readonly fEventPid: number;
  private readonly fGeneric: number;
  private readonly fKernelSymbols: number;
  private readonly fEventNames: number;

  // The packet being decoded.
  private buf: Uint8Array = new Uint8Array(0);
  private bufEnd = 0;
  /** Byte offset (in the decompressed stream) of the current top-level packet, for errors. */
  packetOffset = 0;
  private inner: Uint8Array | null = null;
  private innerPos = 0;
  private readonly losses: LossRecord[] = [];
  // Events of the current bundle: [start, end) pairs in `buf`.
  private eventStart = new Int32Array(1024);
  private eventEnd = new Int32Array(1024);
  private eventCount = 0;
  private eventNext = 0;
  private cpu = 0;

  constructor(init: { batch: RawBatch; stats: PerfettoReaderStats; capacity: number }) {
    this.s = loadSchema();
    this.batch = init.batch;
    this.stats = init.stats;
    this.capacity = init.capacity;
    this.strings = new StringTable(init.batch.strings);
    this.fEventTimestamp = this.s.event.timestamp;
    this.fEventPid = this.s.event.pid;
    this.fGeneric = this.s.event.generic;
    this.fKernelSymbols = this.s.field('InternedData', 'kernel_symbols');
    this.fEventNames = this.s.field('InternedData', 'event_names');
    for (let id = 1; id < Tracepoint.firstDynamic; id++) {
      const name = tracepointNames[id];
      if (name !== undefined && id !== Tracepoint.lost) this.eventIdByName.set(name, id);
    }
  }

  /** Begin a top-level packet: its bytes are buf[start, end). */
  startPacket(buf: Uint8Array, start: number, end: number): void {
    this.inner = null;
    this.packet(buf, start, end, true);
  }

  /**
   * Fill the batch from the current packet; true when the packet is done,
   * false when the batch filled up first (call again after emptying it).
   */
  drain(): boolean {
    const batch = this.batch;
    for (;;) {
      while (this.losses.length > 0) {
        if (batch.length >= this.capacity) return false;
        this.emitLoss(this.losses.shift()!);
      }
      if (this.eventNext < this.eventCount) {
        const r = this.r;
        const cpu = this.cpu;
        r.buf = this.buf;
        r.len = this.bufEnd;
        while (this.eventNext < this.eventCount) {
          if (batch.length >= this.capacity) return false;
          const i = this.eventNext++;
          this.event(r, this.eventStart[i]!, this.eventEnd[i]!, cpu);
        }
      }
      const inner = this.inner;
      if (inner === null || this.innerPos >= inner.length) {
        this.inner = null;
        return true;
      }
      this.nextInnerPacket(inner);
    }
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

  /** Where decoding is, within the current packet's buffer (for errors). */
  position(): number {
    return this.r.pos;
  }

  currentBuffer(): Uint8Array {
    return this.buf;
  }

  // ---- packets -----------------------------------------------------------------

  private nextInnerPacket(inner: Uint8Array): void {
    // Inner packets are framed as in Trace: tag 0x0a, length, TracePacket.
    const r = this.r;
    r.buf = inner;
    r.pos = this.innerPos;
    r.len = inner.length;
    const tag = r.uint32();
    if (tag >>> 3 !== this.s.trace.packet || (tag & 7) !== WireType.bytes) {
      r.skipType(tag & 7);
      this.innerPos = r.pos;
      return;
    }
    const length = r.uint32();
    const start = r.pos;
    const end = start + length;
    if (end > inner.length) throw new DecodeError('packet inside compressed_packets runs past its end', 'a whole TracePacket');
    this.innerPos = end;
    this.packet(inner, start, end, false);
  }

  private packet(buf: Uint8Array, start: number, end: number, topLevel: boolean): void {
    const s = this.s.packet;
    const r = this.r;
    this.buf = buf;
    this.bufEnd = end;
    r.buf = buf;
    r.pos = start;
    r.len = end;
    this.stats.packets++;
    let sequenceId = 0;
    let flags = 0;
    let cleared = false;
    let dropped = false;
    let firstOnSequence = false;
    let bundleStart = -1;
    let bundleEnd = -1;
    let treeStart = -1;
    let treeEnd = -1;
    let statsStart = -1;
    let statsEnd = -1;
    let internedStart = -1;
    let internedEnd = -1;
    let compressed: Uint8Array | null = null;
    let zstd = false;
    const packetTypes = this.stats.packetTypes;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 0) throw new DecodeError('field number 0 in a TracePacket', 'a TracePacket field');
      if (wire === WireType.bytes) {
        const length = r.uint32();
        const at = r.pos;
        const stop = at + length;
        if (stop > end) throw new DecodeError('a TracePacket field runs past the packet', 'a length within the packet');
        r.pos = stop;
        if (field === s.internedData) {
          internedStart = at;
          internedEnd = stop;
          continue;
        }
        if (isPacketMetaField(field)) continue;
        countPacketType(packetTypes, field);
        if (field === s.ftraceEvents) {
          bundleStart = at;
          bundleEnd = stop;
        } else if (field === s.processTree) {
          treeStart = at;
          treeEnd = stop;
        } else if (field === s.ftraceStats) {
          statsStart = at;
          statsEnd = stop;
        } else if (field === s.compressedPackets || field === s.zstdCompressedPackets) {
          compressed = buf.subarray(at, stop);
          zstd = field === s.zstdCompressedPackets;
        }
        continue;
      }
      if (wire === WireType.varint) {
        if (field === s.trustedPacketSequenceId) sequenceId = r.uint32();
        else if (field === s.sequenceFlags) flags = r.uint32();
        else if (field === s.incrementalStateCleared) cleared = r.uint32() !== 0;
        else if (field === s.previousPacketDropped) dropped = r.uint32() !== 0;
        else if (field === s.firstPacketOnSequence) firstOnSequence = r.uint32() !== 0;
        else {
          if (!isPacketMetaField(field)) countPacketType(packetTypes, field);
          r.skip();
        }
        continue;
      }
      if (!isPacketMetaField(field)) countPacketType(packetTypes, field);
      skipField(r, wire);
    }

    // A packet that only wraps compressed packets belongs to no sequence; the packets inside do.
    if (compressed !== null && sequenceId === 0 && flags === 0 && !dropped && !cleared) {
      if (!topLevel) throw new DecodeError('compressed_packets inside compressed_packets', 'plain TracePackets inside compressed_packets');
      this.stats.compressedPackets++;
      this.inner = inflate(compressed, zstd);
      this.innerPos = 0;
      return;
    }

    // Sequence state: loss, then clearing, then what needs it.
    let sequence = this.sequences.get(sequenceId);
    if (sequence === undefined) {
      sequence = { valid: false, kernelSymbols: new Map(), eventNames: new Map() };
      this.sequences.set(sequenceId, sequence);
      this.stats.sequences++;
    } else if (dropped && !firstOnSequence) {
      this.stats.packetLoss++;
      this.invalidate(sequence);
      this.queueLoss(-1, Number.NaN, -1, -1, -1, Number.NaN);
    }
    if (cleared || (flags & SequenceFlag.incrementalStateCleared) !== 0) {
      this.invalidate(sequence);
      sequence.valid = true;
    }
    const stateMissing = (flags & SequenceFlag.needsIncrementalState) !== 0 && !sequence.valid;
    if (stateMissing) this.stats.packetsWithoutIncrementalState++;
    if (internedStart >= 0 && !stateMissing) this.internedData(sequence, internedStart, internedEnd);
    if (treeStart >= 0) this.processTree(treeStart, treeEnd);
    if (statsStart >= 0) this.ftraceStats(statsStart, statsEnd);
    if (bundleStart >= 0) this.bundle(bundleStart, bundleEnd);
    if (compressed !== null) {
      if (!topLevel) throw new DecodeError('compressed_packets inside compressed_packets', 'plain TracePackets inside compressed_packets');
      this.stats.compressedPackets++;
      this.inner = inflate(compressed, zstd);
      this.innerPos = 0;
    }
  }

  private invalidate(sequence: SequenceState): void {
    sequence.valid = false;
    sequence.kernelSymbols.clear();
    sequence.eventNames.clear();
  }

  private internedData(sequence: SequenceState, start: number, end: number): void {
    const r = this.r;
    r.pos = start;
    const fKernelSymbols = this.fKernelSymbols;
    const fEventNames = this.fEventNames;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (wire !== WireType.bytes) {
        skipField(r, wire);
        continue;
      }
      const length = r.uint32();
      const stop = r.pos + length;
      this.stats.internedEntries++;
      if (field === fKernelSymbols || field === fEventNames) {
        // InternedString {iid = 1, str = 2} and EventName {iid = 1, name = 2} share their layout.
        let iid = 0;
        let value = '';
        while (r.pos < stop) {
          const t = r.uint32();
          if (t === 0x08) iid = readUint64(r);
          else if (t === 0x12) value = r.string();
          else skipField(r, t & 7);
        }
        (field === fKernelSymbols ? sequence.kernelSymbols : sequence.eventNames).set(iid, value);
      }
      r.pos = stop;
    }
  }

  private processTree(start: number, end: number): void {
    const r = this.r;
    r.pos = start;
    const t = this.tasks;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if ((tag & 7) !== WireType.bytes || (field !== 1 && field !== 2)) {
        skipField(r, tag & 7);
        continue;
      }
      const stop = r.uint32() + r.pos;
      if (field === 2) {
        // ProcessTree.Thread {tid = 1, name = 2, tgid = 3}
        let tid = -1;
        let name: string | null = null;
        let tgid: number | null = null;
        while (r.pos < stop) {
          const u = r.uint32();
          if (u === 0x08) tid = r.int32();
          else if (u === 0x12) name = r.string();
          else if (u === 0x18) tgid = r.int32();
          else skipField(r, u & 7);
        }
        if (tid >= 0) {
          if (name !== null) t.setComm(tid, this.strings.intern(name));
          if (tgid !== null) t.setTgid(tid, tgid);
        }
      } else {
        // ProcessTree.Process {pid = 1, cmdline = 3, cmdline_is_comm = 9}
        let pid = -1;
        let first: string | null = null;
        let isComm = false;
        while (r.pos < stop) {
          const u = r.uint32();
          if (u === 0x08) pid = r.int32();
          else if (u === 0x1a) {
            const s = r.string();
            if (first === null) first = s;
          } else if (u === 0x48) isComm = r.uint32() !== 0;
          else skipField(r, u & 7);
        }
        if (pid >= 0) {
          t.setTgid(pid, pid);
          if (isComm && first !== null) t.setComm(pid, this.strings.intern(first));
        }
      }
      r.pos = stop;
    }
  }

  private ftraceStats(start: number, end: number): void {
    // FtraceStats {phase = 1, cpu_stats = 2}; FtraceCpuStats {cpu = 1, overrun = 3, commit_overrun = 4, dropped_events = 8}
    const r = this.r;
    r.pos = start;
    let phase = 0;
    const perCpu: [number, number][] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x08) {
        phase = r.uint32();
      } else if (tag === 0x12) {
        const stop = r.uint32() + r.pos;
        let cpu = 0;
        let lost = 0;
        while (r.pos < stop) {
          const u = r.uint32();
          if (u === 0x08) cpu = readUint64(r);
          else if (u === 0x18 || u === 0x20 || u === 0x40) lost += readUint64(r);
          else skipField(r, u & 7);
        }
        perCpu.push([cpu, lost]);
        r.pos = stop;
      } else {
        skipField(r, tag & 7);
      }
    }
    if (phase === FtraceStatsPhase.startOfTrace) {
      for (const [cpu, lost] of perCpu) this.overrunStart.set(cpu, lost);
    } else if (phase === FtraceStatsPhase.endOfTrace) {
      for (const [cpu, lost] of perCpu) {
        const delta = Math.max(0, lost - (this.overrunStart.get(cpu) ?? 0));
        this.stats.ftraceOverrunByCpu[cpu] = delta;
        this.stats.bufferOverwritten += delta;
      }
    }
  }

  // ---- bundles -----------------------------------------------------------------

  private bundle(start: number, end: number): void {
    const b = this.s.bundle;
    const r = this.r;
    r.pos = start;
    this.stats.bundles++;
    let cpu = 0;
    let lost = false;
    let lossStart = -1;
    let lossEnd = -1;
    let previousEnd = Number.NaN;
    let count = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (wire === WireType.bytes) {
        const length = r.uint32();
        const at = r.pos;
        const stop = at + length;
        if (stop > end) throw new DecodeError('a bundle field runs past the bundle', 'a length within the FtraceEventBundle');
        if (field === b.event) {
          if (count === this.eventStart.length) this.growEvents();
          this.eventStart[count] = at;
          this.eventEnd[count] = stop;
          count++;
        } else if (field === b.compactSched) {
          this.compactSched(at, stop);
        } else if (field === b.genericEventDescriptors) {
          this.genericDescriptor(at, stop);
        } else if (field === b.tierlabLoss) {
          lossStart = at;
          lossEnd = stop;
        }
        r.pos = stop;
      } else if (wire === WireType.varint) {
        if (field === b.cpu) cpu = r.uint32();
        else if (field === b.lostEvents) lost = r.uint32() !== 0;
        else if (field === b.ftraceClock) this.stats.ftraceClock = ftraceClockNames[r.uint32()] ?? 'unknown';
        else if (field === b.previousBundleEndTimestamp) previousEnd = readUint64(r);
        else r.skip();
      } else {
        skipField(r, wire);
      }
    }
    this.cpu = cpu;
    this.eventCount = count;
    this.eventNext = 0;
    if (lost || lossStart >= 0) this.bundleLoss(cpu, previousEnd, lossStart, lossEnd);
  }

  private growEvents(): void {
    const starts = new Int32Array(this.eventStart.length * 2);
    starts.set(this.eventStart);
    this.eventStart = starts;
    const ends = new Int32Array(starts.length);
    ends.set(this.eventEnd);
    this.eventEnd = ends;
  }

  private bundleLoss(cpu: number, previousEnd: number, start: number, end: number): void {
    // TierlabLossMarker {count = 1, timestamp = 2, tid = 3, tgid = 4, comm = 5}
    let count = Number.NaN;
    let time = Number.isNaN(previousEnd) ? Number.NaN : previousEnd;
    let tid = -1;
    let tgid = -1;
    let comm = -1;
    if (start >= 0) {
      const r = this.r;
      r.pos = start;
      while (r.pos < end) {
        const tag = r.uint32();
        if (tag === 0x08) count = readUint64(r);
        else if (tag === 0x10) time = readUint64(r);
        else if (tag === 0x18) tid = r.int32();
        else if (tag === 0x20) tgid = r.int32();
        else if (tag === 0x2a) comm = this.strings.intern(r.string());
        else skipField(r, tag & 7);
      }
    }
    this.queueLoss(cpu, time, tid, tgid, comm, count);
  }

  private queueLoss(cpu: number, time: number, tid: number, tgid: number, comm: number, count: number): void {
    this.losses.push({ cpu, time, tid, tgid, comm, count });
  }

  private emitLoss(loss: LossRecord): void {
    const batch = this.batch;
    const n = batch.length;
    batch.event[n] = Tracepoint.lost;
    // Without a time of its own, a marker takes the time of the event before it (as the text reader does).
    batch.time[n] = Number.isNaN(loss.time) ? this.lastEventTime : loss.time;
    batch.cpu[n] = loss.cpu;
    batch.tid[n] = loss.tid;
    batch.pid[n] = loss.tgid;
    batch.comm[n] = loss.comm;
    batch.a[n] = loss.count;
    batch.b[n] = 0;
    batch.c[n] = 0;
    batch.d[n] = 0;
    batch.e[n] = 0;
    batch.line[n] = 0;
    batch.length = n + 1;
    this.stats.lostMarkers++;
    if (!Number.isNaN(loss.count)) this.stats.lostEvents += loss.count;
  }

  private compactSched(start: number, end: number): void {
    // CompactSched: intern_table = 5, switch_next_pid = 3, switch_next_comm_index = 6,
    // waking_pid = 8, waking_comm_index = 11 (packed, or one value per tag).
    const r = this.r;
    r.pos = start;
    const table: number[] = [];
    const switchPid: number[] = [];
    const switchComm: number[] = [];
    const wakingPid: number[] = [];
    const wakingComm: number[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 5 && wire === WireType.bytes) {
        table.push(this.strings.intern(r.string()));
        continue;
      }
      const into =
        field === 3 ? switchPid : field === 6 ? switchComm : field === 8 ? wakingPid : field === 11 ? wakingComm : null;
      if (into === null) {
        skipField(r, wire);
      } else if (wire === WireType.bytes) {
        const stop = r.uint32() + r.pos;
        while (r.pos < stop) into.push(r.int32());
      } else {
        into.push(r.int32());
      }
    }
    const t = this.tasks;
    for (let i = 0; i < switchPid.length; i++) {
      const comm = table[switchComm[i] ?? -1];
      if (comm !== undefined) t.setComm(switchPid[i]!, comm);
    }
    for (let i = 0; i < wakingPid.length; i++) {
      const comm = table[wakingComm[i] ?? -1];
      if (comm !== undefined) t.setComm(wakingPid[i]!, comm);
    }
    this.stats.compactSched.switch += switchPid.length;
    this.stats.compactSched.waking += wakingPid.length;
  }

  private genericDescriptor(start: number, end: number): void {
    // GenericEventDescriptor {field_id = 1, event_descriptor = 2, group_name = 3}
    const r = this.r;
    const saved = r.pos;
    r.pos = start;
    let fieldId = -1;
    let descStart = -1;
    let descEnd = -1;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x08) fieldId = r.int32();
      else if (tag === 0x12) {
        const length = r.uint32();
        descStart = r.pos;
        descEnd = descStart + length;
        r.pos = descEnd;
      } else skipField(r, tag & 7);
    }
    this.stats.genericDescriptors++;
    // The id -> event mapping holds for the whole trace: the first description wins.
    if (fieldId >= FIRST_DENSE_GENERIC_FIELD && descStart >= 0 && !this.dense.has(fieldId)) {
      this.dense.set(fieldId, this.describeDense(descStart, descEnd));
    }
    r.pos = saved;
  }

  private describeDense(start: number, end: number): EventType {
    // DescriptorProto {name = 1, field = 2}; FieldDescriptorProto {name = 1, number = 3, type = 5}
    const r = this.r;
    r.pos = start;
    let name = '';
    const fields: [number, string, number][] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a) name = r.string();
      else if (tag === 0x12) {
        const stop = r.uint32() + r.pos;
        let fieldName = '';
        let number = 0;
        let type = 0;
        while (r.pos < stop) {
          const u = r.uint32();
          if (u === 0x0a) fieldName = r.string();
          else if (u === 0x18) number = r.int32();
          else if (u === 0x28) type = r.int32();
          else skipField(r, u & 7);
        }
        if (number > 0 && number < 1 << 16) fields.push([number, fieldName, encodingOfDescriptorType(type)]);
        r.pos = stop;
      } else skipField(r, tag & 7);
    }
    const id = this.eventId(name);
    return { kind: Kind.layout, id, layout: buildLayout(fields, tracepointFields[id]) };
  }

  // ---- events ------------------------------------------------------------------

  private event(r: protobuf.Reader, start: number, end: number, cpu: number): void {
    r.pos = start;
    let time = 0;
    let tid = 0;
    let field = 0;
    let payloadStart = 0;
    let payloadEnd = 0;
    const fTimestamp = this.fEventTimestamp;
    const fPid = this.fEventPid;
    while (r.pos < end) {
      const tag = r.uint32();
      const f = tag >>> 3;
      const wire = tag & 7;
      if (wire === WireType.bytes) {
        const length = r.uint32();
        payloadStart = r.pos;
        payloadEnd = payloadStart + length;
        if (payloadEnd > end) throw new DecodeError('an event field runs past the event', 'a length within the FtraceEvent');
        r.pos = payloadEnd;
        field = f;
      } else if (f === fTimestamp && wire === WireType.varint) {
        time = readUint64(r);
        if (time >= UNSAFE) this.stats.inexactValues++;
      } else if (f === fPid && wire === WireType.varint) {
        tid = r.uint32();
      } else {
        skipField(r, wire);
      }
    }
    if (field === 0) {
      this.stats.eventsSkipped++;
      return;
    }
    let type: EventType | undefined;
    if (field < FIRST_DENSE_GENERIC_FIELD) {
      type = this.typed[field];
      if (type === undefined) type = this.resolveTyped(field);
    } else {
      type = this.dense.get(field);
      if (type === undefined) {
        this.stats.eventsSkipped++;
        return;
      }
    }

    const batch = this.batch;
    const n = batch.length;
    const tasks = this.tasks;
    let comm = tasks.commOf(tid);
    if (comm < 0) comm = this.unknownCommId();
    batch.time[n] = time;
    batch.cpu[n] = cpu;
    batch.tid[n] = tid;
    batch.pid[n] = tasks.tgidOf(tid);
    batch.comm[n] = comm;
    batch.line[n] = 0;
    batch.a[n] = 0;
    batch.b[n] = 0;
    batch.c[n] = 0;
    batch.d[n] = 0;
    batch.e[n] = 0;
    let id = type.id;
    switch (type.kind) {
      case Kind.layout:
        if (type.layout !== EMPTY_LAYOUT) this.columns(r, payloadStart, payloadEnd, type.layout, n);
        break;
      case Kind.legacyGeneric:
        id = this.legacyGeneric(r, payloadStart, payloadEnd, n);
        break;
      case Kind.sched_switch:
        this.schedSwitch(r, payloadStart, payloadEnd);
        break;
      case Kind.wakeup:
        this.wakeup(r, payloadStart, payloadEnd);
        break;
      case Kind.task_newtask:
        this.newTask(r, payloadStart, payloadEnd, tid);
        break;
      case Kind.task_rename:
        this.rename(r, payloadStart, payloadEnd);
        break;
      default:
        break;
    }
    batch.event[n] = id;
    batch.length = n + 1;
    this.counts[id]!++;
    if (time < this.lastEventTime) this.stats.outOfOrder++;
    if (Number.isNaN(this.lastEventTime)) this.stats.firstTimeNs = time;
    this.lastEventTime = time;
    this.stats.lastTimeNs = time;
    // What the record says about tasks counts from the next record on.
    if (id === Tracepoint.schedProcessFork) {
      const child = batch.c[n]!;
      if (child >= 0) tasks.setComm(batch.b[n]!, child);
    } else if (id === Tracepoint.schedProcessExec) {
      const filename = batch.c[n]!;
      if (filename >= 0) tasks.setComm(batch.a[n]!, this.strings.intern(commAfterExec(this.batch.strings[filename]!)));
    }
  }

  /** Decode a payload's fields into the columns of record `n`. */
  private columns(r: protobuf.Reader, start: number, end: number, layout: Layout, n: number): void {
    const column = layout.column;
    const encoding = layout.encoding;
    const convert = layout.convert;
    const batch = this.batch;
    if (layout.stringColumns !== 0) this.presetStrings(layout.stringColumns, n);
    r.pos = start;
    while (r.pos < end) {
      const tag = r.uint32();
      const f = tag >>> 3;
      const wire = tag & 7;
      const col = f < column.length ? column[f]! : -1;
      if (col < 0) {
        skipField(r, wire);
        continue;
      }
      let value: number;
      const enc = encoding[f]!;
      if (enc === Encoding.string) {
        if (wire !== WireType.bytes) throw new DecodeError('a string field without a length', 'wire type 2 for a string');
        value = this.stringValue(r.string(), convert[f]!);
      } else {
        value = this.scalar(r, wire, enc);
        const conv = convert[f]!;
        if (conv === Convert.gfp) value = classifyGfpMask(value);
        else if (conv === Convert.lruFlags) value = lruFlagsOfPagemap(value);
      }
      setColumn(batch, col, n, value);
    }
    if (layout.stringColumns !== 0) this.fillAbsentStrings(layout.stringColumns, n);
  }

  private presetStrings(mask: number, n: number): void {
    for (let col = 0; col < 5; col++) if (mask & (1 << col)) setColumn(this.batch, col, n, -1);
  }

  private fillAbsentStrings(mask: number, n: number): void {
    // An absent string (a field the event did not carry) reads as ''.
    for (let col = 0; col < 5; col++) {
      if (mask & (1 << col) && columnOf(this.batch, col)[n] === -1) setColumn(this.batch, col, n, this.absentString());
    }
  }

  private absentStringId = -1;
  private absentString(): number {
    if (this.absentStringId < 0) this.absentStringId = this.strings.intern('');
    return this.absentStringId;
  }

  private stringValue(s: string, convert: number): number {
    if (convert === Convert.bdiDev) return devOfBdiName(s);
    if (convert === Convert.string) return this.strings.intern(s);
    return Number.NaN;
  }

  /** A scalar of encoding `enc` arriving with wire type `wire`, as a Number. */
  private scalar(r: protobuf.Reader, wire: number, enc: number): number {
    let value: number;
    if (wire === WireType.varint) {
      if (enc === Encoding.signed) value = readInt64(r);
      else if (enc === Encoding.zigzag) value = readSint64(r);
      else value = readUint64(r);
    } else if (wire === WireType.fixed64) {
      if (enc === Encoding.double) value = r.double();
      else value = readFixed64(r, enc === Encoding.sfixed64);
    } else if (wire === WireType.fixed32) {
      if (enc === Encoding.float) value = r.float();
      else if (enc === Encoding.sfixed32) value = r.sfixed32();
      else value = r.fixed32();
    } else {
      skipField(r, wire);
      return 0;
    }
    if (value >= UNSAFE || value <= -UNSAFE) this.stats.inexactValues++;
    return value;
  }

  private legacyGeneric(r: protobuf.Reader, start: number, end: number, n: number): number {
    // GenericFtraceEvent {event_name = 1, field = 2}; Field {name = 1, str_value = 3, int_value = 4, uint_value = 5}
    r.pos = start;
    let name = '';
    // The fields come after the name in Perfetto's output; read them in a second pass.
    let fieldsStart = -1;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a) name = r.string();
      else {
        if (fieldsStart < 0 && tag === 0x12) fieldsStart = r.pos - 1;
        skipField(r, tag & 7);
      }
    }
    let type = this.legacy.get(name);
    if (type === undefined) {
      type = { kind: Kind.legacyGeneric, id: this.eventId(name), layout: EMPTY_LAYOUT };
      this.legacy.set(name, type);
    }
    const spec = tracepointFields[type.id];
    if (spec === undefined || fieldsStart < 0) return type.id;
    const batch = this.batch;
    let strings = 0;
    for (const f of spec.fields) if (f.convert === Convert.string) strings |= 1 << f.column;
    if (strings !== 0) this.presetStrings(strings, n);
    r.pos = fieldsStart;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag !== 0x12) {
        skipField(r, tag & 7);
        continue;
      }
      const stop = r.uint32() + r.pos;
      let fieldName = '';
      let value = Number.NaN;
      let text: string | null = null;
      while (r.pos < stop) {
        const u = r.uint32();
        if (u === 0x0a) fieldName = r.string();
        else if (u === 0x1a) text = r.string();
        else if (u === 0x20) value = readInt64(r);
        else if (u === 0x28) value = readUint64(r);
        else skipField(r, u & 7);
      }
      r.pos = stop;
      const f = spec.fields.find((x) => x.name === fieldName);
      if (f === undefined) continue;
      if (text !== null) value = this.stringValue(text, f.convert);
      else if (f.convert === Convert.gfp) value = classifyGfpMask(value);
      else if (f.convert === Convert.lruFlags) value = lruFlagsOfPagemap(value);
      if (value >= UNSAFE || value <= -UNSAFE) this.stats.inexactValues++;
      setColumn(batch, f.column, n, value);
    }
    if (strings !== 0) this.fillAbsentStrings(strings, n);
    return type.id;
  }

  // Events read for the task table only (their records have no columns).

  private schedSwitch(r: protobuf.Reader, start: number, end: number): void {
    // SchedSwitchFtraceEvent {prev_comm = 1, prev_pid = 2, next_comm = 5, next_pid = 6}
    r.pos = start;
    let prevComm: string | null = null;
    let prevPid = -1;
    let nextComm: string | null = null;
    let nextPid = -1;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a) prevComm = r.string();
      else if (tag === 0x10) prevPid = r.int32();
      else if (tag === 0x2a) nextComm = r.string();
      else if (tag === 0x30) nextPid = r.int32();
      else skipField(r, tag & 7);
    }
    if (prevComm !== null && prevPid >= 0) this.tasks.setComm(prevPid, this.strings.intern(prevComm));
    if (nextComm !== null && nextPid >= 0) this.tasks.setComm(nextPid, this.strings.intern(nextComm));
  }

  private wakeup(r: protobuf.Reader, start: number, end: number): void {
    // Sched{Wakeup,Waking,WakeupNew}FtraceEvent {comm = 1, pid = 2}
    r.pos = start;
    let comm: string | null = null;
    let pid = -1;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a) comm = r.string();
      else if (tag === 0x10) pid = r.int32();
      else skipField(r, tag & 7);
    }
    if (comm !== null && pid >= 0) this.tasks.setComm(pid, this.strings.intern(comm));
  }

  private newTask(r: protobuf.Reader, start: number, end: number, parent: number): void {
    // TaskNewtaskFtraceEvent {pid = 1, comm = 2, clone_flags = 3}; it runs in the parent's context.
    r.pos = start;
    let pid = -1;
    let comm: string | null = null;
    let flags = -1;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x08) pid = r.int32();
      else if (tag === 0x12) comm = r.string();
      else if (tag === 0x18) flags = readUint64(r);
      else skipField(r, tag & 7);
    }
    if (pid < 0) return;
    if (comm !== null) this.tasks.setComm(pid, this.strings.intern(comm));
    if (flags >= 0) this.tasks.setTgid(pid, flags % (CLONE_THREAD * 2) >= CLONE_THREAD ? this.tasks.tgidOf(parent) : pid);
  }

  private rename(r: protobuf.Reader, start: number, end: number): void {
    // TaskRenameFtraceEvent {pid = 1, newcomm = 3}
    r.pos = start;
    let pid = -1;
    let comm: string | null = null;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x08) pid = r.int32();
      else if (tag === 0x1a) comm = r.string();
      else skipField(r, tag & 7);
    }
    if (comm !== null && pid >= 0) this.tasks.setComm(pid, this.strings.intern(comm));
  }

  // ---- names -------------------------------------------------------------------

  private resolveTyped(field: number): EventType {
    let type: EventType;
    if (field === this.fGeneric) {
      type = { kind: Kind.legacyGeneric, id: 0, layout: EMPTY_LAYOUT };
    } else {
      let name = ftraceEventNames.get(field);
      if (name === undefined) {
        this.stats.unknownEventIds++;
        name = `ftrace_event_${field}`;
      }
      const id = this.eventId(name);
      const kind =
        name === 'sched_switch'
          ? Kind.sched_switch
          : name === 'sched_wakeup' || name === 'sched_waking' || name === 'sched_wakeup_new'
            ? Kind.wakeup
            : name === 'task_newtask'
              ? Kind.task_newtask
              : name === 'task_rename'
                ? Kind.task_rename
                : Kind.layout;
      let layout = EMPTY_LAYOUT;
      const spec = tracepointFields[id];
      if (kind === Kind.layout && spec !== undefined) {
        const message = this.s.type('FtraceEvent').fieldsById[field]?.resolvedType;
        if (message instanceof protobuf.Type) layout = layoutOfType(message, spec);
      }
      type = { kind, id, layout };
    }
    // Numbers Perfetto does not name stay unresolved, so that each such event is counted.
    if (ftraceEventNames.has(field) || field === this.fGeneric) this.typed[field] = type;
    return type;
  }

  private eventId(name: string): number {
    let id = this.eventIdByName.get(name);
    if (id === undefined) {
      const names = this.batch.eventNames;
      id = Math.max(names.length, Tracepoint.firstDynamic);
      if (id > 0xffff) throw new DecodeError('more than 65535 distinct event names', 'fewer event names');
      while (names.length < id) names.push('');
      names.push(name);
      this.eventIdByName.set(name, id);
    }
    return id;
  }

  private unknownCommId(): number {
    if (this.unknownComm < 0) this.unknownComm = this.strings.intern(UNKNOWN_COMM);
    return this.unknownComm;
  }
}

/** The comm of a thread the trace never named (tracefs prints the same for a pid not in its cmdline cache). */
export const UNKNOWN_COMM = '<...>';

function setColumn(batch: RawBatch, column: number, n: number, value: number): void {
  columnOf(batch, column)[n] = value;
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

/** TracePacket fields that describe the packet rather than carry its payload. */
function isPacketMetaField(field: number): boolean {
  // timestamp 8, trusted_uid 3, trusted_packet_sequence_id 10, interned_data 12, sequence_flags 13,
  // incremental_state_cleared 41, previous_packet_dropped 42, timestamp_clock_id 58,
  // trace_packet_defaults 59, trusted_pid 79, first_packet_on_sequence 87, machine_id 98
  return (
    field === 8 ||
    field === 3 ||
    field === 10 ||
    field === 12 ||
    field === 13 ||
    field === 41 ||
    field === 42 ||
    field === 58 ||
    field === 59 ||
    field === 79 ||
    field === 87 ||
    field === 98
  );
}

const packetTypeNames: string[] = [];
function countPacketType(types: Record<string, number>, field: number): void {
  let name = packetTypeNames[field];
  if (name === undefined) {
    name = packetFieldNames.get(field) ?? `field_${field}`;
    packetTypeNames[field] = name;
  }
  types[name] = (types[name] ?? 0) + 1;
}

function skipField(r: protobuf.Reader, wire: number): void {
  if (wire === WireType.startGroup || wire === WireType.endGroup || wire > WireType.fixed32) {
    throw new DecodeError(`wire type ${wire}`, 'wire type 0, 1, 2 or 5');
  }
  r.skipType(wire);
}

function inflate(bytes: Uint8Array, zstd: boolean): Uint8Array {
  try {
    if (zstd) return zstdDecompress(bytes);
    // Perfetto writes a zlib stream; unzip also takes gzip.
    return unzipSync(bytes);
  } catch (cause) {
    if (!zstd) {
      try {
        return inflateRawSync(bytes);
      } catch {
        // fall through
      }
    }
    throw new DecodeError(`compressed_packets do not inflate (${(cause as Error).message})`, zstd ? 'a zstd frame' : 'a zlib stream');
  }
}

export { isPacketMetaField };
