/**
 * Memory tiering: kmem-tiering's predictions against a real kernel running
 * upstream tiering on the same workload.
 *
 * A lab run (scripts/fidelity/lab.sh) boots a Debian kernel in QEMU with an
 * emulated NVDIMM handed to the kernel as a CPU-less NUMA node by dax/kmem
 * (the design kmem-tiering models), turns on demotion_enabled=1 and
 * numa_balancing=2, and runs `tierwl`, a deterministic workload, under tracefs.
 * The replay input is policy-independent:
 * - the workload's first touches: page faults linked to their allocations
 *   (the kernel's own migrations are relinked by the normalizer, not replayed);
 * - its later accesses: `tierwl` writes one word of every page of its hot set
 *   per pass, in address order, and brackets each pass with trace markers
 *   (`tierwl sweep start= len=` .. `tierwl swept`); each page gets one write
 *   access, at its share of the time between the two markers.
 * The engine, with kmem-tiering and a machine read off the guest's own
 * /proc/zoneinfo, then makes its own placement decisions; its promotions,
 * demotions, candidates and hint faults are compared with the kernel's
 * /proc/vmstat counters over the run.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '@tierlab/engine';
import { resolveMachine } from '@tierlab/machines';
import type { MachineSpec, NodeSpec } from '@tierlab/memory-tier-api';
import { Normalizer } from '@tierlab/normalizer';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { openAnyTrace } from '@tierlab/replay';
import { type RawBatch, Tracepoint, createRawBatch, lineBlocks, openTrace } from '@tierlab/trace-core';

/** One lab run: the files lab.sh writes, or a fixture under traces/fidelity/. */
export interface TieringRun {
  readonly name: string;
  readonly dir: string;
  /** The tracefs text (or its .zst). */
  readonly trace: string;
  /** The workload's pid in the guest. */
  readonly pid: number;
  /** Job and guest parameters (params.env). */
  readonly params: Readonly<Record<string, string>>;
  /** The guest's tiering knobs as read in the guest (knobs). */
  readonly knobs: Readonly<Record<string, string>>;
  /** /proc/vmstat after minus before, every counter. */
  readonly vmstat: Readonly<Record<string, number>>;
  /** /proc/zoneinfo before the workload. */
  readonly zones: readonly ZoneInfo[];
  readonly kernel: string;
}

export interface ZoneInfo {
  readonly node: number;
  readonly zone: string;
  readonly free: number;
  readonly min: number;
  readonly low: number;
  readonly high: number;
  readonly managed: number;
  /** lowmem_reserve against an allocation whose highest zone is ZONE_MOVABLE (GFP_HIGHUSER_MOVABLE). */
  readonly protectionMovable: number;
}

/** The zone names of /proc/zoneinfo in zone-index order (x86_64, CONFIG_ZONE_DEVICE). */
const zoneOrder = ['DMA', 'DMA32', 'Normal', 'Movable', 'Device'];

export function parseZoneinfo(text: string): ZoneInfo[] {
  const zones: ZoneInfo[] = [];
  const header = /^Node (\d+), zone\s+(\S+)/;
  let cur: { node: number; zone: string; v: Record<string, number>; protection: number[] } | null = null;
  const flush = () => {
    if (cur === null) return;
    const v = cur.v;
    const movable = zoneOrder.indexOf('Movable');
    zones.push({
      node: cur.node,
      zone: cur.zone,
      free: v.free ?? 0,
      min: v.min ?? 0,
      low: v.low ?? 0,
      high: v.high ?? 0,
      managed: v.managed ?? 0,
      protectionMovable: cur.protection[movable] ?? 0,
    });
  };
  for (const line of text.split('\n')) {
    const h = header.exec(line);
    if (h !== null) {
      flush();
      cur = { node: Number(h[1]), zone: h[2]!, v: {}, protection: [] };
      continue;
    }
    if (cur === null) continue;
    const t = line.trim();
    let m = /^pages free\s+(\d+)$/.exec(t);
    if (m !== null) cur.v.free = Number(m[1]);
    m = /^(min|low|high|managed)\s+(\d+)$/.exec(t);
    if (m !== null && cur.v[m[1]!] === undefined) cur.v[m[1]!] = Number(m[2]);
    m = /^protection: \(([\d, ]+)\)$/.exec(t);
    if (m !== null) cur.protection = m[1]!.split(',').map((x) => Number(x.trim()));
  }
  flush();
  return zones;
}

