/**
 * Our .proto subset of Perfetto's schema (../proto/*.proto, shipped with the
 * package), loaded once with protobufjs at run time. The reader and the writer
 * take every field number from here, so the .proto files are the one place
 * that states them; each file cites the Perfetto proto it mirrors.
 */

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const FILES = [
  'trace.proto',
  'trace_packet.proto',
  'ftrace_event_bundle.proto',
  'ftrace_event.proto',
  'ftrace_stats.proto',
  'kmem.proto',
  'filemap.proto',
  'vmscan.proto',
  'compaction.proto',
  'sched.proto',
  'task.proto',
  'generic.proto',
  'process_tree.proto',
  'interned_data.proto',
  'descriptor.proto',
  'tierlab.proto',
];

/** Field numbers, by message and field name as the .proto spells them. */
export interface Schema {
  readonly root: protobuf.Root;
  /** The message type `tierlab.perfetto.<name>`. */
  type(name: string): protobuf.Type;
  /** The number of `field` in message `message`; throws when the subset lacks it. */
  field(message: string, field: string): number;
  readonly trace: { readonly packet: number };
  readonly packet: {
    readonly timestamp: number;
    readonly ftraceEvents: number;
    readonly processTree: number;
    readonly ftraceStats: number;
    readonly compressedPackets: number;
    readonly zstdCompressedPackets: number;
    readonly trustedPacketSequenceId: number;
    readonly internedData: number;
    readonly sequenceFlags: number;
    readonly incrementalStateCleared: number;
    readonly previousPacketDropped: number;
    readonly firstPacketOnSequence: number;
  };
  readonly bundle: {
    readonly cpu: number;
    readonly event: number;
    readonly lostEvents: number;
    readonly compactSched: number;
    readonly ftraceClock: number;
    readonly previousBundleEndTimestamp: number;
    readonly genericEventDescriptors: number;
    readonly tierlabLoss: number;
  };
  readonly event: { readonly timestamp: number; readonly pid: number; readonly generic: number };
}

let cached: Schema | undefined;

/** The schema (loaded on first use). */
export function loadSchema(): Schema {
  if (cached !== undefined) return cached;
  const dir = fileURLToPath(new URL('../proto/', import.meta.url));
  const root = new protobuf.Root().loadSync(
    FILES.map((f) => dir + f),
    { keepCase: true },
  );
  root.resolveAll();
  const type = (name: string): protobuf.Type => root.lookupType(`tierlab.perfetto.${name}`);
  const field = (message: string, name: string): number => {
    const f = type(message).fields[name];
    if (f === undefined) throw new Error(`proto subset has no ${message}.${name}`);
    return f.id;
  };
  cached = {
    root,
    type,
    field,
    trace: { packet: field('Trace', 'packet') },
    packet: {
      timestamp: field('TracePacket', 'timestamp'),
      ftraceEvents: field('TracePacket', 'ftrace_events'),
      processTree: field('TracePacket', 'process_tree'),
      ftraceStats: field('TracePacket', 'ftrace_stats'),
      compressedPackets: field('TracePacket', 'compressed_packets'),
      zstdCompressedPackets: field('TracePacket', 'zstd_compressed_packets'),
      trustedPacketSequenceId: field('TracePacket', 'trusted_packet_sequence_id'),
      internedData: field('TracePacket', 'interned_data'),
      sequenceFlags: field('TracePacket', 'sequence_flags'),
      incrementalStateCleared: field('TracePacket', 'incremental_state_cleared'),
      previousPacketDropped: field('TracePacket', 'previous_packet_dropped'),
      firstPacketOnSequence: field('TracePacket', 'first_packet_on_sequence'),
    },
    bundle: {
      cpu: field('FtraceEventBundle', 'cpu'),
      event: field('FtraceEventBundle', 'event'),
      lostEvents: field('FtraceEventBundle', 'lost_events'),
      compactSched: field('FtraceEventBundle', 'compact_sched'),
      ftraceClock: field('FtraceEventBundle', 'ftrace_clock'),
      previousBundleEndTimestamp: field('FtraceEventBundle', 'previous_bundle_end_timestamp'),
      genericEventDescriptors: field('FtraceEventBundle', 'generic_event_descriptors'),
      tierlabLoss: field('FtraceEventBundle', 'tierlab_loss'),
    },
    event: {
      timestamp: field('FtraceEvent', 'timestamp'),
      pid: field('FtraceEvent', 'pid'),
      generic: field('FtraceEvent', 'generic'),
    },
  };
  return cached;
}

/** Wire types (protobuf encoding). */
export const WireType = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** First FtraceEvent field number of self-describing generic events (Perfetto's kGenericEvtProtoMinPbFieldId). */
export const FIRST_DENSE_GENERIC_FIELD = 65536;

/** FtraceEventBundle.ftrace_clock values (protos/perfetto/trace/ftrace/ftrace_event_bundle.proto, enum FtraceClock). */
export const ftraceClockNames: Readonly<Record<number, string>> = {
  0: 'boot',
  1: 'unknown',
  2: 'global',
  3: 'local',
  4: 'mono_raw',
};

/** TracePacket.sequence_flags bits (enum SequenceFlags). */
export const SequenceFlag = { incrementalStateCleared: 1, needsIncrementalState: 2 } as const;

/** FtraceStats.phase (enum Phase). */
export const FtraceStatsPhase = { startOfTrace: 1, endOfTrace: 2 } as const;

/** DescriptorProto field types used by generic events (FieldDescriptorProto.Type). */
export const FieldType = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  bytes: 12,
  uint32: 13,
  enum: 14,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
} as const;
