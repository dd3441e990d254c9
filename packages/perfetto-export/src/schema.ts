/**
 * Our write-side .proto subset of Perfetto's schema (../proto/*.proto, shipped
 * with the package), loaded once with protobufjs. Every field number the
 * exporter uses comes from there; each .proto cites the Perfetto file it
 * mirrors.
 */

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const FILES = ['trace.proto', 'track_descriptor.proto', 'track_event.proto'];

export interface ExportSchema {
  readonly root: protobuf.Root;
  readonly Trace: protobuf.Type;
  readonly TracePacket: protobuf.Type;
  readonly TrackDescriptor: protobuf.Type;
  readonly CounterDescriptor: protobuf.Type;
  readonly TrackEvent: protobuf.Type;
}

let cached: ExportSchema | undefined;

/** The schema (loaded on first use). */
export function loadExportSchema(): ExportSchema {
  if (cached !== undefined) return cached;
  const dir = fileURLToPath(new URL('../proto/', import.meta.url));
  const root = new protobuf.Root().loadSync(
    FILES.map((f) => dir + f),
    { keepCase: true },
  );
  root.resolveAll();
  const type = (name: string): protobuf.Type => root.lookupType(`tierlab.perfetto.export.${name}`);
  cached = {
    root,
    Trace: type('Trace'),
    TracePacket: type('TracePacket'),
    TrackDescriptor: type('TrackDescriptor'),
    CounterDescriptor: type('CounterDescriptor'),
    TrackEvent: type('TrackEvent'),
  };
  return cached;
}

/** TrackEvent.Type (track_event.proto, field 9). */
export const TrackEventType = { sliceBegin: 1, sliceEnd: 2, instant: 3, counter: 4 } as const;
/** CounterDescriptor.Unit (counter_descriptor.proto, field 3). */
export const CounterUnit = { unspecified: 0, timeNs: 1, count: 2, sizeBytes: 3 } as const;
/** TracePacket.SequenceFlags (trace_packet.proto, field 13). */
export const SequenceFlags = { incrementalStateCleared: 1, needsIncrementalState: 2 } as const;