function keyValues(text: string, sep: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = sep.exec(t);
    if (m === null) continue;
    out[t.slice(0, m.index)] = t.slice(m.index + m[0].length);
  }
  return out;
}

function need(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`tiering fidelity: ${dir} has no ${file} (a lab run writes it: scripts/fidelity/lab.sh run)`);
  return readFileSync(path, 'utf8');
}

/** Reads a lab run's directory (lab.sh's output, or a fixture made from one). */
export function readTieringRun(dir: string, name = dir.split('/').pop() ?? dir): TieringRun {
  const trace = ['trace.tracefs.txt.zst', 'trace.tracefs.txt'].map((f) => join(dir, f)).find((p) => existsSync(p));
  if (trace === undefined) throw new Error(`tiering fidelity: ${dir} has no trace.tracefs.txt(.zst)`);
  const before = keyValues(need(dir, 'vmstat.before'), / /);
  const after = keyValues(need(dir, 'vmstat.after'), / /);
  const vmstat: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) vmstat[k] = Number(v) - Number(before[k] ?? 0);
  const pid = Number(need(dir, 'workload.pid').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`tiering fidelity: ${join(dir, 'workload.pid')} holds no pid`);
  return {
    name,
    dir,
    trace,
    pid,
    params: keyValues(need(dir, 'params.env'), /=/),
    knobs: keyValues(need(dir, 'knobs'), / /),
    vmstat,
    zones: parseZoneinfo(need(dir, 'zoneinfo.before')),
    kernel: need(dir, 'uname').trim(),
  };
}

const labCosts = {
  pageFaultNs: 0,
  hintFaultNs: 0,
  migrationFixedNs: 0,
  tlbShootdownNs: 0,
  reclaimPerPageNs: 0,
  majorFaultNs: 0,
  writebackPageNs: 0,
  source: 'counts only: the comparison is of page counts, not of time; the emulated nodes of a TCG guest have no distinct speed',
};

/**
 * The guest as a machine description: each node's capacity is what was free
 * there when the workload started (the kernel, the tracer and the guest's
 * other processes keep the rest), and its watermarks are the sum over its
 * zones of the zone's watermark plus its lowmem protection against movable
 * allocations (/proc/zoneinfo), so "the node is below low" means what it
 * means to the kernel's allocator: every zone is.
 */
