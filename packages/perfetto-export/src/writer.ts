/**
 * A replay result as a Perfetto trace: per policy, one parent track with
 * counter tracks (node occupancy, fast-tier share, access cost, dirty bytes
 * at risk, promotions/demotions/evictions per interval) and instant tracks
 * (migrations, reclaim, trace loss). Packets are protobufjs-encoded with our
 * .proto subset (../proto) and framed as Trace.packet (field 1).
 */

import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { CounterUnit, SequenceFlags, TrackEventType, loadExportSchema } from './schema.js';

/** The columns of a policy's time series this exporter reads (engine's SeriesResult). */
export interface SeriesLike {
  readonly intervalMs: number;
  readonly timeMs: readonly number[];
  readonly accesses: readonly number[];
  readonly accessCostNs: readonly number[];
  readonly fastTierAccessShare: readonly number[];
  readonly promotedPages: readonly number[];
  readonly demotedPages: readonly number[];
  readonly evictedPages: readonly number[];
  readonly dirtyBytesAtRisk: readonly number[];
  readonly lostEvents: readonly number[];
  readonly usedPages: readonly (readonly number[])[];
}

/** The part of `@tierlab/replay`'s ReplayResult this exporter reads (a ReplayResult is one). */
export interface ReplayResultLike {
  readonly machine: {
    readonly name: string;
    readonly pageSize: number;
    readonly nodes: readonly { readonly id: number; readonly name: string; readonly tier: number }[];
  };
  readonly policies: readonly {
    readonly policy: string;
    readonly series?: SeriesLike;
    readonly error?: { readonly code: string; readonly message: string } | undefined;
  }[];
}

/** What a track shows; `node` set for occupancy tracks. */
export type TrackKind =
  | 'policy'
  | 'occupancy'
  | 'fastTierShare'
  | 'accesses'
  | 'accessCost'
  | 'dirtyBytesAtRisk'
  | 'promoted'
  | 'demoted'
  | 'evicted'
  | 'migrations'
  | 'reclaim'
  | 'loss';

export interface TrackPlan {
  readonly uuid: number;
  /** Absent for a policy's parent track. */
  readonly parentUuid?: number;
  readonly name: string;
  readonly kind: TrackKind;
  readonly policyIndex: number;
  readonly node?: number;
  /** Set for counter tracks: CounterDescriptor.Unit. */
  readonly unit?: number;
  /** When the track's samples are placed: 'start' or 'end' of each interval (counters only). */
  readonly at?: 'start' | 'end';
}

/** The sequence every packet is written on (trusted_packet_sequence_id). */
export const SEQUENCE_ID = 1;
/** Category of every instant event. */
export const CATEGORY = 'tierlab';
/** uuid of policy p's parent track; its children are uuid + 1, + 2, … */
export const policyTrackUuid = (policyIndex: number): number => (policyIndex + 1) * 1000;

/** The tracks `writeReplayPerfetto` declares for a result, in declaration order. */
export function planTracks(result: ReplayResultLike): TrackPlan[] {
  const tracks: TrackPlan[] = [];
  result.policies.forEach((p, policyIndex) => {
    const parent = policyTrackUuid(policyIndex);
    const failed = p.error !== undefined || p.series === undefined;
    tracks.push({ uuid: parent, name: failed ? `${p.policy} (failed)` : p.policy, kind: 'policy', policyIndex });
    if (failed) return;
    let next = parent + 1;
    const child = (kind: TrackKind, name: string, extra: Partial<TrackPlan> = {}): void => {
      tracks.push({ uuid: next++, parentUuid: parent, name: `${p.policy}: ${name}`, kind, policyIndex, ...extra });
    };
    for (const node of result.machine.nodes) {
      child('occupancy', `${node.name} used bytes`, { node: node.id, unit: CounterUnit.sizeBytes, at: 'end' });
    }
    child('fastTierShare', 'fast-tier access share', { unit: CounterUnit.unspecified, at: 'start' });
    child('accesses', 'accesses per interval', { unit: CounterUnit.count, at: 'start' });
    child('accessCost', 'access cost per interval (ns)', { unit: CounterUnit.timeNs, at: 'start' });
    child('dirtyBytesAtRisk', 'dirty bytes at risk', { unit: CounterUnit.sizeBytes, at: 'end' });
    child('promoted', 'promoted pages per interval', { unit: CounterUnit.count, at: 'start' });
    child('demoted', 'demoted pages per interval', { unit: CounterUnit.count, at: 'start' });
    child('evicted', 'evicted pages per interval', { unit: CounterUnit.count, at: 'start' });
    child('migrations', 'migrations');
    child('reclaim', 'reclaim');
    child('loss', 'trace loss');
  });
  return tracks;
}

/** ns since the trace began, as Perfetto timestamps: series.timeMs × 1e6, rounded to whole ns. */
export const toNs = (ms: number): number => Math.round(ms * 1e6);

