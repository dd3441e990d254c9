import { describe, expect, it } from 'vitest';
import { perfettoFtraceEvents, perfettoTracePacketFields } from './ftrace-event-names.js';
import { loadSchema } from './schema.js';

// The .proto subset states Perfetto's field numbers; the decoder reads a few
// small messages by literal tag. Both are checked here against the subset and
// against the generated name tables (taken from Perfetto's own protos).

describe('the .proto subset', () => {
  const s = loadSchema();

  it('agrees with the FtraceEvent and TracePacket numbers generated from Perfetto', () => {
    const events = new Map(perfettoFtraceEvents.map(([n, name]) => [name, n]));
    for (const field of s.type('FtraceEvent').oneofs.event!.fieldsArray) {
      expect(field.id, field.name).toBe(events.get(field.name));
    }
    const packet = new Map(perfettoTracePacketFields.map(([n, name]) => [name, n]));
    for (const field of s.type('TracePacket').fieldsArray) expect(field.id, field.name).toBe(packet.get(field.name));
  });

  it.each([
    // message, field, number used as a literal tag in decoder.ts / writer.ts
    ['ProcessTree.Thread', 'tid', 1],
    ['ProcessTree.Thread', 'name', 2],
    ['ProcessTree.Thread', 'tgid', 3],
    ['ProcessTree.Process', 'pid', 1],
    ['ProcessTree.Process', 'cmdline', 3],
    ['ProcessTree.Process', 'cmdline_is_comm', 9],
    ['ProcessTree', 'processes', 1],
    ['ProcessTree', 'threads', 2],
    ['FtraceStats', 'phase', 1],
    ['FtraceStats', 'cpu_stats', 2],
    ['FtraceCpuStats', 'cpu', 1],
    ['FtraceCpuStats', 'overrun', 3],
    ['FtraceCpuStats', 'commit_overrun', 4],
    ['FtraceCpuStats', 'dropped_events', 8],
    ['FtraceEventBundle.CompactSched', 'intern_table', 5],
    ['FtraceEventBundle.CompactSched', 'switch_next_pid', 3],
    ['FtraceEventBundle.CompactSched', 'switch_next_comm_index', 6],
    ['FtraceEventBundle.CompactSched', 'waking_pid', 8],
    ['FtraceEventBundle.CompactSched', 'waking_comm_index', 11],
    ['FtraceEventBundle.GenericEventDescriptor', 'field_id', 1],
    ['FtraceEventBundle.GenericEventDescriptor', 'event_descriptor', 2],
    ['DescriptorProto', 'name', 1],
    ['DescriptorProto', 'field', 2],
    ['FieldDescriptorProto', 'name', 1],
    ['FieldDescriptorProto', 'number', 3],
    ['FieldDescriptorProto', 'type', 5],
    ['GenericFtraceEvent', 'event_name', 1],
    ['GenericFtraceEvent', 'field', 2],
    ['GenericFtraceEvent.Field', 'name', 1],
    ['GenericFtraceEvent.Field', 'str_value', 3],
    ['GenericFtraceEvent.Field', 'int_value', 4],
    ['GenericFtraceEvent.Field', 'uint_value', 5],
    ['SchedSwitchFtraceEvent', 'prev_comm', 1],
    ['SchedSwitchFtraceEvent', 'prev_pid', 2],
    ['SchedSwitchFtraceEvent', 'next_comm', 5],
    ['SchedSwitchFtraceEvent', 'next_pid', 6],
    ['SchedWakeupFtraceEvent', 'comm', 1],
    ['SchedWakeupFtraceEvent', 'pid', 2],
    ['SchedWakingFtraceEvent', 'comm', 1],
    ['SchedWakingFtraceEvent', 'pid', 2],
    ['SchedWakeupNewFtraceEvent', 'comm', 1],
    ['SchedWakeupNewFtraceEvent', 'pid', 2],
    ['TaskNewtaskFtraceEvent', 'pid', 1],
    ['TaskNewtaskFtraceEvent', 'comm', 2],
    ['TaskNewtaskFtraceEvent', 'clone_flags', 3],
    ['TaskRenameFtraceEvent', 'pid', 1],
    ['TaskRenameFtraceEvent', 'newcomm', 3],
    ['InternedData', 'event_names', 2],
    ['InternedData', 'kernel_symbols', 26],
    ['InternedString', 'iid', 1],
    ['InternedString', 'str', 2],
    ['TierlabLossMarker', 'count', 1],
    ['TierlabLossMarker', 'timestamp', 2],
    ['TierlabLossMarker', 'tid', 3],
    ['TierlabLossMarker', 'tgid', 4],
    ['TierlabLossMarker', 'comm', 5],
    ['Trace', 'packet', 1],
  ] as const)('%s.%s = %d', (message, field, number) => {
    expect(s.field(message, field)).toBe(number);
  });

  it('keeps tierlab extensions out of the numbers Perfetto uses', () => {
    expect(s.bundle.tierlabLoss).toBeGreaterThanOrEqual(1000);
    expect(s.field('MmFilemapAddToPageCacheFtraceEvent', 'order')).toBeGreaterThanOrEqual(1000);
    expect(s.field('MmFilemapDeleteFromPageCacheFtraceEvent', 'order')).toBeGreaterThanOrEqual(1000);
  });
});