export function guestMachine(run: TieringRun, measured?: { kswapdPagesPerSec: number; promotionNs: number; hintFaultNs: number }): MachineSpec {
  const nodes = [...new Set(run.zones.filter((z) => z.managed > 0).map((z) => z.node))].sort((a, b) => a - b);
  const specs: NodeSpec[] = nodes.map((node) => {
    const zones = run.zones.filter((z) => z.node === node && z.managed > 0);
    const sum = (f: (z: ZoneInfo) => number) => zones.reduce((s, z) => s + f(z), 0);
    const top = node === 0;
    return {
      name: top ? `dram${node}` : `pmem${node}`,
      kind: top ? 'dram' : 'pmem',
      capacity: sum((z) => z.free) * 4096,
      readLatencyNs: top ? 100 : 300,
      writeLatencyNs: top ? 100 : 100,
      readBandwidthGBs: 10,
      writeBandwidthGBs: 10,
      persistent: !top,
      cpuAccess: 'coherent',
      structPages: true,
      // MEMTIER_ADISTANCE_DRAM and dax/kmem's MEMTIER_DEFAULT_DAX_ADISTANCE (include/linux/memory-tiers.h, drivers/dax/kmem.c).
      abstractDistance: top ? 576 : 2880,
      hasCpus: top,
      // daxctl onlines the dax memory movable: kernel allocations cannot use it.
      movableOnly: zones.every((z) => z.zone === 'Movable'),
      watermarks: {
        min: sum((z) => z.min + z.protectionMovable),
        low: sum((z) => z.low + z.protectionMovable),
        high: sum((z) => z.high + z.protectionMovable),
      },
      source: `${run.name}: free pages and watermarks (+ protection) of ${zones.map((z) => z.zone).join(', ')} in the guest's /proc/zoneinfo before the workload`,
    };
  });
  return {
    name: `guest-${run.name}`,
    description: `The fidelity-lab guest of ${run.name} (${run.kernel}): node 0 DRAM with the CPUs, node 1 an emulated NVDIMM onlined by dax/kmem`,
    nodes: specs,
    costs:
      measured !== undefined && measured.kswapdPagesPerSec > 0
        ? {
            ...labCosts,
            migrationFixedNs: Math.round(1e9 / measured.kswapdPagesPerSec),
            hintFaultNs: Math.round(1e8 / measured.kswapdPagesPerSec),
            source: `kswapd's pace ${measured.kswapdPagesPerSec} pages/s, measured in this capture (pages demoted while awake / time awake). migrationFixedNs = the time kswapd took per page (assumption: a promotion holds the workload up as long), hintFaultNs = a tenth of it (assumption). The capture's own fault-path costs are ${measured.promotionNs} ns per promotion (mean mm_migrate_pages_start .. mm_migrate_pages, numa_misplaced, on the workload) and ${measured.hintFaultNs} ns per hint fault (median gap between two of its hint faults): with those, the model promotes 57-75% too little on these fixtures (the kernel's slow sweeps already carry its own fault time, the model's faults land elsewhere); with the assumption, 28-84% too much. These costs move nothing in the trace's time; they let kswapd, on the other CPU, work on while the model's own faults would have held the workload up. No bandwidths or latencies: an emulated guest's nodes have no distinct speed.`,
          }
        : labCosts,
  };
}

/** kmem-tiering's knobs as the guest had them (knobs file: sysctl and debugfs values). */
export function guestKnobs(run: TieringRun): Record<string, number | boolean> {
  const k = run.knobs;
  const num = (key: string) => {
    const v = Number(k[key]);
    if (k[key] === undefined || !Number.isFinite(v)) throw new Error(`tiering fidelity: ${run.dir}/knobs has no number for ${key}`);
    return v;
  };
  return {
    numaBalancing: num('numa_balancing'),
    demotionEnabled: k.demotion_enabled === 'true' || k.demotion_enabled === '1',
    hotThresholdMs: num('hot_threshold_ms'),
    promoteRateLimitMBps: num('promote_rate_limit_MBps'),
    scanDelayMs: num('scan_delay_ms'),
    scanPeriodMinMs: num('scan_period_min_ms'),
    scanPeriodMaxMs: num('scan_period_max_ms'),
    scanSizeMb: num('scan_size_mb'),
  };
}

/** One pass of the workload over its hot set, from its trace markers. */
export interface Sweep {
  readonly startNs: number;
  readonly endNs: number;
  /** First virtual page number and page count. */
  readonly vpn: number;
  readonly pages: number;
}

const MARK = Buffer.from('tracing_mark_write: tierwl ');
const KSWAPD = Buffer.from('kswapd');

/** What the workload's markers say: its sweeps, and when it was on a CPU. */
export interface WorkloadLog {
  readonly sweeps: readonly Sweep[];
  /**
   * When the workload ran, [start, end) pairs in trace ns: from its first
   * marker to the loop (it touches its memory without pause), then each sweep.
   * It sleeps between paced sweeps and stops itself after the last.
   */
  readonly busy: readonly (readonly [number, number])[];
  /**
   * kswapd's pace in the capture: the time it was awake (mm_vmscan_kswapd_wake
   * .. _sleep) and the pages it demoted meanwhile (mm_migrate_pages,
   * reason=demotion, on kswapd). The machine's reclaim speed, not a policy's choice.
   */
  readonly kswapd: { readonly awakeNs: number; readonly demotedPages: number };
  /**
   * The workload's own fault costs in the capture: the mean time of a
   * promotion (mm_migrate_pages_start .. mm_migrate_pages, numa_misplaced, on
   * the workload) and the median time between two of its hint faults with
   * nothing else between them in its loop (a hint fault that migrated nothing).
   */
  readonly promotionNs: number;
  readonly hintFaultNs: number;
}

