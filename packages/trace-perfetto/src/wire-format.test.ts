import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import type { TierlabError } from '@tierlab/memory-tier-api';
import { Tracepoint } from '@tierlab/trace-core';
import type { RawBatch } from '@tierlab/trace-core';
import { openTextTrace } from '@tierlab/trace-text';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perfettoFtraceEvents } from './ftrace-event-names.js';
import { openPerfetto } from './reader.js';
import { loadSchema } from './schema.js';
import { captureFile, compareRecords, havePerfetto, haveTraces, perfettoFile, snapshot } from './test-data.js';
import type { Snapshot } from './test-data.js';
import { writePerfettoFromRaw } from './writer.js';

// Encodings a real trace may use that our writer does not produce, made by
// re-encoding real packets: padded varints, compact_sched, packet loss,
// FtraceStats; and errors located in real bytes.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trace-perfetto-wire-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
function writeBytes(bytes: Uint8Array): string {
  const file = path.join(dir, `t${++fileCount}.pftrace`);
  writeFileSync(file, bytes);
  return file;
}

/** The top-level packets of a trace: [offset of the 0x0a tag, packet bytes]. */
function packetsOf(bytes: Uint8Array): [number, Uint8Array][] {
  const r = protobuf.Reader.create(bytes);
  const out: [number, Uint8Array][] = [];
  while (r.pos < r.len) {
    const at = r.pos;
    const tag = r.uint32();
    expect(tag).toBe(0x0a);
    const length = r.uint32();
    out.push([at, bytes.subarray(r.pos, r.pos + length)]);
    r.pos += length;
  }
  return out;
}

/** A varint of `value` in exactly `width` bytes (non-minimal when `width` is more than needed). */
function paddedVarint(value: number, width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < width - 1; i++) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  expect(value).toBeLessThan(128);
  out.push(value);
  return out;
}

function frame(packet: Uint8Array, width = 0): Uint8Array {
  const length = width === 0 ? minimalVarint(packet.length) : paddedVarint(packet.length, width);
  return Uint8Array.from([0x0a, ...length, ...packet]);
}

