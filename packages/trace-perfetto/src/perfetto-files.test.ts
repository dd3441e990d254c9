import { describe, expect, it } from 'vitest';
import { perfettoFtraceEvents, perfettoTracePacketFields } from './ftrace-event-names.js';
import { openPerfetto } from './reader.js';
import type { PerfettoTraceReader } from './reader.js';
import { countIndependently, fileBytes, havePerfetto, noPerfettoReason, perfettoFile } from './test-data.js';

// The real Perfetto traces in ../shared/data/perfetto (see its README): no
// memory events, but real framing, sched/task events, interning, unknown
// fields and gzip.

const eventName = new Map(perfettoFtraceEvents.map(([n, name]) => [n, name]));
const packetName = new Map(perfettoTracePacketFields.map(([n, name]) => [n, name]));

async function readAll(file: string): Promise<{ reader: PerfettoTraceReader; records: number; byName: Map<string, number> }> {
  const reader = openPerfetto(file);
  let records = 0;
  const byName = new Map<string, number>();
  for await (const batch of reader.batches()) {
    records += batch.length;
    for (let i = 0; i < batch.length; i++) {
      const name = batch.eventNames[batch.event[i]!]!;
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
  }
  return { reader, records, byName };
}

/** Event totals and packet counts as the data README lists them. */
const readmeTotals: Record<string, { packets: number; sequences: number; bundles: number; events: Record<string, number> }> = {
  'ms_android_sched_ftrace.perfetto-trace': {
    packets: 1901,
    sequences: 6,
    bundles: 1863,
    events: {
      sched_switch: 15267,
      cpu_idle: 11687,
      sched_wakeup: 8743,
      cpu_frequency: 168,
      task_newtask: 4,
      task_rename: 4,
      sched_process_exit: 4,
    },
  },
  'ms_android_sched_perf_sampling.pftrace': {
    packets: 2462,
    sequences: 7,
    bundles: 363,
    events: {
      sched_switch: 24698,
      sched_wakeup: 15470,
      sched_waking: 15470,
      cpu_idle: 8032,
      task_rename: 47,
      oom_score_adj_update: 41,
      sched_process_free: 40,
      task_newtask: 39,
      sched_wakeup_new: 39,
      sched_process_exit: 39,
    },
  },
  'ms_android_basic_memory.pftrace': { packets: 100, sequences: 3, bundles: 0, events: {} },
  'ms_chrome_trackevents.pftrace.gz': { packets: 293610, sequences: 102, bundles: 0, events: {} },
};

describe.skipIf(!havePerfetto)(havePerfetto ? 'real Perfetto traces' : `real Perfetto traces (skipped: ${noPerfettoReason})`, () => {
  for (const [name, totals] of Object.entries(readmeTotals)) {
    it(`${name}: reads, with the README's totals and an independent decoder's counts`, async () => {
      const file = perfettoFile(name);
      const { reader, records, byName } = await readAll(file);
      const stats = reader.stats;
      expect(stats.format).toBe('perfetto');
      expect(stats.packets).toBe(totals.packets);
      expect(stats.sequences).toBe(totals.sequences);
      expect(stats.bundles).toBe(totals.bundles);
      expect(Object.fromEntries(byName)).toEqual(totals.events);
      expect(stats.eventCounts).toEqual(totals.events);
      expect(records).toBe(Object.values(totals.events).reduce((x, y) => x + y, 0));
      expect(stats.eventsSkipped).toBe(0);
      expect(stats.unknownEventIds).toBe(0);
      expect(stats.lostMarkers).toBe(0);

      const bytes = fileBytes(file);
      expect(stats.bytesRead).toBe(bytes.length);
      const independent = countIndependently(bytes);
      expect(independent.packets).toBe(stats.packets);
      expect(independent.bundles).toBe(stats.bundles);
      const independentEvents: Record<string, number> = {};
      for (const [field, n] of independent.events) independentEvents[eventName.get(field) ?? `#${field}`] = n;
      expect(independentEvents).toEqual(stats.eventCounts);
      // Every payload field of the packets, by name (unknown numbers as field_N).
      for (const [field, n] of independent.packetFields) {
        const key = packetName.get(field) ?? `field_${field}`;
        if (stats.packetTypes[key] !== undefined) expect(stats.packetTypes[key], key).toBe(n);
      }
    });
  }

  it('keeps what the README says each file holds', async () => {
    const memory = (await readAll(perfettoFile('ms_android_basic_memory.pftrace'))).reader.stats;
    // Polled memory counters, no ftrace: no rss_stat or other mm events to find.
    expect(memory.packetTypes).toMatchObject({ sys_stats: 45, process_stats: 46, process_tree: 2, clock_snapshot: 2 });
    expect(memory.packetTypes.ftrace_events).toBeUndefined();

    const sampling = (await readAll(perfettoFile('ms_android_sched_perf_sampling.pftrace'))).reader.stats;
    // The unknown packet field #76 (frame_timeline_event, an Android extension) is skipped, and counted.
    expect(sampling.packetTypes).toMatchObject({ field_76: 1167, perf_sample: 742, process_tree: 20, process_stats: 10, sys_stats: 10 });
    expect(sampling.internedEntries).toBeGreaterThan(0);
    expect(sampling.compactSched).toEqual({ switch: 0, waking: 0 });

    const chrome = (await readAll(perfettoFile('ms_chrome_trackevents.pftrace.gz'))).reader.stats;
    expect(chrome.bytesRead).toBe(9331243);
    expect(chrome.packetTypes.track_event).toBe(292326);
    expect(chrome.internedEntries).toBeGreaterThan(0);
  });

  it('names threads from sched events, task events and process trees', async () => {
    const reader = openPerfetto(perfettoFile('ms_android_sched_perf_sampling.pftrace'));
    const comms = new Set<string>();
    let withPid = 0;
    let unknown = 0;
    let total = 0;
    let monotonicPerCpu = true;
    const lastOnCpu = new Map<number, number>();
    for await (const batch of reader.batches()) {
      for (let i = 0; i < batch.length; i++) {
        const comm = batch.strings[batch.comm[i]!]!;
        comms.add(comm);
        if (comm === '<...>') unknown++;
        if (batch.pid[i]! >= 0) withPid++;
        const cpu = batch.cpu[i]!;
        if ((lastOnCpu.get(cpu) ?? 0) > batch.time[i]!) monotonicPerCpu = false;
        lastOnCpu.set(cpu, batch.time[i]!);
        total++;
      }
    }
    expect(total).toBe(63_915);
    // After the first switches, almost every record has a comm.
    expect(unknown / total).toBeLessThan(0.01);
    expect(comms.has('swapper/0') || comms.has('swapper')).toBe(true);
    // This file's full process tree (packet 2429) comes after all its ftrace bundles (packets 66-505):
    // read in one pass, it names thread groups only for the tids task_newtask showed.
    expect(withPid).toBeGreaterThan(0);
    expect(withPid).toBeLessThan(total / 10);
    // Bundles are per cpu: file order is time order on each cpu, not across them.
    expect(monotonicPerCpu).toBe(true);
    expect(reader.stats.outOfOrder).toBeGreaterThan(0);
  });
});