/** Each line of a block of whole lines that contains `needle`, once, in order. */
function linesWith(bytes: Buffer, needle: Buffer, fn: (line: string) => void): void {
  let at = bytes.indexOf(needle);
  while (at >= 0) {
    const lineStart = bytes.lastIndexOf(10, at) + 1;
    let lineEnd = bytes.indexOf(10, at);
    if (lineEnd < 0) lineEnd = bytes.length;
    fn(bytes.toString('latin1', lineStart, lineEnd));
    at = bytes.indexOf(needle, lineEnd);
  }
}

/** The workload's log, read off its trace markers (one pass over the text). */
export async function readWorkloadLog(trace: string, pid: number): Promise<WorkloadLog> {
  const sweeps: Sweep[] = [];
  const busy: Array<[number, number]> = [];
  let first = Number.NaN;
  let open: { t: number; vpn: number; pages: number } | null = null;
  let awakeSince = -1;
  let awakeNs = 0;
  let demotedPages = 0;
  const self = Buffer.from(`tierwl-${pid} `);
  let inLoop = false;
  let promoStart = -1;
  let promoNs = 0;
  let promotions = 0;
  let lastFault = -1;
  const gaps: number[] = [];
  for await (const block of lineBlocks(openTrace(trace))) {
    const bytes = block.bytes;
    linesWith(bytes, MARK, (line) => {
      const m = /-(\d+)\s+\[\d+\][^:]*?\s(\d+\.\d+): tracing_mark_write: tierwl (\S+)(.*)$/.exec(line);
      if (m === null) throw new Error(`${trace}: a tierwl marker line the lab does not write: ${line.trim()}`);
      if (Number(m[1]) !== pid) return;
      const t = Math.round(Number(m[2]) * 1e9);
      const what = m[3]!;
      if (Number.isNaN(first)) first = t;
      if (what.startsWith('phase=loop')) busy.push([first, t]);
      if (what === 'sweep') {
        const f = /start=0x([0-9a-f]+) len=(\d+)/.exec(m[4]!);
        if (f === null) throw new Error(`${trace}: tierwl sweep marker without start= len=: ${line.trim()}`);
        open = { t, vpn: Math.floor(Number.parseInt(f[1]!, 16) / 4096), pages: Math.floor(Number(f[2]) / 4096) };
      } else if (what === 'swept' && open !== null) {
        sweeps.push({ startNs: open.t, endNs: t, vpn: open.vpn, pages: open.pages });
        busy.push([open.t, t]);
        open = null;
      }
    });
    linesWith(bytes, self, (line) => {
      const m = /\s(\d+\.\d+): (\w+): (.*)$/.exec(line);
      if (m === null) return;
      const t = Math.round(Number(m[1]) * 1e9);
      const ev = m[2]!;
      if (ev === 'tracing_mark_write' && m[3]!.startsWith('tierwl phase=loop')) inLoop = true;
      if (ev === 'page_fault_user') {
        if (inLoop && lastFault >= 0) gaps.push(t - lastFault);
        lastFault = t;
        return;
      }
      lastFault = -1;
      if (ev === 'mm_migrate_pages_start' && m[3]!.includes('reason=numa_misplaced')) promoStart = t;
      else if (ev === 'mm_migrate_pages' && promoStart >= 0) {
        promoNs += t - promoStart;
        promotions++;
        promoStart = -1;
      }
    });
    linesWith(bytes, KSWAPD, (line) => {
      const m = /^\s*kswapd\d+-\d+\s+\[\d+\][^:]*?\s(\d+\.\d+): (\w+): (.*)$/.exec(line);
      if (m === null) return;
      const t = Math.round(Number(m[1]) * 1e9);
      if (m[2] === 'mm_vmscan_kswapd_wake' && awakeSince < 0) awakeSince = t;
      else if (m[2] === 'mm_vmscan_kswapd_sleep' && awakeSince >= 0) {
        awakeNs += t - awakeSince;
        awakeSince = -1;
      } else if (m[2] === 'mm_migrate_pages' && m[3]!.includes('reason=demotion')) {
        demotedPages += Number(/nr_succeeded=(\d+)/.exec(m[3]!)?.[1] ?? 0);
      }
    });
  }
  if (busy.length === 0 && !Number.isNaN(first)) throw new Error(`${trace}: the workload's markers have no phase=loop`);
  gaps.sort((a, b) => a - b);
  return {
    sweeps,
    busy,
    kswapd: { awakeNs, demotedPages },
    promotionNs: promotions > 0 ? Math.round(promoNs / promotions) : 0,
    hintFaultNs: gaps.length > 0 ? gaps[gaps.length >> 1]! : 0,
  };
}