function minimalVarint(value: number): number[] {
  const w = protobuf.Writer.create();
  w.uint32(value);
  return [...w.finish()];
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

async function readSnapshots(file: string, batchSize?: number): Promise<{ records: Snapshot[]; stats: ReturnType<typeof openPerfetto>['stats'] }> {
  const reader = openPerfetto(file, batchSize === undefined ? {} : { batchSize });
  const records: Snapshot[] = [];
  for await (const batch of reader.batches()) for (let i = 0; i < batch.length; i++) records.push(snapshot(batch, i));
  return { records, stats: reader.stats };
}

async function readError(file: string): Promise<TierlabError> {
  try {
    for await (const _ of openPerfetto(file).batches()) {
      // read on
    }
  } catch (error) {
    if (isTierlabError(error)) return error;
    throw error;
  }
  throw new Error('no error');
}

/** The first `count` records of a text capture, as one batch. */
async function firstRecords(capture: string, count: number): Promise<RawBatch> {
  for await (const batch of openTextTrace(captureFile(capture), { batchSize: count }).batches()) return batch;
  throw new Error('empty capture');
}

describe.skipIf(!havePerfetto)('re-encoded real Perfetto packets', () => {
  it('accepts padded (non-minimal) varint lengths, at the top level and inside packets', async () => {
    const bytes = readFileSync(perfettoFile('ms_android_sched_ftrace.perfetto-trace'));
    const packets = packetsOf(bytes);
    const bundlePackets = packets.filter(([, p]) => p[0] === 0x0a).slice(0, 20);
    expect(bundlePackets.length).toBe(20);
    const minimal = writeBytes(concat(bundlePackets.map(([, p]) => frame(p))));
    // Top-level lengths in 5 and 10 bytes.
    const padded = writeBytes(concat(bundlePackets.map(([, p], k) => frame(p, k % 2 === 0 ? 5 : 10))));
    // The bundle's own length (TracePacket field 1) padded to 6 bytes as well.
    const nested = writeBytes(
      concat(
        bundlePackets.map(([, p]) => {
          const r = protobuf.Reader.create(p);
          r.uint32();
          const length = r.uint32();
          const inner = Uint8Array.from([0x0a, ...paddedVarint(length, 6), ...p.subarray(r.pos)]);
          return frame(inner, 4);
        }),
      ),
    );
    const a = await readSnapshots(minimal);
    expect(a.records.length).toBeGreaterThan(1000);
    const b = await readSnapshots(padded);
    const c = await readSnapshots(nested);
    expect(b.records).toEqual(a.records);
    expect(c.records).toEqual(a.records);
    expect(b.stats.eventCounts).toEqual(a.stats.eventCounts);
  });

  it('reads compact_sched (sched_switch and sched_waking as arrays) for comms and counts it', async () => {
    const s = loadSchema();
    const bytes = readFileSync(perfettoFile('ms_android_sched_perf_sampling.pftrace'));
    const switchType = s.type('SchedSwitchFtraceEvent');
    const wakingType = s.type('SchedWakingFtraceEvent');
    const compactType = s.type('FtraceEventBundle.CompactSched');
    const out: Uint8Array[] = [];
    for (const [, packet] of packetsOf(bytes)) {
      if (packet[0] !== 0x0a) {
        out.push(frame(packet));
        continue;
      }
      // Rebuild the bundle: sched_switch and sched_waking go into compact_sched, the rest is copied.
      const r = protobuf.Reader.create(packet);
      r.uint32();
      const bundleEnd = r.uint32() + r.pos;
      const bundle = protobuf.Writer.create();
      const table: string[] = [];
      const intern = (comm: string) => {
        let k = table.indexOf(comm);
        if (k < 0) k = table.push(comm) - 1;
        return k;
      };
      const compact = { intern_table: table, switch_timestamp: [] as number[], switch_prev_state: [] as number[], switch_next_pid: [] as number[], switch_next_prio: [] as number[], switch_next_comm_index: [] as number[], waking_timestamp: [] as number[], waking_pid: [] as number[], waking_target_cpu: [] as number[], waking_prio: [] as number[], waking_comm_index: [] as number[], waking_common_flags: [] as number[] };
      let lastSwitch = 0;
      let lastWaking = 0;
      while (r.pos < bundleEnd) {
        const start = r.pos;
        const tag = r.uint32();
        if (tag !== 0x12) {
          r.skipType(tag & 7);
          bundleRaw(bundle, packet.subarray(start, r.pos));
          continue;
        }
        const eventEnd = r.uint32() + r.pos;
        const eventBytes = packet.subarray(start, eventEnd);
        let time = 0;
        let kind = 0;
        let payload: Uint8Array | null = null;
        while (r.pos < eventEnd) {
          const t = r.uint32();
          if (t === 0x08) time = Number(r.uint64());
          else if (t === ((4 << 3) | 2) || t === ((20 << 3) | 2)) {
            kind = t >>> 3;
            payload = r.bytes();
          } else r.skipType(t & 7);
        }
        if (kind === 4 && payload !== null) {
          const e = switchType.toObject(switchType.decode(payload), { longs: Number }) as Record<string, number & string>;
          compact.switch_timestamp.push(time - lastSwitch);
          lastSwitch = time;
          compact.switch_prev_state.push(e.prev_state ?? 0);
          compact.switch_next_pid.push(e.next_pid ?? 0);
          compact.switch_next_prio.push(e.next_prio ?? 0);
          compact.switch_next_comm_index.push(intern(e.next_comm ?? ''));
        } else if (kind === 20 && payload !== null) {
          const e = wakingType.toObject(wakingType.decode(payload)) as Record<string, number & string>;
          compact.waking_timestamp.push(time - lastWaking);
          lastWaking = time;
          compact.waking_pid.push(e.pid ?? 0);
          compact.waking_target_cpu.push(e.target_cpu ?? 0);
          compact.waking_prio.push(e.prio ?? 0);
          compact.waking_comm_index.push(intern(e.comm ?? ''));
          compact.waking_common_flags.push(0);
        } else {
          bundleRaw(bundle, eventBytes);
        }
      }
      if (compact.switch_next_pid.length + compact.waking_pid.length > 0) {
        bundle.uint32((4 << 3) | 2).bytes(compactType.encode(compactType.create(compact)).finish());
      }
      const rebuilt = protobuf.Writer.create();
      rebuilt.uint32(0x0a).bytes(bundle.finish());
      const rebuiltPacket = concat([rebuilt.finish(), packet.subarray(bundleEnd)]);
      out.push(frame(rebuiltPacket));
    }
    const original = await readSnapshots(perfettoFile('ms_android_sched_perf_sampling.pftrace'));
    const compacted = await readSnapshots(writeBytes(concat(out)));
    expect(compacted.stats.compactSched).toEqual({ switch: 24698, waking: 15470 });
    const expectedCounts = { ...original.stats.eventCounts };
    delete expectedCounts.sched_switch;
    delete expectedCounts.sched_waking;
    expect(compacted.stats.eventCounts).toEqual(expectedCounts);
    expect(compacted.records.length).toBe(original.records.length - 24698 - 15470);
    // The comms came from the arrays: as few unnamed threads as with the typed events.
    const unnamed = (records: Snapshot[]) => records.filter((x) => x[5] === '<...>').length / records.length;
    expect(unnamed(compacted.records)).toBeLessThan(0.01);
    // Apart from what the typed sched events named a little earlier, the records are the same.
    const key = (x: Snapshot) => JSON.stringify([x[0], x[1], x[2], x[3]]);
    expect(compacted.records.map(key)).toEqual(original.records.filter((x) => x[0] !== 'sched_switch' && x[0] !== 'sched_waking').map(key));
  });
});

function bundleRaw(w: protobuf.Writer, bytes: Uint8Array): void {
  // Copy already-encoded fields: a length-delimited field re-emitted as is.
  const r = protobuf.Reader.create(bytes);
  const tag = r.uint32();
  const wire = tag & 7;
  if (wire === 2) {
    w.uint32(tag).bytes(r.bytes());
  } else if (wire === 0) {
    w.uint32(tag).uint64(r.uint64());
  } else if (wire === 1) {
    w.uint32(tag).fixed64(r.fixed64());
  } else {
    w.uint32(tag).fixed32(r.fixed32());
  }
}

describe.skipIf(!haveTraces)('written traces, altered', () => {
  let head: Uint8Array;
  let headFile: string;
  beforeAll(async () => {
    // The first 20,000 records of gcc_lua: many small bundles (the two cpus alternate).
    headFile = path.join(dir, 'gcc-head-20k.pftrace');
    await writePerfettoFromRaw([await firstRecords('gcc_lua.tracefs.txt.zst', 20_000)], headFile);
    head = readFileSync(headFile);
  });

  it('frames packets that span reads, whatever the read size', async () => {
    const small = path.join(dir, 'gcc-head-2k.pftrace');
    await writePerfettoFromRaw([await firstRecords('gcc_lua.tracefs.txt.zst', 2000)], small);
    const whole = await readSnapshots(small);
    for (const chunkSize of [1, 7, 4096]) {
      const reader = openPerfetto(small, { chunkSize });
      const records: Snapshot[] = [];
      for await (const batch of reader.batches()) for (let i = 0; i < batch.length; i++) records.push(snapshot(batch, i));
      expect(records, `chunkSize ${chunkSize}`).toEqual(whole.records);
    }
    expect(whole.records.length).toBe(2000);
  });

  it('counts packet loss (previous_packet_dropped after a sequence began) as a loss record', async () => {
    const packets = packetsOf(head);
    expect(packets.length).toBeGreaterThan(2);
    // previous_packet_dropped (field 42, varint) = 1 on the third packet.
    const dropped = packets.map(([, p], k) => (k === 2 ? frame(concat([p, Uint8Array.from([0xd0, 0x02, 0x01])])) : frame(p)));
    const { records, stats } = await readSnapshots(writeBytes(concat(dropped)));
    const plain = await readSnapshots(headFile);
    expect(plain.stats.lostMarkers).toBe(0);
    expect(stats.packetLoss).toBe(1);
    expect(stats.lostMarkers).toBe(1);
    expect(stats.lostEvents).toBe(0);
    expect(records.length).toBe(plain.records.length + 1);
    const loss = records.findIndex((x) => x[0] === 'LOST');
    expect(records[loss]!.slice(2, 7)).toEqual([-1, -1, -1, null, Number.NaN]);
    expect(records.filter((x) => x[0] !== 'LOST')).toEqual(plain.records);
  });

  it('adds FtraceStats overruns (end minus start of trace) to bufferOverwritten', async () => {
    const s = loadSchema();
    const statsType = s.type('FtraceStats');
    const packet = (phase: number, overrun: number, dropped: number) => {
      const w = protobuf.Writer.create();
      w.uint32((s.packet.ftraceStats << 3) | 2).bytes(statsType.encode(statsType.create({ phase, cpu_stats: [{ cpu: 0, overrun, dropped_events: dropped }, { cpu: 1, overrun: 7 }] })).finish());
      return frame(w.finish());
    };
    const file = writeBytes(concat([packet(1, 5, 0), head, packet(2, 12, 3)]));
    const { stats } = await readSnapshots(file);
    expect(stats.bufferOverwritten).toBe(10);
    expect(stats.ftraceOverrunByCpu).toEqual({ 0: 10, 1: 0 });
  });

  it('stops at a truncated trace with the offset of the packet cut short', async () => {
    const packets = packetsOf(head);
    const last = packets[packets.length - 1]![0];
    const error = await readError(writeBytes(head.subarray(0, head.length - 3)));
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.source).toBe('perfetto');
    expect(error.byteOffset).toBe(last);
    expect(error.file).toMatch(/\.pftrace$/);
    expect(error.expected).toMatch(/whole TracePacket/);
    expect(error.excerpt).toMatch(/^([0-9a-f>]{2,3} ?)+$/);
    expect(error.message).toMatch(/ends inside a packet/);
  });

  it('reports a malformed packet at its offset, with the bytes in hex', async () => {
    const packets = packetsOf(head);
    // The bundle packet: make its first event's length run past the bundle.
    const k = packets.findIndex(([, p]) => p[0] === 0x0a);
    const [offset, p] = packets[k]!;
    const bad = Uint8Array.from(p);
    const r = protobuf.Reader.create(bad);
    r.uint32();
    r.uint32();
    while (r.pos < bad.length) {
      const tag = r.uint32();
      if (tag === 0x12) break;
      r.skipType(tag & 7);
    }
    bad[r.pos] = 0xff;
    bad[r.pos + 1] = 0x7f;
    const bytes = concat([head.subarray(0, offset), frame(bad), head.subarray(offset + frame(p).length)]);
    const error = await readError(writeBytes(bytes));
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(offset);
    expect(error.message, error.message).toMatch(/runs past/);
    expect(error.excerpt).toContain('>');
  });

  it('rejects a text file at byte 0 (wire type of `#`)', async () => {
    const error = await readError(captureFile('gcc_lua.tracefs.txt.zst'));
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(0);
    expect(error.expected).toMatch(/Trace\.packet/);
  });

  it('writes typed messages that protobufjs decodes with the .proto subset', async () => {
    const batch = await firstRecords('gcc_lua.tracefs.txt.zst', 3000);
    const expected: Snapshot[] = [];
    for (let i = 0; i < batch.length; i++) expected.push(snapshot(batch, i));
    const file = path.join(dir, 'gcc-head.pftrace');
    await writePerfettoFromRaw([batch], file);
    const s = loadSchema();
    const trace = s.type('Trace').toObject(s.type('Trace').decode(readFileSync(file)), { longs: Number }) as {
      packet: { ftrace_events?: { cpu: number; event: Record<string, Record<string, number> & { timestamp: number; pid: number }>[]; generic_event_descriptors?: { field_id: number; event_descriptor: Uint8Array }[] } }[];
    };
    const allocs = expected.filter((x) => x[0] === 'mm_page_alloc');
    const decodedAllocs = trace.packet.flatMap((p) => p.ftrace_events?.event ?? []).filter((e) => e.mm_page_alloc !== undefined);
    expect(allocs.length).toBeGreaterThan(10);
    expect(decodedAllocs.length).toBe(allocs.length);
    for (let k = 0; k < allocs.length; k++) {
      const a = allocs[k]!;
      const e = decodedAllocs[k]!;
      expect([e.timestamp, e.pid, e.mm_page_alloc!.pfn, e.mm_page_alloc!.order ?? 0]).toEqual([a[1], a[3], a[6], a[7]]);
    }
    // Generic events are described by DescriptorProtos in the bundles.
    const descriptor = s.type('DescriptorProto');
    const described = new Set(
      trace.packet.flatMap((p) => p.ftrace_events?.generic_event_descriptors ?? []).map((d) => (descriptor.decode(d.event_descriptor) as unknown as { name: string }).name),
    );
    const perfettoNames = new Set(perfettoFtraceEvents.map(([, name]) => name));
    const genericNames = [...new Set(expected.map((x) => x[0]))].filter((name) => !perfettoNames.has(name));
    expect(genericNames).toContain('mm_lru_insertion');
    expect([...described].sort()).toEqual(genericNames.sort());
    // And the reader gives the records back.
    const back = await compareRecords(
      (async function* () {
        yield batch;
      })(),
      openPerfetto(file).batches(),
    );
    expect(back.mismatches).toEqual([]);
  });

  it('refuses records it cannot write, with a TypeError naming the record', async () => {
    const batch = await firstRecords('sqlite_orders.damon.tracefs.txt.zst', 10);
    batch.time[3] = 1.5;
    await expect(writePerfettoFromRaw([batch], path.join(dir, 'bad.pftrace'))).rejects.toThrow(TypeError);
    await expect(writePerfettoFromRaw([batch], path.join(dir, 'bad.pftrace'))).rejects.toThrow(/record 3 .*time/);
    expect(Tracepoint.lost).toBe(15);
  });
});
