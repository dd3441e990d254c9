import { describe, expect, it } from 'vitest';
import { loadExportSchema } from './schema.js';
import { type ReplayResultLike, encodeReplayPerfetto, planTracks, toNs } from './writer.js';

const series = {
  intervalMs: 100,
  // 0.30000000000000004 ms style values: rounded to whole ns; the last row repeats the previous end (close()).
  timeMs: [100, 200.0000001, 250.3, 250.3],
  accesses: [3, 0, 7, 0],
  accessCostNs: [12.5, 0, 1e-3, 0],
  fastTierAccessShare: [1 / 3, 0, 0.5, 0],
  promotedPages: [0, 2, 0, 0],
  demotedPages: [0, 0, 5, 0],
  evictedPages: [1, 0, 0, 0],
  dirtyBytesAtRisk: [4096, 0, 0, 0],
  lostEvents: [0, Number.NaN, 3, 0],
  usedPages: [
    [1, 2, 3, 3],
    [0, 0, 2 ** 40, 2 ** 40],
  ],
};
const result: ReplayResultLike = {
  machine: {
    name: 'test',
    pageSize: 4096,
    nodes: [
      { id: 0, name: 'dram0', tier: 0 },
      { id: 1, name: 'pmem0', tier: 1 },
    ],
  },
  policies: [
    { policy: 'a', series },
    { policy: 'broken', error: { code: 'POLICY', message: 'boom' } },
  ],
};

interface Packet {
  timestamp?: number;
  sequence_flags?: number;
  track_descriptor?: { name: string };
  track_event?: { type: string; track_uuid: number; name?: string; double_counter_value?: number };
}

describe('encodeReplayPerfetto on a hand-made result', () => {
  const { bytes, stats } = encodeReplayPerfetto(result);
  const s = loadExportSchema();
  const trace = s.Trace.toObject(s.Trace.decode(bytes), { longs: Number, enums: String, arrays: true }) as {
    packet: Packet[];
  };

  it('declares a failed policy as a lone parent track', () => {
    const names = trace.packet.filter((p) => p.track_descriptor).map((p) => p.track_descriptor!.name);
    expect(names).toContain('broken (failed)');
    expect(planTracks(result).filter((t) => t.policyIndex === 1)).toHaveLength(1);
    expect(stats.tracks).toBe(names.length);
  });

  it('rounds timestamps to whole ns and keeps values exact, large ones included', () => {
    const events = trace.packet.filter((p) => p.track_event);
    expect(events.every((p) => Number.isInteger(p.timestamp))).toBe(true);
    expect(events.map((p) => p.timestamp)).toContain(toNs(250.3));
    expect(toNs(200.0000001)).toBe(200_000_000);
    const pmem = planTracks(result).find((t) => t.name === 'a: pmem0 used bytes')!;
    const values = events.filter((p) => p.track_event!.track_uuid === pmem.uuid).map((p) => p.track_event!.double_counter_value);
    expect(values).toEqual([0, 0, 2 ** 52, 2 ** 52]);
    const share = planTracks(result).find((t) => t.kind === 'fastTierShare')!;
    expect(events.filter((p) => p.track_event!.track_uuid === share.uuid).map((p) => p.track_event!.double_counter_value)).toEqual(series.fastTierAccessShare);
    expect(events.filter((p) => p.track_event!.type === 'TYPE_COUNTER')).toHaveLength(stats.counterEvents);
  });

  it('writes instants for migrations, evictions and loss (unknown counts say so)', () => {
    const instants = trace.packet.filter((p) => p.track_event?.type === 'TYPE_INSTANT').map((p) => [p.timestamp, p.track_event!.name]);
    expect(instants).toEqual([
      [100_000_000, 'evicted 1 pages'],
      [200_000_000, 'promoted 2 pages'],
      [200_000_000, 'lost unknown trace events'],
      [250_300_000, 'demoted 5 pages'],
      [250_300_000, 'lost 3 trace events'],
    ]);
    expect(stats.instantEvents).toBe(5);
  });

  it('sets SEQ_INCREMENTAL_STATE_CLEARED on the first packet only', () => {
    expect(trace.packet[0]!.sequence_flags).toBe(1);
    expect(trace.packet.slice(1).some((p) => p.sequence_flags !== undefined)).toBe(false);
    expect(stats.packets).toBe(trace.packet.length);
  });
});