/**
 * The workload's CPU time by replay time, from its busy intervals (other
 * processes: the replay time itself). The replay counts time from the
 * trace's first record: `origin()` gives that record's trace time.
 */
export function taskClockOf(log: WorkloadLog, pid: number, origin: () => number = () => 0): (p: number, t: number) => number {
  const n = log.busy.length;
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  const before = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    starts[i] = log.busy[i]![0];
    ends[i] = log.busy[i]![1];
    before[i + 1] = before[i]! + (ends[i]! - starts[i]!);
  }
  return (p, replayT) => {
    if (p !== pid) return replayT;
    const t = replayT + origin();
    // The last interval starting at or before t.
    let lo = 0;
    let hi = n - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= t) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (k < 0) return 0;
    return before[k]! + Math.min(t, ends[k]!) - starts[k]!;
  };
}

/**
 * The sweeps kept when each range is replayed at most once per `intervalNs`,
 * except that a slow sweep (over 3x the median and a tenth of the interval: the kernel worked in it, taking
 * hint faults and migrating) is always kept, since when its accesses came is
 * what the kernel reacted to.
 */
export function foldSweeps(sweeps: readonly Sweep[], intervalNs: number): Sweep[] {
  const durations = sweeps.map((sw) => sw.endNs - sw.startNs).sort((a, b) => a - b);
  const slow = Math.max(3 * (durations[Math.floor(durations.length / 2)] ?? 0), intervalNs / 10);
  const last = new Map<string, number>();
  const out: Sweep[] = [];
  for (const sw of sweeps) {
    const key = `${sw.vpn}:${sw.pages}`;
    const prev = last.get(key);
    if (prev !== undefined && sw.startNs - prev < intervalNs && sw.endNs - sw.startNs <= slow) continue;
    last.set(key, sw.startNs);
    out.push(sw);
  }
  return out;
}

/**
 * Merges the sweeps' page accesses (memAccess records, one store per page)
 * into the reader's batches in time order.
 */
class SweepMerger {
  private s = 0;
  private i = 0;
  private out: RawBatch | null = null;
  accesses = 0;

  constructor(
    private readonly sweeps: readonly Sweep[],
    private readonly tid: number,
  ) {}

  private nextTime(): number {
    const sw = this.sweeps[this.s];
    if (sw === undefined) return Number.POSITIVE_INFINITY;
    return sw.startNs + ((this.i + 0.5) / sw.pages) * (sw.endNs - sw.startNs);
  }

  private take(out: RawBatch, t: number): void {
    const sw = this.sweeps[this.s]!;
    const n = out.length++;
    out.event[n] = Tracepoint.memAccess;
    out.time[n] = t;
    out.cpu[n] = 0;
    out.tid[n] = this.tid;
    out.pid[n] = -1;
    out.comm[n] = -1;
    out.a[n] = sw.vpn + this.i;
    out.b[n] = 0;
    out.c[n] = 1;
    out.d[n] = 0;
    out.e[n] = 0;
    out.line[n] = 0;
    this.accesses++;
    if (++this.i >= sw.pages) {
      this.s++;
      this.i = 0;
    }
  }