/** The value a counter track shows for row `row`. */
export function counterValue(track: TrackPlan, series: SeriesLike, pageSize: number, row: number): number {
  switch (track.kind) {
    case 'occupancy':
      return series.usedPages[track.node!]![row]! * pageSize;
    case 'fastTierShare':
      return series.fastTierAccessShare[row]!;
    case 'accesses':
      return series.accesses[row]!;
    case 'accessCost':
      return series.accessCostNs[row]!;
    case 'dirtyBytesAtRisk':
      return series.dirtyBytesAtRisk[row]!;
    case 'promoted':
      return series.promotedPages[row]!;
    case 'demoted':
      return series.demotedPages[row]!;
    case 'evicted':
      return series.evictedPages[row]!;
    default:
      throw new TypeError(`track ${track.name} is not a counter track`);
  }
}

const count = (n: number): string => (Number.isFinite(n) ? String(n) : 'unknown');

export interface PerfettoExportStats {
  readonly packets: number;
  readonly tracks: number;
  readonly counterEvents: number;
  readonly instantEvents: number;
  readonly bytes: number;
}

/** Encodes a replay result as the bytes of a Perfetto trace. */
export function encodeReplayPerfetto(result: ReplayResultLike): { bytes: Uint8Array; stats: PerfettoExportStats } {
  const schema = loadExportSchema();
  const tracks = planTracks(result);
  const pageSize = result.machine.pageSize;
  const timed: Array<{ ts: number; event: Record<string, unknown> }> = [];
  let counterEvents = 0;
  let instantEvents = 0;

  for (const [policyIndex, p] of result.policies.entries()) {
    const series = p.series;
    if (series === undefined || p.error !== undefined) continue;
    const mine = tracks.filter((t) => t.policyIndex === policyIndex);
    const track = (kind: TrackKind): TrackPlan => mine.find((t) => t.kind === kind)!;
    const counters = mine.filter((t) => t.unit !== undefined);
    const instant = (ts: number, on: TrackKind, name: string): void => {
      timed.push({ ts, event: { type: TrackEventType.instant, track_uuid: track(on).uuid, name, categories: [CATEGORY] } });
      instantEvents++;
    };
    for (let row = 0; row < series.timeMs.length; row++) {
      const start = row === 0 ? 0 : toNs(series.timeMs[row - 1]!);
      const end = toNs(series.timeMs[row]!);
      for (const t of counters) {
        const value = counterValue(t, series, pageSize, row);
        timed.push({ ts: t.at === 'start' ? start : end, event: { type: TrackEventType.counter, track_uuid: t.uuid, double_counter_value: value } });
        counterEvents++;
      }
      const promoted = series.promotedPages[row]!;
      const demoted = series.demotedPages[row]!;
      const evicted = series.evictedPages[row]!;
      const lost = series.lostEvents[row]!;
      if (promoted !== 0) instant(end, 'migrations', `promoted ${count(promoted)} pages`);
      if (demoted !== 0) instant(end, 'migrations', `demoted ${count(demoted)} pages`);
      if (evicted !== 0) instant(end, 'reclaim', `evicted ${count(evicted)} pages`);
      if (lost !== 0) instant(end, 'loss', `lost ${count(lost)} trace events`);
    }
  }
  // Stable: equal timestamps keep their order (rows, then tracks).
  timed.sort((a, b) => a.ts - b.ts);

  const writer = protobuf.Writer.create();
  let packets = 0;
  const emit = (packet: Record<string, unknown>): void => {
    const first = packets === 0;
    const message = schema.TracePacket.fromObject({
      ...packet,
      trusted_packet_sequence_id: SEQUENCE_ID,
      ...(first ? { sequence_flags: SequenceFlags.incrementalStateCleared } : {}),
    });
    // Trace.packet = 1, length-delimited: tag (1 << 3) | 2 = 0x0a.
    writer.uint32(0x0a).fork();
    schema.TracePacket.encode(message, writer);
    writer.ldelim();
    packets++;
  };
  for (const t of tracks) {
    emit({
      timestamp: 0,
      track_descriptor: {
        uuid: t.uuid,
        name: t.name,
        ...(t.parentUuid !== undefined ? { parent_uuid: t.parentUuid } : {}),
        ...(t.unit !== undefined ? { counter: { unit: t.unit, categories: [CATEGORY] } } : {}),
      },
    });
  }
  for (const { ts, event } of timed) emit({ timestamp: ts, track_event: event });
  const bytes = writer.finish();
  return { bytes, stats: { packets, tracks: tracks.length, counterEvents, instantEvents, bytes: bytes.length } };
}

/** Writes a replay result as a Perfetto trace file (open it in ui.perfetto.dev). */
export function writeReplayPerfetto(result: ReplayResultLike, path: string): PerfettoExportStats {
  const { bytes, stats } = encodeReplayPerfetto(result);
  writeFileSync(path, bytes);
  return stats;
}