  /** The batch with every sweep access due before its last record merged in; then the rest up to `until`. */
  merge(raw: RawBatch, emit: (batch: RawBatch) => void): void {
    const last = raw.length > 0 ? raw.time[raw.length - 1]! : Number.NEGATIVE_INFINITY;
    if (this.nextTime() > last) {
      emit(raw);
      return;
    }
    const cap = raw.length + 65536;
    if (this.out === null || this.out.event.length < cap || this.out.strings !== raw.strings) {
      this.out = createRawBatch(Math.max(cap, 1 << 17), raw.strings, raw.eventNames);
    }
    const out = this.out;
    out.length = 0;
    const copy = (j: number) => {
      const n = out.length++;
      out.event[n] = raw.event[j]!;
      out.time[n] = raw.time[j]!;
      out.cpu[n] = raw.cpu[j]!;
      out.tid[n] = raw.tid[j]!;
      out.pid[n] = raw.pid[j]!;
      out.comm[n] = raw.comm[j]!;
      out.a[n] = raw.a[j]!;
      out.b[n] = raw.b[j]!;
      out.c[n] = raw.c[j]!;
      out.d[n] = raw.d[j]!;
      out.e[n] = raw.e[j]!;
      out.line[n] = raw.line[j]!;
    };
    for (let j = 0; j < raw.length; j++) {
      const t = raw.time[j]!;
      let next = this.nextTime();
      while (next < t) {
        if (out.length === out.event.length) {
          emit(out);
          out.length = 0;
        }
        this.take(out, next);
        next = this.nextTime();
      }
      if (out.length === out.event.length) {
        emit(out);
        out.length = 0;
      }
      copy(j);
    }
    emit(out);
  }

  /** Sweeps after the trace's last record (none in a lab run: the workload stops before the trace does). */
  rest(emit: (batch: RawBatch) => void, strings: string[], eventNames: string[]): void {
    const out = createRawBatch(1 << 16, strings, eventNames);
    while (this.nextTime() < Number.POSITIVE_INFINITY) {
      if (out.length === out.event.length) {
        emit(out);
        out.length = 0;
      }
      this.take(out, this.nextTime());
    }
    if (out.length > 0) emit(out);
  }
}

/** model / real - 1; 0 when both are 0, Infinity when only the model has some. */
export function relativeError(real: number, model: number): number {
  return real === 0 ? (model === 0 ? 0 : Number.POSITIVE_INFINITY) : model / real - 1;
}

/** The counters compared, with the kernel's /proc/vmstat names. */
export const tieringCounters = [
  'pgpromote_success',
  'pgpromote_candidate',
  'pgdemote_kswapd',
  'pgdemote_direct',
  'numa_hint_faults',
] as const;
export type TieringCounter = (typeof tieringCounters)[number];

export interface TieringFidelity {
  readonly run: string;
  readonly kernel: string;
  readonly machine: MachineSpec;
  readonly knobs: Readonly<Record<string, number | boolean>>;
  /** Sweeps the workload made, and those replayed (see sweepIntervalMs). */
  readonly sweeps: number;
  readonly sweepsReplayed: number;
  readonly sweepAccesses: number;
  /** kswapd's pace given to the engine (pages/s), measured in the capture; 0: instant. */
  readonly kswapdPagesPerSec: number;
  readonly real: Readonly<Record<TieringCounter, number>>;
  readonly model: Readonly<Record<TieringCounter, number>>;
  /** model / real - 1 (0 when both are 0; Infinity when only the model has some). */
  readonly error: Readonly<Record<TieringCounter, number>>;
  /** Every engine metric and policy counter of the model's run. */
  readonly modelMetrics: Readonly<Record<string, number>>;
  readonly modelCounters: Readonly<Record<string, number>>;
  /** What the normalizer reported (the kernel's own migrations it relinked among them). */
  readonly anomalies: ReadonlyArray<{ name: string; severity: string; value: number; description: string }>;
}

export interface TieringFidelityOptions {
  readonly run: TieringRun;
  /** kmem-tiering knob overrides on top of the guest's values. */
  readonly knobs?: Readonly<Record<string, number | boolean>>;
  /**
   * A sweep is replayed only when it starts at least this long after the
   * last replayed sweep of the same range (default 100 ms): a page touched
   * every few ms is, for the scanner (hot threshold 1000 ms) and reclaim's
   * referenced bit, a page touched every 100 ms, at a fraction of the events.
   */
  readonly sweepIntervalMs?: number;
  /** kswapd balances a node at once when woken (the engine's default) instead of at the capture's measured pace. */
  readonly instantKswapd?: boolean;
  /** Pace the NUMA scanner by trace time instead of the workload's CPU time (to show what the task clock changes). */
  readonly wallClockScanner?: boolean;
}

export async function tieringFidelity(options: TieringFidelityOptions): Promise<TieringFidelity> {
  const { run } = options;
  const knobs = { ...guestKnobs(run), ...options.knobs };
  const log = await readWorkloadLog(run.trace, run.pid);
  const sweeps = foldSweeps(log.sweeps, (options.sweepIntervalMs ?? 100) * 1e6);
  // kswapd works at the machine's pace: the emulated guest's, measured in the same capture.
  const kswapdPagesPerSec =
    options.instantKswapd === true || log.kswapd.awakeNs <= 0 ? 0 : Math.round(log.kswapd.demotedPages / (log.kswapd.awakeNs / 1e9));
  const spec = guestMachine(run, { kswapdPagesPerSec, promotionNs: log.promotionNs, hintFaultNs: log.hintFaultNs });
  const machine = resolveMachine(spec, null);
  let normalizer: Normalizer | null = null;
  const origin = () => normalizer?.stats.firstTimeNs ?? 0;
  const engine = new Engine({
    machine,
    policy: kmemTiering(knobs),
    swap: false,
    ...(options.wallClockScanner === true ? {} : { taskClock: taskClockOf(log, run.pid, origin) }),
    ...(kswapdPagesPerSec > 0 ? { kswapdPagesPerSec } : {}),
  });
  normalizer = new Normalizer({ pids: [run.pid] }, (batch) => engine.push(batch));
  const merger = new SweepMerger(sweeps, run.pid);
  const reader = await openAnyTrace(run.trace);
  let strings: string[] = [];
  let eventNames: string[] = [];
  const push = (b: RawBatch) => normalizer.push(b);
  for await (const batch of reader.batches()) {
    strings = batch.strings;
    eventNames = batch.eventNames;
    merger.merge(batch, push);
  }
  merger.rest(push, strings, eventNames);
  normalizer.finish();
  const result = engine.finish();
  const m = result.metrics;
  const model: Record<TieringCounter, number> = {
    pgpromote_success: m.pgpromoteSuccess,
    pgpromote_candidate: result.counters['kmem-tiering.pgpromote_candidate'] ?? 0,
    pgdemote_kswapd: m.pgdemoteKswapd,
    pgdemote_direct: m.pgdemoteDirect,
    numa_hint_faults: m.numaHintFaults,
  };
  const real = Object.fromEntries(tieringCounters.map((c) => [c, run.vmstat[c] ?? 0])) as Record<TieringCounter, number>;
  const error = Object.fromEntries(tieringCounters.map((c) => [c, relativeError(real[c], model[c])])) as Record<TieringCounter, number>;
  return {
    run: run.name,
    kernel: run.kernel,
    machine: spec,
    knobs,
    sweeps: log.sweeps.length,
    sweepsReplayed: sweeps.length,
    sweepAccesses: merger.accesses,
    kswapdPagesPerSec,
    real,
    model,
    error,
    modelMetrics: { ...result.metrics },
    modelCounters: { ...result.counters },
    anomalies: normalizer.anomalies(),
  };
}
